"""Short reasons for recommended items, so a shop can show *why* ("because you viewed X").

A personal item is explained by the history item most similar to it (cosine of the model's item vectors,
one (k, h) product); a cold-start item by the popularity it came from.
"""

from __future__ import annotations

import numpy as np

from shoprec.serving.catalog import Catalog

#: Only the most recent history items are candidates for a reason (recent ones are what the user remembers).
RECENT = 50


def label(catalog: Catalog, item: int) -> str:
    """The item's title, or its id when it has none."""
    title = catalog.title[item]
    return title if title else catalog.ids[item]


def because(catalog: Catalog, vectors: np.ndarray, items: np.ndarray, history: np.ndarray) -> list[str]:
    """One reason per recommended item: the most similar of the user's last RECENT history items.

    vectors: (n_items, d) item vectors; items: (k,) recommended; history: (h,) oldest first.
    """
    recent = history[-RECENT:]  # repeats are harmless: argmax picks the first of equal columns
    if len(recent) == 0:
        return ["recommended for you"] * len(items)
    past = vectors[recent]
    past /= np.maximum(np.sqrt(np.einsum("ij,ij->i", past, past)), 1e-12)[:, None]
    # argmax over the history of the cosine: the recommended item's own norm scales a whole row, so it drops out
    closest = recent[np.argmax(vectors[items] @ past.T, axis=1)]
    return [f"because you viewed {label(catalog, i)}" for i in closest.tolist()]


def popular_reason(segment: str | None, category: str | None) -> str:
    """Why a cold-start list looks the way it does."""
    if category is not None:
        return f"popular in {category}"
    if segment is not None:
        return f"popular with {segment} shoppers"
    return "popular right now"
