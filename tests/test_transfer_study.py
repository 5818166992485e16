"""The transfer protocol through `platform study`: a curriculum stage on an axiom, Corr2Cause as
the main data, k = 0 arms by epochs 0, the Yes-class measures in the report (real local Ray, real
Optuna storage, real tiny training)."""

from __future__ import annotations

import csv
import json

import pytest
import yaml

from axiomatic import cli
from axiomatic.ray_session import ray_session
from axiomatic.study.ledger import Ledger

PRETRAIN_STEPS = 10
SUITE = "corr2cause_minimal/n=5"


@pytest.fixture(scope="module")
def local_ray():
    with ray_session(num_cpus=2, log_to_driver=False):
        yield


def transfer_study(tmp_path) -> str:
    spec = {
        "name": "transfer",
        "curriculum": [{"name": "dseparation", "steps": PRETRAIN_STEPS,
                        "data": {"task": "dseparation", "size": 400, "chain_lengths": [3, 4]}}],
        "data": {"task": "corr2cause", "nodes": [3, 4], "premise": "minimal", "split": "train",
                 "size": 120},
        "model": {"preset": "tiny", "n_layer": 1, "d_model": 32, "n_head": 2, "d_mlp": 64},
        "train": {"lr": 3e-3, "batch_size": 32, "device": "cpu",
                  "stages": {"grid": ["none", "dseparation"]}, "epochs": {"grid": [0, 2]}},
        "seeds": [0],
        "search": {"algorithm": "grid", "arms": [
            {"train.stages": "none", "train.epochs": 2},
            {"train.stages": "dseparation", "train.epochs": 2},
            {"train.stages": "dseparation", "train.epochs": 0}]},
        "objective": {"metric": f"suite/{SUITE}/f1", "mode": "max"},
        "suites": [SUITE],
        "resources": {"cpu": 1, "gpu": 0, "workers": 1},
        "baseline": {"train.stages": "none", "train.epochs": 2},
    }
    path = tmp_path / "transfer.yaml"
    path.write_text(yaml.safe_dump(spec))
    return str(path)


def test_a_tiny_transfer_study_runs_end_to_end(tmp_path, capsys, local_ray):
    runs = tmp_path / "runs"
    code = cli.main(["study", transfer_study(tmp_path), "--runs-dir", str(runs), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads(out)
    cells = {c.arm: c for c in Ledger(runs / "transfer").cells()}
    assert set(cells) == {"epochs=2 stages=none", "epochs=2 stages=dseparation",
                          "epochs=0 stages=dseparation"}
    assert all(c.status == "done" for c in cells.values())
    # 108 training items (12 held out), 3 full batches an epoch: k = 0 stops after the axiom stage
    assert cells["epochs=0 stages=dseparation"].metrics["step"] == PRETRAIN_STEPS
    assert cells["epochs=2 stages=dseparation"].metrics["step"] == PRETRAIN_STEPS + 6
    assert cells["epochs=2 stages=none"].metrics["step"] == 6
    for cell in cells.values():  # every arm is scored on the Yes class as well as accuracy
        assert {f"suite/{SUITE}/{m}" for m in ("acc", "f1", "precision", "recall")} <= set(cell.metrics)
    arms = {a["arm"]: a for a in report["arms"]}
    assert arms["epochs=2 stages=none"]["metrics"][f"suite/{SUITE}/f1"]["mean"] == pytest.approx(
        cells["epochs=2 stages=none"].metrics[f"suite/{SUITE}/f1"])
    # the Markdown report has the Yes-class tables with the always-Yes baseline, and a CSV each
    markdown = (runs / "transfer" / "report" / "table.md").read_text()
    assert "## Yes class: f1" in markdown and "always Yes" in markdown
    rows = list(csv.DictReader((runs / "transfer" / "report" / "yes_f1.csv").open()))
    always_yes = next(r for r in rows if r["row"] == "always Yes")
    assert float(always_yes["mean"]) == pytest.approx(2 * 0.5 / 1.5)  # the suite is balanced
