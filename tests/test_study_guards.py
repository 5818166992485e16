"""Input a study must refuse, and output it must keep readable (issue 29): a storage that looks
like a mistyped URI or is empty, a packing no cell can train with, resources that are no
resources, and the live console's last line in a file."""

from __future__ import annotations

import io

import pytest

from test_faults import small_spec
from test_study_run import run, study_file


def test_a_storage_that_looks_like_a_mistyped_uri_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = study_file(tmp_path, name="typo")
    code, _, err = run(["study", path, "--storage", "s3:/x", "--runs-dir", str(tmp_path / "runs")], capsys)
    assert code == 2 and "--storage: storage s3:/x: looks like a mistyped URI" in " ".join(err.split())
    assert not (tmp_path / "s3:").exists() and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("where", ["file", "option"])
def test_an_empty_storage_is_refused_from_the_file_and_the_command_line(tmp_path, capsys, monkeypatch, where):
    monkeypatch.chdir(tmp_path)
    if where == "file":
        path = study_file(tmp_path, name="empty", storage="")
        expected, args = "storage: empty", []
    else:
        path = study_file(tmp_path, name="empty")
        expected, args = "--storage: empty", ["--storage", ""]
    code, _, err = run(["study", path, "--runs-dir", str(tmp_path / "runs"), *args], capsys)
    assert code == 2 and expected in err
    assert not (tmp_path / "empty").exists() and not (tmp_path / "runs").exists()


def test_the_live_console_ends_its_last_line_in_a_file():
    from rich.console import Console

    from axiomatic.report.console import LiveConsole
    from axiomatic.study.progress import search_progress

    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=100)
    with LiveConsole(small_spec(), console) as live:
        live.attach(lambda: search_progress([], "val/acc", 2))
    console.print("Length generalisation")
    assert "\nLength generalisation" in out.getvalue()


def test_a_packing_the_plan_refuses_is_refused_by_the_study_before_any_cell(tmp_path, capsys):
    runs = tmp_path / "runs"
    path = study_file(tmp_path, name="packed", train={"lr": 3e-3, "pack_length": 8, "batch_tokens": 64,
                                                      "epochs": 1, "device": "cpu"})
    for command in (["plan", path, "--no-calibrate"], ["study", path, "--runs-dir", str(runs)]):
        code, _, err = run(command, capsys)
        assert code == 2 and "train.pack_length=8 is shorter than the longest training row" in " ".join(err.split())
    assert not runs.exists()


@pytest.mark.parametrize("resources, train, expected", [
    ({"custom": {"GPU": 1}}, {},
     "resources.custom.GPU: one of Ray's own resources, not a custom one: use resources.gpu"),
    ({"custom": {"gpu_node": True}}, {}, "resources.custom.gpu_node"),
    ({}, {"pack_length": True, "batch_tokens": 64}, "train.pack_length: expected a number, got a boolean (true)"),
], ids=["GPU as a custom resource", "a boolean amount", "a boolean pack_length"])
def test_resources_and_numbers_that_are_not_are_refused(tmp_path, capsys, resources, train, expected):
    runs = tmp_path / "runs"
    path = study_file(tmp_path, name="odd", resources={"cpu": 1, "workers": 1, **resources},
                      train={"lr": 3e-3, "epochs": 1, "device": "cpu", **train})
    code, _, err = run(["study", path, "--runs-dir", str(runs)], capsys)
    assert code == 2 and expected in " ".join(err.split()), err
    assert not runs.exists()


def test_a_custom_resource_the_cluster_lacks_is_refused_before_the_run_is_written(tmp_path, capsys):
    from axiomatic.study.ledger import Ledger

    runs = tmp_path / "runs"
    path = study_file(tmp_path, name="pinned", resources={"cpu": 1, "workers": 1, "custom": {"gpu_node": 1}})
    code, _, err = run(["study", path, "--runs-dir", str(runs)], capsys)
    assert code == 2 and "gpu_node 1" in err and "gpu_node 0" in " ".join(err.split())
    ledger = Ledger(runs / "pinned")
    assert not ledger.exists() and not ledger.root.exists("study.yaml") and not ledger.cells()
