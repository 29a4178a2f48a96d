"""Regenerate every results table in README.md and docs/ from the committed files in benchmarks/results/.

A generated block sits between `<!-- results:NAME -->` and `<!-- /results -->`; its body is replaced by
what the table function NAME writes from benchmarks/results/. Every table names its results file and the
command that reproduces it, and says which commit, date, device and load produced its rows.

    python -m benchmarks.tables           # rewrite the blocks in place
    python -m benchmarks.tables --check   # exit 1 (naming the files) when a block differs from its files

Adding a table: write one function `(results: Path) -> str` decorated with `@table("NAME")`, and put the
markers in the page that shows it.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from benchmarks.baselines import markdown as baselines_markdown

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
#: The pages whose generated blocks the command rewrites (globs relative to the repository root).
PAGES = ("README.md", "docs/*.md", "docs/models/*.md", "docs/serving/*.md")
BLOCK = re.compile(r"(<!-- results:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /results -->)", re.S)

TABLES: dict[str, Callable[[Path], str]] = {}
#: The models `bench_ncf` runs (its PRESETS keys; not imported, which would load torch for a Markdown table).
NCF_MODELS = ("mf", "gmf", "mlp", "neumf")

#: What counts as a quoted result outside generated blocks: a decimal, a number with thousands separators,
#: a count like 33M, or a number with a unit of time, size, rate, share or ratio. Plain small integers
#: ("2 cores", "top 10") are not results. Code (fenced blocks, `inline`) and link targets are not prose and are skipped.
RESULT_NUMBER = re.compile(
    r"(?<![\w.])(?<![A-Za-z]-)(?:\d+\.\d+|\d{1,3}(?:,\d{3})+|\d+[kMB](?![\w/])"
    r"|\d+(?:\.\d+)?\s?(?:ms|s|MB|GB|MiB|GiB|KiB|req/s|[a-z]+/s|%|×)(?![\w/]))"
)
#: Non-result facts that look like results (requirements and versions), allowed outside generated blocks.
ALLOWED = ("Python ≥ 3.10", "torch 2.13.0", "95% intervals", "MovieLens (100K/1M/latest/20M/25M/32M)")


class TableError(Exception):
    """A page or results file the generator cannot use; the message names the file and what is wrong."""


def table(name: str) -> Callable[[Callable[[Path], str]], Callable[[Path], str]]:
    """Register a table function under the marker name NAME."""

    def register(fn: Callable[[Path], str]) -> Callable[[Path], str]:
        TABLES[name] = fn
        return fn

    return register


# ----------------------------------------------------------------------------------------- reading results
def read_rows(results: Path, name: str) -> list[dict[str, Any]]:
    """The rows of a JSON-lines results file (or a JSON list / object), or [] when the file is missing."""
    path = results / name
    if not path.is_file():
        return []
    text = path.read_text()
    if name.endswith(".jsonl"):
        rows = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise TableError(f"{path}:{number}: not a JSON object ({exc.msg})") from None
        return rows
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TableError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    return data if isinstance(data, list) else [data]


def latest(rows: Iterable[dict[str, Any]], key: Callable[[dict[str, Any]], Any]) -> dict[Any, dict[str, Any]]:
    """The last row (in file order: the newest run) for each key, keys in first-seen order."""
    out: dict[Any, dict[str, Any]] = {}
    for row in rows:
        out[key(row)] = row
    return out


def field(row: dict[str, Any], dotted: str) -> Any:
    """row["a"]["b"] for "a.b"; a TableError naming the key when it is missing."""
    value: Any = row
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            raise TableError(f"results row has no key {dotted!r}: {json.dumps(row)[:160]}")
        value = value[part]
    return value


# ----------------------------------------------------------------------------------------- formatting
def f4(value: float) -> str:
    return f"{value:.4f}"


def spread(values: list[float], digits: int = 4) -> str:
    """Mean ± half the range, or the single value."""
    mean = statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {(max(values) - min(values)) / 2:.{digits}f}"


def span(values: list[float], digits: int = 1) -> str:
    """ "low–high", or the single value."""
    low, high = min(values), max(values)
    return f"{low:.{digits}f}" if f"{low:.{digits}f}" == f"{high:.{digits}f}" else f"{low:.{digits}f}–{high:.{digits}f}"


def provenance_note(rows: list[dict[str, Any]]) -> str:
    """Commit, date, device, threads and load of the rows, or that they were written before provenance."""
    records = [r["provenance"] for r in rows if isinstance(r.get("provenance"), dict)]
    parts = []
    if records:
        commits = sorted({(p.get("commit") or "?")[:7] + ("+dirty" if p.get("dirty") else "") for p in records})
        dates = sorted({str(p.get("date", "?"))[:10] for p in records})
        devices = sorted({f"{p.get('device')} ({p.get('cpu')}, {p.get('cores')} cores)" for p in records})
        threads = sorted({str(p.get("threads")) for p in records})
        loads = [float(p["load_avg_1m"]) for p in records if p.get("load_avg_1m") is not None]
        parts.append(
            f"commit {', '.join(commits)}, {', '.join(dates)}, {'; '.join(devices)}, threads {', '.join(threads)}"
            + (f", 1-min load average {span(loads)} (shared machine)" if loads else "")
        )
    missing = len(rows) - len(records)
    if missing:
        parts.append(f"{missing} row(s) written before provenance was recorded (no commit, date or load)")
    return "; ".join(parts)


def footer(files: list[str], command: str, rows: list[dict[str, Any]]) -> str:
    names = ", ".join(f"`benchmarks/results/{f}`" for f in files)
    return f"_From {names}; reproduce: `{command}`. Rows: {provenance_note(rows)}._"


def missing(files: list[str], command: str) -> str:
    names = ", ".join(f"`benchmarks/results/{f}`" for f in files)
    return f"_No committed results yet: this table returns once `{command}` has written {names}._"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def published(results: Path, key: str) -> dict[str, Any]:
    """A published reference figure from published.json (each entry cites its paper)."""
    for row in read_rows(results, "published.json"):
        if row.get("key") == key:
            return row
    raise TableError(f"{results / 'published.json'}: no entry with key {key!r}")


# ----------------------------------------------------------------------------------------- tables
@table("baselines")
def baselines_table(results: Path) -> str:
    rows = read_rows(results, "baselines.json")
    if not rows:
        return missing(["baselines.json"], "python -m benchmarks.baselines")
    tuned = [f"{r['model']} on {r['protocol']}: {json.dumps(r['params'], sort_keys=True)}" for r in rows if r["params"]]
    note = "Hyperparameters: each model's documented defaults" + (f", except {'; '.join(tuned)}." if tuned else ".")
    return "\n".join([baselines_markdown(rows).strip(), "", note, "", footer(["baselines.json"], _cmd(rows), rows)])


@table("baselines-moved")
def baselines_moved_table(results: Path) -> str:
    """How far each baseline moved when the protocol changed (unseen test items kept as misses, pessimistic
    ties): the previous file's HR@10 / NDCG@10 beside the current one."""
    before = {(r["protocol"], r["model"]): r for r in read_rows(results, "baselines_previous_protocol.json")}
    now = read_rows(results, "baselines.json")
    pairs = [(before[(r["protocol"], r["model"])], r) for r in now if (r["protocol"], r["model"]) in before]
    if not pairs:
        return missing(["baselines_previous_protocol.json", "baselines.json"], "python -m benchmarks.baselines")
    lines = [
        [
            new["protocol"],
            new["model"],
            *(f"{old['metrics'][m]:.4f} → {new['metrics'][m]:.4f}" for m in ("hr@10", "ndcg@10")),
        ]
        for old, new in pairs
    ]
    largest = max(abs(new["metrics"]["hr@10"] - old["metrics"]["hr@10"]) for old, new in pairs)
    note = (
        f"The largest change of HR@10 is {largest:.4f}: the old protocol dropped test events of items unseen in "
        "training and broke ties by `torch.topk`'s order. The previous rows are kept in "
        "`benchmarks/results/baselines_previous_protocol.json` (commit 871b1bb)."
    )
    table_text = markdown_table(["protocol", "model", "HR@10 before → now", "NDCG@10 before → now"], lines)
    return "\n".join([table_text, "", note])


