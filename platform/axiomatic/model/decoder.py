"""The GPT-2-style decoder of axiomatic training (arXiv 2407.07612), with a single-position output.

The task is classification: read ``premise + hypothesis`` and answer ``Yes``/``No`` at the last
input token (the ``?``). So :meth:`Decoder.forward` takes right-padded token ids plus each row's
length and returns only the logits at position ``length - 1``: the (B, T, vocab) logits of a
language model are never built. Attention is causal and padding sits on the right, so pad tokens
come after the gathered position and cannot influence it.

Layout (pre-LayerNorm GPT-2):

    token embedding (+ absolute position) -> dropout
    n_layer x [ x + Attn(LN(x)) ; x + MLP(LN(x)) ]        Attn: causal, RoPE/ALiBi inside if chosen
    gather position length-1 -> final LN -> head (untied Linear d_model -> vocab)

In :meth:`Decoder.forward` the last block is evaluated at position length-1 only (its keys and
values still cover every position), which gives the same logits for less work;
:meth:`Decoder.hidden_states` runs every block at every position. The same call also reads rows
that hold one premise and several questions (a :class:`~axiomatic.model.layout.Layout`), and the
logits at every position for the auxiliary next-token loss (:class:`Readout`).

Two options depart from the paper's model, both off by default: ``mixer: conv`` (a causal
depthwise convolution before attention in each block, :mod:`axiomatic.model.mixer`; ``mixer:
name`` keeps it within each node name, and ``mixer: sentence`` adds the mean of the sentence so
far: neither carries position) and
``embed_init: paper`` (which *is* the paper's code: input embeddings drawn from N(0, 1), where
GPT-2's init draws them from N(0, 0.02)).

The configuration (:class:`~axiomatic.model.config.ModelConfig`, whose defaults are the paper's
model) and the named sizes are in :mod:`axiomatic.model.config`. See docs/model.md.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.nn.attention.flex_attention import BlockMask, create_block_mask, flex_attention

from axiomatic.model.config import ModelConfig
from axiomatic.model.layout import Layout
from axiomatic.data import tokenizer
from axiomatic.model.mixer import CausalConv, SentenceMean, left_neighbours, sentence_starts, within_names
from axiomatic.model.positional import (
    ABSOLUTE_KINDS,
    AbsolutePositional,
    alibi_bias,
    alibi_bias_at,
    alibi_slopes,
    rope_tables,
    rotate,
)

ALL_SDPA_BACKENDS = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION,
                     SDPBackend.CUDNN_ATTENTION, SDPBackend.MATH]


def sdpa_backends(device: torch.device) -> list[SDPBackend]:
    # On a CPU, SDPA's fused kernel costs more than the plain math at these small head sizes
    # (measured: a 4-layer, 64-wide model steps ~10% faster with the math kernel)
    return [SDPBackend.MATH] if device.type == "cpu" else ALL_SDPA_BACKENDS


class Context:
    """What every block of one forward pass shares: where each token sits and what it may see.

    Plain rows need nothing but the causal mask, which SDPA applies itself (``is_causal``, the
    flash kernel on a GPU). A :class:`Layout` brings positions, a boolean mask and predecessors;
    with ``flex`` a FlexAttention block mask from the same rule (:meth:`Layout.allows`) instead of
    the dense mask, which lets the kernel skip blocks no query may see (another instance of a
    packed row).
    """

    def __init__(self, T: int, layout: Layout | None, rope: tuple[torch.Tensor, torch.Tensor] | None,
                 alibi_slopes: torch.Tensor | None, flex: bool = False,
                 mixer_predecessor: torch.Tensor | None = None, sentence_start: torch.Tensor | None = None):
        self.positions = None if layout is None else layout.positions
        # the token each one's mixer reads before it: its predecessor in its own sequence (None:
        # the token to the left), or, for the name and sentence mixers, only within its node name;
        # and where each token's sentence starts, for the sentence mixer's mean
        self.mixer_predecessor = mixer_predecessor
        self.sentence_start = sentence_start
        self.rope = rope
        self.T = T
        self.layout = layout
        self.block_mask: BlockMask | None = None
        if flex:
            B = layout.segments.size(0)
            self.block_mask = create_block_mask(lambda b, h, q, k: layout.allows(b, q, k), B, None, T, T,
                                                device=layout.segments.device)
            self.mask = None
        elif layout is None:
            # ALiBi's bias holds the causal -inf; one (1, heads, T, T) bias shared by every layer
            self.mask = None if alibi_slopes is None else alibi_bias(alibi_slopes, T)[None]
        else:
            allowed = layout.mask()
            self.mask = allowed if alibi_slopes is None else alibi_bias_at(alibi_slopes, layout.positions, allowed)

    def rope_at(self, index: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """cos and sin for the keys (index None) or for the queries at ``index`` (B, K), shaped
        to broadcast against (B, heads, T or K, head_dim)."""
        cos, sin = self.rope
        if index is None and self.positions is None:
            return cos[: self.T], sin[: self.T]
        positions = self.positions if index is None else (
            index if self.positions is None else self.positions.gather(1, index))
        return cos[positions][:, None], sin[positions][:, None]

    def mask_rows(self, index: torch.Tensor) -> torch.Tensor:
        """The mask's rows for queries at ``index`` (B, K): (B, 1 or heads, K, T)."""
        B, K = index.shape
        keys = torch.arange(self.T, device=index.device)
        if self.block_mask is not None:  # the same rule, for these queries only
            rows = torch.arange(B, device=index.device)
            return self.layout.allows(rows[:, None, None], index[:, :, None], keys[None, None, :])[:, None]
        if self.mask is None:
            return (keys[None, None, :] <= index[:, :, None])[:, None]
        mask = self.mask.expand(B, -1, -1, -1)
        rows = index[:, None, :, None].expand(B, mask.size(1), K, self.T)
        return mask.gather(2, rows)


