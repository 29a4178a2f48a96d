"""A chain of re-ranking steps, built from code or from a pipeline config's list of step specs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from shoprec.exceptions import ConfigError
from shoprec.rerank.caps import CategoryCap
from shoprec.rerank.context import RerankContext, RerankStep
from shoprec.rerank.long_tail import LongTailBoost
from shoprec.rerank.mmr import MMR
from shoprec.rerank.rows import check_rows, fit_width
from shoprec.rerank.rules import BusinessRules


class Reranker:
    """Apply steps in order, then cut or pad each row to n.

    Steps that change scores (LongTailBoost, BusinessRules) re-sort rows by score, so they go before
    the ones that only reorder or drop (MMR, CategoryCap). A last MMR step selects only n positions
    (nothing after it can drop items), which keeps serving cheap for long candidate lists.
    """

    def __init__(self, steps: Sequence[RerankStep]) -> None:
        self.steps = list(steps)

    def __repr__(self) -> str:
        return f"Reranker({self.steps!r})"

    def apply(self, items: np.ndarray, scores: np.ndarray, ctx: RerankContext, n: int) -> tuple[np.ndarray, np.ndarray]:
        """items, scores: (b, k) best first, -1 / -inf padded -> (b, n) re-ranked, padded the same way."""
        if n <= 0:
            raise ConfigError(f"n must be > 0, got {n}")
        items, scores = check_rows(items, scores, ctx.n_items)
        for i, step in enumerate(self.steps):
            if i == len(self.steps) - 1 and isinstance(step, MMR):
                step = step.truncated(n)
            items, scores = step(items, scores, ctx)
        return fit_width(items, scores, n)


def _mmr(spec: dict[str, Any]) -> RerankStep:
    return MMR(float(spec.pop("lambda")), _optional_int(spec.pop("n", None)))


def _category_cap(spec: dict[str, Any]) -> RerankStep:
    return CategoryCap(int(spec.pop("max_per")), str(spec.pop("field", "category")))


def _long_tail(spec: dict[str, Any]) -> RerankStep:
    return LongTailBoost(float(spec.pop("weight")))


def _business_rules(spec: dict[str, Any]) -> RerankStep:
    exclude = spec.pop("exclude", None)
    boost = {int(item): float(value) for item, value in (spec.pop("boost", None) or {}).items()}
    return BusinessRules(np.asarray(exclude, dtype=np.int64) if exclude is not None else None, boost)


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


#: step name in a pipeline config -> builder from the rest of its spec (keys it does not pop are errors)
STEP_BUILDERS: dict[str, Callable[[dict[str, Any]], RerankStep]] = {
    "mmr": _mmr,
    "category_cap": _category_cap,
    "long_tail": _long_tail,
    "business_rules": _business_rules,
}


def build_steps(spec: Sequence[dict[str, Any]]) -> list[RerankStep]:
    """Steps from config entries such as {"step": "mmr", "lambda": 0.7} or {"step": "category_cap", "max_per": 3}.

    Keys: mmr (lambda, n), category_cap (max_per, field), long_tail (weight), business_rules (exclude:
    item indices, boost: {item index: amount}). ConfigError names the entry and the key at fault.
    """
    steps = []
    for position, entry in enumerate(spec):
        where = f"rerank[{position}]"
        if not isinstance(entry, dict) or entry.get("step") not in STEP_BUILDERS:
            got = entry.get("step") if isinstance(entry, dict) else entry
            raise ConfigError(f"{where}.step must be one of {sorted(STEP_BUILDERS)}, got {got!r}")
        rest = {k: v for k, v in entry.items() if k != "step"}
        try:
            steps.append(STEP_BUILDERS[entry["step"]](rest))
        except KeyError as missing:
            raise ConfigError(f"{where}: {entry['step']} needs the key {missing.args[0]!r}") from None
        except (TypeError, ValueError) as bad:
            raise ConfigError(f"{where}: {bad}") from None
        if rest:
            raise ConfigError(f"{where}: unknown key(s) {sorted(rest)} for step {entry['step']!r}")
    return steps
