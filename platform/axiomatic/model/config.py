"""The decoder's configuration: its fields, each checked when a config is built, and named sizes.

Defaults are the paper's model: 12 layers, 8 heads, width 512, MLP 2048, dropout 0.1, no
positional encoding. The vocabulary size has no default: the caller fills it from the tokenizer
(``train.config`` does for every run), so the model knows nothing of the data.
``mixer`` and ``embed_init`` are the two options that depart from the paper's model (see
:mod:`axiomatic.model.decoder`). See docs/model.md.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from axiomatic.model.positional import PE_KINDS

MIXERS = ("none", "conv")
EMBED_INITS = ("gpt2", "paper")


def _is_positive_int(value: Any) -> bool:
    # bool is an int subclass; True as a layer count is a bug, not a 1
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


@dataclass
class ModelConfig:
    vocab_size: int
    n_layer: int = 12
    n_head: int = 8
    d_model: int = 512
    d_mlp: int = 2048
    dropout: float = 0.1
    pe: str = "none"
    max_len: int = 512  # longest input accepted; 50-node chains with 3-character names are ~400
    rope_theta: float = 10000.0
    layer_norm_eps: float = 1e-5
    mixer: str = "none"  # "conv": a causal depthwise convolution before attention in each block
    mixer_width: int = 4  # tokens the conv mixes: the token and its width - 1 predecessors
    embed_init: str = "gpt2"  # "paper": N(0, 1) input embeddings, as the paper's code leaves them

    def __post_init__(self) -> None:
        problems = self.field_problems() + self.shape_problems()
        if problems:
            raise ValueError("\n".join(problems))  # every problem, a line each

    def field_problems(self) -> list[str]:
        """Each field on its own: types, ranges, accepted names."""
        problems = []
        for name in ("vocab_size", "n_layer", "n_head", "d_model", "d_mlp", "max_len", "mixer_width"):
            value = getattr(self, name)
            if not _is_positive_int(value):
                problems.append(f"ModelConfig.{name} must be a positive integer, got {value!r}")
        for name in ("rope_theta", "layer_norm_eps"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
                problems.append(f"ModelConfig.{name} must be a positive number, got {value!r}")
        if (
            not isinstance(self.dropout, (int, float))
            or isinstance(self.dropout, bool)
            or not 0.0 <= self.dropout < 1.0
        ):
            problems.append(f"ModelConfig.dropout must be a number in [0, 1), got {self.dropout!r}")
        for name, accepted in (("pe", PE_KINDS), ("mixer", MIXERS), ("embed_init", EMBED_INITS)):
            if getattr(self, name) not in accepted:
                problems.append(f"ModelConfig.{name} must be one of {', '.join(accepted)}; "
                                f"got {getattr(self, name)!r}")
        return problems

    def shape_problems(self) -> list[str]:
        """How the fields fit together: heads split the width evenly, RoPE rotates pairs (judged
        only where the widths themselves are sound; a bad one is a field problem already)."""
        if not (_is_positive_int(self.d_model) and _is_positive_int(self.n_head)):
            return []
        if self.d_model % self.n_head:
            return [f"ModelConfig.n_head={self.n_head} must divide ModelConfig.d_model={self.d_model} "
                    "(each head gets d_model / n_head features)"]
        if self.pe == "rope" and self.head_dim % 2:
            return [f"ModelConfig.pe='rope' needs an even head dim (d_model / n_head), got "
                    f"{self.d_model} / {self.n_head} = {self.head_dim}"]
        return []

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head

    @classmethod
    def preset(cls, name: str, *, vocab_size: int, **overrides: Any) -> "ModelConfig":
        """A named size, e.g. ``ModelConfig.preset("tiny", vocab_size=118, pe="rope")``."""
        if name not in PRESETS:
            raise ValueError(f"unknown ModelConfig preset {name!r}; accepted: {', '.join(PRESETS)}")
        return cls.from_dict({**PRESETS[name], "vocab_size": vocab_size, **overrides})

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
