"""GET /items/{item_id}/similar and PUT /items/{item_id} (create or update; searchable at once).

Item ids may contain "/" (sent percent-encoded): `{item_id:path}` takes it, the fixed suffix still routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from shoprec.serving.json_body import UniqueKeysRoute
from shoprec.serving.routers.deps import READ, WRITE, ItemId, ServiceDep, errors, item_filter, listed
from shoprec.serving.schemas import ItemAttributes, ItemSaved, ListQuery, SimilarItems

router = APIRouter(tags=["items"], responses=errors(401, 403), route_class=UniqueKeysRoute)


@router.get("/items/{item_id:path}/similar", dependencies=[READ], responses=errors(404))
def similar(item_id: ItemId, service: ServiceDep, query: Annotated[ListQuery, Query()]) -> SimilarItems:
    """The n items nearest to this one in the retrieval space (the item itself excluded)."""
    items = service.similar(item_id, query.n, filters=item_filter(query))
    return SimilarItems(item=item_id, version=service.version, items=listed(items))


@router.put(
    "/items/{item_id:path}",
    dependencies=[WRITE],
    status_code=200,
    responses={201: {"model": ItemSaved, "description": "Created"}, **errors(413)},
)
def put_item(item_id: ItemId, attributes: ItemAttributes, service: ServiceDep, response: Response) -> ItemSaved:
    """Create (201) or update (200) an item; omitted or null attributes keep their current values."""
    _, created = service.upsert_item(item_id, attributes.model_dump(exclude_none=True))
    if created:
        response.status_code = 201
    return ItemSaved(item=item_id, created=created)
