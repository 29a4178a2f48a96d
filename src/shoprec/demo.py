"""`make demo`: the main job end to end on MovieLens-100K (or the synthetic shop when it cannot be had).

Loads the data (SHOPREC_DATA_DIR, the cache, or a download), splits it by temporal leave-one-out,
trains popularity, iALS and EASE, prints the leaderboard and one user's recommendations, and leaves
the runs under runs/demo/ for `shoprec evaluate` and `shoprec recommend`. Then it serves the iALS run over
HTTP on 127.0.0.1:8000 until Ctrl-C (set SHOPREC_NO_SERVE=1 to stop after training, e.g. in tests).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from rich.text import Text

from shoprec.cli.console import console, report_errors, stdout
from shoprec.cli.tables import leaderboard_table
from shoprec.data.dataset import Dataset
from shoprec.exceptions import DataError
from shoprec.experiment import ExperimentSpec, RunResult, prepare_split, save_run, train_and_evaluate

MODELS = {"popularity": {}, "ials": {}, "ease": {}}
COLUMNS = ("hr@10", "ndcg@10", "recall@20", "mrr@10", "coverage@10", "novelty@10")


def load_demo_data() -> tuple[str, Dataset]:
    """ML-100K when available (local, cached or downloadable), else the synthetic shop — saying so."""
    from shoprec.data.sources import load_dataset

    try:
        return "ml-100k", load_dataset("ml-100k", download=True)
    except DataError as exc:
        console.print(f"MovieLens-100K is not available ({exc}).", style="yellow")
        console.print("Using the generated synthetic shop instead.", style="yellow")
        return "synthetic-shop", load_dataset("synthetic-shop")


def main(out: Path = Path("runs/demo")) -> list[RunResult]:
    name, data = load_demo_data()
    console.print(Text.assemble((name, "bold"), f": {data.describe()}"))
    base = ExperimentSpec(data=name, model="popularity", split="loo")
    split = prepare_split(base, data)
    console.print(f"split {split.method}: train {len(split.train):,}, test {len(split.test):,} interactions")
    results = []
    for model, params in MODELS.items():
        spec = ExperimentSpec(data=name, model=model, split="loo", params=dict(params))
        with console.status(f"training {model}"):
            result = train_and_evaluate(spec, split)
        save_run(result, out / model)
        results.append(result)
    stdout.print(leaderboard_table([r.metrics for r in results], COLUMNS))
    show_recommendations(results[-1], data)
    example_user = data.users.external([0])[0]
    console.print(f"runs saved under {out}/ — try `shoprec recommend {out}/ease --user {example_user}`")
    if os.environ.get("SHOPREC_NO_SERVE") != "1":
        serve_demo(out / "ials", out / "pipeline", example_user)
    return results


def serve_demo(run: Path, folder: Path, user: str, port: int = 8000) -> None:
    """Write the run's serving pipeline and serve it on 127.0.0.1 until Ctrl-C, printing where and how to ask."""
    from shoprec.cli.serve import require_serve_extra

    with report_errors():
        require_serve_extra()
        from shoprec.serving.app import serve_pipeline
        from shoprec.serving.pipeline import write_pipeline

        pipeline = write_pipeline(run, folder)
        url = f"http://127.0.0.1:{port}"
        key = ' -H "X-API-Key: $SHOPREC_API_KEY_READ"' if os.environ.get("SHOPREC_API_KEY_READ") else ""
        console.print(Text.assemble(("serving", "bold"), f" {pipeline} at {url} (Ctrl-C stops)"))
        console.print(f"  API docs {url}/docs   health {url}/health   metrics {url}/metrics")
        console.print(f"  try: curl{key} '{url}/recommendations/{user}?n=5'")
        serve_pipeline(pipeline, host="127.0.0.1", port=port)


def show_recommendations(result: RunResult, data: Dataset, user: int = 0) -> None:
    """Print the history tail and the top 10 of one user, with item names when the data set has them."""
    model = result.model
    items, _ = model.recommend(np.array([user]), 10)
    titles = data.metadata.get("item_titles")
    inter = data.interactions
    mine = np.flatnonzero(inter.users == user)
    if inter.timestamps is not None:
        mine = mine[np.argsort(inter.timestamps[mine], kind="stable")]
    history = inter.items[mine[-5:]]

    def label(index: int) -> str:
        item_id = str(data.items.external([index])[0])
        return f"{item_id} {titles[index]}" if titles is not None else item_id

    who = f"\nuser {data.users.external([user])[0]}"
    stdout.print(Text.assemble((who, "bold"), " recently: " + "; ".join(map(label, history))))
    stdout.print(f"{result.spec.model} recommends:", style="bold")
    for rank, index in enumerate(items[0][items[0] >= 0], start=1):
        stdout.print(f"  {rank:2d}. {label(int(index))}")


if __name__ == "__main__":
    main(Path(os.environ.get("SHOPREC_DEMO_OUT", "runs/demo")))
