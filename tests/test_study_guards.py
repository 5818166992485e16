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
