"""Request and response bodies of the HTTP API: strict pydantic models, so bad input is a 422 naming the field.

Request models forbid unknown fields and type coercion ("5" is not a number); strings, lists and numbers are
bounded so that no request can make the service allocate without limit.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, RootModel, model_validator

from shoprec.ids import MAX_ID_LENGTH, id_problem

#: Most events one POST /events/batch may carry.
MAX_BATCH = 10_000
#: Most items one list request may ask for (n) and most target items of an audience.
MAX_N = 1000
MAX_AUDIENCE = 1_000_000


def _valid_id(value: str) -> str:
    """The id policy (`shoprec.ids`) as a pydantic check: a 422 that says what is wrong with the id."""
    problem = id_problem(value)
    if problem is not None:
        raise ValueError(f"not a valid id: {problem}")
    return value


#: Printable text of 1-256 characters (`shoprec.ids`): users, items, categories, brands and campaigns.
ID_RULE = AfterValidator(_valid_id)
_ID_TEXT = "printable text, no control characters"
Id = Annotated[
    str,
    Field(min_length=1, max_length=MAX_ID_LENGTH, description=f"External id, as in the shop's data ({_ID_TEXT})"),
    ID_RULE,
]
Name = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH, description=_ID_TEXT), ID_RULE]
EventName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$", examples=["view", "cart", "purchase"])]
Finite = Annotated[float, Field(allow_inf_nan=False)]
Epoch = Annotated[float, Field(ge=0, le=32_503_680_000, allow_inf_nan=False, description="Unix time, seconds")]


class Strict(BaseModel):
    """Base of every request body: unknown fields and type coercion are errors."""

    model_config = ConfigDict(extra="forbid", strict=True)


class ListQuery(BaseModel):
    """Query parameters of a list request (n and item filters), validated in one pass: one pydantic model
    costs a fraction of FastAPI resolving each parameter on its own (measured: the parameters were about a
    third of a request's time)."""

    n: int = Field(10, ge=1, le=MAX_N, description="How many items to return")
    category: list[Name] | None = Field(None, max_length=100, description="Keep only these categories (repeatable)")
    in_stock: bool | None = Field(None, description="true: only items in stock; false: only those out of stock")
    price_min: float | None = Field(None, ge=0, le=1e15, allow_inf_nan=False)
    price_max: float | None = Field(None, ge=0, le=1e15, allow_inf_nan=False)


class RecommendationQuery(ListQuery):
    diversity: float | None = Field(
        None, ge=0, le=1, allow_inf_nan=False, description="MMR diversity: 0 off, 1 most diverse"
    )
    long_tail: float | None = Field(None, ge=0, le=10, allow_inf_nan=False, description="Popularity penalty: 0 off")
    context: Name | None = Field(None, description="Category the user is browsing (cold start)")


class RecommendedItem(BaseModel):
    item: str
    score: float
    title: str | None = None
    reason: str | None = Field(None, description='Why it is shown, e.g. "because you viewed X"')


class Recommendations(BaseModel):
    user: str
    source: Literal["personal", "cold_start"]
    version: str = Field(description="Version of the pipeline that answered")
    items: list[RecommendedItem]


class SimilarItems(BaseModel):
    item: str
    version: str
    items: list[RecommendedItem]


class ItemAttributes(Strict):
    """Attributes of an item created or updated by PUT /items/{item_id}; omitted fields stay as they were."""

    title: Annotated[str, Field(max_length=1000)] | None = None
    category: Name | None = None
    brand: Name | None = None
    price: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    in_stock: bool | None = None


class ItemSaved(BaseModel):
    item: str
    created: bool


class EventIn(Strict):
    user: Id
    item: Id
    event: EventName = "view"
    weight: Annotated[float, Field(gt=0, le=1e6, allow_inf_nan=False)] | None = None
    timestamp: Epoch | None = None


class EventBatch(Strict):
    events: Annotated[list[EventIn], Field(min_length=1, max_length=MAX_BATCH)]


class EventsAccepted(BaseModel):
    accepted: int = Field(description="Events made durable by this request")
    ids: list[int] = Field(description="Store row ids, in request order")


ProfileValue = Annotated[str, Field(max_length=1000)] | int | Finite | bool | None


class Profile(RootModel[Annotated[dict[Name, ProfileValue], Field(max_length=64)]]):
    """Free-form user attributes, e.g. {"segment": "premium", "age": 31}: at most 64 fields of scalars."""

    model_config = ConfigDict(strict=True)


class ProfileSaved(BaseModel):
    user: str
    fields: int


class AudienceIn(Strict):
    """Who to target: the users most likely to want `items` (or any item of `category`)."""

    items: Annotated[list[Id], Field(min_length=1, max_length=MAX_N)] | None = None
    category: Name | None = None
    size: Annotated[int, Field(ge=1, le=MAX_AUDIENCE)] = 1000
    min_score: Finite | None = None
    exclude_purchased_days: Annotated[float, Field(ge=0, le=36_500, allow_inf_nan=False)] | None = None
    frequency_cap: Annotated[int, Field(ge=1, le=1000)] | None = None
    cap_window_days: Annotated[float, Field(gt=0, le=36_500, allow_inf_nan=False)] = 7.0
    campaign: Name | None = Field(None, description="Sends are recorded under this name for frequency caps")

    @model_validator(mode="after")
    def _one_target(self) -> AudienceIn:
        if (self.items is None) == (self.category is None):
            raise ValueError("give exactly one of 'items' or 'category'")
        return self


class AudienceMember(BaseModel):
    user: str
    score: float


class Audience(BaseModel):
    campaign: str | None
    size: int
    users: list[AudienceMember]


class Removed(BaseModel):
    events: int
    profile: int
    sends: int
    vector: int


class Deleted(BaseModel):
    user: str
    removed: Removed


class SwapIn(Strict):
    pipeline: Annotated[str, Field(min_length=1, max_length=4096, description="Path of a pipeline.toml on the server")]


class Swapped(BaseModel):
    version: str


class Health(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: str
    version: str = Field(description="Version of the pipeline being served")
    items: int = Field(description="Items in the retrieval index")
    users: int = Field(description="Users the service knows (trained and live)")


class ErrorBody(BaseModel):
    detail: str
    errors: list[dict[str, Any]] | None = None
