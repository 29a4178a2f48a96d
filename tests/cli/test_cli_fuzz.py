"""The CLI never shows a traceback: bad values for every option of every command end in one line and exit 2.

A table of bad values (and hypothesis text for the options that take a name) runs in-process through typer's
CliRunner; a few rows also run as real subprocesses. Each row names what the one line must mention.
Rows stop before any training, so the whole file runs in seconds.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.serving.server import shared_run
from typer.testing import CliRunner

from shoprec.cli.main import app
from shoprec.data.split import SPLITTERS
from shoprec.models.registry import available_models
from shoprec.serving.pipeline import write_pipeline

RUNNER = CliRunner()
SHOP = '[data]\nname = "synthetic-shop"\nn_users = 60\nn_items = 40\nn_events = 800\n'
EXPERIMENT = SHOP + '[model]\nname = "popularity"\n'
TUNE = (
    SHOP
    + '[model]\nname = "ials"\nepochs = 1\n[tune]\nmetric = "ndcg@10"\ntrials = 2\n'
    + "[tune.space]\nembedding_size = { choices = [4, 8] }\n"
)


@pytest.fixture(scope="module")
def paths(tmp_path_factory) -> dict[str, str]:
    """Files and folders the rows refer to by `{name}`: valid inputs, an existing file, a folder."""
    root = tmp_path_factory.mktemp("fuzz")
    run = shared_run(tmp_path_factory)
    files = {
        "cfg": EXPERIMENT,
        "tune": TUNE,
        "notune": EXPERIMENT,
        "badtoml": "[data\nname = 1\n",
        "ks": EXPERIMENT + '[experiment]\nks = ["a"]\n',
        "noks": EXPERIMENT + "[experiment]\nks = []\n",
        "modellist": SHOP + '[model]\nname = ["ials"]\n',
        "datadir": EXPERIMENT.replace("[data]\n", "[data]\ndata_dir = 7\n"),
        "strint": SHOP + '[model]\nname = "ials"\nembedding_size = "64"\n',
        "boolint": SHOP + '[model]\nname = "ials"\nepochs = true\n',
        "nanreg": SHOP + '[model]\nname = "ials"\nreg = nan\n',
        "modeltable": "model = 3\n" + SHOP,
        "splitbool": EXPERIMENT + '[split]\nmethod = "loo"\nvalid = "yes"\n',
        "negatives": EXPERIMENT + '[split]\nmethod = "loo"\nnegatives = 0\n',
        "file": "not a folder\n",
    }
    out = {}
    for name, text in files.items():
        path = root / f"{name}.toml"
        path.write_text(text)
        out[name] = str(path)
    out["run"] = str(run)
    out["pipeline"] = str(write_pipeline(run, root / "pipeline"))
    out["dir"] = str(root)
    out["new"] = str(root / "new-output")
    out["csv"] = str(root / "users.csv")
    out["missing"] = str(root / "missing.toml")
    return out


TRAIN = ["train", "-c", "{cfg}", "--out", "{new}", "--no-progress"]
IALS = [*TRAIN, "-m", "ials"]
EVALUATE = ["evaluate", "{run}"]
RECOMMEND = ["recommend", "{run}", "--user", "u001"]
COMPARE = ["compare", "-d", "synthetic-shop", "--models", "popularity"]
AUDIENCE = ["audience", "--pipeline", "{pipeline}", "--out", "{csv}", "--item", "i01"]
TUNE_CMD = ["tune", "{tune}", "--out", "{new}"]
SERVE = ["serve", "--pipeline", "{pipeline}"]

#: Options where any text is valid (an unknown user gets the cold-start list), so no value is bad.
FREE_TEXT = {"--study-name", "--user"}
#: Boolean switches: no value to get wrong.
FREE_FLAGS = ("help", "as_json", "progress", "strict", "insecure_open")
#: (arguments, what the one line must mention). Every other option of every command has at least one bad value.
BAD = [
    # the group itself
    (["nope"], "No such command"),
    (["train", "--bogus"], "No such option"),
    # datasets
    (["datasets", "info", "nope"], "unknown data set 'nope'"),
    (["datasets", "download", "nope"], "unknown data set 'nope'"),
    (["datasets", "list", "--json", "extra"], "unexpected extra argument"),
    (["datasets", "info", "{dir}", "--columns", "foo"], "--columns: expected key=value pairs"),
    (["datasets", "info", "{dir}", "--event-weights", "view=x"], "--event-weights view=x: expected a number >= 0"),
    (["datasets", "info", "synthetic-shop", "--columns", "user=u"], "apply to a path, not to the data set"),
    (["datasets", "export", "synthetic-shop", "--out", "{new}", "--format", "xml"], "--format: expected one of"),
    (["datasets", "export", "synthetic-shop", "--out", "{new}", "--users", "0"], "'--users'"),
    (["datasets", "export", "synthetic-shop", "--out", "{new}", "--items", "x"], "'--items'"),
    (["datasets", "export", "synthetic-shop", "--out", "{new}", "--events", "-1"], "'--events'"),
    (["datasets", "export", "ml-100k", "--out", "{new}", "--seed", "3"], "apply to synthetic-shop only"),
    # train: runtime options
    ([*TRAIN, "--threads", "0"], "threads must be > 0"),
    ([*TRAIN, "--threads", "-2"], "threads must be > 0"),
    ([*TRAIN, "--threads", "x"], "'--threads'"),
    ([*TRAIN, "--threads", "1.5"], "'--threads'"),
    ([*TRAIN, "--device", "tpu"], "device must be one of cpu, cuda, cuda:N, mps; got 'tpu'"),
    ([*TRAIN, "--device", "cuda:x"], "device must be one of"),
    ([*TRAIN, "--device", ""], "device must be one of"),
    # train: experiment options
    ([*TRAIN, "--seed", "-1"], "seed must be >= 0"),
    ([*TRAIN, "--seed", "x"], "'--seed'"),
    ([*TRAIN, "--seed", "1.5"], "'--seed'"),
    ([*TRAIN, "--implicit-threshold", "nan"], "'--implicit-threshold': expected a finite number"),
    ([*TRAIN, "--implicit-threshold", "inf"], "'--implicit-threshold': expected a finite number"),
    ([*TRAIN, "--implicit-threshold", "x"], "'--implicit-threshold'"),
    ([*TRAIN, "--split", "nope"], "split method 'nope' is unknown"),
    ([*TRAIN, "--protocol", "nope"], "unknown protocol 'nope'"),
    ([*TRAIN, "--model", "nope"], "unknown model 'nope'"),
    ([*TRAIN, "--model", ""], "experiment needs a 'model'"),
    ([*TRAIN, "--data", "nope"], "unknown data set 'nope'"),
    ([*TRAIN, "--data", "[bold]x[/]"], "unknown data set '[bold]x[/]'"),
    (["train", "--out", "{new}"], "experiment needs a 'data'"),
    (["train", "-c", "{cfg}"], "Missing option '--out'"),
    # train: hyperparameters (-p)
    ([*IALS, "-p", "reg=NaN"], "IALSConfig.reg: expected a finite number, got nan"),
    ([*IALS, "-p", "reg=Infinity"], "IALSConfig.reg: expected a finite number, got inf"),
    ([*IALS, "-p", "reg=-1"], "IALSConfig.reg must be >= 0"),
    ([*IALS, "-p", "epochs=true"], "IALSConfig.epochs: expected an integer, got True"),
    ([*IALS, "-p", "epochs=0"], "IALSConfig.epochs must be > 0"),
    ([*IALS, "-p", "epochs=-1"], "IALSConfig.epochs must be > 0"),
    ([*IALS, "-p", "epochs=1.5"], "IALSConfig.epochs: expected an integer, got 1.5"),
    ([*IALS, "-p", 'embedding_size="64"'], "IALSConfig.embedding_size: expected an integer, got '64'"),
    ([*IALS, "-p", "solver=nope"], "IALSConfig.solver must be 'cholesky' or 'cg'"),
    ([*IALS, "-p", "solver=1"], "IALSConfig.solver: expected a string, got 1"),
    ([*IALS, "-p", "nope=1"], "unknown parameter(s) ['nope']"),
    ([*IALS, "-p", "[red]x[/]=1"], "unknown parameter(s) ['[red]x[/]']"),
    ([*IALS, "-p", "epochs"], "expected key=value"),
    # train: paths
    (["train", "-c", "{cfg}", "--out", "{file}"], "is an existing file"),
    (["train", "-c", "{cfg}", "--out", "{file}/run"], "is a file, so a folder cannot be created"),
    (["train", "-c", "{dir}", "--out", "{new}"], "is a folder; expected a TOML config file"),
    (["train", "-c", "{missing}", "--out", "{new}"], "config file not found"),
    (["train", "-c", "{badtoml}", "--out", "{new}"], "invalid TOML"),
    # train: config values
    (["train", "-c", "{ks}", "--out", "{new}"], "ExperimentSpec.ks[0]: expected an integer, got 'a'"),
    (["train", "-c", "{noks}", "--out", "{new}"], "ExperimentSpec.ks: expected at least one cut-off"),
    (["train", "-c", "{modellist}", "--out", "{new}"], "ExperimentSpec.model: expected a string, got ['ials']"),
    (["train", "-c", "{datadir}", "--out", "{new}"], "data.data_dir: expected a string or a path or none, got 7"),
    (["train", "-c", "{strint}", "--out", "{new}"], "embedding_size: expected an integer, got '64'"),
    (["train", "-c", "{boolint}", "--out", "{new}"], "epochs: expected an integer, got True"),
    (["train", "-c", "{nanreg}", "--out", "{new}"], "reg: expected a finite number, got nan"),
    (["train", "-c", "{modeltable}", "--out", "{new}"], "'model' must be a table ([model])"),
    (["train", "-c", "{splitbool}", "--out", "{new}"], "split.valid: expected true or false, got 'yes'"),
    (["train", "-c", "{negatives}", "--out", "{new}"], "split.negatives must be > 0"),
    # evaluate
    (["evaluate", "{missing}"], "not a shoprec run directory"),
    (["evaluate", "{file}"], "not a shoprec run directory"),
    ([*EVALUATE, "--k", "0"], "ExperimentSpec.ks must be > 0"),
    ([*EVALUATE, "--k", "x"], "'--k'"),
    ([*EVALUATE, "--on", "foo"], "--on: expected one of test, valid, got 'foo'"),
    (["evaluate"], "Missing argument"),
    # recommend
    (["recommend", "{missing}", "--user", "u001"], "not a shoprec run directory"),
    ([*RECOMMEND, "-n", "0"], "'-n'"),
    ([*RECOMMEND, "-n", "1001"], "'-n'"),
    ([*RECOMMEND, "-n", "x"], "'-n'"),
    (["recommend", "{run}"], "Missing option '--user'"),
    # compare
    (["compare", "-d", "synthetic-shop", "--models", ""], "--models: expected comma-separated model names"),
    (["compare", "-d", "synthetic-shop", "--models", " , "], "--models: expected comma-separated model names"),
    (["compare", "-d", "synthetic-shop", "--models", "ease,nope"], "unknown model 'nope'"),
    ([*COMPARE, "--split", "nope"], "split method 'nope' is unknown"),
    ([*COMPARE, "--protocol", "nope"], "unknown protocol 'nope'"),
    ([*COMPARE, "--seed", "-1"], "seed must be >= 0"),
    ([*COMPARE, "--seed", "x"], "'--seed'"),
    ([*COMPARE, "--out", "{dir}"], "is a folder; expected a file"),
    ([*COMPARE, "--out", "{file}/board.md"], "is a file, so a file cannot be created"),
    (["compare", "-d", "nope", "--models", "popularity"], "unknown data set 'nope'"),
    (["compare", "--models", "popularity"], "Missing option '--data'"),
    # audience
    ([*AUDIENCE, "--size", "0"], "'--size'"),
    ([*AUDIENCE, "--size", "x"], "'--size'"),
    ([*AUDIENCE, "--min-score", "nan"], "'--min-score': expected a finite number"),
    ([*AUDIENCE, "--min-score", "x"], "'--min-score'"),
    ([*AUDIENCE, "--exclude-purchased-days", "-1"], "'--exclude-purchased-days'"),
    ([*AUDIENCE, "--exclude-purchased-days", "inf"], "'--exclude-purchased-days': expected a finite number"),
    ([*AUDIENCE, "--frequency-cap", "0"], "'--frequency-cap'"),
    ([*AUDIENCE, "--cap-window-days", "-1"], "'--cap-window-days'"),
    ([*AUDIENCE, "--cap-window-days", "nan"], "'--cap-window-days'"),
    ([*AUDIENCE, "--campaign", ""], "'--campaign': not a valid id"),
    ([*AUDIENCE, "--item", "nope"], "unknown item 'nope'"),
    (["audience", "--pipeline", "{pipeline}", "--out", "{csv}", "--category", "nope"], "unknown category 'nope'"),
    (["audience", "--pipeline", "{dir}", "--out", "{csv}", "--item", "i01"], "is a folder; expected a file"),
    (["audience", "--pipeline", "{missing}", "--out", "{csv}", "--item", "i01"], "pipeline file not found"),
    (["audience", "--pipeline", "{pipeline}", "--out", "{dir}", "--item", "i01"], "is a folder; expected a file"),
    (["audience", "--pipeline", "{pipeline}", "--out", "{csv}"], "give either items or a category"),
    # tune
    ([*TUNE_CMD, "--trials", "0"], "tune.trials"),
    ([*TUNE_CMD, "--trials", "x"], "'--trials'"),
    ([*TUNE_CMD, "--timeout-minutes", "-1"], "tune.timeout_minutes"),
    ([*TUNE_CMD, "--timeout-minutes", "nan"], "'--timeout-minutes': expected a finite number"),
    ([*TUNE_CMD, "--threads", "0"], "threads must be > 0"),
    ([*TUNE_CMD, "--device", "tpu"], "device must be one of"),
    ([*TUNE_CMD, "--storage", "nope://x"], "--storage 'nope://x': cannot open it"),
    ([*TUNE_CMD, "--storage", "sqlite:////proc/nope/x.db"], "cannot open it"),
    (["tune", "{tune}", "--out", "{file}"], "is an existing file"),
    (["tune", "{dir}", "--out", "{new}"], "is a folder; expected a TOML config file"),
    (["tune", "{missing}", "--out", "{new}"], "config file not found"),
    (["tune", "{notune}", "--out", "{new}"], "no [tune] table"),
    # serve (never reaches the server: each row fails first)
    (["serve"], "exactly one of --pipeline"),
    (["serve", "--pipeline", "{dir}"], "is a folder; expected a file"),
    (["serve", "--pipeline", "{missing}"], "pipeline file not found"),
    (["serve", "--run", "{file}"], "is a file; expected a folder"),
    ([*SERVE, "--host", "not a host"], "--host: expected an IP address"),
    ([*SERVE, "--host", ""], "--host: expected an IP address"),
    ([*SERVE, "--port", "0"], "'--port'"),
    ([*SERVE, "--port", "70000"], "'--port'"),
    ([*SERVE, "--port", "x"], "'--port'"),
    ([*SERVE, "--workers", "0"], "'--workers'"),
    ([*SERVE, "--workers", "65"], "'--workers'"),
    ([*SERVE, "--limit-concurrency", "0"], "'--limit-concurrency'"),
    ([*SERVE, "--log-level", "loud"], "--log-level"),
    ([*SERVE, "--header-timeout", "0"], "'--header-timeout'"),
    ([*SERVE, "--header-timeout", "nan"], "'--header-timeout'"),
    ([*SERVE, "--body-timeout", "inf"], "'--body-timeout'"),
    ([*SERVE, "--keep-alive-timeout", "-1"], "'--keep-alive-timeout'"),
    ([*SERVE, "--max-connections-per-client", "0"], "'--max-connections-per-client'"),
    ([*SERVE, "--host", "0.0.0.0"], "without API keys"),
    ([*RECOMMEND[:-1], "bob\x00"], "--user"),
]


def fill(args: list[str], paths: dict[str, str]) -> list[str]:
    return [re.sub(r"\{(\w+)\}", lambda m: paths.get(m.group(1), m.group(0)), a) for a in args]


def assert_one_line_error(output: str, exit_code: int, expected: str) -> None:
    """Exit 2 and exactly one non-empty line, `error: ...` mentioning `expected`, no traceback."""
    lines = [line for line in output.splitlines() if line.strip()]
    assert exit_code == 2, output
    assert "Traceback" not in output
    assert len(lines) == 1, output
    assert lines[0].startswith("error: "), lines[0]
    assert expected in lines[0], lines[0]


@pytest.mark.parametrize(("args", "expected"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_value_is_one_line_and_exit_2(paths, monkeypatch, args, expected):
    monkeypatch.delenv("SHOPREC_DEVICE", raising=False)
    monkeypatch.setenv("SHOPREC_THREADS", "1")
    result = RUNNER.invoke(app, fill(args, paths))
    assert_one_line_error(result.output, result.exit_code, expected)


def test_every_option_of_every_command_has_a_bad_value_in_the_table():
    """New options (added by other work) must get rows here: the table covers each command's options."""
    import typer.main

    group = typer.main.get_command(app)
    ctx = typer.Context(group)
    tried = {token for args, _ in BAD for token in args}
    missing = []
    for name, command in [(n, group.get_command(ctx, n)) for n in group.list_commands(ctx)]:
        subcommands = [command] if name != "datasets" else list(command.commands.values())
        for sub in subcommands:
            for param in sub.params:
                flags = [o for o in param.opts if o.startswith("-")]
                free = param.name in FREE_FLAGS or set(flags) & FREE_TEXT
                if flags and not free and not set(flags) & tried:
                    missing.append(f"{name} {flags[0]}")
    assert missing == []