def _cmd(rows: list[dict[str, Any]], default: str = "python -m benchmarks.baselines") -> str:
    commands = {r["provenance"]["command"] for r in rows if isinstance(r.get("provenance"), dict)}
    return commands.pop() if len(commands) == 1 else default


@table("foundation-speed")
def foundation_speed_table(results: Path) -> str:
    """Evaluation speed, iALS vs implicit, negative sampling: one row each, with its own provenance."""
    lines: list[list[str]] = []
    used: list[str] = []
    evaluation = read_rows(results, "evaluation.jsonl")
    if evaluation:
        row = evaluation[-1]
        shape = field(row, "shape")
        what = (
            f"full-ranking evaluation, {shape['users']:,} × {shape['items']:,} (ML-1M size), k ≤ {max(row['ks'])}, "
            f"{row['metrics_reported']} metrics, CIs, segments"
        )
        result = f"**{field(row, 'median_s.total'):.2f} s** (median of {row['repeats']})"
        lines.append([what, result, f"`{_cmd([row])}`", provenance_note([row])])
        used.append("evaluation.jsonl")
    ials = read_rows(results, "ials_vs_implicit.jsonl")
    if ials:
        last = list(latest(ials, lambda r: r["model"]).values())
        by_name = {r["model"]: r for r in last}
        ref = next(r for r in last if r["model"].startswith("implicit"))
        cells = []
        for name, r in by_name.items():
            ratio = r["fit_s"] / ref["fit_s"]
            cells.append(
                f"{name}: HR@10 {f4(r['hr@10'])}, NDCG@10 {f4(r['ndcg@10'])}, fit {r['fit_s']:.1f} s ({ratio:.2f}×)"
            )
        what = f"iALS vs `implicit` {ref['implicit']} ALS, NCF ML-1M, {ref['runs']} runs (mean accuracy, median fit)"
        lines.append([what, "<br>".join(cells), f"`{_cmd(last)}`", provenance_note(last)])
        used.append("ials_vs_implicit.jsonl")
    sampling = read_rows(results, "sampling.jsonl")
    if sampling:
        last = list(latest(sampling, lambda r: r["distribution"]).values())
        cells = [f"{r['distribution']}: **{r['negatives_per_s_median'] / 1e6:.1f}M** negatives/s" for r in last]
        what = f"negative sampling, {last[0]['dataset']} positives excluded, {last[0]['draws_per_repeat']:,} draws"
        lines.append([what, "<br>".join(cells), f"`{_cmd(last)}`", provenance_note(last)])
        used.append("sampling.jsonl")
    if not lines:
        return missing(["evaluation.jsonl"], "make bench")
    body = markdown_table(["what", "result", "command", "measured on"], lines)
    return body + "\n\n" + f"_From {', '.join(f'`benchmarks/results/{u}`' for u in used)}._"


