"""axiomatic.Study and platform diff on a real local Ray, real Optuna SQLite storages and real
(tiny) training. docs/api.md's worked example is the module's study: it runs once, as written,
and every test reads that run (and one more, for comparisons)."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import numpy as np
import optuna
import pytest
import yaml
from scipy import stats

from axiomatic import Study, cli
from axiomatic.errors import AxiomaticError, UserError
from axiomatic.ray_session import ray_session
from axiomatic.study import validate_study
from axiomatic.study.comparison import RunRecords, compare_runs
from axiomatic.study.lease import Lease
from axiomatic.study.results import welch_ci

API_DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def doc_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", API_DOC.read_text(), flags=re.S)


@pytest.fixture(scope="module")
def local_ray():
    with ray_session(num_cpus=2, log_to_driver=False):
        yield


@pytest.fixture(scope="module")
def example(tmp_path_factory, local_ray):
    """docs/api.md's worked example, run as written in a directory of its own: its namespace."""
    here = tmp_path_factory.mktemp("api-example")
    (here / "tiny.yaml").write_text(doc_blocks("yaml")[0])
    namespace: dict = {}
    before = os.getcwd()
    os.chdir(here)
    try:
        for block in doc_blocks("python"):
            exec(compile(block, str(API_DOC), "exec"), namespace)
    finally:
        os.chdir(before)
    namespace["here"] = here
    return namespace


@pytest.fixture(scope="module")
def second_run(example):
    """The example's study with another learning rate and NoPE against learned positions instead
    of RoPE, on the same seeds: one arm shared, one only in each run."""
    raw = yaml.safe_load(doc_blocks("yaml")[0])
    raw["train"]["lr"] = 1.0e-2
    raw["model"]["pe"] = {"grid": ["none", "learned"]}
    study = Study.open(raw, runs_dir=example["here"] / "second")
    assert study.run().complete
    return study


def test_the_worked_example_runs_every_cell_and_reports_it(example):
    study, frame = example["study"], example["frame"]
    cells = study.ledger.cells()
    assert example["outcome"].complete and example["outcome"].cells_total == len(cells) == 4
    assert all(c.status == "done" for c in cells)
    assert study.location.local_path == example["here"] / "runs" / "tiny"
    # the example's plan counted the cells that then ran
    assert example["plan"]["cells"] == 4 and example["plan"]["arm_names"] == ["pe=none", "pe=rope"]
    # the report's means are the seeds' means
    for arm in example["report"].arms:
        values = [c.metrics["val/acc"] for c in cells if c.arm == arm.arm]
        assert arm.metrics["val/acc"]["mean"] == pytest.approx(np.mean(values))
    assert [c.arm for c in example["report"].comparisons] == ["pe=rope"]
    # the Optuna database the run recorded holds one trial per arm
    database = study.optuna_database
    trials = optuna.load_study(study_name=database.study_name, storage=database.url).trials
    assert sorted(t.params["model.pe"] for t in trials if t.state.name == "COMPLETE") == ["none", "rope"]
    # the data frame: a row per cell, a column per parameter and per metric, the cells' values
    assert len(frame) == 4 and {"arm", "arm_id", "seed", "status", "model.pe", "val/acc"} <= set(frame.columns)
    for cell in cells:
        row = frame[(frame["arm"] == cell.arm) & (frame["seed"] == cell.seed)].iloc[0]
        assert row["model.pe"] == cell.params["model.pe"] and row["status"] == "done"
        assert row["val/acc"] == cell.metrics["val/acc"]
        assert row["suite/reversed_chain/len=3/acc"] == cell.metrics["suite/reversed_chain/len=3/acc"]


def test_load_reads_the_run_back_as_the_running_object_sees_it(example):
    study, loaded = example["study"], example["finished"]
    assert loaded.spec.fingerprint() == study.spec.fingerprint()
    assert loaded.report().to_json()["arms"] == study.report().to_json()["arms"]
    assert loaded.optuna_database == study.optuna_database


