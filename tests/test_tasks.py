"""Tasks in run files, curriculum stages across tasks, starting from another run's weights, the
Yes-class measures, and the checks that refuse what cannot work (real torch, tiny models)."""

from __future__ import annotations

import pytest
import torch

from axiomatic import cli, metric_names
from axiomatic.data import mixtures, tasks
from axiomatic.data.axioms.corr2cause import Corr2CauseSpec
from axiomatic.data.axioms.dseparation import DSeparationSpec
from axiomatic.errors import UserError
from axiomatic.study.spec import validate_study
from axiomatic.train import checkpoint, launch
from axiomatic.train.config import build_run, try_build_run
from axiomatic.train.evaluate import yes_class_scores
from axiomatic.train.loop import Trainer, Worker
from axiomatic.train.run_data import load_data
from axiomatic.data.store import Store

TINY = {"preset": "tiny", "n_layer": 1, "d_model": 32, "n_head": 2, "d_mlp": 64, "dropout": 0.0}
TRAIN = {"lr": 3e-3, "batch_size": 32, "epochs": 1, "device": "cpu"}
CORR2CAUSE = {"task": "corr2cause", "nodes": [3, 4], "split": "all", "size": 200}


def sections(**overrides) -> dict:
    return {"data": {"preset": "TS2", "size": 200, "chain_lengths": [3, 4]}, "model": TINY,
            "train": TRAIN, **overrides}


def problems_of(run_sections: dict) -> dict[str, str]:
    run, problems = try_build_run(run_sections)
    assert run is None
    return {problem.path: problem.message for problem in problems}


# ---------------------------------------------------------------- the task of a section

def test_each_task_builds_its_own_spec_and_transitivity_digests_predate_the_field():
    assert type(tasks.build_spec({})) is mixtures.DataSpec
    assert type(tasks.build_spec({"task": "dseparation"})) is DSeparationSpec
    assert type(tasks.build_spec({"task": "corr2cause"})) is Corr2CauseSpec
    # "task" is not part of a transitivity set's canonical form: its cache key did not move
    plain, named = tasks.build_spec({"preset": "TS2"}), tasks.build_spec({"preset": "TS2", "task": "transitivity"})
    assert "task" not in plain.canonical() and plain.digest() == named.digest()


def test_an_unknown_task_and_a_foreign_field_are_named():
    assert "data.task" in problems_of(sections(data={"task": "induction"}))
    found = problems_of(sections(data={"task": "corr2cause", "chain_lengths": [3, 4]}))
    assert any(path.startswith("data") and "chain_lengths" in path + message for path, message in found.items())


def test_a_stage_of_another_task_does_not_inherit_the_main_data_fields():
    run = build_run(sections(data=CORR2CAUSE, curriculum=[
        {"name": "transitivity", "steps": 5, "data": {"task": "transitivity", "chain_lengths": [3, 4], "size": 100}},
        {"name": "dseparation", "steps": 5, "data": {"task": "dseparation", "size": 100}}]), "run")
    assert [stage.data.task for stage in run.curriculum] == ["transitivity", "dseparation"]
    assert run.data.task == "corr2cause"
    assert run.curriculum[0].data.seed == run.data.seed + 1  # still a seed of its own


def test_train_stages_picks_named_stages_in_curriculum_order():
    curriculum = [{"name": "transitivity", "steps": 5, "data": {"chain_lengths": [3, 3]}},
                  {"name": "long", "steps": 5, "data": {"chain_lengths": [4, 4]}}]
    pick = lambda stages: build_run(sections(curriculum=curriculum, train={**TRAIN, "stages": stages}), "run")
    assert [s.data.chain_lengths for s in pick("long+transitivity").curriculum] == [(3, 3), (4, 4)]
    assert [s.data.chain_lengths for s in pick("long").curriculum] == [(4, 4)]
    assert pick("none").curriculum == ()
    found = problems_of(sections(curriculum=curriculum, train={**TRAIN, "stages": "dsep"}))
    assert "'dsep'" in found["train.stages"] and "transitivity, long" in found["train.stages"]