@table("tuning")
def tuning_table(results: Path) -> str:
    rows = read_rows(results, "tuning.jsonl")
    if not rows:
        return missing(["tuning.jsonl"], "python -m benchmarks.bench_tuning")
    row = rows[-1]
    lines = []
    for name in ("defaults", "tuned"):
        part = field(row, name)
        params = {k: (round(v, 5) if isinstance(v, float) else v) for k, v in part["params"].items() if k != "seed"}
        label = f"{name} {json.dumps(params)}" if params else f"{name} (model defaults)"
        metrics = [f4(part[s][m]) for s in ("valid", "test") for m in ("ndcg@10", "hr@10")]
        lines.append([label, *metrics])
    header = ["iALS on ML-100K", "valid NDCG@10", "valid HR@10", "test NDCG@10", "test HR@10"]
    search = (
        f"{row['trials']} {row['sampler'].upper()} trials on the validation split (best: trial {row['best_trial']}), "
        f"search {row['search_wall_s']:.0f} s wall / {row['search_cpu_s']:.0f} s CPU."
    )
    return "\n".join([markdown_table(header, lines), "", search, "", footer(["tuning.jsonl"], _cmd(rows), [row])])


@table("evaluation-speed")
def evaluation_speed_table(results: Path) -> str:
    """Median seconds per phase of the newest bench_evaluation row."""
    rows = read_rows(results, "evaluation.jsonl")
    command = "python -m benchmarks.bench_evaluation --repeats 5 --threads 1"
    if not rows:
        return missing(["evaluation.jsonl"], command)
    row = rows[-1]
    lines = [[phase, f"{seconds:.3f}"] for phase, seconds in field(row, "median_s").items()]
    header = [f"phase (median of {row['repeats']})", "seconds"]
    return "\n".join([markdown_table(header, lines), "", footer(["evaluation.jsonl"], _cmd([row], command), [row])])


