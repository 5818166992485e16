"""Defects found by fault injection: corrupted checkpoints, NaN in statistics and JSON, a second
runner beside a live study, an interrupted study. Each named file and exit status is checked."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import yaml

from axiomatic import cli
from axiomatic.cli.common import emit_json
from axiomatic.data.mixtures import DataSpec
from axiomatic.data.tokenizer import VOCAB_SIZE
from axiomatic.location import Location
from axiomatic.model.config import ModelConfig
from axiomatic.study.lease import Lease
from axiomatic.study.results import aggregate_arms, paired_comparisons
from axiomatic.train.config import RunConfig, TrainConfig
from axiomatic.train.loop import Trainer, Worker
from axiomatic.train.run_data import RunData


@pytest.fixture(scope="module")
def saved_checkpoint(tmp_path_factory) -> Path:
    from axiomatic.data import mixtures

    spec = DataSpec(size=64, seed=1)
    data = mixtures.generate(spec)
    run = RunConfig(spec, ModelConfig.preset("tiny", vocab_size=VOCAB_SIZE, dropout=0.0),
                    TrainConfig(batch_size=32, epochs=1))
    kept = tmp_path_factory.mktemp("ckpt") / "ok"
    Trainer(run, RunData(data, data, {}, "in-memory"), Worker()).fit(
        lambda _, directory: shutil.copytree(directory, kept, dirs_exist_ok=True))
    return kept


DAMAGE = {
    "model.pt truncated": ("model.pt", lambda p: p.write_bytes(p.read_bytes()[:100])),
    "model.pt empty": ("model.pt", lambda p: p.write_bytes(b"")),
    "model.pt garbage": ("model.pt", lambda p: p.write_bytes(b"cut")),  # read as a legacy pickle: UnpicklingError
    "state.json cut short": ("state.json", lambda p: p.write_text(p.read_text()[:50])),
    "state.json a list": ("state.json", lambda p: p.write_text("[1, 2, 3]")),
}


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_a_corrupted_checkpoint_is_exit_2_naming_the_file(saved_checkpoint, tmp_path, capsys, damage):
    name, spoil = DAMAGE[damage]
    copy = tmp_path / "copy"
    shutil.copytree(saved_checkpoint, copy)
    spoil(copy / name)
    code = cli.main(["eval", str(copy), "--suite", "reversed_chain/len=3"])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2
    assert f"{copy / name}:" in err and "Traceback" not in err


def test_strict_json_writes_nan_and_infinity_as_null(capsys):
    emit_json({"loss": float("nan"), "rows": [1.0, float("inf")], "ok": 0.5})
    assert json.loads(capsys.readouterr().out, parse_constant=pytest.fail) == \
        {"loss": None, "rows": [1.0, None], "ok": 0.5}


def test_statistics_never_take_a_nan():
    def record(arm, seed, loss):
        return {"arm": arm, "params": {}, "seed": seed, "status": "done", "error": None,
                "metrics": {"val/loss": loss}, "history": []}

    records = [record("a", 0, float("nan")), record("a", 1, 0.4), record("a", 2, 0.5),
               record("b", 0, 0.6), record("b", 1, 0.7), record("b", 2, 0.9)]
    summary = {s.arm: s for s in aggregate_arms(records)}
    assert summary["a"].metrics["val/loss"]["n"] == 2 and math.isfinite(summary["a"].metrics["val/loss"]["mean"])
    (comparison,) = paired_comparisons(records, "a", "val/loss")
    assert comparison.n_pairs == 2 and math.isfinite(comparison.mean_diff)
    assert comparison.p_holm is None or math.isfinite(comparison.p_holm)


def test_new_is_refused_while_another_runner_holds_the_study(tmp_path, capsys):
    runs = tmp_path / "runs"
    live = runs / "held"
    (live / "cells").mkdir(parents=True)
    (live / "fingerprint.json").write_text(json.dumps({"data": {"size": 1}}))
    study = tmp_path / "held.yaml"
    study.write_text(yaml.safe_dump({"name": "held", "model": {"preset": "tiny"}}))
    held = Lease(Location(runs), "held", "held")  # what a running 'platform study' holds: this live process's
    held.take(print)
    try:
        code = cli.main(["study", str(study), "--runs-dir", str(runs), "--new", "--json"])
        assert sorted(p.name for p in runs.iterdir()) == ["held", "held.lease.json"]  # nothing archived
    finally:
        held.release()
    assert code == 2
    assert "another 'platform study' is running" in capsys.readouterr().err
    assert json.loads((live / "fingerprint.json").read_text()) == {"data": {"size": 1}}


def test_a_diverged_run_stops_with_the_step_and_exit_1(tmp_path, capsys):
    run = tmp_path / "diverges.yaml"
    run.write_text(yaml.safe_dump({"data": {"size": 256, "seed": 3}, "model": {"preset": "tiny"},
                                   "train": {"lr": 1.0e30, "batch_size": 32, "epochs": 5, "device": "cpu"}}))
    code = cli.main(["train", str(run), "--out", str(tmp_path / "out")])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 1 and "diverged at step" in err and "loss nan" in err and "Traceback" not in err


def test_a_jsonl_file_that_is_not_utf8_is_named_with_its_line(tmp_path, saved_checkpoint, capsys):
    bad = tmp_path / "items.jsonl"
    good = '{"premise": "a causes b.", "hypothesis": "Does a cause b?", "label": "Yes"}\n'
    bad.write_bytes(good.encode() + b'{"premise": "\xff causes b."}\n')
    code = cli.main(["eval", str(saved_checkpoint), "--jsonl", str(bad)])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2 and f"{bad}:2: not UTF-8 text (byte 0xff" in err


def test_checkpoints_rotate_and_resume_falls_back_to_the_newest_complete_one(saved_checkpoint, tmp_path):
    from axiomatic.train import checkpoint

    kept = tmp_path / "checkpoint"
    checkpoint.keep(saved_checkpoint, kept)
    assert checkpoint.latest(kept) == kept and not checkpoint.previous_of(kept).exists()
    checkpoint.keep(saved_checkpoint, kept)  # a second report: the first becomes .prev
    assert checkpoint.previous_of(kept).is_dir() and not kept.with_name("checkpoint.new").exists()
    (kept / "model.pt").write_bytes(b"")  # the newest is damaged
    assert checkpoint.latest(kept) == checkpoint.previous_of(kept)
    shutil.rmtree(kept)  # a crash between the two renames: only .prev is left
    assert checkpoint.latest(kept) == checkpoint.previous_of(kept)
    shutil.rmtree(checkpoint.previous_of(kept))
    assert checkpoint.latest(kept) is None


def test_a_run_file_with_a_repeated_section_is_refused_with_its_line(tmp_path, capsys):
    run = tmp_path / "twice.yaml"
    run.write_text("model: {preset: tiny}\ntrain: {epochs: 1}\ntrain: {epochs: 5}\n")
    code = cli.main(["train", str(run), "--out", str(tmp_path / "out")])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2 and f"{run}: not valid YAML at line 3: key 'train' appears twice" in err
    assert not (tmp_path / "out").exists()


def test_plan_of_a_gpu_study_on_a_cpu_machine_says_it_cannot_calibrate(capsys, published_dir):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the plan would calibrate there")
    repo = Path(__file__).resolve().parents[1]
    study = str(repo / "studies" / "pe_ablation.yaml")  # it names the published files: skipped without them
    assert cli.main(["plan", study, "--published-dir", str(published_dir), "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["seconds_per_step"] is None and plan["concurrency"] == 0
    assert plan["calibration_skipped"] == "its cells train on a GPU and this machine has none"


def test_plan_of_a_cpu_study_times_real_steps(tmp_path, capsys):
    study = tmp_path / "small.yaml"
    study.write_text(yaml.safe_dump({"name": "small", "data": {"size": 2000},
                                     "model": {"preset": "tiny", "pe": {"grid": ["none", "rope"]}},
                                     "train": {"batch_size": 32, "device": "cpu", "max_steps": 100}}))
    assert cli.main(["plan", str(study), "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["calibration_skipped"] is None and 0 < plan["seconds_per_step"] < 10
    assert plan["estimated_seconds_per_cell"] == pytest.approx(100 * plan["seconds_per_step"])


def small_spec():
    from axiomatic.study.spec import validate_study

    return validate_study({"name": "told", "data": {"size": 500}, "model": {"preset": "tiny", "pe": {"grid": ["none"]}},
                           "train": {"device": "cpu", "max_steps": 10}, "seeds": [0, 1]}, "told.yaml")


def test_an_arm_is_told_to_optuna_only_when_every_seed_has_finished(tmp_path):
    import optuna

    from axiomatic.study.ledger import Ledger
    from axiomatic.study import optuna_db
    from axiomatic.study.searcher import ArmSearcher, optuna_study
    from axiomatic.study.trial import describe_error

    spec, ledger = small_spec(), Ledger(tmp_path / "told")
    ledger.initialise("", spec.fingerprint())
    study = optuna_study(spec, optuna_db.of_run(ledger, spec.name))
    searcher = ArmSearcher(spec, ledger, study)
    searcher.suggest("t0")
    second = searcher.suggest("t1")
    try:
        raise ValueError("loss went sideways")
    except ValueError as err:
        (Path(second["cell_dir"]) / "error.txt").write_text(describe_error(err))
    searcher.on_trial_complete("t0", {"val/acc": 0.8, "finished": 1})
    searcher.on_trial_complete("t1", error=True)
    failed = next(c for c in ledger.cells() if c.status == "failed")
    assert failed.error.splitlines()[0] == "ValueError: loss went sideways"
    assert "raised at" in failed.error.splitlines()[1]
    (trial,) = study.trials
    assert trial.state == optuna.trial.TrialState.RUNNING  # not the surviving seed's 0.8

    rerun = ArmSearcher(spec, ledger, optuna_study(spec, optuna_db.of_run(ledger, spec.name)))  # the next 'platform study'
    again = rerun.suggest("t2")
    assert again["cell"] == second["cell"]
    rerun.on_trial_complete("t2", {"val/acc": 0.6, "finished": 1})
    (trial,) = optuna.load_study(study_name="told", storage=optuna_db.of_run(ledger, "told").url).trials
    assert trial.state == optuna.trial.TrialState.COMPLETE and trial.value == pytest.approx(0.7)
    assert all(c.status == "done" and c.error is None for c in ledger.cells())


def test_the_live_table_shows_no_eta_once_nothing_waits():
    from axiomatic.report.console import LiveConsole
    from axiomatic.study.ledger import Cell
    from axiomatic.study.progress import arm_progress

    members = [Cell("a", "pe=none", {}, 0, status="done", metrics={"val/acc": 0.9}),
               Cell("a", "pe=none", {}, 1, status="failed", error="ValueError: x")]
    live = LiveConsole(small_spec(), enabled=False)
    live.durations = [60.0]
    row = live._row(arm_progress(members, "val/acc"))
    assert row[-1] == "–" and "1 failed" in row[-2]
