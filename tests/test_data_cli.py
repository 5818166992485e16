"""`platform data generate|suites|show`: files written, JSON printed, bad input refused (exit 2)."""

import json
import subprocess
import sys
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from axiomatic import cli
from axiomatic.data import baselines, mixtures, suites, text
from axiomatic.data.dataset import Dataset

ARRAY_FILES = ("tokens.npy", "lengths.npy", "labels.npy", "categories.npy", "nodes.npy")


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def console_script() -> list[str]:
    script = Path(sys.executable).with_name("platform")
    return [str(script)] if script.exists() else [sys.executable, "-m", "axiomatic.cli"]


@pytest.fixture(scope="module")
def ts2_dir(tmp_path_factory, session_cache):
    """One `data generate --jsonl` run shared by the tests that read what it wrote."""
    out = tmp_path_factory.mktemp("cli") / "ts2"
    mp = pytest.MonkeyPatch()
    mp.setenv("AXIOMATIC_CACHE", str(session_cache))
    try:
        code = cli.main(["data", "generate", "--preset", "TS2", "--size", "2000", "--seed", "1",
                         "--out", str(out), "--jsonl"])
    finally:
        mp.undo()
    assert code == 0
    return out


def test_generate_writes_arrays_manifest_and_jsonl(ts2_dir):
    names = sorted(p.name for p in ts2_dir.iterdir())
    assert names == sorted([*ARRAY_FILES, "manifest.json", "instances.jsonl"])
    assert not [p for p in ts2_dir.parent.iterdir() if p.name.startswith(".ts2-")]  # no temp dir left

    data = Dataset.load(ts2_dir)
    assert len(data) == 2000 and int(data.labels.sum()) == 1000
    assert data.tokens.dtype == np.uint8

    manifest = json.loads((ts2_dir / "manifest.json").read_text())
    assert manifest["spec"]["seed"] == 1 and manifest["spec"]["size"] == 2000
    assert manifest["spec"]["perturbation"] == 1.0
    assert manifest["counts"]["n"] == 2000 and manifest["counts"]["yes"] == 1000
    assert manifest["leakage"]["checked_suites"] == len(suites.task_suites("transitivity"))
    assert manifest["leakage"]["shared"] == 0
    # Same arrays as generating the spec directly, less any rows the leakage check dropped.
    direct = mixtures.generate(mixtures.preset("TS2", size=2000, seed=1))
    assert manifest["leakage"]["dropped"] == 0
    assert direct.tokens.tobytes() == data.tokens.tobytes()
    assert direct.labels.tobytes() == data.labels.tobytes()