@table("sampling")
def sampling_table(results: Path) -> str:
    rows = read_rows(results, "sampling.jsonl")
    command = "python -m benchmarks.bench_sampling --repeats 5 --threads 1"
    if not rows:
        return missing(["sampling.jsonl"], command)
    last = list(latest(rows, lambda r: r["distribution"]).values())
    lines = [
        [r["distribution"], r["dataset"], f"{r['draws_per_repeat']:,}", f"{r['negatives_per_s_median']:,}"]
        for r in last
    ]
    header = ["distribution", "positives excluded", "negatives per repeat", "negatives/s (median)"]
    return "\n".join([markdown_table(header, lines), "", footer(["sampling.jsonl"], _cmd(last, command), last)])


@table("sasrec-published")
def sasrec_published_table(results: Path) -> str:
    """Published SASRec figures on S3-Rec's Beauty files, with the protocol each one used."""
    lines = []
    for row in read_rows(results, "published.json"):
        if row["key"].startswith("beauty-sasrec"):
            metrics = ", ".join(f"{name.upper()} {value}" for name, value in row["metrics"].items())
            lines.append([row["model"], row["protocol"], metrics, row["source"]])
    if not lines:
        return "_No published figure on these files is recorded in `benchmarks/results/published.json`._"
    table_text = markdown_table(["model", "protocol", "published", "source"], lines)
    return table_text + "\n\n_From `benchmarks/results/published.json`._"


@table("ncf")
def ncf_table(results: Path) -> str:
    rows = read_rows(results, "ncf.jsonl")
    command = "python -m benchmarks.bench_ncf run --model MODEL --seed S --out benchmarks/results/ncf.jsonl"
    if not rows:
        return missing(["ncf.jsonl"], command)
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in latest(rows, lambda r: (r["model"], r["seed"])).values():
        groups.setdefault(row["model"], []).append(row)
    lines = []
    for model, runs in groups.items():
        devices = ", ".join(sorted({r["provenance"]["device"] if "provenance" in r else r["device"] for r in runs}))
        lines.append(
            [
                model,
                ", ".join(str(r["seed"]) for r in runs),
                devices,
                spread([r["test_hr@10"] for r in runs]),
                spread([r["test_ndcg@10"] for r in runs]),
                spread([r["fit_s"] for r in runs], 0),
            ]
        )
    for key in ("ncf-mf", "ncf-neumf", "ncf-ials"):
        ref = published(results, key)
        lines.append(
            [f"published: {ref['model']}", "", ref["source"], ref["metrics"]["hr@10"], ref["metrics"]["ndcg@10"], ""]
        )
    lines = [[str(c) for c in line] for line in lines]
    header = ["model", "seeds", "device (or source)", "test HR@10", "test NDCG@10", "fit s"]
    note = "Mean ± half the range over seeds; presets in `benchmarks/bench_ncf.py` (`PRESETS`)."
    absent = [model for model in NCF_MODELS if model not in groups]
    if absent:
        note += (
            f" Not in the results file yet: {', '.join(absent)}; `{command.replace('MODEL', '|'.join(absent))}`"
            " adds them (NeuMF needs the GMF and MLP runs saved with `--save`, see docs/models/ncf.md)."
        )
    return "\n".join([markdown_table(header, lines), "", note, "", footer(["ncf.jsonl"], command, rows)])


