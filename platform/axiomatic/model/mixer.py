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


def within_names(tokens: torch.Tensor, predecessor: torch.Tensor | None,
                 name_token: torch.Tensor) -> torch.Tensor:
    """Each token's predecessor where both are characters of one node name, else -1.

    tokens: (B, T) ids; predecessor: (B, T) as for :class:`CausalConv` (None: the token to the
    left); name_token: (vocab,) bool, True for the ids that spell names. Two names never touch in
    a row (a word or a punctuation token always stands between them), so consecutive characters
    belong to one name."""
    if predecessor is None:
        predecessor = torch.arange(-1, tokens.size(1) - 1, device=tokens.device).expand_as(tokens)
    is_name = name_token[tokens]
    previous_is_name = is_name.gather(1, predecessor.clamp(min=0)) & (predecessor >= 0)
    return torch.where(is_name & previous_is_name, predecessor, -1)


def _previous(x: torch.Tensor, predecessor: torch.Tensor | None) -> torch.Tensor:
    """Each token's vector replaced by its predecessor's (zeros where it has none)."""
    if predecessor is None:
        return F.pad(x[:, :-1], (0, 0, 1, 0))
    index = predecessor.clamp(min=0)[..., None].expand(-1, -1, x.size(-1))
    return x.gather(1, index).masked_fill((predecessor < 0)[..., None], 0.0)
