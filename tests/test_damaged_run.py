"""A run in object storage with a damaged object (issue 29): the report names each object it
cannot read and what is wrong, renders the rest and exits 2; a rerun refuses to start, naming it.
Real moto S3 server, real Ray, real Optuna."""

from __future__ import annotations

import json
import shlex
import time

import pytest

from axiomatic import cli
from axiomatic.location import ATTEMPTS_ENV, Location, without_query
from axiomatic.ray_session import ray_session
from support.s3_server import s3_bucket, under
from test_study_run import study_file

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def kept_run(tmp_path_factory):
    """A finished study of 2 arms x 1 seed kept in a bucket: (study file, storage, run root)."""
    tmp = tmp_path_factory.mktemp("damaged")
    with s3_bucket() as bucket, ray_session(num_cpus=2, log_to_driver=False):
        storage = under(bucket, "runs")
        path = study_file(tmp, name="damaged", seeds=[0])
        assert cli.main(["study", path, "--storage", storage, "--runs-dir", str(tmp / "driver"), "--json"]) == 0
        yield path, storage, Location(storage) / "damaged"


def outcome(argv, capsys) -> tuple[int, dict | None, str]:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip().startswith("{") else None), " ".join(err.split())


def first_cell(root: Location) -> str:
    return (root / "cells").subdirectories()[0]


DAMAGE = {
    "metrics.jsonl garbage": ("cells/{cell}/metrics.jsonl", b"\xffgarbage", "not UTF-8 text"),
    "metrics.jsonl not JSON": ("cells/{cell}/metrics.jsonl", b"{garbage\n", "not JSON"),
    "cell.json garbage": ("cells/{cell}/cell.json", b"garbage", "not JSON"),
    "cell.json empty": ("cells/{cell}/cell.json", b"", "not JSON"),
    "cell.json without its seed": ("cells/{cell}/cell.json", None, "not a record of the expected shape"),
}


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_the_report_names_a_damaged_object_and_renders_the_rest(kept_run, capsys, damage):
    _, _, root = kept_run
    name, spoiled, reason = DAMAGE[damage]
    name = name.format(cell=first_cell(root))
    kept = root.read_bytes(name)
    if spoiled is None:  # a field missing
        spoiled = json.dumps({k: v for k, v in json.loads(kept).items() if k != "seed"}).encode()
    root.write_bytes(name, spoiled)
    try:
        code, report, err = outcome(["report", root.uri, "--json"], capsys)
    finally:
        root.write_bytes(name, kept)
    where = f"{without_query(root.uri)}/{name}"
    assert code == 2 and f"unreadable {where}: {reason}" in err and "Traceback" not in err
    assert report["unreadable"][0].startswith(f"{where}: {reason}")
    assert len(report["arms"]) == (1 if name.endswith("cell.json") else 2)  # what can be read is rendered


@pytest.mark.parametrize("spoil", ["garbage", "deleted"])
def test_a_damaged_or_missing_study_file_is_named(kept_run, capsys, spoil):
    _, _, root = kept_run
    kept = root.read_bytes("study.yaml")
    if spoil == "deleted":
        root.delete("study.yaml")
    else:
        root.write_bytes("study.yaml", b"name: [unclosed\n")
    try:
        code, _, err = outcome(["report", root.uri], capsys)
    finally:
        root.write_bytes("study.yaml", kept)
    assert code == 2 and f"{without_query(root.uri)}/study.yaml:" in err and "Traceback" not in err


@pytest.mark.parametrize("name, expected", [
    ("cells/{cell}/metrics.jsonl", "not JSON"),
    ("optuna.db", "the run's Optuna trials cannot be read (file is not a database)"),
])
def test_a_rerun_refuses_a_damaged_object_naming_it(kept_run, capsys, tmp_path, name, expected):
    path, storage, root = kept_run
    name = name.format(cell=first_cell(root))
    kept = root.read_bytes(name)
    root.write_bytes(name, b"{garbage\n" * 200)
    try:
        with ray_session(num_cpus=2, log_to_driver=False):
            code, _, err = outcome(["study", path, "--storage", storage, "--runs-dir", str(tmp_path)], capsys)
    finally:
        root.write_bytes(name, kept)
    assert code == 2 and f"{without_query(root.uri)}/{name}: {expected}" in err and "Traceback" not in err


def test_a_storage_gone_mid_study_is_named_with_how_to_resume(tmp_path, monkeypatch):
    from support.s3_server import s3_server, take_away
    from test_study_resume import platform

    # each request to the gone server tried twice, not 3 times: under a second of retries each, not 6 s
    monkeypatch.setenv(ATTEMPTS_ENV, "2")
    with s3_server() as (bucket, server):
        storage = under(bucket, "runs")
        path = study_file(tmp_path, name="gone", seeds=[0], search={"algorithm": "grid", "max_concurrent": 1},
                          train={"lr": 3e-3, "batch_size": 32, "epochs": 3, "device": "cpu"})
        root = Location(storage) / "gone"
        runner = platform(["study", path, "--storage", storage], tmp_path)
        deadline = time.time() + 300
        while time.time() < deadline and not root.exists("cells"):
            time.sleep(0.3)  # until the first cell runs
        assert runner.poll() is None, "the study ended before its storage went away"
        take_away(server)
        output = " ".join(runner.communicate(timeout=300)[0].decode().split())
    assert runner.returncode == 1, output[-3000:]
    assert f"the study's storage {without_query(root.uri)} stopped answering" in output, output[-3000:]
    assert f"rerun '{shlex.join(['platform', 'study', path, '--storage', storage])}' to resume" in output
    assert "Traceback" not in output, output[-3000:]
