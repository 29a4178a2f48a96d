"""`benchmarks.tables`: README.md and docs are what the committed results files generate, and README.md
quotes no result-like number outside a generated block."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmarks import tables
from benchmarks.provenance import provenance
from benchmarks.results_io import append_row, with_provenance

ROOT = Path(__file__).resolve().parents[2]


def test_committed_pages_match_committed_results(capsys: pytest.CaptureFixture[str]) -> None:
    assert tables.main(["--check", "--root", str(ROOT)]) == 0, capsys.readouterr().err


def test_readme_has_no_number_outside_generated_blocks() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "<!-- results:baselines -->" in readme
    assert tables.stray_numbers(readme) == []


@pytest.mark.parametrize(
    "prose",
    [
        "fit 0.66× implicit's time",
        "about 33M uniform negatives/s",
        "p99 9.4 ms",
        "1,000 req/s",
        "HR@10 0.7255",
        "12%",
        "gap -0.02",
    ],
)
def test_a_quoted_result_outside_a_block_is_flagged(prose: str) -> None:
    text = f"# t\n\nintro\n{prose}\n"
    assert [line for line, _ in tables.stray_numbers(text)] == [4]


def test_numbers_inside_blocks_code_links_and_allowed_facts_pass() -> None:
    text = (
        "needs Python ≥ 3.10 and 2 cores\n"
        "<!-- results:x -->\n| 0.1234 | 5.6 s |\n<!-- /results -->\n"
        "```bash\nsleep 1.5\n```\n"
        "run `bench --rate 1,000` or see [the page](docs/v1.2.md)\n"
    )
    assert tables.stray_numbers(text) == []


def _results_dir(tmp_path: Path, hr: float) -> Path:
    row = {
        "benchmark": "toy",
        "model": "mf",
        "hr@10": hr,
        "ndcg@10": hr / 2,
        "device": "cpu",
        "provenance": provenance(seed=0, threads=1, device="cpu"),
    }
    results = tmp_path / "benchmarks" / "results"
    results.mkdir(parents=True)
    (results / "two_tower.jsonl").write_text(json.dumps(row) + "\n")
    return results


def test_render_rewrites_a_block_from_the_results_and_names_file_and_provenance(tmp_path: Path) -> None:
    results = _results_dir(tmp_path, 0.25)
    page = "before\n<!-- results:two-tower -->\nold 0.9999\n<!-- /results -->\nafter\n"
    out = tables.render(page, results)
    assert out.startswith("before\n<!-- results:two-tower -->\n") and out.endswith("<!-- /results -->\nafter\n")
    assert "0.2500" in out and "0.1250" in out and "0.9999" not in out
    assert "`benchmarks/results/two_tower.jsonl`" in out and "python -m benchmarks.bench_two_tower" in out
    commit = provenance(seed=None, threads=None, device="cpu")["commit"]
    if commit:  # outside a git checkout the record has no commit to show
        assert commit[:7] in out


def test_check_mode_fails_on_a_stale_page_and_rewrite_fixes_it(tmp_path: Path) -> None:
    _results_dir(tmp_path, 0.25)
    readme = tmp_path / "README.md"
    readme.write_text("<!-- results:two-tower -->\n<!-- /results -->\n")
    assert tables.main(["--check", "--root", str(tmp_path)]) == 1
    assert tables.main(["--root", str(tmp_path)]) == 0
    assert "0.2500" in readme.read_text()
    assert tables.main(["--check", "--root", str(tmp_path)]) == 0


def test_unknown_block_and_bad_results_line_are_clear_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    results = _results_dir(tmp_path, 0.25)
    (tmp_path / "README.md").write_text("x\n<!-- results:nope -->\n<!-- /results -->\n")
    assert tables.main(["--root", str(tmp_path)]) == 2
    assert "README.md:2: unknown results block 'nope'" in capsys.readouterr().err
    (results / "two_tower.jsonl").write_text('{"ok": 1}\nnot json\n')
    with pytest.raises(tables.TableError, match=r"two_tower.jsonl:2: not a JSON object"):
        tables.render("<!-- results:two-tower -->\n<!-- /results -->\n", results)


def test_missing_results_file_says_which_command_brings_the_table_back(tmp_path: Path) -> None:
    out = tables.render("<!-- results:ncf -->\n<!-- /results -->\n", tmp_path)
    assert "python -m benchmarks.bench_ncf" in out and "benchmarks/results/ncf.jsonl" in out


def test_provenance_record_has_every_field() -> None:
    record = provenance(seed=3, threads=1, device="cpu")
    expected = {"commit", "dirty", "date", "cpu", "cores", "device", "threads", "seed", "command", "python", "torch"}
    assert expected | {"load_avg_1m"} == set(record)
    assert (record["seed"], record["threads"], record["device"]) == (3, 1, "cpu")
    assert record["date"].endswith("Z") and record["command"].startswith("python")


def test_rows_get_provenance_from_their_own_fields(tmp_path: Path) -> None:
    row = with_provenance({"model": "fm", "threads": 2, "device": "cpu", "params": {"seed": 7}})
    assert (row["provenance"]["seed"], row["provenance"]["threads"], row["provenance"]["device"]) == (7, 2, "cpu")
    assert row["model"] == "fm"
    out = tmp_path / "r.jsonl"
    append_row(out, {"x": 1}, seed=1, threads=1, device="cpu")
    append_row(out, {"x": 2}, seed=2, threads=1, device="cpu")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["x"], r["provenance"]["seed"]) for r in rows] == [(1, 1), (2, 2)]


def test_ncf_models_listed_in_tables_are_bench_ncf_presets() -> None:
    from benchmarks.bench_ncf import PRESETS

    assert set(tables.NCF_MODELS) == set(PRESETS)
