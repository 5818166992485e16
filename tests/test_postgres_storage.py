"""A study whose Optuna trials live in a real PostgreSQL server (`optuna_storage:` in the study
file, or `--optuna-storage`): it runs, `optuna.load_study` reads it back, it resumes, and
`platform report` finds it again. A database that does not connect is exit 2 with nothing written.

The server is this test's own: `initdb` into a temporary folder (as the postgres user when run as
root: PostgreSQL refuses to run as root), on a free port of 127.0.0.1, stopped afterwards.
PostgreSQL comes from Debian's packages: `make test` installs it when missing. The test fails,
never skips, without it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import optuna
import pytest

from axiomatic.study.ledger import Ledger
from test_cluster_auth import free_port
from test_study_resume import platform
from test_study_run import attempts, local_ray, run, study_file  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow


def postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        pytest.fail("PostgreSQL server missing: `make test` installs Debian's postgresql package when it can")
    return found[-1].parent


@pytest.fixture(scope="module")
def postgres():
    """The URL of an empty database on a PostgreSQL server of this test's own."""
    with postgres_server() as (url, _):
        yield url


@contextmanager
def postgres_server():
    """A PostgreSQL server of the caller's own: the URL of an empty database on it, and a function
    that stops the server for good."""
    bin_dir = postgres_bin()
    root = Path(tempfile.mkdtemp(prefix="axpg", dir="/tmp"))  # short: the server's socket lives here
    as_postgres = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    run_as = lambda *cmd: subprocess.run([*as_postgres, *map(str, cmd)], check=True, capture_output=True,
                                         timeout=120)
    run_as(bin_dir / "initdb", "-D", root / "data", "-A", "trust", "-U", "axiomatic", "-E", "UTF8", "--no-sync")
    run_as(bin_dir / "pg_ctl", "-D", root / "data", "-l", root / "server.log", "-w", "-o",
           f"-p {port} -c listen_addresses=127.0.0.1 -k {root} -c fsync=off", "start")
    stop = lambda: run_as(bin_dir / "pg_ctl", "-D", root / "data", "-m", "immediate", "stop")
    try:
        run_as(bin_dir / "createdb", "-h", "127.0.0.1", "-p", port, "-U", "axiomatic", "studies")
        yield f"postgresql://axiomatic@127.0.0.1:{port}/studies", stop
    finally:
        if (root / "data" / "postmaster.pid").exists():
            stop()
        shutil.rmtree(root, ignore_errors=True)


