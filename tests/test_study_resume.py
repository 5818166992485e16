"""An interrupted study resumes: SIGKILL the runner after the first cell finishes, rerun, check."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import optuna
import yaml

from axiomatic.study import optuna_db
from axiomatic.study.ledger import Ledger

STUDY = {
    "name": "killed",
    "data": {"preset": "TS2", "size": 300, "chain_lengths": [3, 4]},
    "model": {"preset": "tiny", "n_layer": 1, "d_model": 32, "n_head": 2, "d_mlp": 64,
              "pe": {"grid": ["none", "rope"]}},
    "train": {"lr": 3e-3, "batch_size": 32, "epochs": 3, "device": "cpu"},
    "seeds": [0, 1],
    "search": {"algorithm": "grid", "max_concurrent": 1},
    "objective": {"metric": "val/acc", "mode": "max"},
    "suites": ["reversed_chain/len=3"],
    "resources": {"cpu": 1, "gpu": 0, "workers": 1},
}


def platform(args, cwd, **kwargs):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("RAY_ADDRESS", None)
    return subprocess.Popen([sys.executable, "-m", "axiomatic.cli", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kwargs)


def _checkpoint_step(ledger: Ledger, cell: str) -> int | None:
    state = ledger.cell_dir(cell).local_path / "checkpoint" / "state.json"
    return json.loads(state.read_text())["step"] if state.is_file() else None


def _ledger_state(ledger: Ledger) -> tuple[set[str], dict[str, int | None]]:
    cells = ledger.cells()
    return ({c.id for c in cells if c.finished},
            {c.id: _checkpoint_step(ledger, c.id) for c in cells if not c.finished})


def _settled(ledger: Ledger, quiet_s: float = 2.0, limit_s: float = 60.0):
    """The ledger once the killed run has let go of it: a trial process can outlive the kill of
    its runner by a moment and still write a checkpoint, so read until nothing changes for a while."""
    deadline = time.time() + limit_s
    state = _ledger_state(ledger)
    while time.time() < deadline:
        time.sleep(quiet_s)
        latest = _ledger_state(ledger)
        if latest == state:
            return state
        state = latest
    raise AssertionError("the killed run's trials kept writing for a minute")


def test_sigkill_then_rerun_never_repeats_a_finished_cell(tmp_path):
    path = tmp_path / "killed.yaml"
    path.write_text(yaml.safe_dump(STUDY))
    ledger = Ledger(tmp_path / "runs" / "killed")
    first = platform(["study", str(path), "--json"], tmp_path, start_new_session=True)
    deadline = time.time() + 420
    while time.time() < deadline and first.poll() is None:
        if any(c.finished for c in ledger.cells()):
            break
        time.sleep(0.5)
    assert first.poll() is None, "the first run ended before it could be interrupted"
    os.killpg(first.pid, signal.SIGKILL)  # the runner and its Ray, as a crash would
    first.wait()
    finished_before, checkpointed = _settled(ledger)
    assert finished_before, "no cell had finished when the runner was killed"
    assert len(finished_before) < 4

    second = platform(["study", str(path), "--json"], tmp_path)
    output = second.communicate(timeout=600)[0].decode()
    assert second.returncode == 0, output[-3000:]

    cells = ledger.cells()
    assert len(cells) == 4 and all(c.finished for c in cells)
    for cell in cells:
        runs = ledger.attempts(cell.id)
        if cell.id in finished_before:
            assert len(runs) == 1, f"finished cell {cell.id} ran again"
        # an interrupted cell with a checkpoint resumed from it instead of from step 0
        if checkpointed.get(cell.id):
            assert runs[-1]["resumed_from_step"] == checkpointed[cell.id]
    # one Optuna trial per arm ends COMPLETE; none is left RUNNING (an arm handed out just before
    # the kill is either adopted or failed and queued again)
    study = optuna.load_study(study_name="killed", storage=optuna_db.of_run(ledger, "killed").url)
    complete = [t.params["model.pe"] for t in study.trials if t.state.name == "COMPLETE"]
    assert sorted(complete) == ["none", "rope"]
    assert not [t for t in study.trials if t.state.name in ("RUNNING", "WAITING")]


def test_ctrl_c_says_interrupted_and_exits_130(tmp_path):
    path = tmp_path / "stopped.yaml"
    path.write_text(yaml.safe_dump({**STUDY, "name": "stopped",
                                    "train": {**STUDY["train"], "epochs": 40}}))
    kept = tmp_path / "kept"
    ledger = Ledger(kept / "stopped")
    runner = platform(["study", str(path), "--storage", str(kept)], tmp_path)
    deadline = time.time() + 300
    while time.time() < deadline and not any(ledger.history(c.id) for c in ledger.cells()):
        time.sleep(0.5)  # until a cell has reported once
    assert runner.poll() is None, "the study ended before it could be interrupted"
    runner.send_signal(signal.SIGINT)  # what Ctrl-C sends the foreground process
    output = runner.communicate(timeout=300)[0].decode()
    assert runner.returncode == 130, output[-3000:]
    assert "interrupted" in output and "rerun 'platform study" in output
    # the printed command resumes this run where it is kept, not a new one under ./runs
    assert f"--storage{kept}" in "".join(output.split())
    assert not any(c.status == "done" and c.metrics.get("epoch", 0) < 40 for c in ledger.cells())


def _trainer_pids(runner_pid: int) -> list[int]:
    """The Ray actors under the runner that train a cell (Ray names them ray::ImplicitFunc...)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().decode(errors="replace")
        except OSError:
            continue
        if cmdline.startswith("ray::ImplicitFunc") and os.getsid(int(entry)) == os.getsid(runner_pid):
            pids.append(int(entry))
    return pids


def test_sigkill_of_a_training_worker_mid_cell_resumes_it_from_its_checkpoint(tmp_path):
    """A crash of the process that trains a cell (not of the runner): Tune tries the cell again,
    the new attempt starts from the cell's newest checkpoint, and the study completes."""
    spec = {**STUDY, "name": "worker_killed", "model": {**STUDY["model"], "pe": "rope"}, "seeds": [0],
            "data": {**STUDY["data"], "size": 2000},
            "train": {**STUDY["train"], "epochs": 6, "eval_every": 20}}
    path = tmp_path / "worker_killed.yaml"
    path.write_text(yaml.safe_dump(spec))
    ledger = Ledger(tmp_path / "runs" / "worker_killed")
    runner = platform(["study", str(path), "--json"], tmp_path, start_new_session=True)
    deadline, killed = time.time() + 420, None
    while time.time() < deadline and runner.poll() is None and killed is None:
        cells = ledger.cells()
        step = _checkpoint_step(ledger, cells[0].id) if cells else None
        if step and not cells[0].finished:
            killed, trainers = step, _trainer_pids(runner.pid)
            assert trainers, "no training actor found under the runner"
            for pid in trainers:
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    assert killed, "the cell finished before a worker could be killed"
    output = runner.communicate(timeout=600)[0].decode()
    assert runner.returncode == 0, output[-3000:]

    (cell,) = ledger.cells()
    assert cell.status.value == "done"
    first, *retries = ledger.attempts(cell.id)
    assert first["resumed_from_step"] == 0 and retries
    assert retries[-1]["resumed_from_step"] >= killed  # not from step 0
