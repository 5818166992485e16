"""The one-call GPU reproduction script, run on a CPU with --tiny: the path a GPU session runs
(the reproduction, the throughput table of bench/throughput.py, then several cells sharing the
device through bench/trials_per_device.py)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_reproduce_tiny_trains_scores_and_writes_the_paper_style_table(tmp_path, published_dir):
    # published_dir: configs/gpu_reproduce.yaml scores the published files; skipped without them
    out = tmp_path / "out"
    env = {**os.environ, "AXIOMATIC_CACHE": str(tmp_path / "cache"), "AXIOMATIC_PUBLISHED_DIR": str(published_dir)}
    # a budget the step timing alone spends: the run trains the floor of 50 steps, not as many as fit
    # in a longer budget (which a test would only wait for)
    done = subprocess.run(["bash", str(REPO / "bench" / "gpu_reproduce.sh"), str(out), "--tiny",
                           "--minutes", "0.05"], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result = json.loads((out / "reproduce.json").read_text())
    assert result["tiny"] and result["steps"] >= 50
    assert result["run"]["model"]["pe"] == "none" and result["run"]["data"]["questions_per_premise"] == 4
    table = (out / "reproduce.md").read_text()
    for row in ("| this run (pe=none) |", "| mention order |", "| direct edge |", "| paper TS2 NoPE |"):
        assert row in table, row
    assert "### Reversal" in table and "reversed_chain/len=3" in " ".join(result["run"]["suites"])
    assert (out / "log.txt").read_text().strip()
    # the throughput table beside it: the paper recipe, fast and packed rows, one JSON object
    throughput = json.loads((out / "throughput.json").read_text())
    assert throughput["device"].startswith("CPU")
    rows = {row["recipe"]: row for row in throughput["rows"]}
    assert set(rows) == {"paper", "fast", "fast, packed", "file", "file, packed"}
    for row in rows.values():
        assert row["examples_per_s"] > 0 and 0 < row["mfu"] < 1 and 0 <= row["padding"] < 1
    assert rows["file, packed"]["padding"] < rows["paper"]["padding"]
    assert "| fast, packed |" in (out / "throughput.md").read_text()
    # evaluation timed beside training, packed in the packed sections
    assert all(row["eval_questions_per_s"] > 0 for row in rows.values())
    # cells sharing the device: one study per concurrency, every cell finished, speed-up against one
    trials = json.loads((out / "trials_per_device.json").read_text())
    assert [row["concurrent"] for row in trials["rows"]] == [1, 2]
    assert [row["resources"]["cpu"] for row in trials["rows"]] == [trials["ray_cpus"], trials["ray_cpus"] / 2]
    assert trials["rows"][0]["speedup"] == 1 and all(row["cells_per_minute"] > 0 for row in trials["rows"])
    assert "| 2 |" in (out / "trials_per_device.md").read_text()


def test_gpu_reproduce_refuses_an_unknown_part_before_writing_anything(tmp_path):
    out = tmp_path / "out"
    done = subprocess.run(["bash", str(REPO / "bench" / "gpu_reproduce.sh"), str(out), "--tiny", "--parts",
                           "throughput,speed"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "unknown part 'speed'" in done.stderr
    assert not out.exists()
