"""The learning levers of the training loop, with real torch on tiny runs: several questions per
premise, the auxiliary next-token loss, accuracy-gated and mixed curricula (with exact resume),
the time-to-accuracy metrics, divergence, and what each refuses."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from axiomatic.data import mixtures, packing, tasks, tokenizer
from axiomatic.data.mixtures import DataSpec
from axiomatic.errors import Diverged, UserError
from axiomatic.model.config import ModelConfig
from axiomatic.model.layout import Layout
from axiomatic.train import checkpoint
from axiomatic.train.batches import assemble
from axiomatic.train.config import RunConfig, TrainConfig, build_run
from axiomatic.train.loop import Trainer, Worker
from axiomatic.train.run_data import RunData
from axiomatic.train.objective import next_token_loss

FLIPPED = {"sequential": 0, "flipped": 1, "reversed": 0}


def trainer_for(spec: DataSpec, train: TrainConfig, model: dict | None = None) -> Trainer:
    data = mixtures.generate(spec)
    model_config = ModelConfig.preset("tiny", vocab_size=tokenizer.VOCAB_SIZE, **{"dropout": 0.0, **(model or {})})
    run = RunConfig(spec, model_config, train)
    return Trainer(run, RunData(train=data, val=data, suites={}, digest="in-memory"), Worker())


# ---------------------------------------------------------------- several questions per premise

def test_questions_per_premise_trains_k_labels_per_row_and_overfits():
    # 32 premises x 4 questions: one batch of 32 rows holds all 128 labels
    spec = DataSpec(size=128, seed=3, chain_lengths=(3, 4), questions_per_premise=4)
    trainer = trainer_for(spec, TrainConfig(lr=3e-3, batch_size=32, epochs=300, grad_clip=1.0,
                                            schedule="cosine", min_lr_ratio=0.0))
    phase = trainer.phases[-1]
    assert len(phase) == 32 and trainer.steps_per_epoch == [1]
    batch = assemble([(phase, trainer.next_batch()[1])])
    assert batch.layout is not None and int((batch.labels >= 0).sum()) == 128
    final = trainer.fit(lambda metrics, _: None)
    assert final["val/acc"] >= 0.95  # evaluated one question per row, on the same 128 questions


def test_labels_are_balanced_within_each_premise():
    data = mixtures.generate(DataSpec(size=8000, seed=2, chain_lengths=(3, 6), questions_per_premise=6,
                                      shares=FLIPPED))
    rows = packing.by_premise(data, 6)
    yes = (rows.labels == 1).sum(axis=1)
    assert np.median(yes) == 3 and abs(data.labels.mean() - 0.5) < 0.03
    # six distinct questions per premise
    for b in range(20):
        questions = np.split(rows.tokens[b, rows.premise[b] : rows.lengths[b]], np.cumsum(rows.questions[b])[:-1])
        assert len({q.tobytes() for q in questions}) == 6


def test_validation_split_never_shares_a_premise_with_training(tmp_path):
    from axiomatic.data.store import Store
    from axiomatic.train.run_data import load_data

    spec = {"shares": FLIPPED, "chain_lengths": [3, 4], "size": 2000, "questions_per_premise": 4}
    run = build_run({"data": spec, "train": {"val_share": 0.1}}, "run.yaml")
    data = load_data(run, Store(tmp_path / "cache"))
    groups = lambda d: {d.tokens[i, : p].tobytes() for i, p in enumerate(packing.premise_lengths(d))}  # noqa: E731
    assert not groups(data.train) & groups(data.val)
    assert 150 <= len(data.val) <= 250


# ---------------------------------------------------------------- auxiliary next-token loss

def next_token_loss_after_training(aux: float) -> float:
    spec = DataSpec(size=512, seed=4, chain_lengths=(3, 4), name_length=(2, 3))
    trainer = trainer_for(spec, TrainConfig(lr=3e-3, batch_size=64, epochs=6, aux_loss=aux))
    trainer.fit(lambda metrics, _: None)
    phase = trainer.phases[-1]
    batch = assemble([(phase, np.arange(128))])
    layout = Layout.plain(batch.lengths, batch.tokens.size(1))
    with torch.no_grad():
        every = trainer.model(batch.tokens, batch.lengths, every_position=True).tokens
    return next_token_loss(every, batch.tokens, layout).item()


def test_the_auxiliary_loss_teaches_next_token_prediction():
    # without it nothing trains the head on premise tokens: their loss stays near ln(vocab)
    plain, aux = next_token_loss_after_training(0.0), next_token_loss_after_training(1.0)
    assert aux < 0.6 * plain, (aux, plain)


# ---------------------------------------------------------------- gated and mixed curricula

def gated_sections(until: float, replay: float = 0.0) -> dict:
    return {
        "data": {"shares": FLIPPED, "chain_lengths": [3, 4], "size": 200, "seed": 4},
        "model": {"preset": "tiny", "dropout": 0.1},
        "train": {"lr": 1e-3, "batch_size": 16, "epochs": 1, "eval_every": 1, "gate_window": 3,
                  "replay": replay},
        "curriculum": [{"steps": 8, "until_acc": until, "data": {"chain_lengths": [2, 2], "size": 64}},
                       {"steps": 4, "data": {"chain_lengths": [2, 3]}}],
    }


def gated_trainer(until: float, replay: float = 0.0, resume_from=None) -> Trainer:
    run = build_run(gated_sections(until, replay), "run.yaml")
    data = mixtures.generate(run.data)
    stages = [mixtures.generate(stage.data) for stage in run.curriculum]
    return Trainer(run, RunData(data.subset(np.arange(40, 200)), data.subset(np.arange(40)), {}, "in-memory",
                                stages), Worker(), resume_from=resume_from)


def stages_by_step(until: float) -> list[int]:
    history = []
    gated_trainer(until).fit(lambda metrics, _: history.append(metrics))
    return [m["stage"] for m in history]


def test_a_stage_ends_when_its_training_accuracy_passes_the_threshold_or_at_its_cap():
    # chance accuracy passes 0.05 as soon as the 3-step window is full; 1.0 is never reached
    assert stages_by_step(0.05) == [0] * 3 + [1] * 4 + [2] * 10
    assert stages_by_step(1.0) == [0] * 8 + [1] * 4 + [2] * 10


def test_each_finished_stage_reports_its_training_accuracy():
    sections = gated_sections(1.0)
    sections["curriculum"][0]["name"] = "pairs"  # the second stage stays unnamed: its index names it
    run = build_run(sections, "run.yaml")
    data = mixtures.generate(run.data)
    stages = [mixtures.generate(stage.data) for stage in run.curriculum]
    trainer = Trainer(run, RunData(data, data, {}, "in-memory", stages), Worker())
    accuracies = []  # every step's training accuracy on its stage's rows, as the gate reads it
    real_advance = trainer.advance
    trainer.advance = lambda accuracy: (accuracies.append(float(accuracy)), real_advance(accuracy))[1]
    history = []
    trainer.fit(lambda metrics, _: history.append(metrics))
    by_step = {m["step"]: m for m in history}
    assert "stage/pairs/acc" not in by_step[7] and "stage/1/acc" not in by_step[11]
    # the last gate_window (3) steps of each stage, before each one's update
    assert by_step[8]["stage/pairs/acc"] == pytest.approx(np.mean(accuracies[5:8]))
    assert by_step[12]["stage/1/acc"] == pytest.approx(np.mean(accuracies[9:12]))
    assert history[-1]["stage/pairs/acc"] == by_step[8]["stage/pairs/acc"]


@pytest.mark.parametrize("at_step", [2, 5])
def test_resume_inside_a_gated_stage_and_after_it_is_exact(tmp_path, at_step):
    # step 2: the window is filling (0.6 is not passed at once); step 5: the stage ended early
    until, history, saved = 0.6, [], tmp_path / "saved"

    def report(metrics, directory):
        history.append(metrics)
        if metrics["step"] == at_step:
            shutil.copytree(directory, saved)

    gated_trainer(until, replay=0.25).fit(report)
    meta = checkpoint.read_meta(saved)
    later = []
    gated_trainer(until, replay=0.25, resume_from=saved).fit(lambda metrics, _: later.append(metrics))
    assert [m["step"] for m in later] == [m["step"] for m in history[at_step:]]
    assert [m["train/loss"] for m in later] == [m["train/loss"] for m in history[at_step:]]
    assert [m["stage"] for m in later] == [m["stage"] for m in history[at_step:]]
    assert meta["stage"] in (0, 1) and isinstance(meta["window"], list)


def test_replay_mixes_earlier_stages_into_later_batches_deterministically():
    trainer = gated_trainer(1.0, replay=0.25)
    assert [p.batch_rows for p in trainer.phases] == [16, 12, 12]
    trainer.state.stage, trainer.state.stage_start, trainer.state.step = 1, 8, 8
    phase, idx = trainer.next_batch()
    first = trainer.step(phase, idx)
    trainer.state.step = 8
    assert trainer.step(phase, idx)[0] != first[0]  # the weights moved; the rows are the same:
    from axiomatic.train.batches import replayed

    once = replayed(trainer.phases[:1], 4, trainer.run.seed, 8, 0)
    again = replayed(trainer.phases[:1], 4, trainer.run.seed, 8, 0)
    assert [i.tolist() for _, i in once] == [i.tolist() for _, i in again]
    assert sum(len(i) for _, i in once) == 4 and all(p is trainer.phases[0] for p, _ in once)
    # the main data replays from both stages
    sources = {id(p) for p, _ in replayed(trainer.phases[:2], 200, trainer.run.seed, 20, 0)}
    assert sources == {id(trainer.phases[0]), id(trainer.phases[1])}


# ---------------------------------------------------------------- metrics and divergence

def test_time_to_accuracy_is_reported_from_the_first_evaluation_that_reaches_it():
    spec = DataSpec(size=64, seed=3)
    trainer = trainer_for(spec, TrainConfig(lr=3e-3, batch_size=64, epochs=60, schedule="cosine",
                                            min_lr_ratio=0.0, grad_clip=1.0))
    history = []
    trainer.fit(lambda metrics, _: history.append(metrics))
    for key in ("0.75", "0.90"):
        first = next(m for m in history if m["val/acc"] >= float(key))
        assert history[-1][f"reach/{key}/step"] == first["step"]
        assert history[-1][f"reach/{key}/seconds"] == first["seconds"]
        assert all(f"reach/{key}/step" not in m for m in history if m["step"] < first["step"])
    seconds = [m["seconds"] for m in history]
    assert seconds == sorted(seconds) and seconds[0] > 0


def test_a_non_finite_loss_stops_the_run_as_diverged():
    trainer = trainer_for(DataSpec(size=256, seed=3), TrainConfig(lr=1e30, batch_size=32, epochs=5))
    with pytest.raises(Diverged, match=r"diverged at step \d+: loss nan"):
        trainer.fit(lambda metrics, _: None)


# ---------------------------------------------------------------- the question before the premise

def test_question_first_moves_each_question_before_its_premise():
    from axiomatic.data import rendering, suites

    for name in ("flipped_chain/len=7", "dseparation/branching_bf1.4/n=8"):
        data = suites.build(name)
        turned = rendering.question_first(data)
        assert (turned.lengths == data.lengths).all() and (turned.labels == data.labels).all()
        for i in range(0, len(data), 50):
            premise, question = tokenizer.split_input(data.tokens[i, : data.lengths[i]])
            assert tokenizer.decode(turned.tokens[i, : turned.lengths[i]]) == f"{question} {premise}"
            assert (turned.tokens[i, turned.lengths[i]:] == tokenizer.PAD_ID).all()
    corr2cause = tasks.generate(tasks.build_spec({"task": "corr2cause", "nodes": [3, 3], "split": "all", "size": 8}))
    with pytest.raises(ValueError, match="question_first"):  # its hypotheses end in '.', not '?'
        rendering.question_first(corr2cause)


def test_question_first_applies_to_training_validation_and_every_suite(tmp_path):
    from axiomatic.data import suites
    from axiomatic.data.store import Store
    from axiomatic.train.run_data import load_data

    sections = {"data": {"task": "dseparation", "size": 400}, "train": {"question_first": True},
                "suites": ["dseparation/flipped_chain/len=7"]}
    data = load_data(build_run(sections, "run.yaml"), Store(tmp_path / "cache"))
    are = tokenizer.word("Are")
    for dataset in (data.train, data.val, data.suites["dseparation/flipped_chain/len=7"]):
        assert (dataset.tokens[:, 0] == are).all()
        assert (dataset.tokens[np.arange(len(dataset)), dataset.lengths - 1] == tokenizer.TOKEN_ID["."]).all()
    plain = suites.build("dseparation/flipped_chain/len=7")
    assert sorted(plain.tokens[0].tolist()) == sorted(data.suites["dseparation/flipped_chain/len=7"].tokens[0].tolist())


def test_question_first_trains_a_model_that_reads_the_question_first():
    # read at the premise's last '.', the answer still learns: above the direct-edge rule (0.75 on
    # these balanced flipped 3-node chains), which a model blind to the question could not pass
    from axiomatic.data import baselines, rendering

    spec = DataSpec(size=256, seed=3, chain_lengths=(3, 3), name_length=(1, 1), shares=FLIPPED)
    plain = mixtures.generate(spec)
    data = rendering.question_first(plain)
    model_config = ModelConfig.preset("tiny", vocab_size=tokenizer.VOCAB_SIZE, dropout=0.0, n_layer=2)
    train = TrainConfig(lr=3e-3, batch_size=64, epochs=80, grad_clip=1.0, question_first=True)
    trainer = Trainer(RunConfig(spec, model_config, train), RunData(data, data, {}, "in-memory"), Worker())
    assert trainer.fit(lambda metrics, _: None)["val/acc"] >= baselines.score(plain)["direct_edge"] + 0.1


# ---------------------------------------------------------------- the given set before the pair

def test_given_first_moves_each_given_set_before_its_pair():
    from axiomatic.data import rendering, suites

    data = suites.build("dseparation/branching_bf1.4/n=8")
    moved = rendering.given_first(data)
    assert (moved.lengths == data.lengths).all() and (moved.labels == data.labels).all()
    sizes = dseparation_given_sizes(data)
    assert sizes.min() == 0 and sizes.max() > 1  # both kinds of question are checked below
    for i in range(0, len(data), 25):
        premise, question = tokenizer.split_input(data.tokens[i, : data.lengths[i]])
        text = tokenizer.decode(moved.tokens[i, : moved.lengths[i]])
        if " given " in question:
            pair, given = question[:-1].split(" given ")
            assert text == f"{premise} given {given} {pair}?"
        else:
            assert text == f"{premise} {question}"
        assert (moved.tokens[i, moved.lengths[i]:] == tokenizer.PAD_ID).all()
    chains = suites.build("flipped_chain/len=7")  # transitivity: no given set, nothing moves
    assert (rendering.given_first(chains).tokens == chains.tokens).all()
    corr2cause = tasks.generate(tasks.build_spec({"task": "corr2cause", "nodes": [3, 3], "split": "all", "size": 8}))
    with pytest.raises(ValueError, match="given_first"):  # its hypotheses end in '.', not '?'
        rendering.given_first(corr2cause)


def dseparation_given_sizes(data):
    from axiomatic.data.axioms import dseparation
    return dseparation.given_sizes(data.tokens, data.lengths)


def test_given_first_applies_to_packed_training_rows_validation_and_every_suite(tmp_path):
    from axiomatic.data.store import Store
    from axiomatic.train.run_data import load_data

    sections = {"data": {"task": "dseparation", "size": 400, "questions_per_premise": 4},
                "train": {"given_first": True}, "suites": ["dseparation/flipped_chain/len=7"]}
    data = load_data(build_run(sections, "run.yaml"), Store(tmp_path / "cache"))
    given, are = tokenizer.word("given"), tokenizer.word("Are")
    for dataset in (data.train, data.val, data.suites["dseparation/flipped_chain/len=7"]):
        asked = dseparation_given_sizes(dataset) > 0
        assert asked.any()
        first_given = np.argmax(dataset.tokens == given, axis=1)
        first_are = np.argmax(dataset.tokens == are, axis=1)
        assert (first_given[asked] < first_are[asked]).all()
    # the moved rows still pack: a premise's four questions share its tokens
    assert np.bincount(packing.premise_groups(data.train)).max() == 4
    assert data.train.questions_per_row == data.val.questions_per_row == 4  # and still train packed


def test_given_first_trains_above_the_shortcuts():
    # a model reading 'given {Z} Are X and Y d-separated?' learns 3-node chains past every
    # shortcut rule on the same rows
    from axiomatic.data import baselines, rendering
    from axiomatic.data.axioms import dseparation

    spec = dseparation.DSeparationSpec(size=512, seed=3, chain_lengths=(3, 3), name_length=(1, 1), max_given=1)
    plain = dseparation.generate(spec)
    data = rendering.given_first(plain)
    model_config = ModelConfig.preset("tiny", vocab_size=tokenizer.VOCAB_SIZE, dropout=0.0, n_layer=2)
    train = TrainConfig(lr=3e-3, batch_size=64, epochs=60, grad_clip=1.0, given_first=True)
    trainer = Trainer(RunConfig(spec, model_config, train), RunData(data, data, {}, "in-memory"), Worker())
    shortcuts = {name: value for name, value in baselines.score(plain).items()
                 if value is not None and name != "yes_share"}
    assert trainer.fit(lambda metrics, _: None)["val/acc"] >= max(shortcuts.values()) + 0.05, shortcuts


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("sections, field", [
    ({"data": {"chain_lengths": [3, 6], "questions_per_premise": 7}}, "questions_per_premise"),
    ({"data": {"questions_per_premise": 2, "hypotheses_per_premise": 2}}, "not both"),
    ({"model": {"mixer": "conv", "mixer_width": 0}}, "mixer_width"),
    ({"train": {"aux_loss": -0.5}}, "train.aux_loss"),
    ({"train": {"replay": 1.0}}, "train.replay"),
    ({"curriculum": [{"steps": 10, "until_acc": 1.5}]}, "curriculum.0.until_acc"),
    ({"curriculum": [{"steps": 10, "until_acc": 0}]}, "curriculum.0.until_acc"),
    ({"data": {"task": "corr2cause", "nodes": [3, 4]}, "train": {"question_first": True}}, "train.question_first"),
    ({"data": {"questions_per_premise": 4}, "train": {"question_first": True}}, "train.question_first"),
    ({"train": {"question_first": True}, "suites": ["corr2cause/all"]}, "train.question_first"),
    ({"data": {"task": "corr2cause", "nodes": [3, 4]}, "train": {"given_first": True}}, "train.given_first"),
    ({"train": {"given_first": True}, "suites": ["corr2cause/all"]}, "train.given_first"),
])
def test_impossible_lever_values_are_refused_naming_the_field(sections, field):
    with pytest.raises(UserError, match=field.replace(".", r"\.")):
        build_run(sections, "run.yaml")