@table("sasrec")
def sasrec_table(results: Path) -> str:
    """SASRec and the baselines, all predicting the test item from train + validation events."""
    command = "python -m benchmarks.bench_sasrec --seeds 0 1 2 --out benchmarks/results/sasrec.json"
    base = read_rows(results, "sasrec_baselines.json")
    model = read_rows(results, "sasrec.json")
    lines = []
    for result in model:
        runs = result.get("runs", [])
        if runs:
            device = result.get("provenance", {}).get("device", result.get("device"))
            seeds = len(runs)
            hr = spread([r["test"]["hr@10"] for r in runs])
            ndcg = spread([r["test"]["ndcg@10"] for r in runs])
            lines.append([f"SASRec ({result['args']['loss']}), {seeds} seed(s), {device}", hr, ndcg])
    for result in base:
        for row in result.get("baselines", []):
            lines.append(
                [f"{row['model']} (fit on train + validation)", f4(row["test"]["hr@10"]), f4(row["test"]["ndcg@10"])]
            )
    parts = []
    if lines:
        parts += [markdown_table(["model", "test HR@10", "test NDCG@10"], lines), ""]
    if not model:
        parts += [f"_No SASRec row yet: it returns once `{command}` has written `benchmarks/results/sasrec.json`._", ""]
    if base:
        cmd = "python -m benchmarks.bench_sasrec --baselines-only --out benchmarks/results/sasrec_baselines.json"
        parts.append(footer(["sasrec_baselines.json"], cmd, base))
    if model:
        parts.append(footer(["sasrec.json"], command, model))
    return "\n".join(parts).strip()


@table("deepfm")
def deepfm_table(results: Path) -> str:
    rows = read_rows(results, "deepfm.jsonl")
    command = "python -m benchmarks.bench_deepfm {frappe,ml-100k} --models MODEL --seed S"
    if not rows:
        return missing(["deepfm.jsonl"], command)
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in latest(rows, lambda r: (r["benchmark"], r["model"], r["params"].get("seed"))).values():
        groups.setdefault((row["benchmark"], row["model"]), []).append(row)
    lines = []
    for (data, model), runs in groups.items():
        seeds = ", ".join(str(r["params"].get("seed")) for r in runs)
        lines.append(
            [data, model, seeds, runs[0]["device"], spread([r["test_auc"] for r in runs]),
             spread([r["test_log_loss"] for r in runs])]
        )  # fmt: skip
    ref = published(results, "frappe-deepfm")
    lines.append(
        ["frappe", f"published: {ref['model']}", "", ref["source"], str(ref["metrics"]["test_auc"]),
         str(ref["metrics"]["test_log_loss"])]
    )  # fmt: skip
    header = ["data", "model", "seeds", "device (or source)", "test AUC", "test log loss"]
    return "\n".join([markdown_table(header, lines), "", footer(["deepfm.jsonl"], command, rows)])