def name_strategy(valid: set[str]) -> st.SearchStrategy[str]:
    """Any text (control characters, brackets, unicode) except the valid names."""
    return st.text(max_size=12).filter(lambda s: s.strip() not in valid and s not in valid)


FUZZ = settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
DEVICES = re.compile(r"^(cpu|mps|cuda(:[0-9]+)?)$")


@FUZZ
@given(text=name_strategy(set()).filter(lambda s: not DEVICES.match(s)))
def test_any_device_text_is_refused_in_one_line(paths, text):
    args = ["train", "-d", "synthetic-shop", "-m", "popularity", "--out", paths["new"], f"--device={text}"]
    result = RUNNER.invoke(app, args)
    assert_one_line_error(result.output, result.exit_code, "device must be one of")


@FUZZ
@given(text=name_strategy(set(available_models())))
def test_any_model_text_is_refused_in_one_line(paths, text):
    result = RUNNER.invoke(app, ["train", "-d", "synthetic-shop", "--out", paths["new"], f"--model={text}"])
    assert_one_line_error(result.output, result.exit_code, "")


@FUZZ
@given(text=name_strategy({"synthetic-shop"}))
def test_any_data_text_is_refused_in_one_line(paths, text):
    result = RUNNER.invoke(app, ["train", "-m", "popularity", "--out", paths["new"], f"--data={text}"])
    assert_one_line_error(result.output, result.exit_code, "")


