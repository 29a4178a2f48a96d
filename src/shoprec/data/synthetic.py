"""A synthetic online shop with known structure, for tests, demos and scale benchmarks.

Generative story (all draws vectorised, sessions generated in chunks so tens of millions of events fit):
- Categories and users have unit taste vectors; an item's vector is its category's plus a brand offset
  and noise. Item popularity follows a power law over a random rank; price depends on category and brand.
- A user's age bucket nudges their taste; their segment sets price sensitivity at checkout.
- A session belongs to one user (drawn by a heavy-tailed activity), starts at a random time in the
  season and mostly stays in one category, chosen by taste. Each engagement picks an item in its
  category among popularity-drawn candidates, by taste (a softmax draw).
- Funnel: every engagement is a view; a cart follows with a probability rising with taste, a purchase
  with one falling with price for price-sensitive segments; purchases in consumable categories repeat
  weeks later. Event weights come from `event_weights`.
So the category share of a user's history predicts their future items far better than popularity.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from shoprec.data.dataset import DEFAULT_EVENT_WEIGHTS, Dataset, Interactions
from shoprec.data.features import CategoricalColumn, FeatureTable, NumericColumn
from shoprec.data.sampling import DiscreteTable
from shoprec.data.vocabulary import Vocabulary
from shoprec.exceptions import ConfigError

EVENT_TYPES = ("view", "cart", "purchase")
SEGMENTS = ("budget", "mainstream", "premium")
SEGMENT_SHARE = (0.3, 0.5, 0.2)
PRICE_SENSITIVITY = np.array([1.5, 0.7, 0.1])  # per segment, on log-price above the catalog mean
AGE_BUCKETS = ("18-24", "25-34", "35-44", "45-54", "55+")
START, SEASON, DAY = 1_672_531_200, 180 * 86_400, 86_400  # 2023-01-01 UTC, a 180-day season
CATEGORY_FOCUS, ITEM_FOCUS, STAY_IN_CATEGORY = 6.0, 4.0, 0.8
CANDIDATES = 6  # popularity-drawn candidates an engagement chooses among by taste
SESSIONS_PER_CHUNK = 1 << 16


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _names(prefix: str, n: int) -> np.ndarray:
    """Zero-padded names ("c07"), so sorted names follow index order."""
    return np.char.add(prefix, np.char.zfill(np.arange(n).astype(str), len(str(max(n - 1, 0)))))


def _softmax_draw(rng: np.random.Generator, logits: np.ndarray) -> np.ndarray:
    """One column per row drawn from softmax(logits), by inverting each row's cumulative weights."""
    cum = np.cumsum(np.exp(logits - logits.max(axis=1, keepdims=True)), axis=1)
    u = rng.random(len(cum)) * cum[:, -1]
    return np.minimum((cum <= u[:, None]).sum(axis=1), logits.shape[1] - 1)


@dataclass(frozen=True)
class _Catalog:
    category: np.ndarray  # (I,) int64
    brand: np.ndarray  # (I,) int64
    price: np.ndarray  # (I,) float32
    vectors: np.ndarray  # (I, d) float32 unit
    category_vectors: np.ndarray  # (C, d) float32 unit
    popularity: np.ndarray  # (I,) float64 power law
    consumable: np.ndarray  # (C,) bool: purchases repeat
    # Derived: items grouped by category with cumulative popularity, to draw within a category.
    by_category: np.ndarray = field(init=False, repr=False)  # (I,) item indices sorted by category
    cum: np.ndarray = field(init=False, repr=False)  # (I,) cumulative popularity in that order
    mass: np.ndarray = field(init=False, repr=False)  # (C,) popularity per category
    start: np.ndarray = field(init=False, repr=False)  # (C,) cumulative popularity before the category
    first: np.ndarray = field(init=False, repr=False)  # (C,) position of a category's first item
    last: np.ndarray = field(init=False, repr=False)  # (C,) position of its last item

    def __post_init__(self) -> None:
        n_categories = len(self.category_vectors)
        count = np.bincount(self.category, minlength=n_categories)
        by_category = np.argsort(self.category, kind="stable")
        mass = np.bincount(self.category, weights=self.popularity, minlength=n_categories)
        derived = {
            "by_category": by_category,
            "cum": np.cumsum(self.popularity[by_category]),
            "mass": mass,
            "start": np.cumsum(mass) - mass,
            "first": np.cumsum(count) - count,
            "last": np.cumsum(count) - 1,
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)

    def draw_in_category(self, rng: np.random.Generator, category: np.ndarray, m: int) -> np.ndarray:
        """(len(category), m) items of the given (non-empty) categories, drawn by popularity within each."""
        c = category[:, None]
        x = self.start[c] + rng.random((len(category), m)) * self.mass[c]
        return self.by_category[np.searchsorted(self.cum, x, side="right").clip(self.first[c], self.last[c])]