class CausalSelfAttention(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.n_head = config.n_head
        self.dropout = config.dropout
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)
        self.proj = nn.Linear(config.d_model, config.d_model)
        self.resid_drop = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, ctx: Context, queries: torch.Tensor | None = None) -> torch.Tensor:
        """Attention output at every position (B, T, C), or only at ``queries`` (B, K) as
        (B, K, C): keys and values still come from every position, the query and the projection
        only from those, which gives the same numbers there for a fraction of the work."""
        B, T, C = x.shape

        def heads(t):  # (B, T or K, C) -> (B, heads, T or K, head_dim)
            return t.view(B, -1, self.n_head, C // self.n_head).transpose(1, 2)

        if queries is None:
            q, k, v = (heads(t) for t in self.qkv(x).split(C, dim=2))
        else:
            w_q, w_kv = self.qkv.weight.split([C, 2 * C])
            b_q, b_kv = self.qkv.bias.split([C, 2 * C])
            q = heads(F.linear(at_positions(x, queries), w_q, b_q))
            k, v = (heads(t) for t in F.linear(x, w_kv, b_kv).split(C, dim=2))
        if ctx.rope is not None:
            q, k = rotate(q, *ctx.rope_at(queries)), rotate(k, *ctx.rope_at())
        mask = ctx.mask if queries is None else ctx.mask_rows(queries)
        if mask is not None and mask.dtype != torch.bool:
            mask = mask.to(q.dtype)  # an additive ALiBi bias follows q's dtype under autocast
        p = self.dropout if self.training else 0.0
        with sdpa_kernel(sdpa_backends(x.device)):
            if ctx.block_mask is not None and queries is None:
                y = flex_attention(q, k, v, block_mask=ctx.block_mask)
            elif mask is None:
                # is_causal lets SDPA pick the flash kernel and skip the masked half
                y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
            else:
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        y = y.transpose(1, 2).contiguous().view(B, -1, C)
        return self.resid_drop(self.proj(y))


class MLP(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.fc = nn.Linear(config.d_model, config.d_mlp)
        self.proj = nn.Linear(config.d_mlp, config.d_model)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.proj(F.gelu(self.fc(x))))


class Block(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.mixer = CausalConv(config.d_model, config.mixer_width) if config.mixer != "none" else None
        self.sentence_mean = SentenceMean(config.d_model) if config.mixer == "sentence" else None
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, ctx: Context, queries: torch.Tensor | None = None) -> torch.Tensor:
        """The block's output at every position, or at ``queries`` (B, K) only, as (B, K, C)."""
        a = self.ln_1(x)
        if self.sentence_mean is not None:
            a = a + self.mixer(a, ctx.mixer_predecessor) + self.sentence_mean(a, ctx.sentence_start)
        elif self.mixer is not None:
            a = a + self.mixer(a, ctx.mixer_predecessor)
        h = x if queries is None else at_positions(x, queries)
        h = h + self.attn(a, ctx, queries)
        return h + self.mlp(self.ln_2(h))


def at_positions(x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Row b's vectors at ``positions[b]``: (B, T, C) and (B, K) -> (B, K, C). A gather, not
    indexing, so a position out of range is an error instead of wrapping around to the end."""
    index = positions[..., None].expand(-1, -1, x.size(-1))
    return x.gather(1, index)


class Readout(NamedTuple):
    answers: torch.Tensor  # (B, K, vocab): logits at each question's last token
    tokens: torch.Tensor | None  # (B, T, vocab): logits at every position, when asked for


class Decoder(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        # rows with a Layout attend through FlexAttention block masks instead of SDPA with a dense
        # mask (train.flex_attention sets it): skips the blocks of a packed row that no query sees
        self.use_flex = False
        self.tok_emb = nn.Embedding(config.vocab_size, config.d_model)
        self.pos = (
            AbsolutePositional(config.pe, config.max_len, config.d_model)
            if config.pe in ABSOLUTE_KINDS
            else None
        )
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        # untied from tok_emb, as in the paper's code: only 2 of its rows (Yes/No) are ever targets
        self.head = nn.Linear(config.d_model, config.vocab_size, bias=False)

        # RoPE tables and ALiBi slopes are functions of the config: non-persistent buffers, so
        # they follow .to(device) but stay out of checkpoints (max_len can grow on reload)
        if config.pe == "rope":
            cos, sin = rope_tables(config.head_dim, config.max_len, config.rope_theta)
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)
        if config.pe == "alibi":
            self.register_buffer("alibi_slopes", alibi_slopes(config.n_head), persistent=False)
        if config.mixer in ("name", "sentence"):
            # the one thing this model knows of the tokenizer: which ids spell node names (the
            # checkpoint pins the tokenizer's version, so these ids cannot drift under it)
            if config.vocab_size != tokenizer.VOCAB_SIZE:
                raise ValueError(f"mixer {config.mixer!r} reads the tokenizer's {tokenizer.VOCAB_SIZE} ids, "
                                 f"got vocab_size={config.vocab_size}")
            name_token = torch.zeros(config.vocab_size, dtype=torch.bool)
            name_token[torch.from_numpy(tokenizer.CHAR_ID.astype("int64"))] = True
            self.register_buffer("name_token", name_token, persistent=False)
            boundary = torch.zeros(config.vocab_size, dtype=torch.bool)
            boundary[[tokenizer.TOKEN_ID["."], tokenizer.TOKEN_ID["?"]]] = True
            self.register_buffer("sentence_end", boundary, persistent=False)

        self.apply(self._init_weights)
        # GPT-2: scale the projections that write into the residual stream by 1/sqrt(2 n_layer),
        # so the stream's variance does not grow with depth at init
        for name, p in self.named_parameters():
            if name.endswith("attn.proj.weight") or name.endswith("mlp.proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))
        if config.embed_init == "paper":
            # the paper's code feeds nn.Embedding(V, 512) with PyTorch's default N(0, 1) init into
            # the GPT-2 trunk: token identities start 50x louder than GPT-2's init makes them
            nn.init.normal_(self.tok_emb.weight, mean=0.0, std=1.0)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def _check_tokens(self, tokens: torch.Tensor, layout: Layout | None = None) -> None:
        if tokens.dim() != 2:
            raise ValueError(f"tokens must be (batch, time), got shape {tuple(tokens.shape)}")
        T = tokens.size(1)
        # a packed row may be wider than max_len: only positions, which restart at each instance,
        # must stay below it (the Trainer checks every instance's length before the first step)
        if layout is None and T > self.config.max_len:
            raise ValueError(
                f"input of {T} tokens exceeds max_len={self.config.max_len} of this model; "
                "raise model.max_len"
            )

    def _inputs(self, tokens: torch.Tensor, layout: Layout | None) -> tuple[torch.Tensor, Context]:
        """The first block's input (B, T, d_model), and the context every block shares."""
        x = self.tok_emb(tokens)
        if self.pos is not None:
            x = self.pos(x, None if layout is None else layout.positions)
        rope = (self.rope_cos, self.rope_sin) if self.config.pe == "rope" else None
        slopes = self.alibi_slopes if self.config.pe == "alibi" else None
        # FlexAttention has no dropout and this code no ALiBi score_mod: those keep the dense mask
        flex = (self.use_flex and layout is not None and slopes is None
                and (self.config.dropout == 0 or not self.training))
        mixer_predecessor = None if layout is None else layout.predecessor
        sentence_start = None
        if self.config.mixer in ("name", "sentence"):
            predecessor = left_neighbours(tokens) if layout is None else layout.predecessor
            mixer_predecessor = within_names(tokens, predecessor, self.name_token)
            if self.config.mixer == "sentence":
                sentence_start = sentence_starts(tokens, predecessor, self.sentence_end)
        return self.drop(x), Context(tokens.size(1), layout, rope, slopes, flex, mixer_predecessor,
                                     sentence_start)

    def _trunk(self, tokens: torch.Tensor, layout: Layout | None = None) -> torch.Tensor:
        """Residual stream after the last block, (B, T, d_model), before the final LayerNorm."""
        x, ctx = self._inputs(tokens, layout)
        for block in self.blocks:
            x = block(x, ctx)
        return x

    def hidden_states(self, tokens: torch.Tensor, layout: Layout | None = None) -> torch.Tensor:
        """Final-LayerNorm output at every position, (B, T, d_model): for probing and tests."""
        self._check_tokens(tokens, layout)
        return self.ln_f(self._trunk(tokens, layout))

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor | None = None,
                layout: Layout | None = None, every_position: bool = False):
        """The logits the loss reads, in one of two forms.

        ``forward(tokens, lengths)``: plain rows, logits at each row's last input token, (B, vocab).
            tokens: (B, T) int64, right-padded (what follows a row's length is never read).
            lengths: (B,) integers, each in [1, T]. Not checked here (that would sync the GPU
            every step); an out-of-range length fails in the gather (a device assert on CUDA).
        ``forward(tokens, layout=..., every_position=...)`` or ``forward(tokens, lengths,
            every_position=True)``: a :class:`Readout`, the logits at every question's answer
            position (B, K, vocab), and with ``every_position`` also at every position (the
            auxiliary next-token loss). One method, so a DDP-wrapped model serves both.
        """
        self._check_tokens(tokens, layout)
        if layout is None:
            if lengths is None or lengths.shape != tokens.shape[:1]:
                raise ValueError(f"lengths must be (batch,) = ({tokens.size(0)},), got "
                                 f"{None if lengths is None else tuple(lengths.shape)}")
            answers = (lengths.long() - 1)[:, None]
        else:
            answers = layout.answers
        x, ctx = self._inputs(tokens, layout)
        if every_position:
            for block in self.blocks:
                x = block(x, ctx)
            logits = self.head(self.ln_f(x))
            return Readout(at_positions(logits, answers), logits)
        for block in self.blocks[:-1]:
            x = block(x, ctx)
        # Only the answer positions are read, so the last block computes just what it needs there:
        # keys and values at every position, query, projection and MLP at those. A 4-layer model
        # does ~20% less work per step; the final LayerNorm and the head run once per answer too.
        logits = self.head(self.ln_f(self.blocks[-1](x, ctx, answers)))
        return logits[:, 0] if layout is None else Readout(logits, None)

    def num_parameters(self) -> int:
        return num_parameters(self)


def num_parameters(model: nn.Module) -> int:
    """Parameters actually in the network, frozen or not (a shared tensor counts once)."""
    return sum(p.numel() for p in model.parameters())