@table("two-tower")
def two_tower_table(results: Path) -> str:
    rows = read_rows(results, "two_tower.jsonl")
    command = "python -m benchmarks.bench_two_tower {ml-100k,ml-1m} --models MODELS --threads 1"
    if not rows:
        return missing(["two_tower.jsonl"], command)
    lines = []
    for row in latest(rows, lambda r: (r["benchmark"], r["model"])).values():
        ranking = [f4(row[m]) if row.get(m) is not None else "–" for m in ("hr@10", "ndcg@10")]
        rmse = f4(row["rmse"]) if row.get("rmse") is not None else "–"
        lines.append([row["benchmark"], row["model"], row["device"], *ranking, rmse])
    header = ["data", "model", "device", "test HR@10", "test NDCG@10", "test RMSE"]
    note = "ml-100k: temporal leave-one-out, full ranking; ml-1m: explicit ratings, random 80/10/10."
    return "\n".join([markdown_table(header, lines), "", note, "", footer(["two_tower.jsonl"], command, rows)])


@table("training-speed")
def training_speed_table(results: Path) -> str:
    rows = read_rows(results, "speed.jsonl")
    command = "python -m benchmarks.bench_speed --threads 1"
    if not rows:
        return missing(["speed.jsonl"], command)
    lines = []
    for row in latest(rows, lambda r: r["model"]).values():
        rate = f"{row['examples_per_s']:,.0f}" if row.get("examples_per_s") else "—"
        lines.append([row["model"], rate, f"{row['epoch_s']:.1f}", f"{row['peak_rss_mib']:.0f}"])
    header = ["model", "examples/s", "epoch (or sweep / solve) s", "peak RSS Δ MiB"]
    first = rows[0]
    note = f"{first['data']}, {first['epochs']} epochs at each model's defaults, {first['threads']} thread(s)."
    return "\n".join([markdown_table(header, lines), "", note, "", footer(["speed.jsonl"], command, rows)])


@table("serve")
def serve_table(results: Path) -> str:
    """The newest bench_serve invocation: per offered rate, ranges over its server starts."""
    rows = read_rows(results, "serve.jsonl")
    command = "python -m benchmarks.bench_serve"
    if not rows:
        return missing(["serve.jsonl"], command)
    # The newest invocation only: its rows are the last `run + 1` (run counts server starts from 0). Older
    # rows in the file were measured with older code and stay there (docs/serving/performance.md).
    series = rows[-(int(rows[-1].get("run", 0)) + 1) :]
    rates = [load["rate"] for load in series[-1]["loads"]]
    lines = []
    for index, rate in enumerate(rates):
        loads = [r["loads"][index] for r in series]
        lines.append(_load_line(f"{rate:,.0f} req/s offered", loads))
    cold = [r["cold_start"] for r in series if "cold_start" in r]
    if cold:
        lines.append(_load_line(f"new visitors (cold start) at {cold[0]['rate']:,.0f} req/s", cold))
    stale = sum(r["stale_after_event"] for r in series), sum(r["events"] for r in series)
    event = f"{span([r['event_to_rec_p50_ms'] for r in series])} / {span([r['event_to_rec_p99_ms'] for r in series])}"
    first = series[0]
    header = ["top-10 lists", "achieved req/s", "p50 / p99 ms", "CPU steal %"]
    note = (
        f"The newest `bench_serve` invocation: {len(series)} server starts, {first['workers']} workers, "
        f"{first['items']:,} items × {first['users']:,} users ({first['dim']} dims); ranges over the runs "
        f"(low–high). Event → next recommendation p50 / p99: {event} ms, stale {stale[0]} of {stale[1]:,}; "
        f"ANN recall@10 vs exact {span([r['ann_recall@10'] for r in series], 4)}; memory of all server "
        f"processes (PSS) {span([r['pss_after_mb'] for r in series], 0)} MB."
    )
    return "\n".join([markdown_table(header, lines), "", note, "", footer(["serve.jsonl"], command, series)])


