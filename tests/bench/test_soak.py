"""`benchmarks.soak`: a short soak of a real `shoprec serve` (tiny catalog, ~16 s), the request mix it sends, the
memory-growth measure, and that no server process outlives an interrupted soak."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from benchmarks import soak

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--items", "2000", "--users", "2000", "--dim", "16", "--clusters", "20", "--workers", "2"]
SHORT = ["--duration", "16", "--rate", "50", "--warmup", "4", "--window", "4", "--interval", "4", "--sample-every", "1"]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("soak")


@pytest.fixture(scope="module")
def row(work: Path) -> dict:
    """One short soak, in process (the pipeline cached under `work` for the other tests)."""
    return soak.soak(soak.parse_args([*TINY, *SHORT, "--work", str(work)]))


def test_short_soak_answers_every_request_as_expected(row: dict) -> None:
    assert row["finished_in_time"] is True
    assert row["requests"] == row["answered"] == 16 * 50
    assert row["errors"] == 0
    assert row["errors_by_type"] == dict.fromkeys(soak.KINDS, 0)
    assert sum(row["requests_by_type"].values()) == row["requests"]
    assert all(row["requests_by_type"][kind] > 0 for kind in soak.KINDS)  # every type was sent
    for kind, statuses in row["statuses_by_type"].items():
        assert {int(s) for s in statuses} <= soak.EXPECTED[kind]
        assert sum(statuses.values()) == row["requests_by_type"][kind]
    assert row["users_deleted"] == row["statuses_by_type"]["user_delete"]["200"]
    assert row["items_created"] == row["statuses_by_type"]["item_put"].get("201", 0)
    assert 0 < row["p50_ms"] <= row["p99_ms"]


def test_short_soak_records_memory_every_sample_and_latency_per_interval(row: dict) -> None:
    samples = row["memory"]
    times = [s["t_s"] for s in samples]
    assert times == sorted(times) and times[0] < 1.0 and times[-1] >= 16
    assert 15 <= len(samples) <= 19  # every second over 16 s, and one after the load
    for sample in samples:
        assert sample["processes"] == 3  # the supervisor and its two workers
        assert 0 < sample["anon_mb"] <= sample["pss_mb"] <= sample["rss_mb"]
        assert sample["anonymous_mb"] > 0 and sample["private_dirty_mb"] > 0
        assert sample["users"] >= 2000 and sample["items"] >= 2000  # /health answered while loaded
    answered = [s["events_answered"] for s in samples]
    assert answered == sorted(answered) and answered[-1] > 0
    assert samples[-1]["users_deleted"] == row["users_deleted"]
    assert math.isfinite(row["memory_growth_pct"])
    assert math.isfinite(row["anonymous_growth_mb"]) and math.isfinite(row["private_dirty_growth_mb"])
    assert row["memory_flat"] == (row["memory_growth_pct"] < soak.FLAT_PCT)
    assert [r["t0_s"] for r in row["intervals"]] == [0, 4, 8, 12]
    for interval in row["intervals"]:
        assert sum(interval[kind]["requests"] for kind in soak.KINDS) == interval["all"]["requests"] == 200
        assert interval["all"]["errors"] == 0
        assert interval["all"]["p50_ms"] <= interval["all"]["p99_ms"]
    assert row["max_p99_ms_per_interval"] == max(r["all"]["p99_ms"] for r in row["intervals"])
    assert {"commit", "date", "cores", "device", "threads", "seed", "command", "load_avg_1m"} <= set(row["provenance"])
    json.dumps(row, allow_nan=False)  # one JSON line, nothing a tables generator cannot read


def test_short_soak_leaves_no_server_process(row: dict) -> None:
    assert len(row["server_pids"]) == 3
    assert row["leftover_processes"] == []
    assert not any(Path(f"/proc/{pid}").exists() for pid in row["server_pids"])


@pytest.mark.slow
def test_sigterm_mid_soak_stops_the_server_and_writes_nothing(work: Path, tmp_path: Path, row: dict) -> None:
    out = tmp_path / "soak.jsonl"
    command = [sys.executable, "-m", "benchmarks.soak", *TINY, *SHORT, "--duration", "60", "--work", str(work)]
    proc = subprocess.Popen([*command, "--out", str(out)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        line = ""
        for _ in range(3):  # "server pids [...]" once the server answers (after "built the pipeline" if not cached)
            line = proc.stdout.readline()
            if line.startswith("server pids"):
                break
        assert line.startswith("server pids"), line
        pids = json.loads("[" + line.split("[", 1)[1].split("]", 1)[0] + "]")
        assert len(pids) == 3 and all(Path(f"/proc/{pid}").exists() for pid in pids)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    finally:
        proc.kill()
        proc.wait()
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids)
    assert not out.exists()


def test_memory_growth_compares_medians_after_warmup_and_at_the_end() -> None:
    samples = [{"t_s": float(t), "anon_mb": 100.0 + (t >= 40) * 10.0 + (t == 10) * 500.0} for t in range(0, 61, 5)]
    growth = soak.memory_growth(samples, "anon_mb", warmup=10, window=20, duration=60)
    assert growth["after_warmup_mb"] == 100.0  # median of 600, 100, 100, 100: the spike does not move it
    assert growth["last_mb"] == 110.0
    assert growth["growth_pct"] == pytest.approx(10.0)
    with pytest.raises(ValueError, match="no memory samples"):
        soak.memory_growth(samples[:2], "anon_mb", warmup=10, window=20, duration=60)


def test_mix_deletes_new_users_only_after_their_events_and_never_twice() -> None:
    n = 4000
    kinds = np.random.default_rng(0).choice(len(soak.KINDS), n, p=[0.5, 0.2, 0.1, 0.1, 0.1])
    mix = soak.Mix(kinds, items=50, users=30, new_users=20, new_items=5, seed=1)
    acked_users: set[str] = set()
    deleted_new: Counter[str] = Counter()
    created: set[str] = set()
    for i in range(n):
        method, path, body = mix.request(i)
        kind = soak.KINDS[kinds[i]]
        assert method == {"read": "GET", "event": "POST", "event_batch": "POST", "item_put": "PUT"}.get(kind, "DELETE")
        if kind in ("event", "event_batch"):
            events = json.loads(body).get("events") or [json.loads(body)]
            assert all(e["item"].startswith("i") or e["item"] in created for e in events)  # only answered items
            acked_users.update(e["user"] for e in events)
        if kind == "user_delete" and path.startswith("/users/new-"):
            user = path.removeprefix("/users/")
            assert user in acked_users  # its event was answered before
            deleted_new[user] += 1
        status = 201 if kind == "item_put" and path.startswith("/items/new-item-") else min(soak.EXPECTED[kind])
        if status == 201:
            created.add(path.removeprefix("/items/"))
        mix.done(i, status, 1.0)
    assert deleted_new and max(deleted_new.values()) == 1
    assert {u for u in mix.deleted if u.startswith("u")} and len(mix.deleted) == (kinds == 4).sum()
    assert (mix.status > 0).all()


@pytest.mark.parametrize(
    "bad",
    [["--duration", "0"], ["--rate", "-1"], ["--warmup", "300", "--window", "300", "--duration", "500"]],
)
def test_bad_settings_are_refused_with_the_option_named(bad: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        soak.parse_args(bad)
    assert f"--{bad[0].removeprefix('--')}" in capsys.readouterr().err
