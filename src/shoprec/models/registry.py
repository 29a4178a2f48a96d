"""Model names (as used by the CLI and artifacts) mapped to their classes."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from shoprec.exceptions import ConfigError
from shoprec.models.base import Recommender

_REGISTRY: dict[str, type[Recommender]] = {}

#: Modules imported on first lookup so that every built-in model registers itself.
_BUILTIN_MODULES = (
    "shoprec.models.popularity",
    "shoprec.models.item_knn",
    "shoprec.models.ials",
    "shoprec.models.ease",
    "shoprec.models.mf",
    "shoprec.models.ncf",
    "shoprec.models.deepfm",
    "shoprec.models.two_tower",
    "shoprec.models.sasrec",
)


def register(name: str) -> Callable[[type[Recommender]], type[Recommender]]:
    """Class decorator: make a model available under `name`."""

    def wrap(cls: type[Recommender]) -> type[Recommender]:
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return wrap


def _load_builtins() -> None:
    for module in _BUILTIN_MODULES:
        try:
            import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


def available_models() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


def get_model_class(name: str) -> type[Recommender]:
    _load_builtins()
    if name not in _REGISTRY:
        raise ConfigError(f"unknown model {name!r}; expected one of {sorted(_REGISTRY)}")
    return _REGISTRY[name]


def create_model(name: str, **params: object) -> Recommender:
    return get_model_class(name)(**params)