def _load_line(label: str, loads: list[dict[str, Any]]) -> list[str]:
    achieved = span([load["achieved_rps"] for load in loads], 0)
    latency = f"{span([load['p50_ms'] for load in loads])} / {span([load['p99_ms'] for load in loads])}"
    steal = [load["steal_pct"] for load in loads if "steal_pct" in load]
    return [label, achieved, latency, span(steal) if steal else "–"]


@table("soak")
def soak_table(results: Path) -> str:
    """Every 30-minute soak run: requests, errors, memory growth after warm-up, latency and the machine's load."""
    rows = read_rows(results, "soak.jsonl")
    command = "make soak  # python -m benchmarks.soak"
    if not rows:
        return missing(["soak.jsonl"], command)
    rows = [{**row, "provenance": _current_keys(row.get("provenance") or {})} for row in rows]
    lines = []
    for row in rows:
        origin = row["provenance"]
        commit = str(origin.get("commit", "?"))[:7]
        start = str(origin.get("date", "?"))[:16].replace("T", " ")
        flat = "flat" if row["memory_flat"] else "**not flat**"
        lines.append(
            [
                f"{start} ({commit})",
                f"{row['requests']:,} in {row['duration_s'] / 60:.0f} min at {row['rate']:.0f} req/s",
                f"{row['errors']}",
                f"{row['anon_after_warmup_mb']:.0f} → {row['anon_last_mb']:.0f} MB: {row['memory_growth_pct']:+.2f}% "
                f"({flat})",
                f"{row['p50_ms']:.1f} / {row['p99_ms']:.1f} ms (worst minute {row['max_p99_ms_per_interval']:.1f})",
                f"{row['load1_max']:.1f}",
            ]
        )
    header = [
        "run (UTC, commit)",
        "requests",
        "errors",
        "anonymous memory after warm-up → last 5 min",
        "p50 / p99",
        "max load average",
    ]
    return "\n".join([markdown_table(header, lines), "", footer(["soak.jsonl"], command, rows)])


#: Provenance keys of the first soak run (written before benchmarks.provenance settled its names).
_LEGACY_KEYS = {"git_commit": "commit", "date_utc": "date", "cpu_model": "cpu", "load_avg_1min": "load_avg_1m"}


def _current_keys(origin: dict[str, Any]) -> dict[str, Any]:
    return {_LEGACY_KEYS.get(key, key): value for key, value in origin.items()}