def test_generate_jsonl_has_one_record_per_line(ts2_dir):
    data = Dataset.load(ts2_dir)
    lines = (ts2_dir / "instances.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2000
    for i, line in enumerate(lines):
        record = json.loads(line)
        assert set(record) == {"premise", "hypothesis", "label"}
        assert record["label"] == ("Yes" if data.labels[i] else "No")
        if i % 20 == 0:  # an independent reading of 100 of them
            parsed = text.parse(record["premise"], record["hypothesis"])
            assert nx.has_path(nx.DiGraph(parsed.edges), parsed.x, parsed.y) == (record["label"] == "Yes")
    # The file is valid input for the platform itself.
    again = suites.dataset_from_jsonl(ts2_dir / "instances.jsonl")
    assert again.tokens.tobytes() == data.tokens.tobytes()


def test_generate_json_prints_one_document(capsys, ts2_dir, tmp_path):
    out = tmp_path / "again"
    code, stdout, _ = run_cli(capsys, "data", "generate", "--preset", "TS2", "--size", "2000",
                              "--seed", "1", "--out", str(out), "--json")
    assert code == 0
    document = json.loads(stdout)  # exactly one JSON document, nothing else on stdout
    assert set(document) == {"out", "manifest"}
    assert Path(document["out"]) == out.resolve()
    first = json.loads((ts2_dir / "manifest.json").read_text())
    assert document["manifest"] == first  # the same spec: served from the cache
    assert not (out / "instances.jsonl").exists()


def test_generate_table_output(capsys, tmp_path):
    code, stdout, _ = run_cli(capsys, "data", "generate", "--preset", "OCC", "--size", "300",
                              "--out", str(tmp_path / "occ"))
    assert code == 0
    assert "training set" in stdout and "mention order" in stdout and "leakage" in stdout


def test_generate_knobs_reach_the_spec(capsys, tmp_path):
    code, stdout, _ = run_cli(capsys, "data", "generate", "--perturbation", "2.5", "--size", "400",
                              "--chain-lengths", "4", "7", "--name-length", "2", "4", "--flip-prob", "0.3",
                              "--shuffle-share", "0.5", "--hypotheses-per-premise", "2", "--uniform",
                              "--out", str(tmp_path / "knobs"), "--json")
    assert code == 0
    spec = json.loads(stdout)["manifest"]["spec"]
    assert spec["perturbation"] == 2.5 and spec["chain_lengths"] == [4, 7]
    assert spec["name_length"] == [2, 4] and spec["flip_prob"] == 0.3
    assert spec["shuffle_share"] == 0.5 and spec["hypotheses_per_premise"] == 2
    assert spec["balance"] is False
    data = Dataset.load(tmp_path / "knobs")
    assert len(data) == 400 and set(np.unique(data.nodes)) <= {4, 5, 6, 7}


def test_suites_json_through_the_console_script():
    result = subprocess.run([*console_script(), "data", "suites", "--json"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    names = json.loads(result.stdout)["suites"]
    assert names[: len(suites.generated_names())] == suites.generated_names()
    assert names == suites.all_names()


def test_suites_table(capsys):
    code, stdout, _ = run_cli(capsys, "data", "suites")
    assert code == 0
    for family in suites.FAMILIES:
        assert family in stdout


def test_show_json(capsys):
    code, stdout, _ = run_cli(capsys, "data", "show", "flipped_chain/len=9", "--json")
    assert code == 0
    shown = json.loads(stdout)
    assert {"suite", "n", "yes_share", "baselines", "examples"} <= set(shown)
    assert shown["suite"] == "flipped_chain/len=9" and shown["n"] == 500 and shown["yes_share"] == 0.5
    assert set(shown["baselines"]) == {*baselines.NAMES, "yes_share"}
    assert shown["baselines"]["direct_edge"] == pytest.approx(0.75)
    assert len(shown["examples"]) == 5
    data = suites.build("flipped_chain/len=9")
    assert [tuple(e.values()) for e in shown["examples"]] == [data.text(i) for i in range(5)]


def test_show_published(capsys, published_dir):
    code, stdout, _ = run_cli(capsys, "data", "show", "published/transitivity/reversed_chain/len=4",
                              "--examples", "2", "--published-dir", str(published_dir), "--json")
    assert code == 0
    shown = json.loads(stdout)
    assert shown["baselines"]["mention_order"] == pytest.approx(0.168)
    assert shown["baselines"]["direct_edge"] == pytest.approx(0.75)
    assert len(shown["examples"]) == 2


def test_show_table(capsys):
    code, stdout, _ = run_cli(capsys, "data", "show", "reversed_chain/len=3", "--examples", "3")
    assert code == 0
    assert "shortcut baselines" in stdout and "Does" in stdout


# ---------------------------------------------------------------- bad input: exit 2, nothing written

@pytest.mark.parametrize("args, field", [
    (["--chain-lengths", "1", "5"], "chain_lengths"),
    (["--chain-lengths", "6", "4"], "chain_lengths"),
    (["--flip-prob", "1.5"], "flip_prob"),
    (["--flip-prob", "-0.2"], "flip_prob"),
    (["--preset", "TS9"], "--preset"),
    (["--size", "0"], "size"),
    (["--size", "-3"], "size"),
    (["--name-length", "5", "2"], "name_length"),
    (["--perturbation", "3.5"], "perturbation"),
    (["--shuffle-share", "1.2"], "shuffle_share"),
    (["--hypotheses-per-premise", "0"], "hypotheses_per_premise"),
])
def test_generate_bad_input(capsys, tmp_path, monkeypatch, args, field):
    cache = tmp_path / "cache"
    monkeypatch.setenv("AXIOMATIC_CACHE", str(cache))
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(capsys, "data", "generate", *args, "--out", str(out))
    assert code == 2
    assert field in stderr and "error" in stderr
    assert not out.exists() and not cache.exists()
    assert list(tmp_path.iterdir()) == []  # no temp dir either
    assert stdout == ""


def test_generate_bad_input_through_the_console_script(tmp_path):
    out = tmp_path / "out"
    result = subprocess.run([*console_script(), "data", "generate", "--chain-lengths", "1", "4",
                             "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "chain_lengths" in result.stderr
    assert not out.exists()


@pytest.mark.parametrize("suite", ["nope/len=3", "flipped_chain/len=99", "nope",
                                   "published/transitivity/nope/len=3"])
def test_show_unknown_suite(capsys, suite):
    code, stdout, stderr = run_cli(capsys, "data", "show", suite, "--json")
    assert code == 2
    assert "suite" in stderr and repr(suite) in stderr.replace("\n", "")
    assert stdout == ""


def test_no_command_prints_help(capsys):
    code, stdout, _ = run_cli(capsys)
    assert code == 2 and "data" in stdout
