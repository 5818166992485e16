"""Rows that hold one premise and several questions, rows packed with several such instances, the
local mixer and the paper's embedding init: each question of a multi-question row must give exactly
the logits of a row of its own, and each instance of a packed row those it gives unpacked."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from axiomatic.data import mixtures, packing, tokenizer
from axiomatic.data.mixtures import DataSpec
from axiomatic.model import Decoder, ModelConfig
from axiomatic.model.layout import PAD_SEGMENT, Layout
from axiomatic.model.mixer import left_neighbours, sentence_starts, within_names
from axiomatic.model.positional import PE_KINDS
from axiomatic.train.evaluate import evaluate, packed as packed_evaluation_batches
from axiomatic.train.batches import Phase, assemble, assemble_packed
from axiomatic.train.objective import answer_loss, next_token_loss

TINY = dict(vocab_size=tokenizer.VOCAB_SIZE, n_layer=2, n_head=4, d_model=32, d_mlp=64, max_len=96, dropout=0.0)


def make_model(**overrides) -> Decoder:
    torch.manual_seed(0)
    return Decoder(ModelConfig(**{**TINY, **overrides})).eval()


@pytest.fixture(scope="module")
def packed():
    """Real transitivity rows: premises with 2-4 questions each, and the same questions one per row."""
    data = mixtures.generate(DataSpec(size=60, seed=3, chain_lengths=(3, 5), questions_per_premise=4,
                                      shuffle_share=0.5))
    data = data.subset(np.arange(45))  # some premises keep fewer than 4 of their questions
    rows = packing.by_premise(data, 4)
    assert (rows.labels >= 0).sum(axis=1).min() < 4 <= rows.questions.shape[1]  # ragged rows too
    layout = Layout.from_spans(torch.from_numpy(rows.premise.astype(np.int64)),
                               torch.from_numpy(rows.questions.astype(np.int64)), rows.tokens.shape[1])
    return data, rows, layout


def single_rows(data, rows, b: int, j: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Row b's question j as a row of its own: the premise and that question."""
    start = rows.premise[b] + rows.questions[b, :j].sum()
    own = np.concatenate([rows.tokens[b, : rows.premise[b]],
                          rows.tokens[b, start : start + rows.questions[b, j]]])
    return torch.from_numpy(own.astype(np.int64))[None], torch.tensor([len(own)])


@pytest.mark.parametrize("pe, mixer", list(itertools.product(PE_KINDS, ["none", "conv", "name", "sentence"])))
def test_each_question_of_a_row_gets_the_logits_of_a_row_of_its_own(packed, pe, mixer):
    data, rows, layout = packed
    model = make_model(pe=pe, mixer=mixer)
    tokens = torch.from_numpy(rows.tokens.astype(np.int64))
    together = model(tokens, layout=layout).answers
    everywhere = model(tokens, layout=layout, every_position=True)
    worst = 0.0
    for b in range(len(rows)):
        for j in np.flatnonzero(rows.labels[b] >= 0):
            alone, length = single_rows(data, rows, b, j)
            reference = model(alone, length)[0]
            worst = max(worst, (together[b, j] - reference).abs().max().item(),
                        (everywhere.answers[b, j] - reference).abs().max().item())
            # every position of the question and the premise too (the auxiliary loss reads them)
            own = torch.nonzero((layout.segments[b] == 0) | (layout.segments[b] == j + 1)).squeeze(1)
            per_token = model(alone, length, every_position=True).tokens[0]
            worst = max(worst, (everywhere.tokens[b, own] - per_token).abs().max().item())
    assert worst <= 1e-5


def test_a_multi_question_batch_has_the_loss_and_gradients_of_its_questions_one_per_row(packed):
    data, rows, layout = packed
    model = make_model(pe="rope", mixer="conv")
    tokens = torch.from_numpy(rows.tokens.astype(np.int64))
    loss, _ = answer_loss(model(tokens, layout=layout).answers, torch.from_numpy(rows.labels.astype(np.int64)))
    loss.backward()
    together = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad()
    plain = torch.from_numpy(data.tokens.astype(np.int64)), torch.from_numpy(data.lengths.astype(np.int64))
    reference, _ = answer_loss(model(*plain)[:, None], torch.from_numpy(data.labels.astype(np.int64))[:, None])
    reference.backward()
    torch.testing.assert_close(loss, reference, rtol=0, atol=1e-6)
    for name, p in model.named_parameters():
        torch.testing.assert_close(together[name], p.grad, rtol=1e-4, atol=1e-6, msg=name)


