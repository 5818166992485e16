"""Studies end to end on a real local Ray, a real Optuna SQLite storage and real (tiny) training."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import optuna
import pytest
import yaml

from axiomatic import cli
from axiomatic.ray_session import ray_session
from axiomatic.study.ledger import Ledger

TINY = {"preset": "tiny", "n_layer": 1, "d_model": 32, "n_head": 2, "d_mlp": 64}


def study_file(tmp_path, name="grid", **overrides) -> str:
    spec = {
        "name": name,
        "data": {"preset": "TS2", "size": 300, "chain_lengths": [3, 4]},
        "model": {**TINY, "pe": {"grid": ["none", "rope"]}},
        "train": {"lr": 3e-3, "batch_size": 64, "epochs": 2, "device": "cpu"},
        "seeds": [0, 1],
        "search": {"algorithm": "grid"},
        "objective": {"metric": "val/acc", "mode": "max"},
        "suites": ["reversed_chain/len=3"],
        "resources": {"cpu": 1, "gpu": 0, "workers": 1},
        "baseline": {"model.pe": "none"},
    }
    spec.update(overrides)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return str(path)


@pytest.fixture(scope="module")
def local_ray():
    with ray_session(num_cpus=2, log_to_driver=False):
        yield


def run(argv, capsys) -> tuple[int, dict | None, str]:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 and out.strip().startswith("{") else None), err


def attempts(ledger: Ledger) -> dict[str, int]:
    return {c.id: len(ledger.attempts(c.id)) for c in ledger.cells()}


def test_grid_study_report_extension_and_refusal(tmp_path, capsys, local_ray):
    runs = tmp_path / "runs"
    path = study_file(tmp_path)
    code, report, err = run(["study", path, "--runs-dir", str(runs), "--json"], capsys)
    assert code == 0, err
    ledger = Ledger(runs / "grid")
    cells = ledger.cells()
    assert len(cells) == 4 and all(c.status == "done" for c in cells)

    # the report's numbers are the seeds' numbers: mean of each arm's cells, CI over 2 seeds
    by_arm = {a["arm"]: a for a in report["arms"]}
    assert set(by_arm) == {"pe=none", "pe=rope"}
    for arm, summary in by_arm.items():
        values = [c.metrics["val/acc"] for c in cells if c.arm == arm]
        assert summary["seeds_done"] == 2
        assert summary["metrics"]["val/acc"]["mean"] == pytest.approx(np.mean(values))
        assert summary["metrics"]["val/acc"]["n"] == 2
        suite = summary["metrics"]["suite/reversed_chain/len=3/acc"]
        assert suite["mean"] == pytest.approx(np.mean([c.metrics["suite/reversed_chain/len=3/acc"]
                                                       for c in cells if c.arm == arm]))
    assert report["baseline_arm"] == "pe=none" and report["comparisons"][0]["n_pairs"] == 2
    assert report["failed"] == []
    rows = list(csv.DictReader(io.StringIO((runs / "grid" / "report" / "table.csv").read_text())))
    none_cell = next(r for r in rows if r["row"] == "pe=none" and r["suite"] == "reversed_chain/len=3")
    assert float(none_cell["mean"]) == pytest.approx(by_arm["pe=none"]["metrics"]["suite/reversed_chain/len=3/acc"]["mean"])
    assert (runs / "grid" / "report" / "table.md").read_text().count("pe=rope") >= 1
    assert list((runs / "grid" / "report").glob("*.png"))

    # Optuna sees one trial per arm, valued at the mean of its seeds
    study = optuna.load_study(study_name="grid", storage=f"sqlite:///{runs / 'grid' / 'optuna.db'}")
    complete = {t.params["model.pe"]: t.value for t in study.trials if t.state.name == "COMPLETE"}
    assert complete == pytest.approx({a["params"]["model.pe"]: a["metrics"]["val/acc"]["mean"]
                                      for a in report["arms"]})

    # one more seed: only the two new cells run; finished cells are not touched
    before = attempts(ledger)
    path = study_file(tmp_path, seeds=[0, 1, 2])
    code, report, err = run(["study", path, "--runs-dir", str(runs), "--json"], capsys)
    assert code == 0, err
    after = attempts(ledger)
    assert {k: v for k, v in after.items() if k in before} == before
    assert sorted(set(after) - set(before)) == sorted(c for c in after if c.endswith("-s2"))
    assert all(v == 1 for v in after.values())
    assert all(a["seeds_done"] == 3 for a in report["arms"])

    # an incompatible change is refused with a diff and leaves the run as it was
    snapshot = sorted(p.name for p in (runs / "grid" / "cells").iterdir())
    path = study_file(tmp_path, model={**TINY, "d_model": 48, "pe": {"grid": ["none", "rope"]}})
    code, _, err = run(["study", path, "--runs-dir", str(runs)], capsys)
    assert code == 2
    assert "d_model" in err and "--new" in err
    assert sorted(p.name for p in (runs / "grid" / "cells").iterdir()) == snapshot


def test_tpe_study_with_asha(tmp_path, capsys, local_ray):
    runs = tmp_path / "runs"
    path = study_file(
        tmp_path, name="tpe", seeds=[0],
        model={**TINY, "pe": {"choice": ["none", "rope"]}},
        train={"lr": {"float": [1e-3, 1e-2], "log": True}, "batch_size": 64, "epochs": 3,
               "device": "cpu"},
        search={"algorithm": "tpe", "num_samples": 4, "seed": 0, "max_concurrent": 2},
        scheduler={"type": "asha", "grace_period": 1, "max_t": 3, "reduction_factor": 2},
        baseline=None)
    code, report, err = run(["study", path, "--runs-dir", str(runs), "--json"], capsys)
    assert code == 0, err
    cells = Ledger(runs / "tpe").cells()
    assert len(cells) == 4 and all(c.finished for c in cells)
    study = optuna.load_study(study_name="tpe", storage=f"sqlite:///{runs / 'tpe' / 'optuna.db'}")
    finished = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(finished) == 4
    assert all(1e-3 <= t.params["train.lr"] <= 1e-2 for t in finished)
    assert {c.arm for c in cells} == {a["arm"] for a in report["arms"]}
    assert "importances" in report


def val_acc_by_step(rows: list[dict]) -> dict[int, float]:
    return {row["step"]: row["val/acc"] for row in rows}


def test_new_archives_an_incompatible_run(tmp_path, capsys, local_ray, tensorboard_scalars):
    runs = tmp_path / "runs"
    first = study_file(tmp_path, name="renew", seeds=[0], model={**TINY, "pe": {"grid": ["none"]}},
                       baseline=None)
    assert run(["study", first, "--runs-dir", str(runs), "--json"], capsys)[0] == 0
    changed = study_file(tmp_path, name="renew", seeds=[0],
                         model={**TINY, "d_model": 48, "pe": {"grid": ["none"]}}, baseline=None)
    code, report, err = run(["study", changed, "--runs-dir", str(runs), "--new", "--json"], capsys)
    assert code == 0, err
    archived = [p for p in runs.iterdir() if p.name.startswith("renew.")]
    assert len(archived) == 1 and Ledger(archived[0]).cells()[0].finished
    assert Ledger(runs / "renew").fingerprint()["model"]["d_model"] == 48
    assert report["arms"][0]["seeds_done"] == 1

    # a runner killed after the cell's last report but before its 'done' record: the rerun
    # recognises the finished checkpoint, appends no row and keeps the real numbers
    ledger = Ledger(runs / "renew")
    (cell,) = ledger.cells()
    rows = ledger.history(cell.id)
    assert {"seconds", "stage"} <= set(cell.metrics)
    # the cell's TensorBoard events hold its history; Tune's end-of-run analysis found its files
    assert tensorboard_scalars(ledger.cell_dir(cell.id).local_path)["val/acc"] == pytest.approx(val_acc_by_step(rows))
    assert "Failed to fetch metrics" not in (runs / "renew" / "logs" / "driver.log").read_text()
    cell.status = "running"
    ledger.save(cell)
    code, report, err = run(["study", changed, "--runs-dir", str(runs), "--json"], capsys)
    assert code == 0, err
    (again,) = ledger.cells()
    assert ledger.history(cell.id) == rows
    assert again.status == "done" and again.metrics["train/loss"] == rows[-1]["train/loss"]
    assert np.isfinite(report["arms"][0]["metrics"]["train/loss"]["mean"])


def test_two_worker_cells_run_under_ray_train(tmp_path, capsys, local_ray, tensorboard_scalars):
    runs = tmp_path / "runs"
    path = study_file(tmp_path, name="ddp", seeds=[0], model={**TINY, "pe": {"grid": ["none"]}},
                      resources={"cpu": 1, "gpu": 0, "workers": 2}, baseline=None)
    code, report, err = run(["study", path, "--runs-dir", str(runs), "--json"], capsys)
    assert code == 0, err
    ledger = Ledger(runs / "ddp")
    (cell,) = ledger.cells()
    assert cell.status == "done" and cell.metrics["finished"] == 1
    history = ledger.history(cell.id)
    assert [row["epoch"] for row in history] == [1, 2]  # rank 0 kept every evaluation
    assert tensorboard_scalars(ledger.cell_dir(cell.id).local_path)["val/acc"] == pytest.approx(val_acc_by_step(history))
    assert len(list(ledger.cell_dir(cell.id).local_path.glob("events.out.tfevents.*"))) == 1  # rank 0's only
    assert (ledger.cell_dir(cell.id).local_path / "checkpoint" / "state.json").is_file()
    assert (ledger.cell_dir(cell.id).local_path / "ray").is_dir()  # the cell's own Ray Train run


def test_a_diverged_cell_is_failed_not_a_result(tmp_path, capsys, local_ray):
    runs = tmp_path / "runs"
    path = study_file(tmp_path, name="diverges", seeds=[0], model={**TINY, "pe": {"grid": ["none"]}},
                      train={"lr": 1.0e+30, "batch_size": 64, "epochs": 2, "device": "cpu"},
                      baseline=None)
    code, report, err = run(["study", path, "--runs-dir", str(runs), "--json"], capsys)
    assert code == 0, err
    (cell,) = Ledger(runs / "diverges").cells()
    assert cell.status == "failed" and cell.error.startswith("Diverged: diverged at step")
    assert [f["error"].splitlines()[0] for f in report["failed"]] == [cell.error.splitlines()[0]]
    assert report["arms"][0]["seeds_done"] == 0
    storage = f"sqlite:///{runs / 'diverges' / 'optuna.db'}"
    (trial,) = optuna.load_study(study_name="diverges", storage=storage).trials
    assert trial.state != optuna.trial.TrialState.COMPLETE  # Optuna never ranks a diverged arm


# ---------------------------------------------------------------- where the data lives

PUBLISHED_SUITE = "published/transitivity/reversed_chain/len=3"
SUBSET = ("transitivity__reversed_chain__3.jsonl", "transitivity__reversed_chain__4.jsonl")


def published_subset(source, target):
    """A copy of two of the published files, with an index.json that lists only them."""
    import shutil

    target.mkdir()
    for name in SUBSET:
        shutil.copy(source / name, target / name)
    index = json.loads((source / "index.json").read_text())
    kept = [entry for entry in index if entry["file"] in SUBSET]
    assert len(kept) == len(SUBSET), "the published index no longer lists the subset's files"
    (target / "index.json").write_text(json.dumps(kept))
    return target


def training_manifests(cache):
    return [m for m in (json.loads(p.read_text()) for p in cache.glob("*/*/manifest.json"))
            if "train" in m["recipe"]]


def test_study_cells_read_the_published_dir_and_cache_given_on_the_command_line(
        tmp_path, capsys, local_ray, published_dir, session_cache):
    import shutil

    from axiomatic.data import suites

    subset = published_subset(published_dir, tmp_path / "published")
    cache = tmp_path / "cache"
    shutil.copytree(session_cache, cache)  # the generated suites built already, to save CPU
    before = {m["digest"] for m in training_manifests(session_cache)}
    runs = tmp_path / "runs"
    path = study_file(tmp_path, name="pubdir", seeds=[0], model={**TINY, "pe": {"grid": ["none"]}},
                      train={"lr": 3e-3, "batch_size": 64, "epochs": 1, "device": "cpu"},
                      suites=[PUBLISHED_SUITE], baseline=None)
    argv = ["--runs-dir", str(runs), "--published-dir", str(subset), "--cache-dir", str(cache), "--json"]
    code, report, err = run(["study", path, *argv], capsys)
    assert code == 0, err
    (cell,) = Ledger(runs / "pubdir").cells()
    assert cell.status == "done" and f"suite/{PUBLISHED_SUITE}/acc" in cell.metrics
    # The cell built its training set in the given cache, checked for leakage against the
    # generated suites and the subset's two files: the published dir it used was the subset.
    (trained,) = [m for m in training_manifests(cache) if m["digest"] not in before]
    assert trained["leakage"]["checked_suites"] == len(suites.generated_names()) + len(SUBSET)
    assert {m["digest"] for m in training_manifests(session_cache)} == before

    code, again, err = run(["report", str(runs / "pubdir"), *argv[2:]], capsys)
    assert code == 0, err
    assert again["arms"][0]["metrics"][f"suite/{PUBLISHED_SUITE}/acc"]["n"] == 1


@pytest.mark.parametrize("command", ["study", "plan", "report"])
def test_a_published_dir_that_does_not_exist_is_exit_2_naming_it(tmp_path, capsys, command):
    missing = tmp_path / "no-such-published-files"
    target = str(tmp_path) if command == "report" else study_file(tmp_path)
    code, _, err = run([command, target, "--published-dir", str(missing)], capsys)
    assert code == 2, err
    assert str(missing) in err.replace("\n", "")
    assert not (tmp_path / "runs").exists()