@FUZZ
@given(text=name_strategy(set(SPLITTERS)))
def test_any_split_text_is_refused_in_one_line(paths, text):
    result = RUNNER.invoke(app, ["train", "-c", paths["cfg"], "--out", paths["new"], f"--split={text}"])
    assert_one_line_error(result.output, result.exit_code, "")


@FUZZ
@given(text=st.text(max_size=12).filter(lambda s: not any(p.strip() for p in s.split(","))))
def test_compare_without_model_names_is_refused_in_one_line(text):
    """Only separators and blanks: refused before any data is loaded."""
    result = RUNNER.invoke(app, ["compare", "-d", "synthetic-shop", f"--models={text}"])
    assert_one_line_error(result.output, result.exit_code, "--models: expected comma-separated model names")


@FUZZ
@given(key=st.sampled_from(["reg", "alpha", "epochs", "embedding_size", "solver"]), value=st.text(max_size=8))
def test_any_param_value_is_typed_or_refused_in_one_line(paths, key, value):
    """`-p key=<text>`: a value of the right type passes validation; anything else is one line, exit 2."""
    from shoprec.cli.console import parse_params
    from shoprec.exceptions import ConfigError
    from shoprec.models.ials import IALSConfig

    try:
        config = IALSConfig.from_dict(parse_params([f"{key}={value}"]))
    except ConfigError:
        args = ["train", "-c", paths["cfg"], "--out", paths["new"], "-m", "ials", "-p", f"{key}={value}"]
        result = RUNNER.invoke(app, args)
        assert_one_line_error(result.output, result.exit_code, f"IALSConfig.{key}")
    else:  # accepted: then as the declared type, never a string standing in for a number
        assert type(getattr(config, key)) is type(getattr(IALSConfig(), key))


