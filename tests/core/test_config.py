import math
from dataclasses import dataclass
from pathlib import Path

import pytest

from shoprec.config import ModelConfig, TrainOptions, coerce, coerce_kwargs, describe
from shoprec.exceptions import ConfigError


@dataclass
class DemoConfig(ModelConfig):
    embedding_size: int = 8
    reg: float = 0.1
    dropout: float = 0.0
    layers: tuple[int, ...] = (16, 8)
    use_bias: bool = True
    loss: str = "bpr"
    patience: int | None = None


def test_round_trip_through_json_types():
    cfg = DemoConfig.from_dict({"embedding_size": 32.0, "reg": 1, "layers": [4, 2], "use_bias": False})
    assert cfg == DemoConfig(embedding_size=32, reg=1.0, layers=(4, 2), use_bias=False)
    assert isinstance(cfg.embedding_size, int) and isinstance(cfg.reg, float)
    assert DemoConfig.from_dict(cfg.to_dict()) == cfg


def test_unknown_key_and_bad_values_name_the_field():
    with pytest.raises(ConfigError, match=r"unknown parameter\(s\) \['embeding_size'\]"):
        DemoConfig.from_dict({"embeding_size": 3})
    with pytest.raises(ConfigError, match=r"DemoConfig\.embedding_size: expected an integer, got 2\.5"):
        DemoConfig.from_dict({"embedding_size": 2.5})
    with pytest.raises(ConfigError, match="embedding_size must be > 0"):
        DemoConfig.from_dict({"embedding_size": 0})
    with pytest.raises(ConfigError, match="reg must be >= 0"):
        DemoConfig.from_dict({"reg": -1})
    with pytest.raises(ConfigError, match=r"dropout must be in \[0, 1\)"):
        DemoConfig.from_dict({"dropout": 1.0})
    with pytest.raises(ConfigError, match="patience must be > 0"):
        DemoConfig.from_dict({"patience": 0})


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("embedding_size", True, "expected an integer, got True"),
        ("embedding_size", "64", "expected an integer, got '64'"),
        ("embedding_size", math.inf, "expected an integer, got inf"),
        ("reg", math.nan, "expected a finite number, got nan"),
        ("reg", -math.inf, "expected a finite number, got -inf"),
        ("reg", False, "expected a finite number, got False"),
        ("reg", "0.1", "expected a finite number, got '0.1'"),
        ("use_bias", "false", "expected true or false, got 'false'"),
        ("use_bias", 1, "expected true or false, got 1"),
        ("loss", 3, "expected a string, got 3"),
        ("loss", ["bpr"], r"expected a string, got \['bpr'\]"),
        ("layers", "16,8", "expected a list of integers, got '16,8'"),
        ("layers", [16, "8"], r"layers\[1\]: expected an integer, got '8'"),
        ("patience", "2", "expected an integer or none, got '2'"),
        ("seed", -1, "seed must be >= 0"),
    ],
)
def test_strict_types_refuse_what_would_silently_train_something_else(field, value, expected):
    with pytest.raises(ConfigError, match=expected):
        DemoConfig.from_dict({field: value})


def test_direct_construction_is_checked_by_validate():
    with pytest.raises(ConfigError, match=r"DemoConfig\.reg: expected a finite number, got nan"):
        DemoConfig(reg=math.nan).validate()


def test_coerce_of_unions_literals_and_paths():
    from typing import Literal

    assert coerce("x", None, int | None) is None
    assert coerce("x", "a", str | Path | None) == "a"
    assert coerce("x", "b", Literal["a", "b"]) == "b"
    with pytest.raises(ConfigError, match="x: expected one of 'a', 'b', got 'c'"):
        coerce("x", "c", Literal["a", "b"])
    assert describe(tuple[int, ...]) == "a list of integers"


def test_coerce_kwargs_checks_annotated_parameters_only():
    def loader(folder: str, *, limit: int = 1, **rest: object) -> None:
        """A stand-in loader."""

    assert coerce_kwargs("data", loader, {"limit": 3.0, "other": "x"}) == {"limit": 3, "other": "x"}
    with pytest.raises(ConfigError, match=r"data\.limit: expected an integer, got 'many'"):
        coerce_kwargs("data", loader, {"limit": "many"})


def test_train_options_from_env(monkeypatch):
    monkeypatch.setenv("SHOPREC_THREADS", "1")
    monkeypatch.setenv("SHOPREC_DEVICE", "cpu")
    opts = TrainOptions.from_env(progress=True)
    assert opts.threads == 1 and opts.device == "cpu" and opts.progress is True


@pytest.mark.parametrize(
    ("overrides", "env", "expected"),
    [
        ({"threads": 0}, {}, "threads must be > 0"),
        ({"threads": -2}, {}, "threads must be > 0"),
        ({"threads": True}, {}, "threads: expected an integer or none, got True"),
        ({"device": "tpu"}, {}, "device must be one of cpu, cuda, cuda:N, mps; got 'tpu'"),
        ({"device": "cuda:x"}, {}, "device must be one of"),
        ({}, {"SHOPREC_THREADS": "four"}, "SHOPREC_THREADS must be a positive integer, got 'four'"),
        ({}, {"SHOPREC_DEVICE": "gpu"}, "got 'gpu'"),
    ],
)
def test_train_options_refuse_bad_runtime_settings(monkeypatch, overrides, env, expected):
    for name in ("SHOPREC_THREADS", "SHOPREC_DEVICE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=expected):
        TrainOptions.from_env(**overrides)


def test_a_cuda_device_on_a_machine_without_one_is_a_clear_error(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="device 'cuda:0': this machine has no CUDA device"):
        TrainOptions(device="cuda:0")
