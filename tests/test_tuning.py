"""shoprec.tuning: space validation, the validation-only guarantee, determinism, pruning, resume, best.toml."""

from __future__ import annotations

import math
import sys
import warnings
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoprec.config import TrainOptions
from shoprec.data.dataset import Dataset, Split
from shoprec.exceptions import ConfigError
from shoprec.experiment import ExperimentSpec, prepare_split
from shoprec.models.base import Recommender
from shoprec.models.ials import IALSConfig
from shoprec.models.mf import MFConfig
from shoprec.models.ncf import MLPConfig
from shoprec.training import EpochRecord
from shoprec.tuning import (
    TrialRow,
    TuneResult,
    TuneSettings,
    import_optuna,
    parse_space,
    pruning_hook,
    read_tune_file,
    spec_toml,
    tune,
    tuning_data,
)
from shoprec.tuning import objective as objective_module

optuna = pytest.importorskip("optuna")
optuna.logging.set_verbosity(optuna.logging.WARNING)
OPTS = TrainOptions(threads=1)
IALS_SPACE = {"embedding_size": {"choices": [4, 8]}, "reg": {"low": 1e-3, "high": 1.0, "log": True}}


def ials_spec(**params: object) -> ExperimentSpec:
    return ExperimentSpec(data="blocks", model="ials", seed=3, params={"epochs": 2, **params})


def settings_for(spec: ExperimentSpec, **raw: object) -> TuneSettings:
    return TuneSettings.from_dict({"space": IALS_SPACE, "trials": 3, **raw}, spec)


def pairs(dataset: Dataset) -> set[tuple[int, int]]:
    inter = dataset.interactions
    return set(zip(inter.users.tolist(), inter.items.tolist(), strict=True))


# ------------------------------------------------------------------------------------------------ space
def test_space_parses_choices_log_ranges_and_integer_steps():
    dims = {d.name: d for d in parse_space({**IALS_SPACE, "epochs": {"low": 5, "high": 50, "step": 5}}, IALSConfig)}
    assert dims["embedding_size"].choices == (4, 8)
    assert (dims["reg"].low, dims["reg"].high, dims["reg"].log, dims["reg"].integer) == (1e-3, 1.0, True, False)
    assert (dims["epochs"].integer, dims["epochs"].step) == (True, 5.0)
    assert parse_space({"patience": {"low": 1, "high": 3}}, MFConfig)[0].integer  # int | None searched as int


def test_list_choices_travel_as_json_and_come_back_as_lists():
    (dim,) = parse_space({"layers": {"choices": [[16, 8], [32, 16, 8]]}}, MLPConfig)
    assert dim.grid_values() == ["[16, 8]", "[32, 16, 8]"]
    assert dim.suggest(optuna.trial.FixedTrial({"layers": "[32, 16, 8]"})) == [32, 16, 8]
    with pytest.raises(ConfigError, match="layers: value \\[0\\] is invalid"):
        parse_space({"layers": {"choices": [[0]]}}, MLPConfig)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"layers": {"choices": [1]}}, "tune.space.layers: not a parameter of IALSConfig; allowed names: ["),
        ({"reg": {"low": 1.0, "high": 0.1}}, "tune.space.reg: low must be < high"),
        ({"reg": {"low": 0.0, "high": 1.0, "log": True}}, "tune.space.reg.low: must be > 0 on a log scale"),
        ({"reg": {"low": 0.1, "high": 1.0, "log": True, "step": 0.1}}, "`step` and `log = true` cannot"),
        ({"reg": {"low": 0.1, "high": 1.0, "step": 2.0}}, "tune.space.reg.step: must be > 0 and at most"),
        ({"reg": {"lo": 0.1, "high": 1.0}}, "tune.space.reg: expected `choices` or `low` and `high`"),
        ({"reg": {"choices": []}}, "tune.space.reg.choices: expected a non-empty list"),
        ({"reg": {"choices": [0.1], "low": 1}}, "tune.space.reg: `choices` cannot be combined with ['low']"),
        ({"epochs": {"low": 1.5, "high": 4}}, "tune.space.epochs.low: the parameter is an integer"),
        ({"embedding_size": {"choices": [0, 8]}}, "tune.space.embedding_size: value 0 is invalid"),
        ({"solver": {"choices": ["cg", "qr"]}}, "tune.space.solver: value 'qr' is invalid"),
        ({"reg": 0.1}, "tune.space.reg: expected a table"),
    ],
)
def test_space_rejects_bad_entries_naming_the_key(entry, message):
    with pytest.raises(ConfigError) as info:
        parse_space(entry, IALSConfig)
    assert message in str(info.value)


def test_unknown_parameter_error_lists_the_models_names():
    with pytest.raises(ConfigError, match=r"'alpha', 'cg_steps', 'embedding_size'"):
        parse_space({"dropout": {"low": 0.0, "high": 0.5}}, IALSConfig)