def test_help_and_messages_keep_brackets(paths):
    """Rich markup is off: `[tune]` in help and in an error message is shown as written."""
    help_text = RUNNER.invoke(app, ["tune", "--help"]).output
    assert "[tune.space]" in help_text and "Search the [tune.space] of SPEC_FILE" in " ".join(help_text.split())
    result = RUNNER.invoke(app, ["tune", paths["notune"], "--out", paths["new"]])
    assert_one_line_error(result.output, result.exit_code, "no [tune] table")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["train", "-d", "synthetic-shop", "-m", "popularity", "--out", "x", "--threads", "0"], "threads must be > 0"),
        (["compare", "-d", "synthetic-shop", "--models", ""], "--models: expected comma-separated model names"),
    ],
)
def test_a_real_subprocess_prints_one_line_on_stderr(tmp_path, args, expected):
    env = {**os.environ, "SHOPREC_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "shoprec", *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120
    )
    assert proc.stdout == ""
    assert_one_line_error(proc.stderr, proc.returncode, expected)
    assert not (tmp_path / "x").exists()  # refused before anything was written


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs a Linux /proc (a place no one can write)")
def test_an_unwritable_out_is_refused_before_work():
    """Permission bits mean nothing for root; the check tries to create a file, so /proc is refused too."""
    result = RUNNER.invoke(app, ["train", "-d", "synthetic-shop", "-m", "popularity", "--out", "/proc/shoprec/run"])
    assert_one_line_error(result.output, result.exit_code, "/proc is not writable")


def test_a_bug_is_one_line_with_exit_1_and_its_traceback_on_request(monkeypatch):
    import shoprec.data.sources

    def broken() -> None:
        raise RuntimeError("boom [red]x[/]")

    monkeypatch.setattr(shoprec.data.sources, "list_datasets", broken)
    result = RUNNER.invoke(app, ["datasets", "list"])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert lines == [
        "error: internal error (RuntimeError: boom [red]x[/]); this is a bug in shoprec, please "
        "report it (set SHOPREC_DEBUG=1 to see the traceback)"
    ]
    monkeypatch.setenv("SHOPREC_DEBUG", "1")
    result = RUNNER.invoke(app, ["datasets", "list"])
    assert isinstance(result.exception, RuntimeError)
