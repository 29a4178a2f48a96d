from dataclasses import dataclass

import pytest

from shoprec.config import ModelConfig, TrainOptions
from shoprec.exceptions import ConfigError


@dataclass
class DemoConfig(ModelConfig):
    embedding_size: int = 8
    reg: float = 0.1
    layers: tuple[int, ...] = (16, 8)
    use_bias: bool = True
    loss: str = "bpr"


def test_round_trip_through_json_types():
    cfg = DemoConfig.from_dict({"embedding_size": "32", "reg": 1, "layers": [4, 2], "use_bias": "false"})
    assert cfg == DemoConfig(embedding_size=32, reg=1.0, layers=(4, 2), use_bias=False)
    assert DemoConfig.from_dict(cfg.to_dict()) == cfg


def test_unknown_key_and_bad_values_name_the_field():
    with pytest.raises(ConfigError, match=r"unknown parameter\(s\) \['embeding_size'\]"):
        DemoConfig.from_dict({"embeding_size": 3})
    with pytest.raises(ConfigError, match=r"DemoConfig\.embedding_size: expected int, got 2\.5"):
        DemoConfig.from_dict({"embedding_size": 2.5})
    with pytest.raises(ConfigError, match="embedding_size must be > 0"):
        DemoConfig.from_dict({"embedding_size": 0})
    with pytest.raises(ConfigError, match="reg must be >= 0"):
        DemoConfig.from_dict({"reg": -1})


def test_train_options_from_env(monkeypatch):
    monkeypatch.setenv("SHOPREC_THREADS", "1")
    monkeypatch.setenv("SHOPREC_DEVICE", "cpu")
    opts = TrainOptions.from_env(progress=True)
    assert opts.threads == 1 and opts.device == "cpu" and opts.progress is True