def _make_catalog(rng: np.random.Generator, n_items: int, n_categories: int, n_brands: int, dim: int) -> _Catalog:
    category_vectors = _unit(rng.standard_normal((n_categories, dim)))
    share = rng.dirichlet(np.full(n_categories, 2.0))
    category = np.concatenate(  # every category gets an item while there are enough items
        [np.arange(min(n_categories, n_items)), rng.choice(n_categories, max(n_items - n_categories, 0), p=share)]
    )
    category = rng.permutation(category)
    brand = rng.integers(0, n_brands, n_items)
    brand_offset = 0.5 * _unit(rng.standard_normal((n_brands, dim)))
    noise = 0.4 * _unit(rng.standard_normal((n_items, dim)))
    log_price = rng.normal(3.0, 0.7, n_categories)[category] + rng.normal(0, 0.3, n_brands)[brand]
    price = np.round(np.exp(log_price + rng.normal(0, 0.25, n_items)), 2)
    return _Catalog(
        category=category,
        brand=brand,
        price=price.astype(np.float32),
        vectors=_unit(category_vectors[category] + brand_offset[brand] + noise).astype(np.float32),
        category_vectors=category_vectors.astype(np.float32),
        popularity=(rng.permutation(n_items) + 1.0) ** -0.9,
        consumable=rng.random(n_categories) < 0.3,
    )


@dataclass(frozen=True)
class _People:
    taste: np.ndarray  # (U, d) float32 unit
    segment: np.ndarray  # (U,) int64 into SEGMENTS
    age: np.ndarray  # (U,) int64 into AGE_BUCKETS
    activity: DiscreteTable  # who starts a session


def _make_people(rng: np.random.Generator, n_users: int, dim: int) -> _People:
    age = rng.integers(0, len(AGE_BUCKETS), n_users)
    age_taste = _unit(rng.standard_normal((len(AGE_BUCKETS), dim)))
    taste = _unit(0.6 * age_taste[age] + _unit(rng.standard_normal((n_users, dim))))
    return _People(
        taste=taste.astype(np.float32),
        segment=rng.choice(len(SEGMENTS), n_users, p=SEGMENT_SHARE),
        age=age,
        activity=DiscreteTable(rng.lognormal(0.0, 1.0, n_users)),
    )


