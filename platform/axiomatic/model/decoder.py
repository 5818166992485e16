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
:meth:`Decoder.hidden_states` runs every block at every position.

Defaults are the paper's model: 12 layers, 8 heads, width 512, MLP 2048, dropout 0.1, no
positional encoding. See docs/model.md.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from axiomatic.data.tokenizer import VOCAB_SIZE
from axiomatic.model.positional import (
    ABSOLUTE_KINDS,
    PE_KINDS,
    AbsolutePositional,
    alibi_bias,
    alibi_slopes,
    apply_rope,
    rope_tables,
    rotate,
)


@dataclass
class ModelConfig:
    vocab_size: int = VOCAB_SIZE
    n_layer: int = 12
    n_head: int = 8
    d_model: int = 512
    d_mlp: int = 2048
    dropout: float = 0.1
    pe: str = "none"
    max_len: int = 512  # longest input accepted; 50-node chains with 3-character names are ~400
    rope_theta: float = 10000.0
    layer_norm_eps: float = 1e-5

    def __post_init__(self) -> None:
        for name in ("vocab_size", "n_layer", "n_head", "d_model", "d_mlp", "max_len"):
            value = getattr(self, name)
            # bool is an int subclass; True as a layer count is a bug, not a 1
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"ModelConfig.{name} must be a positive integer, got {value!r}")
        for name in ("rope_theta", "layer_norm_eps"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
                raise ValueError(f"ModelConfig.{name} must be a positive number, got {value!r}")
        if (
            not isinstance(self.dropout, (int, float))
            or isinstance(self.dropout, bool)
            or not 0.0 <= self.dropout < 1.0
        ):
            raise ValueError(f"ModelConfig.dropout must be a number in [0, 1), got {self.dropout!r}")
        if self.pe not in PE_KINDS:
            raise ValueError(f"ModelConfig.pe must be one of {', '.join(PE_KINDS)}; got {self.pe!r}")
        if self.d_model % self.n_head:
            raise ValueError(
                f"ModelConfig.n_head={self.n_head} must divide ModelConfig.d_model={self.d_model} "
                "(each head gets d_model / n_head features)"
            )
        if self.pe == "rope" and self.head_dim % 2:
            raise ValueError(
                f"ModelConfig.pe='rope' needs an even head dim (d_model / n_head), got "
                f"{self.d_model} / {self.n_head} = {self.head_dim}"
            )

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> "ModelConfig":
        """A named size, e.g. ``ModelConfig.preset("tiny", pe="rope")``."""
        if name not in PRESETS:
            raise ValueError(f"unknown ModelConfig preset {name!r}; accepted: {', '.join(PRESETS)}")
        return cls.from_dict({**PRESETS[name], **overrides})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelConfig":
        """Inverse of :meth:`to_dict`. Unknown keys are an error: a checkpoint written by a newer
        model (or a typo in an override) must not load as a silently different network."""
        fields = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(d) - set(fields))
        if unknown:
            raise ValueError(f"unknown ModelConfig field(s) {unknown}; accepted: {', '.join(fields)}")
        return cls(**d)


# Sizes. "paper" is the public code's GPT-2 config; the others keep its recipe (dropout, NoPE)
# at widths a CPU can train in minutes.
PRESETS: dict[str, dict[str, Any]] = {
    "paper": dict(n_layer=12, n_head=8, d_model=512, d_mlp=2048, dropout=0.1, pe="none"),
    "small": dict(n_layer=4, n_head=4, d_model=128, d_mlp=512, dropout=0.1, pe="none"),
    "tiny": dict(n_layer=2, n_head=4, d_model=64, d_mlp=256, dropout=0.1, pe="none"),
}


ALL_SDPA_BACKENDS = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION,
                     SDPBackend.CUDNN_ATTENTION, SDPBackend.MATH]


def sdpa_backends(device: torch.device) -> list[SDPBackend]:
    # On a CPU, SDPA's fused kernel costs more than the plain math at these small head sizes
    # (measured: a 4-layer, 64-wide model steps ~10% faster with the math kernel)
    return [SDPBackend.MATH] if device.type == "cpu" else ALL_SDPA_BACKENDS


