"""shoprec: train, evaluate and serve deep-learning recommendations for online shops."""

from shoprec.exceptions import ArtifactError, ConfigError, DataError, DataWarning, NotFittedError, ShoprecError

__version__ = "0.1.0"

__all__ = [
    "ArtifactError",
    "ConfigError",
    "DataError",
    "DataWarning",
    "NotFittedError",
    "ShoprecError",
    "__version__",
]