def _session_events(
    rng: np.random.Generator, people: _People, catalog: _Catalog, n_sessions: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Events of `n_sessions` new sessions in generation order: (users, items, timestamps, event codes)."""
    lengths = rng.geometric(0.35, n_sessions)
    session = np.repeat(np.arange(n_sessions), lengths)
    first = (np.cumsum(lengths) - lengths)[session]  # each engagement's session opener
    user = people.activity.draw(rng, n_sessions)[session]
    taste = people.taste[user]
    logits = CATEGORY_FOCUS * taste @ catalog.category_vectors.T
    logits[:, catalog.mass == 0] = -np.inf  # categories without items (only when n_items < n_categories)
    own = _softmax_draw(rng, logits)
    category = np.where(rng.random(len(user)) < STAY_IN_CATEGORY, own[first], own)
    candidates = catalog.draw_in_category(rng, category, CANDIDATES)
    affinity = np.einsum("nd,nmd->nm", taste, catalog.vectors[candidates])
    pick = _softmax_draw(rng, ITEM_FOCUS * affinity)
    rows = np.arange(len(user))
    gaps = np.cumsum(rng.exponential(45.0, len(user)))
    start = rng.integers(START, START + SEASON, n_sessions)[session] + (gaps - gaps[first]).astype(np.int64)
    return _funnel(rng, people, catalog, user, candidates[rows, pick], affinity[rows, pick], start)


def _funnel(
    rng: np.random.Generator,
    people: _People,
    catalog: _Catalog,
    user: np.ndarray,
    item: np.ndarray,
    fit: np.ndarray,
    start: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Expand engagements (viewed at `start`, taste `fit`) into view -> cart -> purchase -> repeat events."""
    n = len(user)
    cart = rng.random(n) < 1 / (1 + np.exp(3.5 - 3.0 * fit))
    above_mean = np.log(catalog.price[item]) - np.log(catalog.price).mean()
    buy = cart & (rng.random(n) < 1 / (1 + np.exp(PRICE_SENSITIVITY[people.segment[user]] * above_mean - 0.5)))
    repeats = np.where(buy & catalog.consumable[catalog.category[item]], rng.poisson(0.8, n), 0)
    per_engagement = 1 + cart + buy + repeats
    eng = np.repeat(np.arange(n), per_engagement)
    stage = np.arange(len(eng)) - (np.cumsum(per_engagement) - per_engagement)[eng]  # 0 view, 1 cart, 2+ buy
    delay = (
        (stage >= 1) * (5 + rng.exponential(30.0, n))[eng]
        + (stage >= 2) * (10 + rng.exponential(120.0, n))[eng]
        + np.maximum(stage - 2, 0) * (DAY + rng.exponential(21.0 * DAY, n))[eng]
    )
    return user[eng], item[eng], start[eng] + delay.astype(np.int64), np.minimum(stage, 2).astype(np.int16)


def _check(name: str, value: object) -> None:
    if not isinstance(value, int | np.integer) or value < 1:
        raise ConfigError(f"generate_shop: {name} must be an integer >= 1, got {value!r}")


def generate_shop(
    n_users: int = 1000,
    n_items: int = 500,
    n_events: int = 20000,
    *,
    n_categories: int = 20,
    n_brands: int = 50,
    latent_dim: int = 8,
    seed: int = 0,
    event_weights: Mapping[str, float] = DEFAULT_EVENT_WEIGHTS,
) -> Dataset:
    """A shop log of exactly `n_events` view/cart/purchase events sorted by time; deterministic per seed.

    Item features: `category`, `brand` (categorical), `price` (numeric); user features: `segment`, `age`.
    """
    params = {
        "n_users": n_users,
        "n_items": n_items,
        "n_events": n_events,
        "n_categories": n_categories,
        "n_brands": n_brands,
        "latent_dim": latent_dim,
    }
    for name, value in params.items():
        _check(name, value)
    if set(event_weights) != set(EVENT_TYPES) or any(w < 0 for w in event_weights.values()):
        raise ConfigError(f"generate_shop: event_weights must give a weight >= 0 to each of {list(EVENT_TYPES)}")
    rng = np.random.default_rng(seed)
    catalog = _make_catalog(rng, n_items, n_categories, n_brands, latent_dim)
    people = _make_people(rng, n_users, latent_dim)
    chunks, total = [], 0
    while total < n_events:  # sessions have >= 1 event, so this ends; ~4 events per session on average
        chunk = _session_events(rng, people, catalog, min(SESSIONS_PER_CHUNK, (n_events - total) // 3 + 1))
        chunks.append(chunk)
        total += len(chunk[0])
    users, items, timestamps, events = (np.concatenate(column)[:n_events] for column in zip(*chunks, strict=True))
    order = np.argsort(timestamps, kind="stable")
    weights = np.array([event_weights[t] for t in EVENT_TYPES], dtype=np.float32)
    inter = Interactions.build(
        users[order], items[order], weights[events[order]], timestamps=timestamps[order], events=events[order]
    )
    item_features = FeatureTable(
        n_items,
        {
            "category": CategoricalColumn(catalog.category + 1, tuple(_names("c", n_categories))),
            "brand": CategoricalColumn(catalog.brand + 1, tuple(_names("b", n_brands))),
            "price": NumericColumn(catalog.price),
        },
    )
    user_features = FeatureTable(
        n_users,
        {
            "segment": CategoricalColumn(people.segment + 1, SEGMENTS),
            "age": CategoricalColumn(people.age + 1, AGE_BUCKETS),
        },
    )
    return Dataset(
        name="synthetic-shop",
        interactions=inter,
        users=Vocabulary(_names("u", n_users)),
        items=Vocabulary(_names("i", n_items)),
        item_features=item_features,
        user_features=user_features,
        event_types=EVENT_TYPES,
        metadata={"generator": "shoprec.data.synthetic.generate_shop", "seed": seed, **params},
    )