# --------------------------------------------------------------------------------------------- settings
@pytest.mark.parametrize(
    ("metric", "direction"),
    [("ndcg@10", "maximize"), ("hr@5", "maximize"), ("auc", "maximize"), ("rmse", "minimize"), ("gini@10", "minimize")],
)
def test_direction_is_inferred_from_the_metric(metric, direction):
    assert settings_for(ials_spec(), metric=metric).direction == direction


def test_settings_validate_every_key():
    spec = ials_spec()
    assert settings_for(spec, direction="minimize").direction == "minimize"
    assert settings_for(spec, metric="recall@20").k == 20 and settings_for(spec, metric="auc").k is None
    assert settings_for(spec, timeout_minutes=2).timeout_seconds == 120.0
    assert settings_for(spec).timeout_seconds is None
    for raw, message in [
        ({"trails": 3}, "tune: unknown setting(s) ['trails']"),
        ({"trials": 0}, "tune.trials: expected an integer >= 1"),
        ({"sampler": "cmaes"}, "tune.sampler: expected one of ['tpe', 'random', 'grid']"),
        ({"pruner": "hyperband"}, "tune.pruner: expected one of ['median', 'none']"),
        ({"metric": "NDCG 10"}, "tune.metric: expected a metric name"),
        ({"timeout_minutes": -1}, "tune.timeout_minutes: expected a number >= 0"),
        ({"sampler": "grid"}, "tune.space.reg: the grid sampler needs `choices`"),
    ]:
        with pytest.raises(ConfigError) as info:
            settings_for(spec, **raw)
        assert message in str(info.value)


