"""The decoder's configuration: its fields, each checked when a config is built, and named sizes.

Defaults are the paper's model: 12 layers, 8 heads, width 512, MLP 2048, dropout 0.1, no
positional encoding. The vocabulary size has no default: the caller fills it from the tokenizer
(``train.config`` does for every run), so the model knows nothing of the data, except with
``mixer: name`` or ``sentence``, which must know which token ids spell node names and end sentences.
``mixer`` and ``embed_init`` are the two options that depart from the paper's model (see
:mod:`axiomatic.model.decoder`). See docs/model.md.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, ValidationError, model_validator

from axiomatic.errors import InvalidConfig, Problem
from axiomatic.model.positional import PE_KINDS

MIXERS = ("none", "conv", "name", "sentence")
EMBED_INITS = ("gpt2", "paper")

# bool is an int subclass; True as a layer count is a bug, not a 1: strict types refuse it
PositiveInt = Annotated[StrictInt, Field(gt=0)]
Number = StrictInt | StrictFloat  # an int stays an int, so to_dict gives back what was given

_POSITIVE_INTS = ("vocab_size", "n_layer", "n_head", "d_model", "d_mlp", "max_len", "mixer_width")
_POSITIVE_NUMBERS = ("rope_theta", "layer_norm_eps")
_NAMED = {"pe": PE_KINDS, "mixer": MIXERS, "embed_init": EMBED_INITS}
# the order problems are reported in: the integers, the numbers, dropout, the names
_ORDER = (*_POSITIVE_INTS, *_POSITIVE_NUMBERS, "dropout", *_NAMED)


def _is_positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _field_problem(name: str, value: Any) -> Problem:
    if name in _POSITIVE_INTS:
        return Problem(name, f"{name} must be a positive integer, got {value!r}")
    if name in _POSITIVE_NUMBERS:
        return Problem(name, f"{name} must be a positive number, got {value!r}")
    if name == "dropout":
        return Problem(name, f"dropout must be a number in [0, 1), got {value!r}")
    return Problem(name, f"{name} must be one of {', '.join(_NAMED[name])}; got {value!r}")


def _shape_problems(d_model: Any, n_head: Any, pe: Any) -> list[Problem]:
    """How the fields fit together: heads split the width evenly, RoPE rotates pairs (judged
    only where the widths themselves are sound; a bad one is a field problem already)."""
    if not (_is_positive_int(d_model) and _is_positive_int(n_head)):
        return []
    if d_model % n_head:
        return [Problem("n_head", f"n_head={n_head} must divide d_model={d_model} "
                                  "(each head gets d_model / n_head features)")]
    if pe == "rope" and (d_model // n_head) % 2:
        return [Problem("pe", f"pe='rope' needs an even head dim (d_model / n_head), got "
                              f"{d_model} / {n_head} = {d_model // n_head}")]
    return []


class ModelConfig(BaseModel):
    """Every problem of a config is reported at once: building one with bad fields raises an
    :class:`~axiomatic.errors.InvalidConfig` (a ``ValueError``) holding each problem at its field."""

    model_config = ConfigDict(extra="forbid")

    vocab_size: PositiveInt
    n_layer: PositiveInt = 12
    n_head: PositiveInt = 8
    d_model: PositiveInt = 512
    d_mlp: PositiveInt = 2048
    dropout: Annotated[Number, Field(ge=0, lt=1)] = 0.1
    pe: Literal[PE_KINDS] = "none"  # type: ignore[valid-type]
    max_len: PositiveInt = 512  # longest input accepted; 50-node chains with 3-character names are ~400
    rope_theta: Annotated[Number, Field(gt=0)] = 10000.0
    layer_norm_eps: Annotated[Number, Field(gt=0)] = 1e-5
    # "conv": a causal depthwise convolution before attention in each block; "name": the same,
    # over the characters of one node name only (no position signal); "sentence": "name" plus the
    # mean of the sentence so far (no position signal either)
    mixer: Literal[MIXERS] = "none"  # type: ignore[valid-type]
    mixer_width: PositiveInt = 4  # tokens the mixer mixes: the token and its width - 1 predecessors
    embed_init: Literal[EMBED_INITS] = "gpt2"  # type: ignore[valid-type]  # "paper": N(0, 1) input embeddings, as the paper's code leaves them

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as err:
            raise InvalidConfig("ModelConfig", _problems(err, data)) from None  # every problem at once

    @model_validator(mode="after")
    def _shapes_fit(self) -> "ModelConfig":
        if _shape_problems(self.d_model, self.n_head, self.pe):
            raise ValueError("the fields do not fit together")  # named by _problems, from the values
        return self

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
        return self.model_dump()

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelConfig":
        """Inverse of :meth:`to_dict`. Unknown keys are an error: a checkpoint written by a newer
        model (or a typo in an override) must not load as a silently different network."""
        fields = list(cls.model_fields)
        unknown = sorted(set(d) - set(fields))
        if unknown:
            raise ValueError(f"unknown ModelConfig field(s) {unknown}; accepted: {', '.join(fields)}")
        return cls(**d)


def _problems(err: ValidationError, data: dict[str, Any]) -> list[Problem]:
    """pydantic's errors as the config's own problems: a field's, in the order of :data:`_ORDER`,
    then unknown and missing fields, then how the sound fields fit together (judged from the
    values, as the model validator judged them when every field was sound)."""
    fields = ModelConfig.model_fields
    bad: set[str] = set()
    problems: list[Problem] = []
    for e in err.errors():
        name = str(e["loc"][0]) if e["loc"] else ""
        if e["type"] == "extra_forbidden":
            problems.append(Problem(name, f"unknown ModelConfig field(s) [{name!r}]; "
                                          f"accepted: {', '.join(fields)}"))
        elif e["type"] == "missing":
            problems.append(Problem(name, f"{name} is required"))
        elif name in _ORDER:
            bad.add(name)
    value = {name: data.get(name, fields[name].default) for name in fields}
    field_problems = [_field_problem(name, value[name]) for name in _ORDER if name in bad]
    return field_problems + problems + _shape_problems(value["d_model"], value["n_head"], value["pe"])


# Sizes. "paper" is the public code's GPT-2 config; the others keep its recipe (dropout, NoPE)
# at widths a CPU can train in minutes.
PRESETS: dict[str, dict[str, Any]] = {
    "paper": dict(n_layer=12, n_head=8, d_model=512, d_mlp=2048, dropout=0.1, pe="none"),
    "small": dict(n_layer=4, n_head=4, d_model=128, d_mlp=512, dropout=0.1, pe="none"),
    "tiny": dict(n_layer=2, n_head=4, d_model=64, d_mlp=256, dropout=0.1, pe="none"),
}
