"""The decoder and its positional encodings: shapes, causality, padding, the encodings' maths,
config validation and the paper model's size. Tiny models, real torch, a few seconds in all."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from axiomatic.data.tokenizer import NO_ID, PAD_ID, VOCAB_SIZE, YES_ID
from axiomatic.model.config import PRESETS, ModelConfig
from axiomatic.model.decoder import Context, Decoder, num_parameters
from axiomatic.model.positional import (
    PE_KINDS,
    AbsolutePositional,
    alibi_bias,
    alibi_slopes,
    rope_tables,
    rotate,
    sinusoidal_table,
)

torch.set_num_threads(2)

TINY = dict(vocab_size=VOCAB_SIZE, n_layer=2, n_head=4, d_model=32, d_mlp=64, max_len=48)


def make_model(pe: str, **overrides) -> Decoder:
    torch.manual_seed(0)
    return Decoder(ModelConfig(**{**TINY, "pe": pe, **overrides})).eval()


def batch(B: int = 3, T: int = 16, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(1, VOCAB_SIZE, (B, T), generator=g)
    lengths = torch.tensor([T, T // 2, 3][:B])
    for b in range(B):
        tokens[b, lengths[b] :] = PAD_ID
    return tokens, lengths


# ---------------------------------------------------------------------------------------------
# the decoder, for every encoding


@pytest.mark.parametrize("pe", PE_KINDS)
def test_output_is_one_logit_vector_per_row(pe):
    model = make_model(pe)
    tokens, lengths = batch()
    logits = model(tokens, lengths)
    assert logits.shape == (3, VOCAB_SIZE)
    assert logits.dtype == torch.float32
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("pe", PE_KINDS)
def test_forward_is_the_hidden_state_at_the_last_input_token(pe):
    model = make_model(pe)
    tokens, lengths = batch()
    hidden = model.hidden_states(tokens)
    expected = model.head(hidden[torch.arange(3), lengths - 1])
    torch.testing.assert_close(model(tokens, lengths), expected)
    torch.testing.assert_close(model(tokens, lengths.int()), expected)  # int32 lengths work too


@pytest.mark.parametrize("pe", PE_KINDS)
def test_last_position_shortcut_trains_the_same_as_the_full_stack(pe):
    # forward runs the last block at one position only; its gradients must be the full stack's
    model = make_model(pe, dropout=0.0).train()
    tokens, lengths = batch()
    targets = torch.tensor([YES_ID, NO_ID, YES_ID])
    F.cross_entropy(model(tokens, lengths), targets).backward()
    shortcut = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad()
    full = model.head(model.hidden_states(tokens)[torch.arange(3), lengths - 1])
    F.cross_entropy(full, targets).backward()
    for name, p in model.named_parameters():
        torch.testing.assert_close(shortcut[name], p.grad, msg=name)


def test_a_length_out_of_range_is_an_error_not_a_wrap_around():
    model = make_model("rope")
    tokens, lengths = batch()
    with pytest.raises(RuntimeError):
        model(tokens, torch.tensor([0, 3, 3]))  # position -1 must not mean the last token


@pytest.mark.parametrize("pe", PE_KINDS)
def test_attention_is_causal(pe):
    model = make_model(pe)
    tokens, _ = batch(B=2, T=20)
    t = 11
    changed = tokens.clone()
    changed[:, t] = (changed[:, t] % (VOCAB_SIZE - 1)) + 1  # a different non-pad token
    before, after = model.hidden_states(tokens), model.hidden_states(changed)
    torch.testing.assert_close(before[:, :t], after[:, :t], rtol=0, atol=1e-6)
    # and the change is visible from position t on, so the check above is not vacuous (small
    # after t for sinusoidal: at init its unit-amplitude table dwarfs the 0.02-std embeddings)
    diff = (before - after).abs().amax(dim=-1)
    assert diff[:, t].min() > 1e-3
    assert diff[:, t + 1 :].min() > 1e-6


@pytest.mark.parametrize("pe", PE_KINDS)
def test_padding_after_lengths_never_changes_the_logits(pe):
    model = make_model(pe)
    tokens, lengths = batch(B=3, T=24)
    reference = model(tokens, lengths)
    # junk instead of pad tokens after each row's end
    junk = tokens.clone()
    for b in range(3):
        junk[b, lengths[b] :] = torch.randint(1, VOCAB_SIZE, (24 - int(lengths[b]),))
    torch.testing.assert_close(model(junk, lengths), reference, rtol=0, atol=1e-5)
    # each row alone, unpadded, gives the same answer as inside the padded batch
    for b in range(3):
        n = int(lengths[b])
        alone = model(tokens[b : b + 1, :n], lengths[b : b + 1])
        torch.testing.assert_close(alone[0], reference[b], rtol=0, atol=1e-5)


@pytest.mark.parametrize("pe", PE_KINDS)
def test_inputs_longer_than_max_len_are_rejected(pe):
    model = make_model(pe, max_len=16)
    model(torch.ones(2, 16, dtype=torch.long), torch.tensor([16, 4]))  # exactly max_len is fine
    too_long = torch.ones(2, 17, dtype=torch.long)
    with pytest.raises(ValueError, match=r"17 tokens exceeds max_len=16"):
        model(too_long, torch.tensor([17, 4]))
    with pytest.raises(ValueError, match="max_len"):
        model.hidden_states(too_long)


def test_absolute_tables_are_sized_max_len():
    for kind in ("learned", "sinusoidal"):
        model = make_model(kind, max_len=40)
        table = model.pos.wpe.weight if kind == "learned" else model.pos.table
        assert table.shape == (40, TINY["d_model"])


@pytest.mark.parametrize("pe", PE_KINDS)
def test_loss_at_the_gathered_position_trains_and_ignores_later_tokens(pe):
    model = make_model(pe, dropout=0.1).train()
    tokens, lengths = batch(B=3, T=16)
    captured = {}

    def keep(_module, _inputs, output):
        output.retain_grad()
        captured["emb"] = output

    handle = model.tok_emb.register_forward_hook(keep)
    try:
        logits = model(tokens, lengths)
    finally:
        handle.remove()
    targets = torch.tensor([YES_ID, NO_ID, YES_ID])
    F.cross_entropy(logits, targets).backward()

    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert model.tok_emb.weight.grad.abs().sum() > 0
    assert model.blocks[0].attn.qkv.weight.grad.abs().sum() > 0
    # the loss does not depend on anything after each row's last input token ...
    grad = captured["emb"].grad
    for b, n in enumerate(lengths.tolist()):
        assert (grad[b, n:] == 0).all()
        assert grad[b, n - 1].abs().max() > 0  # ... but does on the token it is read at


def test_dropout_is_active_in_training_only():
    model = make_model("none", dropout=0.5)
    tokens, lengths = batch()
    torch.testing.assert_close(model(tokens, lengths), model(tokens, lengths))
    model.train()
    assert not torch.equal(model(tokens, lengths), model(tokens, lengths))


@pytest.mark.parametrize("pe", ["rope", "alibi", "learned"])
def test_bf16_autocast_runs(pe):
    model = make_model(pe)
    tokens, lengths = batch()
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        logits = model(tokens, lengths)
    assert logits.shape == (3, VOCAB_SIZE) and torch.isfinite(logits).all()
    torch.testing.assert_close(logits.float(), model(tokens, lengths), rtol=0.1, atol=0.1)


def test_compiles_to_one_graph():
    # backend="eager" traces without generating code: it checks for graph breaks in seconds
    model = make_model("alibi")
    tokens, lengths = batch()
    compiled = torch.compile(model, backend="eager", fullgraph=True)
    torch.testing.assert_close(compiled(tokens, lengths), model(tokens, lengths))


# ---------------------------------------------------------------------------------------------
# the encodings themselves


def test_rope_scores_depend_only_on_relative_position():
    torch.manual_seed(0)
    D, T = 16, 40
    cos, sin = rope_tables(D, T, theta=10000.0)
    # the same q and k vectors at every position: any change in q(m).k(n) comes from positions
    q = torch.randn(D).expand(1, 1, T, D)
    k = torch.randn(D).expand(1, 1, T, D)
    rq, rk = rotate(q, cos, sin), rotate(k, cos, sin)
    scores = (rq @ rk.transpose(-1, -2))[0, 0]  # scores[m, n] = q(m) . k(n)
    for m, n, s in [(5, 2, 7), (3, 9, 20), (0, 0, 31), (12, 30, 9)]:
        torch.testing.assert_close(scores[m, n], scores[m + s, n + s], rtol=1e-5, atol=1e-5)
    # rotation keeps norms, and the score does vary with the offset
    torch.testing.assert_close(rq.norm(dim=-1), q.norm(dim=-1))
    assert (scores[10, 10] - scores[10, 3]).abs() > 1e-3
    # position 0 is not rotated at all
    torch.testing.assert_close(rq[..., 0, :], q[..., 0, :])


def test_rope_theta_changes_the_rotation():
    cos_a, _ = rope_tables(8, 10, theta=10000.0)
    cos_b, _ = rope_tables(8, 10, theta=500.0)
    assert not torch.allclose(cos_a, cos_b)
    model = make_model("rope", rope_theta=500.0)
    torch.testing.assert_close(model.rope_cos, rope_tables(8, 48, 500.0)[0])


def test_alibi_slopes_for_eight_heads_are_powers_of_one_half():
    torch.testing.assert_close(alibi_slopes(8), torch.tensor([2.0**-i for i in range(1, 9)]))


def test_alibi_slopes_for_other_head_counts_interleave():
    # 4 heads: 2^-2 .. 2^-8; then 2 more taken from every other slope of 8 heads
    expected6 = [2**-2, 2**-4, 2**-6, 2**-8, 2**-1, 2**-3]
    torch.testing.assert_close(alibi_slopes(6), torch.tensor(expected6))
    torch.testing.assert_close(alibi_slopes(1), torch.tensor([2.0**-8]))
    for n in (3, 5, 12, 16):
        s = alibi_slopes(n)
        assert s.shape == (n,) and len(set(s.tolist())) == n and (s > 0).all() and (s < 1).all()


def test_alibi_bias_is_linear_in_distance_and_causal():
    slopes = alibi_slopes(8)
    T = 10
    bias = alibi_bias(slopes, T)
    assert bias.shape == (8, T, T)
    for h in range(8):
        for i in range(T):
            for j in range(T):
                if j <= i:
                    assert bias[h, i, j].item() == pytest.approx(-slopes[h].item() * (i - j))
                else:
                    assert bias[h, i, j].item() == -math.inf


def test_alibi_attention_matches_a_hand_written_softmax():
    model = make_model("alibi")
    attn = model.blocks[0].attn
    torch.manual_seed(3)
    B, T, C, H = 2, 9, TINY["d_model"], TINY["n_head"]
    x = torch.randn(B, T, C)
    bias = alibi_bias(model.alibi_slopes, T)
    q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in attn.qkv(x).split(C, dim=2))
    weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(C // H) + bias, dim=-1)
    expected = attn.proj((weights @ v).transpose(1, 2).reshape(B, T, C))
    context = Context(T, None, None, model.alibi_slopes)
    torch.testing.assert_close(attn(x, context), expected, rtol=1e-5, atol=1e-5)


def test_sinusoidal_table_values():
    table = sinusoidal_table(50, 8)
    assert table.shape == (50, 8)
    torch.testing.assert_close(table[0], torch.tensor([0.0, 1.0] * 4))
    torch.testing.assert_close(table[7, 0], torch.tensor(math.sin(7.0)))
    torch.testing.assert_close(table[7, 3], torch.tensor(math.cos(7.0 / 10000 ** (2 / 8))))
    assert sinusoidal_table(5, 7).shape == (5, 7)  # odd widths work too
    with pytest.raises(ValueError, match="kind"):
        AbsolutePositional("rope", 10, 8)


def test_nope_model_has_no_positional_parameters_or_buffers():
    model = make_model("none")
    assert model.pos is None
    assert not list(model.buffers())


# ---------------------------------------------------------------------------------------------
# config


@pytest.mark.parametrize(
    "overrides, field",
    [
        (dict(pe="xpos"), "pe"),
        (dict(n_head=5), "n_head"),
        (dict(n_layer=0), "n_layer"),
        (dict(d_model=-8), "d_model"),
        (dict(d_mlp=0), "d_mlp"),
        (dict(vocab_size=0), "vocab_size"),
        (dict(max_len=0), "max_len"),
        (dict(n_head=0), "n_head"),
        (dict(dropout=1.0), "dropout"),
        (dict(dropout=-0.1), "dropout"),
        (dict(rope_theta=0.0), "rope_theta"),
        (dict(layer_norm_eps=0.0), "layer_norm_eps"),
        (dict(n_layer=2.0), "n_layer"),
        (dict(pe="rope", d_model=36, n_head=4), "rope"),  # head dim 9 is odd
    ],
)
def test_bad_configs_name_the_field(overrides, field):
    with pytest.raises(ValueError, match=field):
        ModelConfig(**{**TINY, **overrides})


def test_unknown_pe_lists_the_accepted_kinds():
    with pytest.raises(ValueError) as err:
        ModelConfig(vocab_size=VOCAB_SIZE, pe="Rope")
    for kind in PE_KINDS:
        assert kind in str(err.value)


def test_presets():
    paper = ModelConfig.preset("paper", vocab_size=VOCAB_SIZE)
    assert (paper.n_layer, paper.n_head, paper.d_model, paper.d_mlp) == (12, 8, 512, 2048)
    assert (paper.dropout, paper.pe, paper.vocab_size, paper.max_len) == (0.1, "none", 118, 512)
    assert paper == ModelConfig(vocab_size=VOCAB_SIZE)  # the defaults are the paper's model
    assert ModelConfig.preset("tiny", vocab_size=VOCAB_SIZE, pe="rope").pe == "rope"
    assert set(PRESETS) >= {"paper", "tiny", "small"}
    with pytest.raises(ValueError, match=r"preset.*accepted: paper, small, tiny"):
        ModelConfig.preset("huge", vocab_size=VOCAB_SIZE)
    with pytest.raises(ValueError, match="n_layers"):
        ModelConfig.preset("tiny", vocab_size=VOCAB_SIZE, n_layers=3)


def test_config_round_trips_through_a_checkpoint():
    config = ModelConfig.preset("tiny", vocab_size=VOCAB_SIZE, pe="learned", max_len=64)
    d = config.to_dict()
    assert ModelConfig.from_dict(d) == config
    model = Decoder(config)
    clone = Decoder(ModelConfig.from_dict(d))
    clone.load_state_dict(model.state_dict())  # strict: same keys, same shapes
    with pytest.raises(ValueError, match=r"unknown ModelConfig field.*'n_heads'"):
        ModelConfig.from_dict({**d, "n_heads": 4})


def test_caches_stay_out_of_checkpoints_so_max_len_can_grow():
    for pe in ("none", "sinusoidal", "rope", "alibi"):
        short = make_model(pe, max_len=16)
        long = make_model(pe, max_len=64)
        long.load_state_dict(short.state_dict())
        tokens, lengths = batch(T=16)
        torch.testing.assert_close(long(tokens, lengths), short(tokens, lengths))


def test_parameter_counts():
    # the paper's network: 12 x 3.15M blocks + 2 x (118 x 512) embedding/head ~ 37.95M
    paper = num_parameters(Decoder(ModelConfig.preset("paper", vocab_size=VOCAB_SIZE)))
    assert 37_000_000 < paper < 39_000_000, f"paper preset has {paper:,} parameters"
    assert paper == 37_950_464
    learned = num_parameters(Decoder(ModelConfig.preset("paper", vocab_size=VOCAB_SIZE, pe="learned")))
    assert learned - paper == 512 * 512  # the position table
    tiny = Decoder(ModelConfig.preset("tiny", vocab_size=VOCAB_SIZE))
    assert tiny.num_parameters() == num_parameters(tiny) == 115_200