def test_read_tune_file_applies_overrides_and_needs_a_tune_table(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text(
        '[experiment]\ndata = "blocks"\nmodel = "ials"\n[tune]\ntrials = 9\n[tune.space]\nreg = { choices = [0.1] }\n'
    )
    spec, settings_ = read_tune_file(path, trials=2, timeout_minutes=None)
    assert (spec.model, settings_.trials, settings_.timeout_minutes) == ("ials", 2, 0.0)
    path.write_text('[experiment]\ndata = "blocks"\nmodel = "ials"\n')
    with pytest.raises(ConfigError, match="no \\[tune\\] table"):
        read_tune_file(path)


# ------------------------------------------------------------------------------ validation-only guarantee
@pytest.mark.parametrize("has_valid", [True, False])
def test_trials_never_train_or_evaluate_on_test(block_dataset, monkeypatch, has_valid):
    spec = ials_spec()
    split = prepare_split(spec, block_dataset)
    split = split if has_valid else replace(split, valid=None)
    test_pairs = pairs(split.test)
    assert test_pairs
    fitted: list[Dataset] = []
    evaluated: list[Split] = []
    real_fit, real_evaluate = Recommender.fit, objective_module.evaluate

    def spy_fit(self, train, *, valid=None, options=None):
        fitted.extend(d for d in (train, valid) if d is not None)
        return real_fit(self, train, valid=valid, options=options)

    def spy_evaluate(model, target, **kwargs):
        evaluated.append(target)
        return real_evaluate(model, target, **kwargs)

    monkeypatch.setattr(Recommender, "fit", spy_fit)
    monkeypatch.setattr(objective_module, "evaluate", spy_evaluate)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore" if not has_valid else "error")
        result = tune(spec, split, settings_for(spec), options=OPTS)
    assert len(result.trials) == 3 and len(evaluated) == 3 and len(fitted) == 6
    assert result.carved_validation is not has_valid
    for target in evaluated:
        assert target.valid is None and target.test_negatives is None
        if has_valid:
            assert target.test is split.valid and target.train is split.train
    for dataset in fitted + [part for t in evaluated for part in (t.train, t.test)]:
        assert not pairs(dataset) & test_pairs


def test_split_without_validation_gets_each_users_last_training_event(block_dataset):
    spec = ials_spec()
    split = replace(prepare_split(spec, block_dataset), valid=None)
    with pytest.warns(UserWarning, match="no validation part"):
        data = tuning_data(split, spec)
    assert data.carved
    train = split.train.interactions
    inner = data.valid.interactions
    last_time = np.full(split.train.n_users, -1)
    np.maximum.at(last_time, train.users, train.timestamps)
    assert np.array_equal(inner.timestamps, last_time[inner.users])  # the latest event of each user
    assert len(np.unique(inner.users)) == len(inner.users)
    assert len(data.train) + len(data.valid) == len(split.train)
    assert not pairs(data.valid) & pairs(data.train)


def test_unreported_metric_is_a_config_error(block_dataset):
    spec = ials_spec()
    with pytest.raises(ConfigError, match=r"tune\.metric: 'foo@10' is not reported"):
        tune(spec, prepare_split(spec, block_dataset), settings_for(spec, metric="foo@10", trials=1), options=OPTS)


# ------------------------------------------------------------------------------------- determinism, grid
@pytest.mark.parametrize("sampler", ["tpe", "random"])
def test_seeded_sampler_repeats_and_other_seed_differs(block_dataset, sampler):
    spec = ials_spec()
    split = prepare_split(spec, block_dataset)

    def run(seed: int) -> list[tuple[dict, float]]:
        result = tune(spec, split, settings_for(spec, sampler=sampler, seed=seed), options=OPTS)
        return [(t.params, t.value) for t in result.trials]

    first = run(0)
    assert first == run(0)
    assert [p for p, _ in first] != [p for p, _ in run(1)]


def test_grid_sampler_visits_each_combination_once(block_dataset):
    spec = ials_spec()
    space = {"embedding_size": {"choices": [4, 8]}, "reg": {"choices": [0.01, 0.1]}}
    settings_ = TuneSettings.from_dict({"space": space, "sampler": "grid", "trials": 10}, spec)
    result = tune(spec, prepare_split(spec, block_dataset), settings_, options=OPTS)
    seen = sorted((t.params["embedding_size"], t.params["reg"]) for t in result.trials)
    assert seen == [(4, 0.01), (4, 0.1), (8, 0.01), (8, 0.1)]
    best = max(result.trials, key=lambda t: t.value)
    assert result.best_value == best.value
    assert result.spec.params == {"epochs": 2, **best.params}


def test_top_orders_completed_trials_by_direction():
    rows = (TrialRow(0, {}, 0.3, "COMPLETE", 1.0), TrialRow(1, {}, None, "PRUNED", 1.0))
    rows += (TrialRow(2, {}, 0.1, "COMPLETE", 1.0), TrialRow(3, {}, math.nan, "FAIL", 1.0))
    spec = ials_spec()
    for direction, order in (("maximize", [0, 2]), ("minimize", [2, 0])):
        result = TuneResult(spec, settings_for(spec, direction=direction), 0.0, 0, rows, False)
        assert [t.number for t in result.top(5)] == order
    assert [t.number for t in result.top(1)] == [2]


# ------------------------------------------------------------------------------------- pruning, resume
class StubTrial:
    """Records reports; prunes from the epoch given."""

    def __init__(self, prune_from: int) -> None:
        self.reports: list[tuple[float, int]] = []
        self.prune_from = prune_from

    def report(self, value: float, step: int) -> None:
        self.reports.append((value, step))

    def should_prune(self) -> bool:
        return self.reports[-1][1] >= self.prune_from


def test_pruning_hook_reports_epochs_and_stops_when_told():
    trial = StubTrial(prune_from=1)
    hook = pruning_hook(trial, "ndcg@10", optuna.TrialPruned)
    hook(EpochRecord(0, 0.5, metrics={"ndcg@10": 0.2, "hr@10": 0.4}))
    hook(EpochRecord(1, 0.4, metrics={"hr@10": 0.5}))  # metric not reported this epoch: nothing happens
    hook(EpochRecord(2, 0.4, metrics={"ndcg@10": math.nan}))
    with pytest.raises(optuna.TrialPruned, match=r"epoch 3 with ndcg@10=0\.3000"):
        hook(EpochRecord(3, 0.3, metrics={"ndcg@10": 0.3}))
    assert trial.reports == [(0.2, 0), (0.3, 3)]


def test_neural_trials_report_each_epoch_and_storage_resumes(block_dataset, tmp_path):
    spec = ExperimentSpec(
        data="blocks", model="mf", seed=3, params={"epochs": 2, "embedding_size": 4, "batch_size": 64}
    )
    split = prepare_split(spec, block_dataset)
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    space = {"learning_rate": {"low": 1e-3, "high": 1e-1, "log": True}}
    first = TuneSettings.from_dict({"space": space, "trials": 2}, spec)
    assert len(tune(spec, split, first, options=OPTS, storage=storage, study_name="s").trials) == 2
    resumed = tune(spec, split, replace(first, trials=3), options=OPTS, storage=storage, study_name="s")
    assert [t.number for t in resumed.trials] == [0, 1, 2]  # one more trial, not three
    study = optuna.load_study(study_name="s", storage=storage)
    for trial in study.trials:
        assert sorted(trial.intermediate_values) == [0, 1]  # MF validated after both epochs
        assert all(0.0 <= v <= 1.0 for v in trial.intermediate_values.values())


def test_missing_optuna_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(ConfigError, match=r"shoprec\[tune\]"):
        import_optuna()


# -------------------------------------------------------------------------------------------- best.toml
scalars = st.one_of(
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, width=64),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8),
)
names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(lambda n: n != "name")


@settings(max_examples=60, deadline=None)
@given(params=st.dictionaries(names, st.one_of(scalars, st.lists(st.integers(0, 99), max_size=3)), max_size=5))
def test_spec_toml_round_trips_through_from_toml(tmp_path_factory, params):
    spec = ExperimentSpec(
        data="ml-100k",
        model="ials",
        split="loo-random",
        protocol="full",
        params=params,
        split_options={"negatives": 50},
        data_options={"min_rating": 4.0},
        seed=7,
        ks=(5, 10),
    )
    path = tmp_path_factory.mktemp("toml") / "best.toml"
    path.write_text(spec_toml(spec, "a header\nover two lines"))
    assert ExperimentSpec.from_toml(path) == spec
