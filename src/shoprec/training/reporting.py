"""What the trainer tells the world each epoch: a JSON-lines log record and an optional rich progress bar."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass
class EpochRecord:
    """One epoch: mean training loss, validation metrics, wall time and throughput (all ranks together)."""

    epoch: int
    loss: float
    metrics: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    examples: int = 0
    examples_per_s: float = 0.0
    improved: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-able fields; NaN metrics become None so files stay strict JSON."""
        data = asdict(self)
        data["metrics"] = {k: None if math.isnan(v) else v for k, v in self.metrics.items()}
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EpochRecord:
        metrics = {k: math.nan if v is None else float(v) for k, v in data.get("metrics", {}).items()}
        return cls(**{**data, "metrics": metrics})


def append_record(path: str | Path | None, record: EpochRecord) -> None:
    """Append one record to a JSON-lines log (nothing when `path` is None)."""
    if path is None:
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("a") as fh:
        fh.write(record.to_json() + "\n")


def read_log(path: str | Path) -> list[EpochRecord]:
    """The records of a JSON-lines training log."""
    return [EpochRecord.from_dict(json.loads(line)) for line in Path(path).read_text().splitlines() if line]


class Progress(Protocol):
    def advance(self, steps: int = 1) -> None: ...

    def epoch_done(self, record: EpochRecord) -> None: ...


class _Silent:
    def advance(self, steps: int = 1) -> None:
        pass

    def epoch_done(self, record: EpochRecord) -> None:
        pass


class _RichProgress:
    """A bar over all steps of training, with the last epoch's loss and metrics in its description."""

    def __init__(self, bar: Any, task: Any) -> None:
        self.bar, self.task = bar, task

    def advance(self, steps: int = 1) -> None:
        self.bar.advance(self.task, steps)

    def epoch_done(self, record: EpochRecord) -> None:
        shown = " ".join(f"{k}={v:.4f}" for k, v in record.metrics.items())
        self.bar.update(self.task, description=f"epoch {record.epoch} loss={record.loss:.4f} {shown}")


@contextmanager
def progress_bar(enabled: bool, total_steps: int, description: str = "training") -> Iterator[Progress]:
    """A rich progress bar when `enabled` (TrainOptions.progress), else a no-op."""
    if not enabled:
        yield _Silent()
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=False) as bar:
        yield _RichProgress(bar, bar.add_task(description, total=total_steps))