@table("scenarios")
def scenarios_table(results: Path) -> str:
    """Streaming, cold start, re-ranking and audiences: one line each with its results file and command."""
    lines = []
    streaming = read_rows(results, "streaming.jsonl")
    if streaming:
        last = list(latest(streaming, lambda r: r["data"]).values())
        live = ", ".join(
            f"{r['data']} {r['metrics']['static']['hr@10']:.3f} → **{r['metrics']['live']['hr@10']:.3f}**" for r in last
        )
        new = ", ".join(
            f"{r['data']} {r['by_user_kind']['new']['static']['hr@10']:.3f} → "
            f"**{r['by_user_kind']['new']['live']['hr@10']:.3f}**"
            for r in last
        )
        cmd = "`python -m benchmarks.bench_streaming` (`streaming.jsonl`)"
        lines.append(
            ["real time: replayed test period, live fold-in vs static model, HR@10", live, cmd, provenance_note(last)]
        )
        lines.append(["users new in the test period, popularity vs live, HR@10", new, cmd, provenance_note(last)])
    rerank = read_rows(results, "rerank.jsonl")
    if rerank:
        last = latest(rerank, lambda r: (r["benchmark"], r["step"], r.get("knob"), r.get("value")))
        base = last[("ml-100k", "ials only", "", "")]
        cmd = "`python -m benchmarks.bench_rerank` (`rerank.jsonl`)"
        for step, knob, value, label in (
            ("mmr", "lambda", 0.7, "MMR λ 0.7"),
            ("long_tail", "weight", 0.5, "long-tail weight 0.5"),
        ):
            row = last[("ml-100k", step, knob, value)]
            shown = ", ".join(
                f"{m} {base[m]:.4f} → {row[m]:.4f}" for m in ("hr@10", "diversity@10", "coverage@10", "tail_share@10")
            )
            lines.append([f"{label} on iALS top-100, ML-100K", shown, cmd, provenance_note([row])])
    audience = read_rows(results, "audience.jsonl")
    if audience:
        last = list(latest(audience, lambda r: r["dataset"]).values())
        shown = "; ".join(
            f"{r['dataset']} **{r['precision_service']:.3f}** vs most-active {r['precision_active']:.3f} vs random "
            f"{r['precision_random']:.3f}"
            for r in last
        )
        cmd = "`python -m benchmarks.bench_audience --data synthetic-shop ml-100k` (`audience.jsonl`)"
        lines.append(
            [f"audiences: precision of {last[0]['size']} users picked per item", shown, cmd, provenance_note(last)]
        )
    tuning = read_rows(results, "tuning.jsonl")
    if tuning:
        row = tuning[-1]
        shown = f"test NDCG@10 {row['defaults']['test']['ndcg@10']:.4f} → **{row['tuned']['test']['ndcg@10']:.4f}**"
        what = f"tuning: iALS on ML-100K, {row['trials']} Optuna trials on validation"
        lines.append([what, shown, "`python -m benchmarks.bench_tuning` (`tuning.jsonl`)", provenance_note([row])])
    if not lines:
        return missing(["streaming.jsonl"], "make bench-serve")
    return markdown_table(["scenario", "measured effect", "command (results file)", "measured on"], lines)


# ----------------------------------------------------------------------------------------- the pages
def render(text: str, results: Path, page: str = "<text>") -> str:
    """`text` with every generated block's body rewritten from `results`."""

    def body(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in TABLES:
            line = text.count("\n", 0, match.start()) + 1
            raise TableError(f"{page}:{line}: unknown results block {name!r}; known: {', '.join(sorted(TABLES))}")
        return f"{match[1]}{TABLES[name](results).strip()}\n{match[4]}"

    return BLOCK.sub(body, text)


def stray_numbers(text: str) -> list[tuple[int, str]]:
    """(line, number) of every result-like number outside generated blocks, code and link targets."""
    blanked = BLOCK.sub(lambda m: "\n" * m[0].count("\n"), text)
    blanked = re.sub(r"```.*?```", lambda m: "\n" * m[0].count("\n"), blanked, flags=re.S)
    blanked = re.sub(r"`[^`\n]*`|\]\([^)\n]*\)|<!--.*?-->", "", blanked)
    for allowed in ALLOWED:
        blanked = blanked.replace(allowed, "")
    return [
        (number, match[0])
        for number, line in enumerate(blanked.splitlines(), 1)
        for match in RESULT_NUMBER.finditer(line)
    ]


def pages(root: Path) -> list[Path]:
    return sorted({path for pattern in PAGES for path in root.glob(pattern)})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a page is out of date")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root (pages and benchmarks/results)")
    args = parser.parse_args(argv)
    results = args.root / "benchmarks" / "results"
    stale = []
    try:
        for path in pages(args.root):
            text = path.read_text()
            new = render(text, results, str(path.relative_to(args.root)))
            if new != text:
                stale.append(str(path.relative_to(args.root)))
                if not args.check:
                    path.write_text(new)
    except TableError as exc:
        print(f"benchmarks.tables: {exc}", file=sys.stderr)
        return 2
    if args.check and stale:
        print(f"out of date (run `python -m benchmarks.tables`): {', '.join(stale)}", file=sys.stderr)
        return 1
    print(("up to date: " if args.check or not stale else "rewrote: ") + (", ".join(stale) or "all pages"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
