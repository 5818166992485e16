"""One driver per study (issue 29): a lease in the study's storage, with a holder and a heartbeat.
Two real drivers on one study kept in moto's S3 server, from two --runs-dir: the second is refused,
and so is a --new that would archive the live run; a stale lease is taken over with a message."""

from __future__ import annotations

import json
import socket
import subprocess
import time

import optuna
import pytest

from axiomatic import cli
from axiomatic.errors import UserError
from axiomatic.files import write_json_atomically
from axiomatic.location import Location
from axiomatic.study.lease import HEARTBEAT_ENV, SETTLE_ENV, STALE_S, Lease, process_space
from axiomatic.study.ledger import Ledger
from support.s3_server import s3_bucket, under
from test_study_resume import platform
from test_study_run import local_ray, run, study_file  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow

QUICK = {"lr": 3e-3, "batch_size": 32, "epochs": 1, "device": "cpu"}


def test_a_second_driver_and_a_new_are_refused_while_the_first_runs(tmp_path, capsys):
    with s3_bucket() as bucket:
        storage = under(bucket, "runs")
        path = study_file(tmp_path, name="owned", seeds=[0], search={"algorithm": "grid", "max_concurrent": 1},
                          train={**QUICK, "epochs": 4})
        root = Location(storage) / "owned"
        first = platform(["study", path, "--storage", storage, "--runs-dir", str(tmp_path / "runs-a")], tmp_path)
        deadline = time.time() + 120
        while time.time() < deadline and not root.exists("cells"):
            time.sleep(0.3)  # until the first driver runs cells
        assert first.poll() is None, "the first driver ended before a second one could try"

        code = cli.main(["study", path, "--storage", storage, "--runs-dir", str(tmp_path / "runs-b")])
        err = " ".join(capsys.readouterr().err.split())
        assert code == 2 and "another 'platform study' is running on this study" in err
        assert f"driver {first.pid} on {socket.gethostname()}" in err

        (tmp_path / "changed").mkdir()
        changed = study_file(tmp_path / "changed", name="owned", seeds=[0], baseline=None,
                             model={"preset": "tiny", "n_layer": 1, "d_model": 16, "n_head": 2, "d_mlp": 32,
                                    "pe": "rope"})
        code = cli.main(["study", changed, "--storage", storage, "--runs-dir", str(tmp_path / "runs-c"), "--new"])
        assert code == 2 and "another 'platform study' is running" in capsys.readouterr().err
        archived = [name for name in Location(storage).subdirectories() if name.startswith("owned.")]
        assert not archived

        output = first.communicate(timeout=300)[0].decode()
        assert first.returncode == 0, output[-3000:]
        ledger = Ledger(root, tmp_path / "reader")
        cells = ledger.cells()
        assert len(cells) == 2 and all(c.status == "done" for c in cells)
        assert all(len(ledger.attempts(c.id)) == 1 for c in cells)  # the first driver's attempts alone
        database = tmp_path / "optuna.db"
        database.write_bytes(root.read_bytes("optuna.db"))
        states = [t.state.name for t in optuna.load_study(study_name="owned", storage=f"sqlite:///{database}").trials]
        assert states == ["COMPLETE", "COMPLETE"]
        assert not Location(storage).is_file("owned.lease.json")  # let go at the end


def _lease(runs, name: str, **holder) -> None:
    record = {"holder": "earlier", "host": "elsewhere", "process_space": "elsewhere:1", "pid": 4242,
              "heartbeat": time.time(), **holder}
    # replaced whole, as a driver writes it: a reader never sees half a record
    write_json_atomically(runs / f"{name}.lease.json", record)


