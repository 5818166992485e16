"""Local token mixing: a causal depthwise convolution over a few tokens, before attention.

A node name is 1-3 character tokens, so attention has to match *strings* to find the question's
names in the premise, a multi-token lookup that small models learn late. Mixing each token with its
``width - 1`` predecessors (one weight per channel and offset, no bias, a residual around it) makes
a name one vector at its last character, so attention can match single positions instead. This is
the "Canon layer" of Physics of Language Models 4.1 (Allen-Zhu, 2025). It is a departure from the
paper's model: it adds a position signal of its own, though only over ``width`` tokens.

The predecessor of a token is the token before it *in its own sequence*: in a multi-question row
(:mod:`axiomatic.model.layout`) a question's first token follows the premise's last token, not the
previous question, so every question is mixed exactly as it would be alone.

``mixer: name`` is the same convolution with a shorter reach: a token's predecessors count only
while they spell the *same node name* (:func:`within_names`). A character is mixed with the
characters before it in its name and with nothing else; every other token only with itself. So the
mixer makes a name one vector, as a tokenizer that kept names whole would, and carries no position
in the row: what it adds to a token is the same wherever in the row its name stands, and it never
sees a neighbouring word. Where a name stands, and whether it is a cause or an effect, the model
must learn from attention under the causal mask alone, as the paper's NoPE model does.

``mixer: sentence`` adds to the name mixer the mean of the sentence so far
(:class:`SentenceMean`): every token also gets the average of the tokens from its sentence's first
token to itself, in no order. A name after ``causes`` then holds ``causes`` and the cause's
characters, one before it does not, so a cause and an effect differ without any position: the mean
is the same for any order of those tokens and wherever the sentence stands. It is what one NoPE
attention head gives when it attends evenly over the current sentence; the mixer supplies it from
the first step instead of waiting for attention to find the sentence's start.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class CausalConv(nn.Module):
    def __init__(self, d_model: int, width: int):
        super().__init__()
        self.width = width
        # Conv1d's default init, uniform in +-1/sqrt(fan_in): a mixer that acts from the first
        # step (GPT-2's 0.02 would leave it near zero for most of a short run)
        bound = 1.0 / math.sqrt(width)
        self.weight = nn.Parameter(torch.empty(d_model, width).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor, predecessor: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, T, C). predecessor: (B, T) index of each token's previous token (-1 for none),
        or None for plain rows, where it is simply the token to the left."""
        out = x * self.weight[:, 0]
        shifted = x
        for offset in range(1, self.width):
            shifted = _previous(shifted, predecessor)
            out = out + shifted * self.weight[:, offset]
        return out


class SentenceMean(nn.Module):
    """One weight per channel times the mean of the sentence so far (its first token to this one)."""

    def __init__(self, d_model: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(d_model).uniform_(-1.0, 1.0))  # as CausalConv at width 1

    def forward(self, x: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
        """x: (B, T, C); start: (B, T) index of the first token of each token's sentence
        (:func:`sentence_starts`)."""
        total = torch.cumsum(x, dim=1)
        index = (start - 1).clamp(min=0)[..., None].expand_as(x)
        before = total.gather(1, index).masked_fill((start == 0)[..., None], 0.0)
        count = torch.arange(1, x.size(1) + 1, device=x.device) - start
        return (total - before) / count[..., None] * self.weight


def left_neighbours(tokens: torch.Tensor) -> torch.Tensor:
    """The predecessor of every token of a plain row: the token to its left (-1 for the first)."""
    return torch.arange(-1, tokens.size(1) - 1, device=tokens.device).expand_as(tokens)


def sentence_starts(tokens: torch.Tensor, predecessor: torch.Tensor,
                    boundary_token: torch.Tensor) -> torch.Tensor:
    """Index of the first token of each token's sentence: a sentence starts at a token with no
    predecessor or whose predecessor ends a sentence (``boundary_token``: (vocab,) bool, the ids
    of ``.`` and ``?``). The tokens of a sentence are contiguous in every row kind (a question of
    a multi-question row starts a sentence of its own), so the start is a running maximum."""
    ends = boundary_token[tokens].gather(1, predecessor.clamp(min=0))
    starts = (predecessor < 0) | ends
    index = torch.arange(tokens.size(1), device=tokens.device).expand_as(tokens)
    return torch.where(starts, index, 0).cummax(dim=1).values


def within_names(tokens: torch.Tensor, predecessor: torch.Tensor,
                 name_token: torch.Tensor) -> torch.Tensor:
    """Each token's predecessor where both are characters of one node name, else -1.

    tokens: (B, T) ids; predecessor: (B, T) as for :class:`CausalConv` (:func:`left_neighbours`
    for a plain row); name_token: (vocab,) bool, True for the ids that spell names. Two names never touch in
    a row (a word or a punctuation token always stands between them), so consecutive characters
    belong to one name."""
    is_name = name_token[tokens]
    previous_is_name = is_name.gather(1, predecessor.clamp(min=0)) & (predecessor >= 0)
    return torch.where(is_name & previous_is_name, predecessor, -1)


def _previous(x: torch.Tensor, predecessor: torch.Tensor | None) -> torch.Tensor:
    """Each token's vector replaced by its predecessor's (zeros where it has none)."""
    if predecessor is None:
        return F.pad(x[:, :-1], (0, 0, 1, 0))
    index = predecessor.clamp(min=0)[..., None].expand(-1, -1, x.size(-1))
    return x.gather(1, index).masked_fill((predecessor < 0)[..., None], 0.0)
