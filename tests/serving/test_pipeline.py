"""Pipeline config validation, TOML round trip, write_pipeline over a real run, and bundles."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.serving.shop import train_split, trained_run

from shoprec.data.dataset import DEFAULT_EVENT_WEIGHTS
from shoprec.exceptions import ArtifactError, ConfigError
from shoprec.experiment import load_run
from shoprec.serving.bundle import load_bundle, training_pairs, write_bundle
from shoprec.serving.pipeline import PIPELINE_FILE, PipelineConfig, write_pipeline


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    return trained_run(tmp_path_factory.mktemp("run"))


def write(folder: Path, text: str) -> Path:
    path = folder / PIPELINE_FILE
    path.write_text(text)
    return path


def test_from_toml_resolves_paths_against_the_file_and_fills_defaults(tmp_path):
    path = write(tmp_path, 'retrieval = "model"\nstore = "data/events.sqlite"\n')
    config = PipelineConfig.from_toml(path)
    assert config.retrieval == tmp_path / "model"
    assert config.store == tmp_path / "data" / "events.sqlite"
    assert config.bundle is None and config.ranker is None
    assert (config.candidates, config.overfetch, config.rerank, config.index) == (200, 4, [], {})
    assert config.event_weights == dict(DEFAULT_EVENT_WEIGHTS)
    assert config.exclude_purchased and config.exclude_seen


def test_absolute_paths_are_kept(tmp_path):
    path = write(tmp_path, f'retrieval = "{tmp_path / "x"}"\nstore = "/var/s.sqlite"\n')
    assert PipelineConfig.from_toml(path).store == Path("/var/s.sqlite")


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ('retrieval = "m"\nstore = "s"\nretreival = "x"\n', "retreival"),
        ('store = "s"\n', "'retrieval'"),
        ('retrieval = "m"\nstore = "s"\ncandidates = 0\n', "'candidates'"),
        ('retrieval = "m"\nstore = "s"\noverfetch = true\n', "'overfetch'"),
        ('retrieval = "m"\nstore = "s"\nexclude_seen = "yes"\n', "'exclude_seen'"),
        ('retrieval = 3\nstore = "s"\n', "'retrieval'"),
        ('retrieval = "m"\nstore = "s"\n[index]\nnprob = 8\n', "nprob"),
        ('retrieval = "m"\nstore = "s"\n[index]\nnprobe = 0\n', "index.nprobe"),
        ('retrieval = "m"\nstore = "s"\n[index]\ntarget_recall = 1.5\n', "index.target_recall"),
        ('retrieval = "m"\nstore = "s"\n[index]\ntarget_recall = "high"\n', "index.target_recall"),
        ('retrieval = "m"\nstore = "s"\n[event_weights]\nview = -1\n', "event_weights.view"),
        ('retrieval = "m"\nstore = "s"\n[[rerank]]\nstep = "shuffle"\n', "rerank[0].step"),
        ('retrieval = "m"\nstore = "s"\n[[rerank]]\nstep = "mmr"\n', "lambda"),
    ],
)
def test_bad_keys_and_values_are_named(tmp_path, body, named):
    path = write(tmp_path, body)
    with pytest.raises(ConfigError) as err:
        PipelineConfig.from_toml(path)
    assert named in str(err.value) and str(path) in str(err.value)


def test_unknown_key_error_lists_the_allowed_ones(tmp_path):
    with pytest.raises(ConfigError, match=r"allowed keys are \['retrieval', 'store', 'bundle'"):
        PipelineConfig.from_toml(write(tmp_path, 'retrieval = "m"\nstore = "s"\nmodel = "x"\n'))


def test_missing_file_and_invalid_toml_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        PipelineConfig.from_toml(tmp_path / "absent.toml")
    with pytest.raises(ConfigError, match="invalid TOML"):
        PipelineConfig.from_toml(write(tmp_path, "retrieval = \n"))


@settings(max_examples=30, deadline=None)
@given(
    candidates=st.integers(1, 10_000),
    overfetch=st.integers(1, 50),
    weights=st.dictionaries(st.sampled_from(["view", "cart", "purchase", "wish list"]), st.floats(0, 100), min_size=1),
    lam=st.floats(0, 1),
    flags=st.tuples(st.booleans(), st.booleans()),
)
def test_to_toml_round_trips(candidates, overfetch, weights, lam, flags):
    base = Path("/srv/pipeline")
    config = PipelineConfig(
        retrieval=base / "model",
        store=base / "events.sqlite",
        bundle=Path("/elsewhere/bundle"),
        candidates=candidates,
        overfetch=overfetch,
        rerank=[{"step": "long_tail", "weight": 0.25}, {"step": "mmr", "lambda": lam}],
        index={"exact_below": 1000, "nprobe": 16, "seed": 0, "target_recall": 0.9},
        event_weights=weights,
        exclude_purchased=flags[0],
        exclude_seen=flags[1],
    )
    assert PipelineConfig.from_dict(_parse(config.to_toml(base)), base=base) == config


def _parse(text: str) -> dict:
    import tomllib

    return tomllib.loads(text)


def test_write_pipeline_makes_a_servable_folder(run, tmp_path):
    from shoprec.serving.service import RecommendationService

    toml = write_pipeline(run, tmp_path / "serve", rerank=[{"step": "mmr", "lambda": 0.8}])
    text = toml.read_text()
    assert 'bundle = "bundle"' in text and 'store = "events.sqlite"' in text  # relative to the TOML file
    config = PipelineConfig.from_toml(toml)
    assert config.retrieval == (run / "model").resolve()
    assert config.rerank == [{"step": "mmr", "lambda": 0.8}]
    for artifact in ("catalog", "coldstart"):
        assert (tmp_path / "serve" / "bundle" / artifact / "manifest.json").is_file()
    with RecommendationService.open(config) as service:
        result = service.recommend("u000", 5)
    assert result.source == "personal" and len(result.items) == 5


def test_a_run_edited_after_training_is_refused_before_anything_is_written(run, tmp_path):
    edited = shutil.copytree(run, tmp_path / "run")
    record, text = edited / "run.json", (edited / "run.json").read_text()
    assert '"implicit_threshold": null' in text
    record.write_text(text.replace('"implicit_threshold": null', '"implicit_threshold": 4.0'))
    with pytest.raises(ArtifactError, match=r"run\.json: checksum mismatch"):
        write_pipeline(edited, tmp_path / "serve")
    assert not (tmp_path / "serve").exists()


def test_a_moved_pipeline_folder_still_loads(run, tmp_path):
    write_pipeline(run, tmp_path / "a")
    shutil.move(tmp_path / "a", tmp_path / "b")
    config = PipelineConfig.from_toml(tmp_path / "b" / PIPELINE_FILE)
    assert config.bundle == tmp_path / "b" / "bundle" and config.bundle.is_dir()


def test_bundle_matches_the_model_and_a_foreign_one_is_refused(run, tmp_path):
    _, model = load_run(run)
    train = train_split()
    write_bundle(train, tmp_path / "bundle")
    catalog, coldstart = load_bundle(tmp_path / "bundle", model)
    assert catalog.ids[: model.n_items_] == model.item_vocab_.to_list()
    assert coldstart.n_items == model.n_items_ and coldstart.segments == ["budget", "mainstream", "premium"]
    other = train.with_interactions(train.interactions, items=train.items.__class__(train.items.ids[::-1]))
    write_bundle(other, tmp_path / "foreign")
    with pytest.raises(ArtifactError, match="do not match the retrieval model"):
        load_bundle(tmp_path / "foreign", model)


def test_without_a_bundle_cold_start_is_training_popularity(run):
    _, model = load_run(run)
    pairs = training_pairs(model)
    assert len(pairs) == model.seen_.nnz
    catalog, coldstart = load_bundle(None, model)
    assert catalog.n == model.n_items_
    expected = np.bincount(model.seen_.indices, minlength=model.n_items_)
    scores = coldstart.scores(None)
    assert np.array_equal(np.argsort(-scores, kind="stable"), np.argsort(-expected, kind="stable"))