def test_a_fresh_lease_of_another_machine_is_refused(tmp_path, capsys):
    runs = tmp_path / "runs"
    _lease(runs, "fresh")
    code, _, err = run(["study", study_file(tmp_path, name="fresh"), "--runs-dir", str(runs)], capsys)
    assert code == 2 and "(driver 4242 on elsewhere, last heard from 0 s ago" in " ".join(err.split())
    assert sorted(p.name for p in runs.iterdir()) == ["fresh.lease.json"]  # nothing of the run written


@pytest.mark.parametrize("holder, why", [
    ({"heartbeat": time.time() - 10 * STALE_S}, f"has not renewed it for over {STALE_S:.0f} s"),
    ("dead here", "no longer runs"),
], ids=["silent elsewhere", "killed here"])
def test_a_stale_lease_is_taken_over_with_a_message(tmp_path, capsys, local_ray, holder, why):
    runs = tmp_path / "runs"
    if holder == "dead here":
        gone = subprocess.Popen(["true"])
        gone.wait()
        holder = {"host": socket.gethostname(), "process_space": process_space(), "pid": gone.pid}
    _lease(runs, "stale", **holder)
    path = study_file(tmp_path, name="stale", seeds=[0], model={"preset": "tiny", "n_layer": 1, "d_model": 32,
                                                               "n_head": 2, "d_mlp": 64, "pe": {"grid": ["none"]}},
                      baseline=None, train=QUICK)
    code, report, err = run(["study", path, "--runs-dir", str(runs), "--json"], capsys)
    assert code == 0, err
    assert "took over the lease of study stale" in " ".join(err.split()) and why in " ".join(err.split())
    assert report["arms"][0]["seeds_done"] == 1 and not (runs / "stale.lease.json").exists()


def test_a_driver_whose_lease_was_taken_over_stops_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv(HEARTBEAT_ENV, "1")  # the driver finds the takeover at its next beat: a second, not ten
    runs = tmp_path / "runs"
    path = study_file(tmp_path, name="usurped", seeds=[0, 1], search={"algorithm": "grid", "max_concurrent": 1},
                      train={**QUICK, "epochs": 40})
    driver = platform(["study", path, "--runs-dir", str(runs)], tmp_path)
    deadline = time.time() + 120
    while time.time() < deadline and not (runs / "usurped" / "cells").exists():
        time.sleep(0.3)
    assert driver.poll() is None, "the study ended before its lease could be taken over"
    lease = runs / "usurped.lease.json"
    deadline = time.time() + 120
    while driver.poll() is None and time.time() < deadline:
        # what a driver elsewhere writes when it finds this one's heartbeat stale; again if this
        # driver's own beat, read before the takeover, wrote over it (the usurper's settle would
        # see that and try again)
        if json.loads(lease.read_text())["holder"] != "earlier":
            _lease(runs, "usurped")
        time.sleep(0.3)
    output = " ".join(driver.communicate(timeout=120)[0].decode().split())
    assert driver.returncode == 1, output[-3000:]
    assert "was taken over by driver 4242 on elsewhere" in output and "this driver stopped" in output
    assert json.loads((runs / "usurped.lease.json").read_text())["holder"] == "earlier"  # left to its new holder


def test_the_lease_timings_come_from_the_environment_within_bounds(tmp_path, monkeypatch):
    monkeypatch.setenv(HEARTBEAT_ENV, "2.5")
    monkeypatch.setenv(SETTLE_ENV, "3")
    lease = Lease(Location(tmp_path), "timed", "timed")
    assert (lease.heartbeat_s, lease.settle_s) == (2.5, 3.0)
    monkeypatch.setenv(HEARTBEAT_ENV, f"{STALE_S:.0f}")  # a lease beating that slowly would go stale
    with pytest.raises(UserError, match=f"{HEARTBEAT_ENV}='60': expected seconds above 0 and below 60"):
        Lease(Location(tmp_path), "timed", "timed")
    monkeypatch.setenv(HEARTBEAT_ENV, "soon")
    with pytest.raises(UserError, match="expected seconds above 0"):
        Lease(Location(tmp_path), "timed", "timed")
