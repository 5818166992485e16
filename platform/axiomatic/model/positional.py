"""Positional encodings for the decoder: how (and whether) the model is told where a token sits.

Five kinds, the ones axiomatic training compares (arXiv 2407.07612 uses the first four):

- ``none``       NoPE. No positional signal at all; the causal mask alone lets the model infer
                 order (a token can count how many tokens it attends to).
- ``sinusoidal`` the fixed sin/cos table of "Attention is all you need", added to the embeddings.
- ``learned``    a trained absolute position table (GPT-2's ``wpe``), added to the embeddings.
- ``rope``       rotary embeddings: q and k of every head are rotated by an angle proportional to
                 their position, so q·k depends only on the distance between them.
- ``alibi``      no embedding; each head adds ``-slope * distance`` to its attention scores.

The first two are "absolute" and live at the input (:class:`AbsolutePositional`); the last two act
inside attention (:func:`rotate`, :func:`alibi_bias`). Nothing here knows about the decoder.
"""

from __future__ import annotations

import math

import torch
from torch import nn

PE_KINDS = ("none", "sinusoidal", "learned", "rope", "alibi")
ABSOLUTE_KINDS = ("sinusoidal", "learned")  # added to the token embeddings before the first block


# ---------------------------------------------------------------------------------------------
# absolute encodings (added to the input)


def sinusoidal_table(max_len: int, d_model: int) -> torch.Tensor:
    """The (max_len, d_model) table: sin on even features, cos on odd, wavelengths 2π..10000·2π."""
    pos = torch.arange(max_len, dtype=torch.float64)[:, None]
    # one frequency per (sin, cos) pair; float64 so that far positions keep their precision
    freq = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float64) * (-math.log(10000.0) / d_model))
    table = torch.zeros(max_len, d_model, dtype=torch.float64)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq[: d_model // 2])  # odd d_model: one fewer cos column
    return table.float()


class AbsolutePositional(nn.Module):
    """Adds a position vector to each token embedding: learned (a parameter) or sinusoidal (fixed).

    The caller checks the length against ``max_len``; slicing a table past its end would
    silently return a shorter table and fail later with a confusing broadcast error.
    """

    def __init__(self, kind: str, max_len: int, d_model: int):
        super().__init__()
        if kind not in ABSOLUTE_KINDS:
            raise ValueError(f"AbsolutePositional kind must be one of {ABSOLUTE_KINDS}, got {kind!r}")
        self.kind = kind
        if kind == "learned":
            # an Embedding so that the decoder's init (normal, std 0.02) reaches it
            self.wpe = nn.Embedding(max_len, d_model)
        else:
            # not persistent: it is a pure function of the config, so checkpoints need not carry it
            # and a model can be reloaded with a larger max_len
            self.register_buffer("table", sinusoidal_table(max_len, d_model), persistent=False)

    def forward(self, x: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, T, d_model); positions: (B, T) position ids, or None for 0..T-1."""
        table = self.wpe.weight if self.kind == "learned" else self.table
        table = table[: x.size(1)] if positions is None else table[positions]
        return x + table.to(x.dtype)


# ---------------------------------------------------------------------------------------------
# rotary position embedding (RoPE)


def rope_tables(head_dim: int, max_len: int, theta: float = 10000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of the rotation angles, each (max_len, head_dim // 2).

    Feature pair i of a head turns by ``pos * theta**(-2i/head_dim)`` radians: fast rotations
    resolve nearby positions, slow ones far ones.
    """
    if head_dim % 2:
        raise ValueError(f"RoPE rotates feature pairs, so the head dim must be even, got {head_dim}")
    inv_freq = theta ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    angles = torch.outer(torch.arange(max_len, dtype=torch.float64), inv_freq)
    return angles.cos().float(), angles.sin().float()


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate x (..., head_dim) by angles whose cos/sin broadcast against it: rows of
    :func:`rope_tables` picked for the positions of x. Because queries and keys are both rotated,
    ``rot(q, m) · rot(k, n) = q · R(n - m) k``: scores depend only on the relative offset. The
    tables are cast to x's dtype so bf16 autocast stays bf16."""
    # pairs are (x[i], x[i + D/2]) -- the "rotate half" layout, which needs no strided indexing
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)


# ---------------------------------------------------------------------------------------------
# ALiBi (attention with linear biases)


def _geometric_slopes(n: int) -> list[float]:
    # for a power of two n: ratio = first slope = 2^(-8/n), so the slopes run 2^-8/n ... 2^-8
    first = 2.0 ** (-8.0 / n)
    return [first ** (i + 1) for i in range(n)]


def alibi_slopes(n_heads: int) -> torch.Tensor:
    """Per-head slopes, (n_heads,). 8 heads -> 1/2, 1/4, ..., 1/256.

    Other head counts follow the ALiBi paper's recipe: take the slopes of the largest power of
    two below n, then fill the rest with every other slope of the next power of two, so the
    extra heads interleave between the existing ones instead of repeating them.
    """
    if n_heads < 1:
        raise ValueError(f"alibi needs at least one head, got {n_heads}")
    closest = 2 ** int(math.floor(math.log2(n_heads)))
    slopes = _geometric_slopes(closest)
    if closest < n_heads:
        slopes += _geometric_slopes(2 * closest)[0::2][: n_heads - closest]
    return torch.tensor(slopes, dtype=torch.float32)


def alibi_bias_at(slopes: torch.Tensor, positions: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """The ALiBi mask of rows whose tokens sit at ``positions`` (B, T) and may attend where
    ``allowed`` (B, 1, T, T) is True: (B, n_heads, T, T), ``-slope * (pos_i - pos_j)`` or ``-inf``."""
    distance = (positions[:, :, None] - positions[:, None, :]).to(slopes.dtype)[:, None]
    bias = -slopes[None, :, None, None] * distance
    return bias.masked_fill(~allowed, float("-inf"))


def alibi_bias(slopes: torch.Tensor, T: int) -> torch.Tensor:
    """Additive attention mask, (n_heads, T, T), causal mask included.

    Entry [h, i, j] is ``-slopes[h] * (i - j)`` for j <= i (a key further back costs more) and
    ``-inf`` for j > i (the future). Ready to pass as ``attn_mask`` to
    ``scaled_dot_product_attention``; the diagonal is always 0, so no row is fully masked.
    """
    pos = torch.arange(T, device=slopes.device)
    distance = (pos[:, None] - pos[None, :]).to(slopes.dtype)  # i - j
    bias = -slopes[:, None, None] * distance
    return bias.masked_fill(distance < 0, float("-inf"))