class CausalSelfAttention(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.n_head = config.n_head
        self.dropout = config.dropout
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)
        self.proj = nn.Linear(config.d_model, config.d_model)
        self.resid_drop = nn.Dropout(config.dropout)

    def forward(
        self,
        x: torch.Tensor,
        rope: tuple[torch.Tensor, torch.Tensor] | None = None,
        bias: torch.Tensor | None = None,
    ) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        # (B, T, C) -> (B, heads, T, head_dim)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        if rope is not None:
            q, k = apply_rope(q, k, *rope)
        p = self.dropout if self.training else 0.0
        with sdpa_kernel(sdpa_backends(x.device)):
            if bias is None:
                # is_causal lets SDPA pick the flash kernel and skip the masked half
                y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
            else:
                # ALiBi: the bias already holds the causal -inf; match q's dtype for autocast
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype), dropout_p=p)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_drop(self.proj(y))

    def at_last(
        self,
        x: torch.Tensor,
        last: torch.Tensor,
        rope: tuple[torch.Tensor, torch.Tensor] | None = None,
        bias: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The attention output at one position per row, ``last`` (B,), as (B, C).

        Keys and values still come from every position, but the query and the projection only
        from ``last``: the same numbers :meth:`forward` gives there, for a fraction of the work.
        """
        B, T, C = x.shape
        w_q, w_kv = self.qkv.weight.split([C, 2 * C])
        b_q, b_kv = self.qkv.bias.split([C, 2 * C])
        q = F.linear(at_positions(x, last), w_q, b_q).view(B, self.n_head, 1, C // self.n_head)
        k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
                for t in F.linear(x, w_kv, b_kv).split(C, dim=2))
        if rope is not None:
            cos, sin = rope
            q = rotate(q, cos[last].view(B, 1, 1, -1), sin[last].view(B, 1, 1, -1))
            k = rotate(k, cos[:T], sin[:T])
        if bias is None:
            # the query sees keys 0..last: the causal mask's row for that position
            mask = (torch.arange(T, device=x.device) <= last[:, None]).view(B, 1, 1, T)
        else:
            mask = bias[:, last].transpose(0, 1).unsqueeze(2).to(q.dtype)  # (heads, B, T) -> (B, heads, 1, T)
        p = self.dropout if self.training else 0.0
        with sdpa_kernel(sdpa_backends(x.device)):
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        return self.resid_drop(self.proj(y.view(B, C)))


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
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.mlp = MLP(config)

    def forward(self, x, rope=None, bias=None):
        x = x + self.attn(self.ln_1(x), rope, bias)
        return x + self.mlp(self.ln_2(x))

    def at_last(self, x, last, rope=None, bias=None):
        """The block's output at position ``last`` (B,) of each row only, (B, C)."""
        h = at_positions(x, last) + self.attn.at_last(self.ln_1(x), last, rope, bias)
        return h + self.mlp(self.ln_2(h))


def at_positions(x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Row b's vector at ``positions[b]``: (B, T, C) -> (B, C). A gather, not indexing, so a
    position out of range is an error instead of wrapping around to the end."""
    index = positions.view(-1, 1, 1).expand(-1, 1, x.size(-1))
    return x.gather(1, index).squeeze(1)


class Decoder(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
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

        self.apply(self._init_weights)
        # GPT-2: scale the projections that write into the residual stream by 1/sqrt(2 n_layer),
        # so the stream's variance does not grow with depth at init
        for name, p in self.named_parameters():
            if name.endswith("attn.proj.weight") or name.endswith("mlp.proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def _check_tokens(self, tokens: torch.Tensor) -> None:
        if tokens.dim() != 2:
            raise ValueError(f"tokens must be (batch, time), got shape {tuple(tokens.shape)}")
        T = tokens.size(1)
        if T > self.config.max_len:
            raise ValueError(
                f"input of {T} tokens exceeds max_len={self.config.max_len} of this model; "
                "raise model.max_len"
            )

    def _inputs(self, tokens: torch.Tensor):
        """The first block's input (B, T, d_model), and the RoPE tables / ALiBi bias or None."""
        x = self.tok_emb(tokens)
        if self.pos is not None:
            x = self.pos(x)
        rope = (self.rope_cos, self.rope_sin) if self.config.pe == "rope" else None
        # one (heads, T, T) bias shared by every layer
        bias = alibi_bias(self.alibi_slopes, tokens.size(1)) if self.config.pe == "alibi" else None
        return self.drop(x), rope, bias

    def _trunk(self, tokens: torch.Tensor) -> torch.Tensor:
        """Residual stream after the last block, (B, T, d_model), before the final LayerNorm."""
        x, rope, bias = self._inputs(tokens)
        for block in self.blocks:
            x = block(x, rope, bias)
        return x

    def hidden_states(self, tokens: torch.Tensor) -> torch.Tensor:
        """Final-LayerNorm output at every position, (B, T, d_model): for probing and tests."""
        self._check_tokens(tokens)
        return self.ln_f(self._trunk(tokens))

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits at each row's last input token, (B, vocab_size).

        tokens: (B, T) int64, right-padded (what follows a row's length is never read).
        lengths: (B,) integers, each in [1, T]. Not checked here (that would sync the GPU every
            step); an out-of-range length fails in the gather (a device assert on CUDA).
        """
        self._check_tokens(tokens)
        if lengths.shape != tokens.shape[:1]:
            raise ValueError(
                f"lengths must be (batch,) = ({tokens.size(0)},), got shape {tuple(lengths.shape)}"
            )
        x, rope, bias = self._inputs(tokens)
        for block in self.blocks[:-1]:
            x = block(x, rope, bias)
        # Only the last input token is read, so the last block computes just what it needs there:
        # keys and values at every position, query, projection and MLP at one. A 4-layer model
        # does ~20% less work per step; the final LayerNorm and the head run once per row too.
        last = self.blocks[-1].at_last(x, lengths.long() - 1, rope, bias)
        return self.head(self.ln_f(last))

    def num_parameters(self) -> int:
        return num_parameters(self)


def num_parameters(model: nn.Module) -> int:
    """Parameters actually in the network, frozen or not (a shared tensor counts once)."""
    return sum(p.numel() for p in model.parameters())
