"""The training core with real torch and a real Ray: overfitting, the single-position loss,
exact resume from a mid-epoch checkpoint, batch order, the schedule, and 2-worker DDP on CPU."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from axiomatic import cli
from axiomatic.data import Store, mixtures, suites, tokenizer
from axiomatic.data.mixtures import DataSpec
from axiomatic.model import Decoder, ModelConfig
from axiomatic.ray_session import ray_session
from axiomatic.study import grid_arms, load_study
from axiomatic.train import checkpoint, launch
from axiomatic.train.config import RunConfig, TrainConfig, build_run, load_yaml
from axiomatic.train.batches import epoch_batches
from axiomatic.train.loop import Trainer, Worker, learning_rate
from axiomatic.train.run_data import RunData, load_data, without_rows_of
from axiomatic.train.objective import answer_loss

REPO = Path(__file__).resolve().parents[1]


def in_memory_run(spec: DataSpec, train: TrainConfig, dropout: float, val_rows: int | None = None):
    """A run and its data built directly, without the store (no suites, no leakage check)."""
    data = mixtures.generate(spec)
    val = data if val_rows is None else data.subset(np.arange(val_rows))
    run = RunConfig(spec, ModelConfig.preset("tiny", vocab_size=tokenizer.VOCAB_SIZE, dropout=dropout), train)
    return run, RunData(train=data, val=val, suites={}, digest="in-memory")


# ---------------------------------------------------------------- learning

def overfit_64(precision: str) -> tuple[dict, list[dict]]:
    # train and val are the same 64 rows: one step per epoch, evaluated after every step
    spec = DataSpec(size=64, seed=3)
    train = TrainConfig(lr=3e-3, batch_size=64, epochs=60, schedule="cosine", min_lr_ratio=0.0,
                        grad_clip=1.0, precision=precision)
    run, data = in_memory_run(spec, train, dropout=0.0)
    history = []
    final = Trainer(run, data, Worker()).fit(lambda metrics, _: history.append(metrics))
    return final, history


def test_tiny_model_overfits_64_examples():
    final, history = overfit_64("fp32")

    assert [m["step"] for m in history] == list(range(1, 61))
    assert final == history[-1] and final["finished"] == 1 and final["epoch"] == 60
    assert history[0]["val/acc"] < 0.9
    assert final["val/acc"] == 1.0, [m["val/acc"] for m in history]
    assert final["val/loss"] < 0.2
    assert final["train/loss"] < history[0]["train/loss"] / 5


def test_bf16_autocast_trains_on_cpu_too():
    # a CPU with native bf16 (AVX512-BF16, AMX) runs the matmuls faster; elsewhere it is slower
    # but still correct. The losses must differ from fp32's, or autocast never ran.
    (_, bf16), (_, fp32) = overfit_64("bf16"), overfit_64("fp32")
    assert bf16[-1]["val/acc"] == 1.0, [m["val/acc"] for m in bf16]
    assert [m["train/loss"] for m in bf16] != [m["train/loss"] for m in fp32]


def test_loss_reads_only_the_last_input_position():
    torch.manual_seed(0)
    model = Decoder(ModelConfig.preset("tiny", vocab_size=tokenizer.VOCAB_SIZE, dropout=0.0)).eval()
    data = mixtures.generate(DataSpec(size=16, seed=7))
    tokens = torch.from_numpy(data.tokens.astype(np.int64))
    lengths = torch.from_numpy(data.lengths.astype(np.int64))
    labels = torch.from_numpy(data.labels.astype(np.int64))
    assert (lengths < tokens.size(1)).any(), "the batch needs rows with padding"

    def loss(t: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return answer_loss(model(t, lengths)[:, None], labels[:, None])[0]

    reference = loss(tokens)

    # junk in the padding region (after lengths-1), and five extra junk columns: no effect
    junk = torch.randint(1, tokenizer.VOCAB_SIZE, (tokens.size(0), tokens.size(1) + 5),
                         generator=torch.Generator().manual_seed(1))
    wide = torch.cat([tokens, torch.zeros(tokens.size(0), 5, dtype=torch.long)], dim=1)
    after_end = torch.arange(wide.size(1)) >= lengths[:, None]
    wide[after_end] = junk[after_end]
    assert not torch.equal(wide[:, : tokens.size(1)], tokens)
    torch.testing.assert_close(loss(wide), reference)

    # the question is part of the input: change the last character of Y (just before the '?')
    assert (tokens[torch.arange(len(lengths)), lengths - 1] == tokenizer.TOKEN_ID["?"]).all()
    changed = tokens.clone()
    rows = torch.arange(len(lengths))
    a, b = tokenizer.TOKEN_ID["a"], tokenizer.TOKEN_ID["b"]
    changed[rows, lengths - 2] = torch.where(tokens[rows, lengths - 2] == a, b, a)
    assert not torch.allclose(loss(changed), reference)


# ---------------------------------------------------------------- checkpoints and resume

def test_resume_from_a_mid_epoch_checkpoint_gives_the_same_next_steps(tmp_path):
    # 256 rows / batch 32 = 8 steps per epoch; a report after every step; dropout 0.1, so the
    # next step's loss depends on the restored RNG state, and cosine + warmup on the step count
    spec = DataSpec(size=256, seed=5)
    train = TrainConfig(lr=1e-3, batch_size=32, epochs=2, eval_every=1, schedule="cosine",
                        warmup_steps=4, bucketing=True)
    run, data = in_memory_run(spec, train, dropout=0.1, val_rows=64)
    saved = tmp_path / "step-11"
    history = []

    def report(metrics, checkpoint_dir):
        history.append(metrics)
        if metrics["step"] == 11:  # the directory is temporary: keep a copy
            shutil.copytree(checkpoint_dir, saved)

    original = Trainer(run, data, Worker())
    original.fit(report)
    assert [m["step"] for m in history] == list(range(1, 17))

    meta = checkpoint.read_meta(saved)
    assert (meta["step"], meta["epoch"], meta["step_in_epoch"]) == (11, 1, 3)
    assert meta["run"] == run.to_dict() and meta["data_digest"] == "in-memory"

    resumed = Trainer(run, data, Worker(), resume_from=saved)
    assert (resumed.state.step, resumed.state.epoch, resumed.state.step_in_epoch) == (11, 1, 3)
    later = []
    resumed.fit(lambda metrics, _: later.append(metrics))

    # each report after step 11 covers exactly one step, so train/loss is that step's loss:
    # the resumed run's next step (12) and every later one match the uninterrupted run exactly
    assert [m["step"] for m in later] == list(range(12, 17))
    for mine, theirs in zip(later, history[11:]):
        assert mine["train/loss"] == theirs["train/loss"], (mine, theirs)
        assert mine["val/loss"] == theirs["val/loss"]
        assert (mine["epoch"], mine["finished"]) == (theirs["epoch"], theirs["finished"])
    for name, tensor in original.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[name], tensor, rtol=0, atol=0)

    # the control: the same resume with another dropout RNG state gives another loss
    control = Trainer(run, data, Worker(), resume_from=saved)
    torch.manual_seed(12345)
    assert control.step(*control.next_batch())[0] != history[11]["train/loss"]


def test_packed_training_lowers_the_loss_and_resumes_exactly(tmp_path):
    # 256 one-question rows of ~20-40 tokens packed into 128-token rows, 4 rows a batch: a few
    # steps an epoch; dropout 0.1, so each step's loss depends on the restored RNG state too
    spec = DataSpec(size=256, seed=5)
    train = TrainConfig(lr=3e-3, epochs=4, eval_every=1, schedule="cosine", warmup_steps=4,
                        pack_length=128, batch_tokens=512)
    run, data = in_memory_run(spec, train, dropout=0.1, val_rows=64)
    history, saved = [], tmp_path / "step-5"

    def report(metrics, checkpoint_dir):
        history.append(metrics)
        if metrics["step"] == 5:
            shutil.copytree(checkpoint_dir, saved)

    original = Trainer(run, data, Worker())
    per_epoch = original.steps_per_epoch[-1]
    assert 2 <= per_epoch < 256 // (4 * 2) and 5 % per_epoch  # step 5 is inside an epoch
    original.fit(report)
    assert [m["step"] for m in history] == list(range(1, 4 * per_epoch + 1))
    assert history[-1]["train/loss"] < history[0]["train/loss"] * 0.7
    assert history[0]["examples_per_s"] > 0
    later = []
    Trainer(run, data, Worker(), resume_from=saved).fit(lambda metrics, _: later.append(metrics))
    assert [m["train/loss"] for m in later] == [m["train/loss"] for m in history[5:]]


def test_checkpoint_files_are_json_and_weights_only_tensors(tmp_path):
    spec = DataSpec(size=64, seed=1)
    run, data = in_memory_run(spec, TrainConfig(batch_size=32, epochs=1), dropout=0.1)
    kept = tmp_path / "kept"
    Trainer(run, data, Worker()).fit(lambda _, directory: checkpoint.keep(directory, kept))

    assert sorted(p.name for p in kept.iterdir()) == ["model.pt", "optimizer.pt", "rng.pt", "state.json"]
    meta = json.loads((kept / "state.json").read_text())
    assert meta["tokenizer"] == tokenizer.VERSION and meta["vocab_size"] == tokenizer.VOCAB_SIZE
    assert (meta["step"], meta["epoch"], meta["step_in_epoch"]) == (2, 1, 0)
    for name in ("model.pt", "optimizer.pt", "rng.pt"):
        torch.load(kept / name, weights_only=True)  # plain tensors and containers, no pickled objects
    loaded, _ = checkpoint.read_run(kept)
    assert loaded == run


# ---------------------------------------------------------------- curriculum

def curriculum_run(tmp_path):
    """Two stages (2-node chains for 5 steps, 2–3-node chains for 4) before 2 main epochs of 3."""
    sections = {
        "data": {"shares": {"sequential": 0, "flipped": 1, "reversed": 0}, "chain_lengths": [3, 4],
                 "size": 120, "seed": 4},
        "model": {"preset": "tiny", "dropout": 0.1},
        "train": {"lr": 1e-3, "batch_size": 32, "epochs": 2, "eval_every": 1},
        "curriculum": [{"steps": 5, "data": {"chain_lengths": [2, 2], "size": 64}},
                       {"steps": 4, "data": {"chain_lengths": [2, 3], "seed": 40}}],
    }
    run = build_run(sections, "run.yaml")
    data = mixtures.generate(run.data)
    val = data.subset(np.arange(24))
    stages = [mixtures.generate(stage.data) for stage in run.curriculum]
    return run, RunData(train=data.subset(np.arange(24, 120)), val=val, suites={}, digest="in-memory",
                        stages=stages)


def test_curriculum_stages_inherit_the_main_data_and_round_trip(tmp_path):
    run, _ = curriculum_run(tmp_path)
    first, second = run.curriculum
    assert (first.steps, second.steps, run.curriculum_steps) == (5, 4, 9)
    # a stage changes only what it names; its seed defaults to main seed + 1 + its index
    assert first.data.chain_lengths == (2, 2) and first.data.size == 64 and first.data.seed == 5
    assert second.data.size == 120 and second.data.seed == 40
    assert first.data.shares == run.data.shares and first.data.name_length == run.data.name_length
    assert RunConfig.from_dict(run.to_dict()) == run


def test_curriculum_trains_each_stage_on_its_own_rows_then_the_main_data(tmp_path):
    run, data = curriculum_run(tmp_path)
    trainer = Trainer(run, data, Worker())
    # 96 main rows / 32 = 3 steps an epoch; 9 curriculum steps + 2 epochs = 15 steps in all
    assert trainer.steps_per_epoch == [2, 3, 3] and trainer.total_steps == 15
    seen = []
    while not trainer.finished():
        phase, idx = trainer.next_batch()
        _, accuracy = trainer.step(phase, idx)
        seen.append((trainer.phases.index(phase), trainer.advance(accuracy)))
    assert [k for k, _ in seen] == [0] * 5 + [1] * 4 + [2] * 6
    # boundaries: the last step of each stage and of each main epoch
    assert [i + 1 for i, (_, end) in enumerate(seen) if end] == [5, 9, 12, 15]
    assert (trainer.state.step, trainer.state.epoch) == (15, 2)


@pytest.mark.parametrize("eval_every, evaluated_at", [(None, [5, 9, 12, 15]), (5, [5, 9, 10, 15])])
def test_evaluations_follow_eval_every_and_stage_ends_not_epoch_ends(tmp_path, eval_every, evaluated_at):
    run, data = curriculum_run(tmp_path)  # stages end at steps 5 and 9, main epochs at 12 and 15
    run = dataclasses.replace(run, train=run.train.model_copy(update={"eval_every": eval_every}))
    history = []
    Trainer(run, data, Worker()).fit(lambda metrics, _: history.append(metrics["step"]))
    assert history == evaluated_at


@pytest.mark.parametrize("at_step", [7, 9])
def test_curriculum_resume_gives_the_same_next_steps(tmp_path, at_step):
    # step 7 is inside the second stage; step 9 ends the curriculum (the main data comes next)
    run, data = curriculum_run(tmp_path)
    saved, history = tmp_path / f"step-{at_step}", []

    def report(metrics, checkpoint_dir):
        history.append(metrics)
        if metrics["step"] == at_step:
            shutil.copytree(checkpoint_dir, saved)

    Trainer(run, data, Worker()).fit(report)
    assert [m["step"] for m in history] == list(range(1, 16))
    assert history[-1]["finished"] == 1
    later = []
    Trainer(run, data, Worker(), resume_from=saved).fit(lambda metrics, _: later.append(metrics))
    assert [m["step"] for m in later] == list(range(at_step + 1, 16))
    assert [m["train/loss"] for m in later] == [m["train/loss"] for m in history[at_step:]]


def test_curriculum_stage_rows_never_repeat_validation_rows():
    data = mixtures.generate(DataSpec(shares={"sequential": 0, "flipped": 1, "reversed": 0},
                                      chain_lengths=(2, 2), size=400, seed=1,
                                      alphabet="abc"))
    val = data.subset(np.arange(50))
    kept = without_rows_of(data, val)
    held = set(val.row_keys())
    # 3 letters make only a few distinct 2-node items: the overlap is real, and all of it goes
    assert len(kept) < len(data) - 50
    assert not held & set(kept.row_keys())


@pytest.mark.parametrize("path", sorted((REPO / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_run_files_load_name_real_suites_and_leave_steps_for_the_main_data(path, request):
    sections = load_yaml(path)
    run = build_run(sections, str(path))
    published = None
    if any(name.startswith("published/") for name in run.suites):  # skipped without the published files
        published = request.getfixturevalue("published_dir")
    assert suites.expand(list(run.suites), published)  # an unknown suite name raises
    if run.curriculum:
        assert run.train.max_steps > run.stage_ends[-1]
        # the stages' own fields survive the merge with the main data
        for stage, written in zip(run.curriculum, sections["curriculum"]):
            for field, value in written["data"].items():
                assert getattr(stage.data, field) == (tuple(value) if isinstance(value, list) else value)


# ---------------------------------------------------------------- counting steps

PLANNED_RUNS = {  # 270 training rows: 8 batches of 32 an epoch, 11 when a quarter is replayed
    "without a curriculum": {"train": {"batch_size": 32, "epochs": 2}},
    "with a curriculum and max_steps": {
        "train": {"batch_size": 32, "epochs": 3, "max_steps": 20},
        "curriculum": [{"steps": 5, "data": {"chain_lengths": [2, 2]}}]},
    "with a curriculum and replay": {
        "train": {"batch_size": 32, "epochs": 2, "replay": 0.25},
        "curriculum": [{"steps": 5, "data": {"chain_lengths": [2, 2]}}]},
    # batches of packed rows: as many as the instances' lengths fill, which a config cannot say
    "with packed rows": {"train": {"pack_length": 128, "batch_tokens": 512, "epochs": 2}},
}


@pytest.mark.parametrize("sections", PLANNED_RUNS.values(), ids=list(PLANNED_RUNS))
def test_plan_counts_the_steps_the_trainer_takes(sections, tmp_path, capsys):
    study = tmp_path / "study.yaml"
    study.write_text(yaml.safe_dump({"name": "steps", "data": {"size": 300, "chain_lengths": [3, 4]},
                                     "model": {"preset": "tiny", "pe": {"grid": ["none", "rope"]}},
                                     **sections}))
    assert cli.main(["plan", str(study), "--json", "--no-calibrate"]) == 0
    planned = json.loads(capsys.readouterr().out)["steps_per_cell"]

    store = Store()
    spec = load_study(study, store.published)
    run = spec.run_config(grid_arms(spec)[0], spec.seeds[0])
    assert planned == Trainer(run, load_data(run, store), Worker()).total_steps


def test_plan_times_packed_batches_larger_than_its_usual_sample(tmp_path, capsys):
    # 65,536 tokens a batch: more than the 2,000-row sample calibration takes for unpacked runs holds
    study = tmp_path / "study.yaml"
    study.write_text(yaml.safe_dump({"name": "packed", "data": {"size": 6000, "chain_lengths": [3, 4]},
                                     "model": {"preset": "tiny", "n_layer": 1},
                                     "train": {"pack_length": 128, "batch_tokens": 65536, "epochs": 1}}))
    assert cli.main(["plan", str(study), "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["steps_per_cell"] >= 1 and plan["seconds_per_step"] > 0


def test_plan_gives_the_range_of_steps_when_arms_pick_different_stages(tmp_path, capsys):
    study = tmp_path / "study.yaml"
    study.write_text(yaml.safe_dump({
        "name": "stages", "data": {"size": 300, "chain_lengths": [3, 4]}, "model": {"preset": "tiny"},
        "curriculum": [{"name": "short", "steps": 5, "data": {"chain_lengths": [2, 2]}}],
        "train": {"batch_size": 32, "epochs": 2, "stages": {"grid": ["none", "short"]}}}))
    assert cli.main(["plan", str(study), "--json", "--no-calibrate"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["steps_per_cell_range"] == [16, 21]  # 2 epochs of 8 batches, + 5 curriculum steps
    assert plan["steps_per_cell"] == round((16 + 21) / 2)


# ---------------------------------------------------------------- batch order and schedule

def test_epoch_batches_depend_only_on_seed_and_epoch_and_split_across_ranks():
    lengths = np.random.default_rng(0).integers(20, 80, size=1000)
    for bucketing in (False, True):
        one = epoch_batches(lengths, 64, seed=1, epoch=2, bucketing=bucketing)
        again = epoch_batches(lengths, 64, seed=1, epoch=2, bucketing=bucketing)
        other_epoch = epoch_batches(lengths, 64, seed=1, epoch=3, bucketing=bucketing)
        assert all(np.array_equal(x, y) for x, y in zip(one, again))
        assert not all(np.array_equal(x, y) for x, y in zip(one, other_epoch))
        assert len(one) == 1000 // 64 and all(len(b) == 64 for b in one)
        assert len(np.unique(np.concatenate(one))) == 15 * 64  # no row twice, the tail dropped

        # two ranks: half batches each, disjoint, together the one-worker batch of the same size
        ranks = [epoch_batches(lengths, 32, 1, 2, bucketing, rank=r, world=2) for r in (0, 1)]
        assert len(ranks[0]) == len(ranks[1]) == len(one)
        for whole, half0, half1 in zip(one, *ranks):
            assert len(half0) == len(half1) == 32
            assert sorted(np.concatenate([half0, half1])) == sorted(whole)

    def mean_padding(batches):
        return np.mean([lengths[b].max() - lengths[b].mean() for b in batches])

    plain = epoch_batches(lengths, 32, 1, 0, bucketing=False)
    bucketed = epoch_batches(lengths, 32, 1, 0, bucketing=True)
    assert mean_padding(bucketed) < mean_padding(plain) / 3


def test_learning_rate_warmup_then_constant_or_cosine():
    constant = TrainConfig(lr=1e-3, warmup_steps=4)
    assert [learning_rate(constant, s, 100) for s in range(5)] == pytest.approx(
        [2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3])
    assert learning_rate(constant, 99, 100) == 1e-3
    cosine = TrainConfig(lr=1e-3, warmup_steps=10, schedule="cosine", min_lr_ratio=0.1)
    assert learning_rate(cosine, 10, 110) == pytest.approx(1e-3)
    assert learning_rate(cosine, 60, 110) == pytest.approx(0.55e-3)
    assert learning_rate(cosine, 110, 110) == pytest.approx(1e-4)
    assert learning_rate(TrainConfig(), 0, 10) == 1e-4  # the paper: no warmup, no schedule


def test_learning_rate_warmup_stable_decay():
    wsd = TrainConfig(lr=1e-3, warmup_steps=10, schedule="wsd", decay_steps=40, min_lr_ratio=0.0)
    assert learning_rate(wsd, 0, 100) == pytest.approx(1e-4)
    assert [learning_rate(wsd, s, 100) for s in (10, 59, 60)] == pytest.approx([1e-3] * 3)
    assert learning_rate(wsd, 80, 100) == pytest.approx(0.5e-3)  # halfway down the last 40 steps
    assert learning_rate(wsd, 100, 100) == pytest.approx(0.0)
    # without decay_steps the decay is the last fifth of the run, down to the floor
    default = TrainConfig(lr=1e-3, schedule="wsd", min_lr_ratio=0.1)
    assert learning_rate(default, 79, 100) == pytest.approx(1e-3)
    assert learning_rate(default, 90, 100) == pytest.approx(0.55e-3)


# ---------------------------------------------------------------- Ray Train, 2 workers

@pytest.fixture(scope="module")
def local_ray():
    with ray_session(num_cpus=2, log_to_driver=True):
        yield


def test_two_ray_train_workers_on_cpu_lower_the_loss(local_ray, tmp_path):
    run = build_run({"data": {"preset": "TS2", "size": 2000},
                     "model": {"preset": "tiny"},
                     "train": {"epochs": 2, "batch_size": 64, "lr": 3e-3, "device": "cpu"},
                     "suites": ["reversed_chain/len=3"]}, "test")
    out = tmp_path / "out"
    out.mkdir()
    seen = []
    final = launch.train(run, out, workers=2, report=lambda metrics, _: seen.append(metrics))

    history = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in history] == [1, 2]
    assert [m["finished"] for m in history] == [0, 1]
    # 1,800 training rows / (32 per worker x 2 workers) = 28 global steps per epoch
    assert [m["step"] for m in history] == [28, 56]
    assert history[-1]["train/loss"] < history[0]["train/loss"]
    assert "suite/reversed_chain/len=3/acc" in history[-1]
    assert seen == history
    assert final == history[-1]  # the last report, without Ray's bookkeeping keys

    meta = checkpoint.read_meta(out / "checkpoint")
    assert (meta["step"], meta["epoch"]) == (56, 2)
    model = Decoder(run.model)
    checkpoint.restore(out / "checkpoint", model)  # DDP saved the bare module: names match


def test_the_cpu_recipe_study_runs_exactly_the_two_cpu_recipe_files():
    from axiomatic.study.spec import load_study

    study = load_study(REPO / "studies" / "cpu_recipes.yaml")
    for pe, name in (("rope", "cpu_small.yaml"), ("none", "cpu_nope.yaml")):
        run = build_run(load_yaml(REPO / "configs" / name), name)
        arm = study.run_config({"model.pe": pe}, seed=run.seed)
        assert arm == dataclasses.replace(run, suites=tuple(suites.expand(list(run.suites)))), name


def test_the_complete_transitivity_study_runs_exactly_its_recipe_file():
    from axiomatic.study.spec import load_study

    study = load_study(REPO / "studies" / "cpu_transitivity.yaml")
    run = build_run(load_yaml(REPO / "configs" / "cpu_transitivity.yaml"), "cpu_transitivity.yaml")
    assert study.seeds == [0, 1, 2, 3, 4]
    for seed in study.seeds:
        arm = study.run_config({}, seed=seed)
        assert arm == dataclasses.replace(run, seed=seed, suites=tuple(suites.expand(list(run.suites))))


def test_the_dseparation_recipe_study_runs_exactly_the_recipe_file():
    from axiomatic.study.spec import load_study

    study = load_study(REPO / "studies" / "cpu_dsep_recipe.yaml")
    run = build_run(load_yaml(REPO / "configs" / "cpu_dsep.yaml"), "cpu_dsep.yaml")
    for seed in study.seeds:
        arm = study.run_config({"model.pe": "none"}, seed=seed)
        assert arm == dataclasses.replace(run, seed=seed, suites=tuple(suites.expand(list(run.suites))))