def test_two_stages_of_one_name_are_refused():
    twice = [{"name": "axiom", "steps": 5, "data": {"chain_lengths": [3, 3]}},
             {"name": "axiom", "steps": 5, "data": {"chain_lengths": [4, 4]}}]
    found = problems_of(sections(curriculum=twice, train={**TRAIN, "stages": "axiom"}))
    assert "repeated: axiom" in found["curriculum"]


# ---------------------------------------------------------------- init_from

@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A tiny transitivity run trained for 5 steps, kept as a run directory."""
    out = tmp_path_factory.mktemp("pretrained") / "seed0"
    run = build_run(sections(train={**TRAIN, "max_steps": 5}), "run")
    launch.train(run, out)
    return out


def test_init_from_starts_from_the_weights_only_and_fills_in_the_seed(trained_run):
    pattern = str(trained_run).replace("seed0", "seed{seed}")
    run = build_run(sections(data=CORR2CAUSE, train={**TRAIN, "epochs": 0, "init_from": pattern}), "run")
    assert run.train.init_from == str(trained_run / "checkpoint")  # the run directory's latest checkpoint
    trainer = Trainer(run, load_data(run, Store()), Worker())
    saved = torch.load(trained_run / "checkpoint" / "model.pt", weights_only=True)
    assert all(torch.equal(saved[k], v) for k, v in trainer.model.state_dict().items())
    assert trainer.state.step == 0  # not the pretrained run's position
    # epochs 0: the model is asked the task directly, once
    reports = []
    final = trainer.fit(lambda metrics, _: reports.append(metrics))
    assert len(reports) == 1 and final["step"] == 0 and final["finished"] == 1
    assert {metric_names.VAL_ACC, metric_names.VAL_F1} <= final.keys()


def test_init_from_refuses_a_missing_checkpoint_or_another_shape(trained_run, tmp_path):
    missing = problems_of(sections(train={**TRAIN, "init_from": str(tmp_path / "nowhere")}))
    assert "no checkpoint there" in missing["train.init_from"]
    wider = problems_of(sections(model={**TINY, "d_model": 64}, train={**TRAIN, "init_from": str(trained_run)}))
    assert "d_model 32 (this run: 64)" in wider["train.init_from"]


def test_init_from_refuses_a_checkpoint_of_another_tokenizer(trained_run, tmp_path):
    import json
    import shutil

    copy = tmp_path / "old"
    shutil.copytree(trained_run / "checkpoint", copy)
    state = json.loads((copy / checkpoint.STATE).read_text())
    (copy / checkpoint.STATE).write_text(json.dumps({**state, "tokenizer": "axiomatic-vocab-0"}))
    found = problems_of(sections(train={**TRAIN, "init_from": str(copy)}))
    assert "axiomatic-vocab-0" in found["train.init_from"]


# ---------------------------------------------------------------- measures and limits

def test_yes_class_scores():
    assert yes_class_scores(true_yes=3, said_yes=4, yes=6) == pytest.approx(
        {"precision": 0.75, "recall": 0.5, "f1": 0.6})
    assert yes_class_scores(0, 0, 5) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_rows_longer_than_max_len_are_refused_before_training():
    run = build_run(sections(model={**TINY, "max_len": 24}), "run")
    with pytest.raises(UserError, match="exceed model.max_len=24"):
        Trainer(run, load_data(run, Store()), Worker())


def test_the_objective_may_be_a_corr2cause_suites_f1_but_not_a_transitivity_suites():
    study = {"name": "t", "data": CORR2CAUSE, "model": TINY, "train": TRAIN,
             "suites": ["corr2cause/all", "reversed_chain/len=3"]}
    validate_study({**study, "objective": {"metric": "suite/corr2cause/all/f1"}})
    with pytest.raises(UserError, match="Yes-class measures"):
        validate_study({**study, "objective": {"metric": "suite/reversed_chain/len=3/f1"}})


def test_data_generate_refuses_an_option_of_another_task(tmp_path, capsys):
    code = cli.main(["data", "generate", "--task", "corr2cause", "--flip-prob", "0.3", "--out", str(tmp_path / "x")])
    assert code == 2 and "--flip-prob: not an option of --task corr2cause" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
