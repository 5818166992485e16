"""ArmSearcher without Ray: its Tune methods called directly, over a real in-memory Optuna study
and a real ledger in a temporary directory. A Tune trial id is any string here."""

from __future__ import annotations

import json

import optuna
import pytest
from optuna.trial import TrialState
from ray.tune.search import Searcher

from axiomatic.study import space
from axiomatic.study.cell_task import CellTask
from axiomatic.study.ledger import CellStatus, Ledger, arm_id, cell_id
from axiomatic.study.searcher import ArmSearcher
from axiomatic.study.spec import validate_study

NONE, ROPE = {"model.pe": "none"}, {"model.pe": "rope"}


def grid_spec(seeds=(0, 1)):
    return validate_study({"name": "searched", "data": {"size": 500},
                           "model": {"preset": "tiny", "pe": {"grid": ["none", "rope"]}},
                           "train": {"device": "cpu", "max_steps": 10}, "seeds": list(seeds)},
                          "searched.yaml")


def in_memory_study(spec) -> optuna.Study:
    """What runner.optuna_study builds, in memory instead of runs/<study>/optuna.db."""
    study = optuna.create_study(sampler=space.make_sampler(spec), direction="maximize")
    if spec.search.algorithm == "grid":
        space.enqueue_grid(study, spec)
    return study


@pytest.fixture
def ledger(tmp_path):
    return Ledger(tmp_path / "searched")


def states(study: optuna.Study) -> list[TrialState]:
    return [t.state for t in study.trials]


def suggested(searcher: ArmSearcher, trial_id: str) -> CellTask:
    """The task the searcher hands Tune for this trial, read back as the trial reads it."""
    return CellTask.from_config(searcher.suggest(trial_id))


def finish(searcher: ArmSearcher, trial_id: str, accuracy: float, ran_to_the_end: bool = True) -> None:
    searcher.on_trial_complete(trial_id, {"val/acc": accuracy, "epoch": 1, "finished": int(ran_to_the_end)})


# ---------------------------------------------------------------- arms become cells

def test_a_cell_task_travels_as_the_plain_json_config_trials_always_had(ledger):
    spec = grid_spec()
    config = ArmSearcher(spec, ledger, in_memory_study(spec)).suggest("t0")
    assert set(config) == {"cell", "cell_dir", "run", "workers", "cpu_per_worker", "gpu_per_worker",
                           "cache", "published", "custom_per_worker"}
    assert json.loads(json.dumps(config)) == config  # Tune saves it with the trial as JSON
    assert CellTask.from_config(config).to_config() == config


def test_an_arm_is_asked_once_and_queued_as_one_cell_per_seed(ledger):
    spec = grid_spec()
    study = in_memory_study(spec)
    searcher = ArmSearcher(spec, ledger, study)
    assert states(study) == [TrialState.WAITING, TrialState.WAITING]  # the two grid arms, queued

    first = suggested(searcher, "t0")
    assert first.cell == cell_id(arm_id(NONE), 0)
    assert first.run.seed == 0 and first.cell_dir.uri == ledger.cell_dir(first.cell).uri
    assert (first.cache, first.published) == (searcher.store.root, searcher.store.published)
    assert states(study) == [TrialState.RUNNING, TrialState.WAITING]
    # every seed of the arm is in the ledger at once; the first runs, the others wait their turn
    on_disk = {c.id: c.status for c in ledger.cells()}
    assert on_disk == {cell_id(arm_id(NONE), 0): CellStatus.RUNNING, cell_id(arm_id(NONE), 1): CellStatus.PENDING}
    assert all(c.optuna_trial == 0 for c in ledger.cells())

    second = suggested(searcher, "t1")  # the queued seed, without asking Optuna again
    assert second.cell == cell_id(arm_id(NONE), 1) and second.run.seed == 1
    assert states(study) == [TrialState.RUNNING, TrialState.WAITING]

    third = suggested(searcher, "t2")  # the queue is empty: the next arm
    assert third.cell == cell_id(arm_id(ROPE), 0)
    assert states(study) == [TrialState.RUNNING, TrialState.RUNNING]
    searcher.suggest("t3")
    assert searcher.suggest("t4") == Searcher.FINISHED  # every arm has all its seeds scheduled
    assert searcher.running == {"t0": first.cell, "t1": second.cell, "t2": third.cell,
                                "t3": cell_id(arm_id(ROPE), 1)}
    # what the live console sees: every arm's seeds running, none finished
    progress = searcher.progress()
    assert [(a.arm, a.running, a.total) for a in progress.arms] == [("pe=none", 2, 2), ("pe=rope", 2, 2)]
    assert (progress.finished_cells, progress.total_cells) == (0, 4)


