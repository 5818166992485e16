"""`platform train` and `platform eval`: JSON output, resume, suites and files, bad input (exit 2)."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import pytest
import torch

from axiomatic import cli

RUN_YAML = """\
data: {preset: TS2, size: 1000}
model: {preset: tiny, dropout: 0.0}
train: {recipe: paper, epochs: 1, batch_size: 64, lr: 0.003, device: cpu}
suites: [reversed_chain/len=3]
"""




def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def says(stderr: str, expected: str) -> bool:
    """``expected`` is in the message; rich wraps lines (even inside a long path), so whitespace
    is ignored on both sides."""
    return "".join(expected.split()) in "".join(stderr.split())


@pytest.fixture(scope="module")
def trained(tmp_path_factory, session_cache):
    """One short `platform train --json` run: (config path, out dir, its printed JSON)."""
    root = tmp_path_factory.mktemp("train-cli")
    config = root / "run.yaml"
    config.write_text(RUN_YAML)
    out = root / "out"
    mp = pytest.MonkeyPatch()
    mp.setenv("AXIOMATIC_CACHE", str(session_cache))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # module fixtures run before the function-scoped one_thread
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            code = cli.main(["train", str(config), "--out", str(out), "--json"])
    finally:
        mp.undo()
        torch.set_num_threads(threads)
    assert code == 0
    return config, out, json.loads(printed.getvalue())


@pytest.fixture
def checkpoint_copy(trained, tmp_path):
    """A copy of the trained checkpoint that a test may damage."""
    copy = tmp_path / "checkpoint"
    shutil.copytree(trained[1] / "checkpoint", copy)
    return copy


def edit_state(directory: Path, change) -> None:
    path = directory / "state.json"
    state = json.loads(path.read_text())
    change(state)
    path.write_text(json.dumps(state))


# ---------------------------------------------------------------- train

def test_train_json_prints_checkpoint_and_metrics(trained):
    _, out, printed = trained
    assert set(printed) == {"checkpoint", "metrics"}
    assert printed["checkpoint"] == str(out / "checkpoint")
    assert sorted(p.name for p in (out / "checkpoint").iterdir()) == [
        "model.pt", "optimizer.pt", "rng.pt", "state.json"]
    metrics = printed["metrics"]
    # 1,000 rows, 100 held out for validation: 900 // 64 = 14 steps
    assert (metrics["epoch"], metrics["step"], metrics["finished"]) == (1, 14, 1)
    for key in ("train/loss", "val/acc", "val/loss", "examples_per_s", "suite/reversed_chain/len=3/acc"):
        assert isinstance(metrics[key], float), key
    history = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert history == [metrics]


def test_train_resume_continues_to_the_new_epoch_count(trained, tmp_path, capsys):
    config, out, _ = trained
    longer = tmp_path / "longer.yaml"
    longer.write_text(config.read_text().replace("epochs: 1", "epochs: 2"))
    code, stdout, _ = run_cli(capsys, "train", longer, "--resume", out / "checkpoint",
                              "--out", tmp_path / "resumed")
    assert code == 0
    assert "epoch   2  step     28" in stdout  # one progress line, for the epoch it trained
    assert "epoch   1" not in stdout
    assert "reversed_chain/len=3" in stdout and "checkpoint:" in stdout
    state = json.loads((tmp_path / "resumed" / "checkpoint" / "state.json").read_text())
    assert (state["step"], state["epoch"], state["step_in_epoch"]) == (28, 2, 0)


def history_rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_train_writes_tensorboard_scalars_of_its_history_and_a_resume_replaces_later_steps(
        tmp_path, capsys, tensorboard_scalars):
    config = tmp_path / "run.yaml"
    config.write_text(RUN_YAML.replace("device: cpu", "device: cpu, eval_every: 5"))
    out = tmp_path / "out"
    assert run_cli(capsys, "train", config, "--out", out, "--json")[0] == 0
    rows = history_rows(out)
    assert [row["step"] for row in rows] == [5, 10, 14]
    scalars = tensorboard_scalars(out)
    assert "step" not in scalars
    for name in ("val/acc", "val/loss", "train/loss", "suite/reversed_chain/len=3/acc", "examples_per_s",
                 "seconds", "epoch"):
        assert scalars[name] == pytest.approx({row["step"]: row[name] for row in rows}, rel=1e-6), name

    # resumed from step 10 into the same directory: step 14 is made again, and TensorBoard shows
    # the new evaluation only (history keeps both rows: platform train appends)
    earlier = tmp_path / "step10"
    shutil.copytree(out / "checkpoint.prev", earlier)
    assert json.loads((earlier / "state.json").read_text())["step"] == 10
    assert run_cli(capsys, "train", config, "--out", out, "--resume", earlier, "--json")[0] == 0
    rerun = history_rows(out)[-1]
    assert rerun["step"] == 14 and rerun["seconds"] != rows[-1]["seconds"]
    assert len(list(out.glob("events.out.tfevents.*"))) == 2
    seconds = tensorboard_scalars(out)["seconds"]
    assert seconds == pytest.approx({5: rows[0]["seconds"], 10: rows[1]["seconds"], 14: rerun["seconds"]},
                                    rel=1e-6)


# ---------------------------------------------------------------- eval

def test_eval_published_jsonl_and_suites(trained, published_dir, capsys):
    ckpt = trained[1] / "checkpoint"
    published = published_dir / "transitivity__reversed_chain__3.jsonl"
    # several suites after one --suite, and --suite repeated
    code, stdout, _ = run_cli(capsys, "eval", ckpt, "--jsonl", published, "--suite", "flipped_chain/len=7",
                              "shuffled_chain/len=3", "--suite", "reversed_chain/*", "--json")
    assert code == 0
    scores = json.loads(stdout)
    assert list(scores) == ["flipped_chain/len=7", "shuffled_chain/len=3", "reversed_chain/len=3",
                            "reversed_chain/len=4", "reversed_chain/len=5", "reversed_chain/len=6",
                            str(published)]
    for score in scores.values():
        assert score["n"] == 500 and 0.0 <= score["accuracy"] <= 1.0
        assert {"mention_order", "direct_edge", "majority"} <= set(score)
    assert scores[str(published)]["mention_order"] == pytest.approx(0.336)


def test_eval_by_category_and_by_hops_split_accuracy_and_the_shortcuts(trained, capsys):
    code, stdout, _ = run_cli(capsys, "eval", trained[1] / "checkpoint", "--suite", "flipped_chain/len=7",
                              "--by-category", "--by-hops", "--json")
    assert code == 0
    score = json.loads(stdout)["flipped_chain/len=7"]
    categories = score["by_category"]
    assert list(categories) == ["yes_direct", "yes_multihop", "no_reverse", "no_unrelated"]
    assert all(c["n"] == 125 for c in categories.values())
    assert sum(c["accuracy"] * c["n"] for c in categories.values()) / 500 == pytest.approx(score["accuracy"])
    # the direct-edge rule is right on every direct Yes and wrong on every multi-hop one
    assert categories["yes_direct"]["direct_edge"] == 1.0 and categories["yes_multihop"]["direct_edge"] == 0.0
    hops = score["by_hops"]  # a flipped 7-node chain: pairs 1 to 6 edges apart, all connected
    assert set(hops) <= {f"hops_{k}" for k in range(1, 7)} and "hops_1" in hops
    assert sum(h["n"] for h in hops.values()) == 500
    # one edge apart: the 125 direct Yes and the reversed edges, all of which the direct-edge rule gets
    assert hops["hops_1"]["n"] >= 125 and hops["hops_1"]["direct_edge"] == 1.0


def test_eval_defaults_to_the_runs_suites(trained, capsys):
    code, stdout, _ = run_cli(capsys, "eval", trained[1] / "checkpoint", "--json")
    assert code == 0
    scores = json.loads(stdout)
    assert list(scores) == ["reversed_chain/len=3"]
    assert scores["reversed_chain/len=3"]["accuracy"] == trained[2]["metrics"]["suite/reversed_chain/len=3/acc"]


# ---------------------------------------------------------------- bad input: exit 2, named field

@pytest.mark.parametrize("yaml_text, expected", [
    ("model: {pe: bogus}", "model.pe: pe must be one of none, sinusoidal, learned, rope, alibi; got 'bogus'"),
    ("model: {n_head: 3}", "model.n_head: n_head=3 must divide d_model=64"),
    ("model: {n_layer: 0}", "model.n_layer: n_layer must be a positive integer, got 0"),
    ("model: {d_model: -8}", "model.d_model: d_model must be a positive integer"),
    ("model: {preset: huge}", "model.preset: unknown preset 'huge'; accepted: paper, small, tiny"),
    ("model: {width: 64}", "model.width: unknown key"),
    ("train: {batch_size: 0}", "train.batch_size: Input should be greater than 0"),
    ("train: {recipe: turbo}", "train.recipe: unknown recipe 'turbo'; accepted: paper, fast"),
    ("train: {learning_rate: 0.1}", "train.learning_rate: unknown key"),
    ("data: {preset: TS9}", "data.preset: unknown preset 'TS9'"),
    ("optimizer: {lr: 1}", "optimizer: unknown key"),
    ("suites: [nope/len=3]", "suites: unknown suite 'nope/len=3'"),
    ("- just a list", "expected a mapping at the top level"),
    ("curriculum: [{data: {chain_lengths: [2, 2]}}]", "curriculum.0.steps: Field required"),
    ("curriculum: [{steps: 0}]", "curriculum.0.steps: Input should be greater than 0"),
    ("curriculum: [{steps: 5, data: {chain_lengths: [3, 2]}}]", "curriculum.0.data.chain_lengths"),
    ("curriculum: [{steps: 5, data: {size: 100}, lr: 1}]", "curriculum.0.lr: unknown key"),
    ("curriculum: {steps: 5}", "curriculum: Input should be a valid list"),
    ("train: {pack_length: 256, batch_tokens: 100}",
     "train.batch_tokens: 100 is below one row of train.pack_length=256 tokens"),
    ("train: {pack_length: 256}", "train.batch_tokens: required with train.pack_length"),
    ("train: {batch_tokens: 1024}", "train.batch_tokens: needs train.pack_length"),
    ("train: {pack_length: 256, batch_tokens: 1024, replay: 0.25}",
     "train.replay: not available with train.pack_length"),
    ("train: {pack_length: 0, batch_tokens: 1024}", "train.pack_length: Input should be greater than 0"),
])
def test_train_rejects_bad_config(tmp_path, capsys, yaml_text, expected):
    config = tmp_path / "bad.yaml"
    config.write_text(yaml_text + "\n")
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(capsys, "train", config, "--out", out)
    assert code == 2
    assert says(stderr, str(config)) and says(stderr, expected), stderr
    assert not out.exists()  # refused before anything was written


def test_train_rejects_a_batch_larger_than_the_data(tmp_path, capsys):
    config = tmp_path / "big-batch.yaml"
    config.write_text(RUN_YAML.replace("batch_size: 64", "batch_size: 5000"))
    code, _, stderr = run_cli(capsys, "train", config, "--out", tmp_path / "out")
    assert code == 2
    assert says(stderr, "train.batch_size=5000 exceeds the 900 training rows")


@pytest.mark.parametrize("packing, expected", [
    ("pack_length: 16, batch_tokens: 1024", "train.pack_length=16 is shorter than the longest training row of data"),
    ("pack_length: 128, batch_tokens: 1000000", "train.batch_tokens=1000000 exceeds the"),
])
def test_train_rejects_packing_the_data_cannot_fill(tmp_path, capsys, packing, expected):
    config = tmp_path / "packed.yaml"
    config.write_text(RUN_YAML.replace("batch_size: 64", packing))
    code, _, stderr = run_cli(capsys, "train", config, "--out", tmp_path / "out")
    assert code == 2 and says(stderr, expected), stderr


def test_train_and_eval_reject_a_checkpoint_from_another_tokenizer(trained, checkpoint_copy, capsys):
    edit_state(checkpoint_copy, lambda s: s.update(tokenizer="axiomatic-vocab-1"))
    code, _, stderr = run_cli(capsys, "eval", checkpoint_copy, "--suite", "reversed_chain/len=3")
    assert code == 2
    assert says(stderr, f"{checkpoint_copy / 'state.json'}: field 'tokenizer' is 'axiomatic-vocab-1'")
    code, _, stderr = run_cli(capsys, "train", trained[0], "--resume", checkpoint_copy,
                              "--out", checkpoint_copy.parent / "out")
    assert code == 2 and says(stderr, "field 'tokenizer'")


def test_eval_rejects_weights_that_do_not_fit_the_config(checkpoint_copy, capsys):
    edit_state(checkpoint_copy, lambda s: s["run"]["model"].update(d_model=32))
    code, _, stderr = run_cli(capsys, "eval", checkpoint_copy, "--suite", "reversed_chain/len=3")
    assert code == 2
    assert says(stderr, f"{checkpoint_copy / 'model.pt'}: weights do not fit")
    assert says(stderr, "'run.model'") and says(stderr, "size mismatch for tok_emb.weight")


def test_eval_rejects_a_run_that_is_not_valid(checkpoint_copy, capsys):
    edit_state(checkpoint_copy, lambda s: s["run"]["model"].update(n_head=3))
    code, _, stderr = run_cli(capsys, "eval", checkpoint_copy, "--suite", "reversed_chain/len=3")
    assert code == 2
    assert says(stderr, "field 'run' does not describe a valid run") and says(stderr, "n_head=3")


@pytest.mark.parametrize("line, expected", [
    ('{"premise": "a causes b.", "hypothesis": "Does a cause b?"}', ":1: field 'label' missing"),
    ('{"premise": "a causes b.", "label": "Yes"}', ":1: field 'hypothesis' missing"),
    ('{"premise": "a causes b.", "hypothesis": "Does a cause b?", "label": "yes"}',
     ":1: field 'label' must be 'Yes' or 'No', got 'yes'"),
    ('{"premise": "a causes b.", "hypothesis": "Does a cause b?", "label": "Maybe"}',
     ":1: field 'label' must be 'Yes' or 'No'"),
    ('{"premise": "a makes b.", "hypothesis": "Does a cause b?", "label": "Yes"}',
     ": record 1: premise sentence is not"),
    ("not json", ":1: not valid JSON"),
])
def test_eval_rejects_a_bad_jsonl_file(trained, tmp_path, capsys, line, expected):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(line + "\n")
    code, _, stderr = run_cli(capsys, "eval", trained[1] / "checkpoint", "--jsonl", bad)
    assert code == 2
    assert says(stderr, f"{bad}{expected}"), stderr


@pytest.mark.parametrize("argv, expected", [
    (["--suite", "nope/len=3"], "--suite: unknown suite 'nope/len=3'"),
    (["--suite", "nope/*"], "--suite: unknown suite 'nope/*'"),
    (["--suite", "flipped_chain/len=99"], "--suite: unknown suite 'flipped_chain/len=99'"),
    (["--jsonl", "no-such-file.jsonl"], "no-such-file.jsonl"),
])
def test_eval_rejects_unknown_suites_and_missing_files(trained, capsys, argv, expected):
    code, _, stderr = run_cli(capsys, "eval", trained[1] / "checkpoint", *argv)
    assert code == 2
    assert says(stderr, expected), stderr


def test_eval_rejects_a_directory_that_is_not_a_checkpoint(tmp_path, capsys):
    code, _, stderr = run_cli(capsys, "eval", tmp_path, "--suite", "reversed_chain/len=3")
    assert code == 2
    assert says(stderr, f"{tmp_path}: not a checkpoint (no state.json)")