def test_the_layout_of_a_row_continues_positions_from_the_premise(packed):
    _, rows, layout = packed
    P, q = int(rows.premise[0]), rows.questions[0]
    assert layout.positions[0, :P].tolist() == list(range(P))
    assert layout.positions[0, P : P + q[0]].tolist() == list(range(P, P + q[0]))
    assert layout.positions[0, P + q[0] : P + q[0] + q[1]].tolist() == list(range(P, P + q[1]))
    assert layout.predecessor[0, P + q[0]].item() == P - 1  # question 2 follows the premise
    # each answer sits on a '?'
    question_mark = tokenizer.TOKEN_ID["?"]
    answered = rows.tokens[np.arange(len(rows))[:, None], layout.answers.numpy()]
    assert (answered[rows.labels >= 0] == question_mark).all()


def test_packing_keeps_every_question_with_its_label(packed):
    data, rows, _ = packed
    assert (rows.labels >= 0).sum() == len(data)
    texts = {tokenizer.decode(data.tokens[i, : data.lengths[i]]): int(data.labels[i]) for i in range(len(data))}
    for b in range(len(rows)):
        for j in np.flatnonzero(rows.labels[b] >= 0):
            alone, _ = single_rows(data, rows, b, j)
            assert texts[tokenizer.decode(alone[0].numpy())] == rows.labels[b, j]


def test_next_token_targets_skip_answers_and_padding(packed):
    _, rows, layout = packed
    tokens = torch.from_numpy(rows.tokens.astype(np.int64))
    following, valid = layout.next_token_targets(tokens)
    # every present question gives (length - 1) targets, the premise P; nothing else
    expected = rows.premise + (rows.questions - (rows.questions > 0)).sum(axis=1)
    assert valid.sum(dim=1).tolist() == expected.tolist()
    inside = torch.from_numpy(rows.labels >= 0) & (layout.answers < valid.size(1))
    rows_of = torch.arange(len(rows))[:, None].expand_as(layout.answers)
    assert not valid[rows_of[inside], layout.answers[inside]].any()
    model = make_model(pe="rope")
    loss = next_token_loss(model(tokens, layout=layout, every_position=True).tokens, tokens, layout)
    assert 0.5 * np.log(tokenizer.VOCAB_SIZE) < loss.item() < 2 * np.log(tokenizer.VOCAB_SIZE)


def test_the_mixer_sees_only_width_tokens_back():
    model = make_model(pe="none", mixer="conv", mixer_width=3, n_layer=1)
    block = model.blocks[0]
    x = torch.randn(1, 10, TINY["d_model"])
    changed = x.clone()
    changed[0, 4] += 1.0
    diff = (block.mixer(changed) - block.mixer(x)).abs().amax(dim=-1)[0]
    assert (diff[:4] == 0).all() and (diff[4:7] > 0).all() and (diff[7:] == 0).all()


def test_paper_embedding_init_is_unit_normal_and_gpt2_is_small():
    paper, gpt2 = make_model(embed_init="paper", d_model=256), make_model(d_model=256)
    assert 0.9 < paper.tok_emb.weight.std().item() < 1.1
    assert 0.015 < gpt2.tok_emb.weight.std().item() < 0.025
    # nothing else changes
    for (name, a), (_, b) in zip(paper.named_parameters(), gpt2.named_parameters()):
        if name != "tok_emb.weight":
            assert torch.equal(a, b), name


@pytest.mark.parametrize("overrides, field", [(dict(mixer="lstm"), "mixer"), (dict(mixer_width=0), "mixer_width"),
                                              (dict(embed_init="xavier"), "embed_init")])
def test_bad_lever_values_name_the_field(overrides, field):
    with pytest.raises(ValueError, match=field):
        ModelConfig(vocab_size=tokenizer.VOCAB_SIZE, **overrides)



# ---------------------------------------------------------------------------------------------
# packed rows: several instances (a premise and its questions each) back to back in one row

ROW = 128  # tokens of a packed row: two to four of the fixture's instances (35-60 tokens)


def phase_of(data, row_length: int = ROW):
    """The fixture's questions as a Phase, 4 per premise, packed into one batch of all its rows."""
    phase = Phase(data, 4, torch.device("cpu"), batch_rows=1, pack_length=row_length)
    phase.batch_rows = phase.packing.rows
    return phase


def both_batches(data, seed: int = 0):
    """The same instances as one packed batch and as plain multi-question rows (one each)."""
    phase = phase_of(data)
    (plan,) = packing.packed_batches(phase.packing, phase.lengths_np, phase.batch_rows, seed, epoch=0)
    return phase, plan, assemble_packed(phase, plan), assemble([(phase, np.arange(len(phase)))])