def test_a_repeated_proposal_is_pruned_and_no_cell_is_added(ledger):
    spec = validate_study({"name": "repeats", "data": {"size": 500},
                           "model": {"preset": "tiny", "pe": {"choice": ["none"]}},
                           "train": {"device": "cpu"}, "seeds": [0],
                           "search": {"algorithm": "random", "num_samples": 2}}, "repeats.yaml")
    study = in_memory_study(spec)
    searcher = ArmSearcher(spec, ledger, study)
    assert suggested(searcher, "t0").cell == cell_id(arm_id(NONE), 0)
    # a second arm is wanted, but the only value there is was proposed already: after a few
    # tries the searcher waits (None) instead of finishing, since a cell still runs
    assert searcher.suggest("t1") is None
    assert states(study) == [TrialState.RUNNING] + [TrialState.PRUNED] * 3
    assert [c.id for c in ledger.cells()] == [cell_id(arm_id(NONE), 0)]


# ---------------------------------------------------------------- telling Optuna

def test_an_arm_is_told_its_combined_value_once_every_seed_has_finished(ledger):
    spec = grid_spec(seeds=(0, 1, 2))
    study = in_memory_study(spec)
    searcher = ArmSearcher(spec, ledger, study)
    for trial_id in ("t0", "t1", "t2"):
        searcher.suggest(trial_id)

    finish(searcher, "t0", 0.9)
    finish(searcher, "t1", 0.6, ran_to_the_end=False)  # stopped by the scheduler: still counts here
    assert study.trials[0].state == TrialState.RUNNING  # one seed is still out
    finish(searcher, "t2", 0.9)

    told = study.trials[0]
    assert told.state == TrialState.COMPLETE and told.value == pytest.approx(0.8)
    assert [c.status for c in ledger.cells()] == [CellStatus.DONE, CellStatus.STOPPED, CellStatus.DONE]


def test_an_arm_whose_seeds_lack_the_objective_is_told_failed(ledger):
    spec = grid_spec(seeds=(0,))
    study = in_memory_study(spec)
    searcher = ArmSearcher(spec, ledger, study)
    searcher.suggest("t0")
    searcher.on_trial_complete("t0", {"epoch": 1, "finished": 1})  # no val/acc reported
    assert study.trials[0].state == TrialState.FAIL


def test_a_trial_the_searcher_did_not_hand_out_changes_nothing(ledger):
    spec = grid_spec()
    study = in_memory_study(spec)
    searcher = ArmSearcher(spec, ledger, study)
    searcher.suggest("t0")
    finish(searcher, "someone-else", 0.9)
    assert searcher.running == {"t0": cell_id(arm_id(NONE), 0)}
    assert [c.status for c in ledger.cells()] == [CellStatus.RUNNING, CellStatus.PENDING]


# ---------------------------------------------------------------- resuming