def test_plan_through_the_api_is_what_platform_plan_prints(example, capsys):
    path = example["here"] / "tiny.yaml"
    assert cli.main(["plan", str(path), "--no-calibrate", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(Study.open(path).plan(calibrate=False)))


def test_a_spec_or_a_mapping_opens_the_study_its_file_describes(example):
    raw = yaml.safe_load(doc_blocks("yaml")[0])
    from_file = Study.open(example["here"] / "tiny.yaml")
    for given in (raw, validate_study(raw, "given")):
        study = Study.open(given)
        assert study.spec.fingerprint() == from_file.spec.fingerprint()
        assert study.spec.seeds == [0, 1]


def test_bad_input_raises_the_error_the_command_line_exits_2_with(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nmodel: {pe: spiral}\ntrain: {lr: -1.0}\n")
    with pytest.raises(UserError) as raised:
        Study.open(bad, runs_dir=tmp_path / "runs")
    assert isinstance(raised.value, AxiomaticError)
    assert "model.pe: pe must be one of" in str(raised.value) and "train.lr" in str(raised.value)
    assert cli.main(["study", str(bad), "--runs-dir", str(tmp_path / "runs")]) == 2
    printed = capsys.readouterr().err
    for problem in str(raised.value).splitlines()[1:]:  # the same problems, a line each
        assert problem.strip()[:60] in printed
    with pytest.raises(UserError, match="no such file"):
        Study.open(tmp_path / "missing.yaml")
    with pytest.raises(UserError, match="not a study run directory"):
        Study.load(tmp_path)
    assert not (tmp_path / "runs").exists()


def test_run_refuses_a_changed_study_and_a_second_driver(example):
    here = example["here"]
    before = sorted(p.name for p in (here / "runs" / "tiny" / "cells").iterdir())
    raw = yaml.safe_load(doc_blocks("yaml")[0])
    raw["model"]["d_model"] = 48
    with pytest.raises(UserError, match=r"(?s)differ from the existing run.*d_model.*--new"):
        Study.open(raw, runs_dir=here / "runs").run()
    other = Lease(example["study"].location.parent, "tiny", "tiny")
    other.take(print)
    try:
        with pytest.raises(UserError, match="another 'platform study' is running on this study"):
            Study.open(here / "tiny.yaml", runs_dir=here / "runs").run()
    finally:
        other.release()
    assert sorted(p.name for p in (here / "runs" / "tiny" / "cells").iterdir()) == before


def test_to_dataframe_names_pandas_when_it_is_missing(example, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # what importing an uninstalled package does
    with pytest.raises(ModuleNotFoundError, match="pandas"):
        example["study"].to_dataframe()


def test_compare_pairs_arms_by_parameters_and_seeds_and_names_what_changed(example, second_run):
    first = example["study"]
    comparison = first.compare(second_run)
    assert "lr" in comparison.spec_diff and "learned" in comparison.spec_diff
    assert comparison.only_in_first == ["pe=rope"] and comparison.only_in_second == ["pe=learned"]
    assert {d.arm for d in comparison.differences} == {"pe=none"}
    by_metric = {d.metric: d for d in comparison.differences}
    assert {"val/acc", "val/loss", "suite/reversed_chain/len=3/acc"} <= set(by_metric)
    assert "epoch" not in by_metric  # bookkeeping, not a measure
    loss = by_metric["val/loss"]
    ours = {c.seed: c.metrics["val/loss"] for c in first.ledger.cells() if c.arm == "pe=none"}
    theirs = {c.seed: c.metrics["val/loss"] for c in second_run.ledger.cells() if c.arm == "pe=none"}
    expected = stats.ttest_rel([theirs[s] for s in (0, 1)], [ours[s] for s in (0, 1)]).confidence_interval()
    assert loss.test == "paired" and loss.seeds_first == loss.seeds_second == 2
    assert loss.difference == pytest.approx(np.mean(list(theirs.values())) - np.mean(list(ours.values())))
    assert (loss.ci_low, loss.ci_high) == pytest.approx((expected.low, expected.high))


def test_compare_uses_welch_where_the_seeds_differ(example):
    records = example["study"].ledger.records()
    renamed = [{**record, "seed": record["seed"] + 10} for record in records]
    fingerprint = {"same": True}
    comparison = compare_runs(RunRecords("a", records, fingerprint), RunRecords("b", renamed, fingerprint))
    loss = next(d for d in comparison.differences if d.arm == "pe=none" and d.metric == "val/loss")
    values = [r["metrics"]["val/loss"] for r in records if r["arm"] == "pe=none"]
    assert loss.test == "welch" and loss.difference == pytest.approx(0.0)
    assert loss.ci_low < 0 < loss.ci_high and comparison.spec_diff == ""
    expected = stats.ttest_ind(values, values, equal_var=False).confidence_interval()
    assert (loss.ci_low, loss.ci_high) == pytest.approx((expected.low, expected.high))


def test_welch_interval_is_scipys():
    first, second = [0.5, 0.6, 0.7], [0.8, 0.7, 0.9, 0.95]
    expected = stats.ttest_ind(second, first, equal_var=False).confidence_interval()
    found = welch_ci(first, second)
    assert found["mean"] == pytest.approx(np.mean(second) - np.mean(first))
    assert (found["ci_low"], found["ci_high"]) == pytest.approx((expected.low, expected.high))
    assert welch_ci([0.5], second)["ci_low"] is None and welch_ci([], second) is None


def test_platform_diff_prints_json_markdown_and_a_table(example, second_run, capsys):
    first, second = str(example["study"].location.local_path), str(second_run.location.local_path)
    assert cli.main(["diff", first, second, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(example["study"].compare(second_run).to_json()))
    assert printed["only_in_first"] == ["pe=rope"] and printed["differences"]
    assert cli.main(["diff", first, second, "--markdown"]) == 0
    markdown = capsys.readouterr().out
    assert "## What changed in the spec" in markdown and "| pe=none | val/acc | paired | 2 / 2 |" in markdown
    assert f"## Arms only in `{second}`" in markdown and "- pe=learned" in markdown
    assert cli.main(["diff", first, second]) == 0
    table = capsys.readouterr().out
    assert "what changed in the spec" in table and "pe=none" in table and "only in" in table


def test_platform_diff_of_a_directory_that_is_no_run_is_exit_2(example, tmp_path, capsys):
    assert cli.main(["diff", str(example["study"].location.local_path), str(tmp_path)]) == 2
    assert "not a study run directory" in " ".join(capsys.readouterr().err.split())  # rich wraps it


def test_the_working_copy_of_a_study_in_object_storage_is_removed_at_exit():
    # Study.load of an s3:// or memory:// run reads through a local scratch directory; a
    # notebook or test that loads many must not leave one behind per load
    import subprocess

    code = "from axiomatic.api.study import _scratch; path = _scratch(); (path / 'x').write_text('1'); print(path)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "platform")})
    path = Path(out.stdout.strip())
    assert path.name.startswith("axiomatic-report-") and not path.exists()