def test_packing_fills_rows_with_every_instance_once_in_one_shape_per_epoch(packed):
    data, rows, _ = packed
    phase = phase_of(data)
    plan = phase.packing
    assert sorted(plan.length.tolist()) == sorted(rows.lengths.tolist())
    ends = plan.offset + plan.length
    assert ends.max() <= ROW and plan.rows == -(-plan.length.sum() // ROW)  # as few rows as can be
    assert (plan.offset[1:][plan.row[1:] == plan.row[:-1]] == ends[:-1][plan.row[1:] == plan.row[:-1]]).all()
    epochs = [packing.packed_batches(plan, phase.lengths_np, 2, seed=1, epoch=e) for e in (0, 0, 1)]
    assert [len(e) for e in epochs] == [plan.rows // 2] * 3
    same = [np.array_equal(a.instances, b.instances) for a, b in zip(epochs[0], epochs[1])]
    other = [np.array_equal(a.instances, b.instances) for a, b in zip(epochs[0], epochs[2])]
    assert all(same) and not all(other)  # a function of (seed, epoch) only
    # every epoch deals each instance once; only a partial last batch's rows are left out
    dealt = np.concatenate([b.instances for b in epochs[2]])
    assert len(np.unique(dealt)) == len(dealt) >= len(rows) - 2 * plan.slots
    # two workers: disjoint halves of the one-worker batches
    halves = [packing.packed_batches(plan, phase.lengths_np, 1, 1, 0, rank=r, world=2) for r in (0, 1)]
    for whole, a, b in zip(epochs[0], *halves):
        assert sorted(np.concatenate([a.instances, b.instances]).tolist()) == sorted(whole.instances.tolist())


def test_a_packed_layout_restarts_positions_and_predecessors_at_each_instance(packed):
    data, _, _ = packed
    phase, plan, batch, plain = both_batches(data)
    layout = batch.layout
    for n in range(len(plan)):
        r, start, i = plan.row[n], plan.offset[n], plan.instances[n]
        span = slice(start, start + int(phase.lengths_np[i]))
        assert torch.equal(batch.tokens[r, span], plain.tokens[i, : int(phase.lengths_np[i])])
        assert torch.equal(layout.positions[r, span], plain.layout.positions[i, : span.stop - start])
        assert layout.predecessor[r, start] == -1 and (layout.documents[r, span] == plan.slot[n]).all()
    mask = layout.mask()[:, 0]
    # a token sees nothing of another instance of its row
    other = layout.documents[:, :, None] != layout.documents[:, None, :]
    assert not (mask & other & ~torch.eye(ROW, dtype=torch.bool)).any()


@pytest.mark.parametrize("pe, mixer", list(itertools.product(PE_KINDS, ["none", "conv", "name", "sentence"])))
def test_packed_instances_get_the_logits_they_get_unpacked(packed, pe, mixer):
    data, _, _ = packed
    phase, plan, batch, plain = both_batches(data)
    model = make_model(pe=pe, mixer=mixer, max_len=64)  # a packed row may be wider than max_len
    K = phase.questions.size(1)
    rows, cols = np.repeat(plan.row, K), (plan.slot[:, None] * K + np.arange(K)).ravel()
    instance, question = np.repeat(plan.instances, K), np.tile(np.arange(K), len(plan))
    present = plain.labels[instance, question] >= 0
    together = model(batch.tokens, layout=batch.layout).answers[rows, cols]
    alone = model(plain.tokens, layout=plain.layout).answers[instance, question]
    assert (together - alone)[present].abs().max() <= 1e-5
    assert torch.equal(batch.labels[rows, cols], plain.labels[instance, question])
    assert (batch.labels >= 0).sum() == present.sum()  # no label outside the instances
    # every position of every instance too (the auxiliary loss reads them)
    every = model(batch.tokens, layout=batch.layout, every_position=True).tokens
    own = model(plain.tokens, layout=plain.layout, every_position=True).tokens
    for n in range(len(plan)):
        length = int(phase.lengths_np[plan.instances[n]])
        diff = every[plan.row[n], plan.offset[n] : plan.offset[n] + length] - own[plan.instances[n], :length]
        assert diff.abs().max() <= 1e-5


def test_a_training_step_on_packed_rows_has_the_loss_and_update_of_the_unpacked_step(packed):
    data, _, _ = packed
    _, _, batch, plain = both_batches(data)
    after = []
    for b in (batch, plain):
        model = make_model(pe="rope", mixer="conv").train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        readout = model(b.tokens, layout=b.layout, every_position=True)
        loss, _ = answer_loss(readout.answers, b.labels)
        total = loss + 0.1 * next_token_loss(readout.tokens, b.tokens, b.layout)
        total.backward()
        optimizer.step()
        after.append((loss.detach(), total.detach(), model.state_dict()))
    (loss, total, weights), (ref_loss, ref_total, ref_weights) = after
    torch.testing.assert_close(loss, ref_loss, rtol=0, atol=1e-6)
    torch.testing.assert_close(total, ref_total, rtol=0, atol=1e-6)
    for name, tensor in weights.items():
        torch.testing.assert_close(tensor, ref_weights[name], rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize("pe", ["none", "rope", "learned"])
def test_flex_attention_block_masks_give_the_logits_of_the_dense_mask(packed, pe):
    # eager FlexAttention on a CPU runs unfused and forward only (its backward needs CUDA), but
    # computes what the CUDA kernel does from the same block mask
    data, _, _ = packed
    _, _, batch, _ = both_batches(data)
    model = make_model(pe=pe, mixer="conv", max_len=64)
    with torch.no_grad():
        dense = model(batch.tokens, layout=batch.layout, every_position=True)
        model.use_flex = True
        flex = model(batch.tokens, layout=batch.layout, every_position=True)
        flex_answers = model(batch.tokens, layout=batch.layout).answers  # the last block's own path
    real = batch.layout.segments != PAD_SEGMENT
    torch.testing.assert_close(flex.answers, dense.answers, rtol=0, atol=1e-5)
    torch.testing.assert_close(flex_answers, dense.answers, rtol=0, atol=1e-5)
    torch.testing.assert_close(flex.tokens[real], dense.tokens[real], rtol=0, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# packed evaluation: the dataset's rows (one question each) packed like training's


def test_evaluation_batches_hold_every_question_once_rows_in_order(packed):
    data, _, _ = packed
    lengths = data.lengths.astype(np.int64)
    plan = packing.pack(lengths, ROW)
    batches = packing.in_order(plan, lengths, rows_per_batch=3)
    assert [b.rows for b in batches] == [3] * (plan.rows // 3) + ([plan.rows % 3] if plan.rows % 3 else [])
    instances = np.concatenate([b.instances for b in batches])
    assert sorted(instances.tolist()) == list(range(len(data)))
    # each slot holds an instance of the slot's length, at the slot's place
    slot_lengths = np.concatenate([plan.length[plan.start[r] : plan.start[r + 1]] for r in range(plan.rows)])
    assert np.array_equal(lengths[instances], slot_lengths)
    assert [len(b.instances) for b in packing.in_order(plan, lengths, 3)] == [len(b.instances) for b in batches]


@pytest.mark.parametrize("pe", PE_KINDS)
def test_packed_evaluation_scores_what_evaluation_by_length_scores(packed, pe):
    data, _, _ = packed
    model = make_model(pe=pe, mixer="conv", max_len=64)
    cpu = torch.device("cpu")
    # 8 questions a batch: several packed batches, the last one short
    rows = list(packed_evaluation_batches(model, data, cpu, batch_size=8, pack_length=ROW))
    assert len(rows) > 1 and max(labels.size(1) for _, labels in rows) > 1  # several questions a row
    together = evaluate(model, data, cpu, batch_size=8, pack_length=ROW)
    alone = evaluate(model, data, cpu, batch_size=8)
    assert together["n"] == alone["n"] == len(data)
    assert abs(together["loss"] - alone["loss"]) <= 1e-6
    for measure in ("acc", "precision", "recall", "f1"):
        assert together[measure] == alone[measure], measure
    # a row longer than pack_length: the dataset is read by length, with the same scores
    longest = int(data.lengths.max())
    assert evaluate(model, data, cpu, batch_size=8, pack_length=longest - 1) == alone


# ---------------------------------------------------------------- the name mixer

def name_mixer_inputs(premise: str, question: str):
    """A real row's ids, and each token's predecessor within its node name."""
    ids = torch.tensor([tokenizer.encode(premise, question)])
    model = make_model(pe="none", mixer="name", n_layer=1)
    return ids, model, within_names(ids, left_neighbours(ids), model.name_token)


def test_the_name_mixer_links_the_characters_of_one_name_only():
    ids, _, predecessor = name_mixer_inputs("ab causes xyz.", "Does ab cause xyz?")
    spelled = [tokenizer.VOCAB[i] for i in ids[0]]
    assert spelled[:5] == ["a", "b", "causes", "x", "y"]
    # b follows a, y follows x, z follows y; a word, a name's first character or "?" follows nothing
    expected = [-1, 0, -1, -1, 3, 4, -1, -1, -1, 8, -1, -1, 11, 12, -1]
    assert predecessor[0].tolist() == expected


def test_the_name_mixer_never_sees_past_its_name_and_carries_no_position():
    """What the mixer adds at a name's characters depends on that name alone: the same wherever
    the name stands, whatever stands next to it."""
    ids, model, predecessor = name_mixer_inputs("ab causes xyz. xyz causes c.", "Does ab cause c?")
    mixer = model.blocks[0].mixer
    mixed = mixer(model.tok_emb(ids), predecessor)[0]
    xyz_first, xyz_second = slice(3, 6), slice(7, 10)  # the name xyz, as an effect and as a cause
    assert [tokenizer.VOCAB[i] for i in ids[0, xyz_second]] == ["x", "y", "z"]
    assert torch.equal(mixed[xyz_first], mixed[xyz_second])
    # the conv mixer over the same row does tell them apart: it sees "causes" and "." beside them
    conv = make_model(pe="none", mixer="conv", n_layer=1).blocks[0].mixer
    convolved = conv(model.tok_emb(ids))[0]
    assert not torch.allclose(convolved[xyz_first], convolved[xyz_second])


def test_the_name_mixer_keeps_the_order_of_a_names_characters():
    ids, model, predecessor = name_mixer_inputs("ab causes ba.", "Does ab cause ba?")
    mixed = model.blocks[0].mixer(model.tok_emb(ids), predecessor)[0]
    assert not torch.allclose(mixed[1], mixed[4])  # "ab" and "ba" end as different vectors


def test_the_name_mixer_needs_the_tokenizers_vocabulary():
    with pytest.raises(ValueError, match="vocab_size"):
        make_model(mixer="name", vocab_size=tokenizer.VOCAB_SIZE + 1)


def test_a_sentence_starts_after_a_full_stop_or_a_question_mark():
    ids = torch.tensor([tokenizer.encode("ab causes c. c causes d.", "Does ab cause d?")])
    model = make_model(pe="none", mixer="sentence", n_layer=1)
    start = sentence_starts(ids, left_neighbours(ids), model.sentence_end)[0].tolist()
    assert start == [0] * 5 + [5] * 4 + [9] * 6
    # a multi-question row: each question starts a sentence of its own after the premise
    questions = torch.tensor([tokenizer.encode("ab causes c.", "Does ab cause c?")[5:]] * 2).reshape(1, -1)
    row = torch.cat([ids[:, :5], questions], dim=1)
    layout = Layout.from_spans(torch.tensor([5]), torch.tensor([[6, 6]]), row.size(1))
    assert sentence_starts(row, layout.predecessor, model.sentence_end)[0].tolist() == [0] * 5 + [5] * 6 + [11] * 6


def test_the_sentence_mean_is_blind_to_order_and_place():
    """The mean a token gets is that of its sentence so far: the same for any order of the tokens
    before it in the sentence and wherever the sentence stands; a cause and an effect differ."""
    model = make_model(pe="none", mixer="sentence", n_layer=1)
    mean = model.blocks[0].sentence_mean

    def mixed(premise: str, question: str) -> tuple[list[str], torch.Tensor]:
        ids = torch.tensor([tokenizer.encode(premise, question)])
        start = sentence_starts(ids, left_neighbours(ids), model.sentence_end)
        return [tokenizer.VOCAB[i] for i in ids[0]], mean(model.tok_emb(ids), start)[0]

    spelled, out = mixed("x causes y. y causes z.", "Does x cause z?")
    assert spelled[:8] == ["x", "causes", "y", ".", "y", "causes", "z", "."]
    assert not torch.allclose(out[2], out[4])  # y as the effect, then as the cause
    moved_spelled, moved = mixed("y causes z. x causes y.", "Does x cause z?")
    assert moved_spelled[4:8] == ["x", "causes", "y", "."]
    assert torch.allclose(out[:4], moved[4:8], atol=1e-6)  # the sentence "x causes y." anywhere
    reference = (model.tok_emb.weight[[tokenizer.TOKEN_ID[t] for t in ("x", "causes", "y")]]).mean(dim=0)
    assert torch.allclose(out[2], reference * mean.weight, atol=1e-6)