def test_a_rerun_queues_the_unfinished_cells_and_never_a_finished_one(ledger):
    spec = grid_spec()
    study = in_memory_study(spec)
    searcher = ArmSearcher(spec, ledger, study)
    searcher.suggest("t0")
    searcher.suggest("t1")
    finish(searcher, "t0", 0.9)
    # the runner dies here: seed 1 stays RUNNING in the ledger, the arm RUNNING in Optuna

    rerun = ArmSearcher(spec, ledger, study)
    left_running = cell_id(arm_id(NONE), 1)
    assert rerun.queue == [left_running] and rerun.cells[left_running].status is CellStatus.PENDING
    assert suggested(rerun, "t2").cell == left_running
    finish(rerun, "t2", 0.7)
    assert study.trials[0].state == TrialState.COMPLETE and study.trials[0].value == pytest.approx(0.8)


def test_a_rerun_with_an_added_seed_queues_it_for_every_known_arm(ledger):
    study = in_memory_study(grid_spec(seeds=(0,)))
    searcher = ArmSearcher(grid_spec(seeds=(0,)), ledger, study)
    searcher.suggest("t0")
    finish(searcher, "t0", 0.9)

    rerun = ArmSearcher(grid_spec(seeds=(0, 5)), ledger, study)
    assert rerun.queue == [cell_id(arm_id(NONE), 5)]
    assert ledger.cells()[-1].optuna_trial == 0  # the new seed belongs to the arm's trial


def test_an_orphaned_trial_with_its_parameters_is_adopted_as_an_arm(ledger):
    spec = grid_spec()
    study = in_memory_study(spec)
    # a runner asked Optuna for an arm, sampled it, and died before the ledger recorded it
    orphan = study.ask()
    assert space.define_by_run(spec)(orphan) == NONE

    searcher = ArmSearcher(spec, ledger, study)
    assert searcher.queue == [cell_id(arm_id(NONE), 0), cell_id(arm_id(NONE), 1)]
    assert {c.optuna_trial for c in ledger.cells()} == {orphan.number}
    searcher.suggest("t0")
    searcher.suggest("t1")
    finish(searcher, "t0", 0.9)
    finish(searcher, "t1", 0.5)
    assert study.trials[orphan.number].state == TrialState.COMPLETE
    assert study.trials[orphan.number].value == pytest.approx(0.7)


def test_an_orphaned_trial_without_parameters_is_failed_and_its_grid_point_queued_again(ledger):
    spec = grid_spec()
    study = in_memory_study(spec)
    orphan = study.ask()  # the runner died between ask and the first suggestion
    assert orphan.params == {}

    searcher = ArmSearcher(spec, ledger, study)
    assert study.trials[orphan.number].state == TrialState.FAIL
    assert ledger.cells() == [] and searcher.queue == []
    waiting = study.get_trials(states=(TrialState.WAITING,))
    assert [t.system_attrs["fixed_params"] for t in waiting] == [ROPE, NONE]  # ROPE was queued first

    served = [suggested(searcher, f"t{i}").run.model.pe for i in range(4)]
    assert served == ["rope", "rope", "none", "none"]  # both grid points still run, each once
    assert searcher.arm_count() == 2


def test_a_running_trial_of_a_known_arm_is_not_adopted_again(ledger):
    spec = grid_spec()
    study = in_memory_study(spec)
    searcher = ArmSearcher(spec, ledger, study)
    searcher.suggest("t0")  # the arm's Optuna trial stays RUNNING until its seeds finish

    rerun = ArmSearcher(spec, ledger, study)
    assert rerun.arm_count() == 1 and len(ledger.cells()) == 2
    assert states(study) == [TrialState.RUNNING, TrialState.WAITING]


def test_an_arm_finished_but_never_told_is_told_when_the_next_runner_starts(ledger):
    spec = grid_spec(seeds=(0,))
    study = in_memory_study(spec)
    searcher = ArmSearcher(spec, ledger, study)
    searcher.suggest("t0")
    # the runner saved the cell's result and died before telling Optuna
    (cell,) = ledger.cells()
    cell.status, cell.metrics = CellStatus.DONE, {"val/acc": 0.8}
    ledger.save(cell)
    assert study.trials[0].state == TrialState.RUNNING

    ArmSearcher(spec, ledger, study)
    assert study.trials[0].state == TrialState.COMPLETE and study.trials[0].value == pytest.approx(0.8)