def dashboard_json(storage: str, path: str, timeout: float = 60.0):
    """GET ``path`` from an optuna-dashboard serving ``storage`` on a free port of 127.0.0.1."""
    port = free_port()
    server = subprocess.Popen([Path(sys.executable).parent / "optuna-dashboard", storage, "--host", "127.0.0.1",
                               "--port", str(port), "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
                    return json.loads(reply.read())
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.3)
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_study_keeps_its_trials_in_postgresql_and_resumes(postgres, tmp_path, capsys, local_ray):
    runs = tmp_path / "runs"
    path = study_file(tmp_path, name="pg", optuna_storage=postgres)
    code, report, err = run(["study", path, "--runs-dir", str(runs), "--json"], capsys)
    assert code == 0, err
    assert report["optuna"]["storage"] == postgres and report["optuna"]["study"].startswith("pg.")
    assert not (runs / "pg" / "optuna.db").exists()

    study = optuna.load_study(study_name=report["optuna"]["study"], storage=postgres)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert sorted(t.params["model.pe"] for t in complete) == ["none", "rope"]  # one trial per arm
    assert all(0.0 <= t.value <= 1.0 for t in complete)

    ledger = Ledger(runs / "pg")
    before = attempts(ledger)
    code, again, err = run(["study", path, "--runs-dir", str(runs), "--json"], capsys)
    assert code == 0, err
    assert attempts(ledger) == before  # resumed from PostgreSQL and the ledger: nothing reran
    assert again["optuna"]["study"] == report["optuna"]["study"]
    assert len(optuna.load_study(study_name=again["optuna"]["study"], storage=postgres).trials) == 2

    code, reported, err = run(["report", str(runs / "pg"), "--json"], capsys)
    assert code == 0, err
    assert reported["optuna"] == report["optuna"]

    # optuna-dashboard on the same database shows the study and its arms
    summaries = dashboard_json(postgres, "/api/studies")["study_summaries"]
    (shown,) = [s for s in summaries if s["study_name"] == report["optuna"]["study"]]
    trials = dashboard_json(postgres, f"/api/studies/{shown['study_id']}?after=0")["trials"]
    arms = sorted(attr["value"] for t in trials for attr in t["user_attrs"] if attr["key"] == "arm")
    assert arms == ["pe=none", "pe=rope"] and all(t["state"] == "Complete" for t in trials)


def test_the_command_line_names_the_database_too(postgres, tmp_path, capsys, local_ray):
    runs = tmp_path / "runs"
    path = study_file(tmp_path, name="pgflag", seeds=[0])
    code, report, err = run(["study", path, "--runs-dir", str(runs), "--optuna-storage", postgres, "--json"],
                            capsys)
    assert code == 0, err
    assert len(optuna.load_study(study_name=report["optuna"]["study"], storage=postgres).trials) == 2
    # the run remembers where its trials are: a resume without the flag finds them, another
    # database is refused rather than splitting the trials over two
    code, _, err = run(["study", path, "--runs-dir", str(runs), "--json"], capsys)
    assert code == 0, err
    code, _, err = run(["study", path, "--runs-dir", str(runs), "--optuna-storage",
                        "postgresql://axiomatic@127.0.0.1:1/other"], capsys)
    assert code == 2 and "differs from the storage of the run" in " ".join(err.split())


@pytest.mark.parametrize("url, expected", [
    ("postgresql://axiomatic@127.0.0.1:{port}/studies", "cannot connect"),
    ("not a url", "is not a database URL"),
])
def test_a_database_that_does_not_connect_is_exit_2_and_writes_nothing(tmp_path, capsys, url, expected):
    runs = tmp_path / "runs"
    path = study_file(tmp_path, name="nodb", optuna_storage=url.format(port=free_port()))
    code, _, err = run(["study", path, "--runs-dir", str(runs)], capsys)
    assert code == 2 and expected in " ".join(err.split())
    assert not runs.exists()


def test_a_password_in_the_url_is_never_recorded_nor_printed(postgres, tmp_path, capsys, local_ray):
    # the server trusts 127.0.0.1, so it connects whatever the password; the run must still drop it
    secret = "s3cret-pw"
    with_password = postgres.replace("axiomatic@", f"axiomatic:{secret}@")
    runs = tmp_path / "runs"
    path = study_file(tmp_path, name="pgpw", seeds=[0], train={"lr": 3e-3, "batch_size": 64, "epochs": 1,
                                                               "device": "cpu"})
    code, report, err = run(["study", path, "--runs-dir", str(runs), "--optuna-storage", with_password, "--json"],
                            capsys)
    assert code == 0, err
    assert report["optuna"]["storage"] == postgres
    recorded = (runs / "pgpw" / "optuna_storage.json").read_text()
    assert secret not in recorded and json.loads(recorded)["url"] == postgres

    refused = with_password.replace(postgres.rsplit(":", 1)[1].split("/")[0], str(free_port()))
    code, _, err = run(["study", study_file(tmp_path, name="pgpw2"), "--runs-dir", str(runs),
                        "--optuna-storage", refused], capsys)
    assert code == 2 and "cannot connect" in err and secret not in err


def test_a_database_lost_mid_study_is_said_and_the_exit_is_not_0(tmp_path):
    with postgres_server() as (url, stop):
        # epochs enough that the second arm cannot finish while the database is being stopped
        # (3 epochs took about 2 s a cell on an idle machine, and it sometimes did)
        path = study_file(tmp_path, name="pglost", seeds=[0], optuna_storage=url,
                          train={"lr": 3e-3, "batch_size": 32, "epochs": 15, "device": "cpu"},
                          search={"algorithm": "grid", "max_concurrent": 1})
        ledger = Ledger(tmp_path / "runs" / "pglost")
        runner = platform(["study", path], tmp_path)
        deadline = time.time() + 300
        while time.time() < deadline and not any(c.finished for c in _cells(ledger)):
            time.sleep(0.3)  # until the first arm has its result
        assert runner.poll() is None, "the study ended before its database could be stopped"
        stop()  # for good: the second arm can be neither asked for nor told
        output = " ".join(runner.communicate(timeout=300)[0].decode().split())
    assert runner.returncode == 1, output[-3000:]
    assert f"the Optuna database {url} stopped answering" in output, output[-6000:]
    assert "the run is incomplete" in output
    assert f"rerun 'platform study {path}' to finish the study" in output and "Traceback" not in output


def _cells(ledger: Ledger):
    try:
        return ledger.cells()
    except FileNotFoundError:  # the run directory is not there yet
        return []
