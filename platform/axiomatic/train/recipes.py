"""How one run trains: :class:`TrainConfig` (optimiser, schedule, precision, evaluation cadence,
learning levers), the named recipes (``paper``, ``fast``, ``levers``) a run file's ``train``
section starts from, and the checks between its packing fields."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

from axiomatic.errors import InvalidConfig, Problem


def _takes_numbers(annotation) -> bool:
    """Whether a field's type is a number (int, float), or a union or tuple of them."""
    return annotation in (int, float) or any(_takes_numbers(arg) for arg in get_args(annotation))


class TrainConfig(BaseModel):
    """Optimiser, schedule, precision and evaluation cadence of one run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _booleans_are_not_numbers(cls, value, info):
        # pydantic reads YAML's true as 1 in a number field: "pack_length: true" would pack rows of one token
        if isinstance(value, bool) and _takes_numbers(cls.model_fields[info.field_name].annotation):
            raise ValueError(f"expected a number, got a boolean ({str(value).lower()})")
        return value

    lr: float = Field(1e-4, gt=0)
    batch_size: int = Field(128, gt=0)
    epochs: int = Field(100, ge=0, description="passes over the main data after the curriculum (0: "
                                               "none: the model is asked the task as the curriculum "
                                               "or init_from left it)")
    max_steps: int | None = Field(None, gt=0, description="stop after this many optimiser steps")
    weight_decay: float = Field(0.0, ge=0)
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_steps: int = Field(0, ge=0)
    schedule: Literal["constant", "cosine", "wsd"] = "constant"
    min_lr_ratio: float = Field(0.1, ge=0, le=1, description="cosine/wsd floor as a share of lr")
    decay_steps: int | None = Field(None, gt=0, description="wsd: length of the final linear decay "
                                                            "(default: the last 20% of the steps)")
    grad_clip: float | None = Field(None, gt=0)
    precision: Literal["fp32", "bf16"] = "fp32"
    compile: bool = False
    bucketing: bool = False
    pack_length: int | None = Field(None, gt=0, description="pack the training rows back to back into "
                                    "rows of this many tokens, each attending only to itself "
                                    "(default: off, one training row per batch row)")
    batch_tokens: int | None = Field(None, gt=0, description="with pack_length: tokens per batch, "
                                     "batch_tokens // pack_length packed rows (batch_size is unused)")
    flex_attention: bool = Field(False, description="attend through FlexAttention block masks where a "
                                 "row has a layout (packed or several questions), skipping masked "
                                 "blocks; meant for CUDA with compile (not yet run on a GPU)")
    val_share: float = Field(0.1, gt=0, lt=1)
    eval_every: int | None = Field(None, gt=0, description="evaluate every K steps (default: each epoch)")
    eval_batch_size: int = Field(512, gt=0)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    aux_loss: float = Field(0.0, ge=0, description="weight of the auxiliary next-token loss on "
                                                   "premise and question tokens (0: the paper's loss)")
    node_loss: float = Field(0.0, ge=0, description="weight of per-node targets on question-first "
                             "d-separation chains: does each node block the asked path, is it "
                             "given (needs question_first; 0: off)")
    question_first: bool = Field(False, description="state each question before its premise, in "
                                 "training, validation and every suite; the answer is read at the "
                                 "row's last token (transitivity and d-separation, one question a row)")
    given_first: bool = Field(False, description="state each d-separation question's given set "
                              "before its pair ('given {Z} Are X and Y d-separated?'), in training, "
                              "validation and every suite")
    replay: float = Field(0.0, ge=0, lt=1, description="share of each batch after the first "
                                                       "curriculum stage drawn from earlier stages")
    gate_window: int = Field(100, gt=0, description="steps of training accuracy a stage's "
                                                    "until_acc is judged on")
    init_from: str | None = Field(None, min_length=1, description="start from this run's or "
                                  "checkpoint's weights (not its optimiser or position); '{seed}' "
                                  "in the path stands for the run's seed")
    use_curriculum: bool = Field(True, description="false: train the main data only, skipping the "
                                                   "curriculum (an ablation a study can search)")
    stages: str | None = Field(None, min_length=1, description="the named curriculum stages to "
                               "train, joined by '+' ('transitivity+dseparation'), or 'none' "
                               "(default: every stage); they train in curriculum order, so a study "
                               "searches which axioms a run sees, not their order")


RECIPES: dict[str, dict] = {
    # Faithful to the public code: AdamW 1e-4, no schedule, no clipping, batch 128, 100 epochs, fp32.
    "paper": {},
    # GPU throughput: bf16, compile and length bucketing at batch 512, lr 1e-3 with warmup and
    # cosine decay. Measured on an H200 (docs/benchmarks.md, "GPU check"): 4.7x the paper recipe's
    # examples/s; and on TS2 with the paper's NoPE model and none of the learning levers, loss
    # ln 2 for all of its 4,720 steps. A fast step, not (yet) a recipe shown to learn.
    "fast": {"lr": 1e-3, "batch_size": 512, "epochs": 20, "warmup_steps": 300, "schedule": "cosine",
             "grad_clip": 1.0, "weight_decay": 0.01, "precision": "bf16", "compile": True,
             "bucketing": True},
    # The optimiser side of the CPU recipes (configs/cpu_small.yaml, configs/cpu_nope.yaml), which
    # runs have shown to learn together with the data and model levers (docs/training.md,
    # "Learning levers"; figures in docs/benchmarks.md): lr 8e-4 after a 500-step warmup,
    # constant, then a linear decay to 0 over the last fifth. No next-token loss: in the lever
    # study it slowed the other levers down.
    "levers": {"lr": 8e-4, "batch_size": 64, "warmup_steps": 500, "schedule": "wsd",
               "min_lr_ratio": 0.0, "grad_clip": 1.0, "weight_decay": 0.01, "bucketing": True},
}


def train_config(section: dict | None) -> TrainConfig:
    section = dict(section or {})
    recipe = section.pop("recipe", "paper")
    if recipe not in RECIPES:
        raise InvalidConfig("train", [Problem("recipe", f"unknown recipe {recipe!r}; "
                                                        f"accepted: {', '.join(RECIPES)}")])
    train = TrainConfig(**{**RECIPES[recipe], **section})
    problems = packing_problems(train)
    if problems:
        raise InvalidConfig("train", problems)
    return train


def packing_problems(train: TrainConfig) -> list[Problem]:
    """The packing fields that do not go together."""
    if train.pack_length is None:
        unused = Problem("batch_tokens", "needs train.pack_length (the row length it counts in)")
        return [unused] if train.batch_tokens else []
    if train.batch_tokens is None:
        return [Problem("batch_tokens", "required with train.pack_length (tokens per batch, a multiple of "
                                        "the row length)")]
    problems = []
    if train.batch_tokens < train.pack_length:
        problems.append(Problem("batch_tokens", f"{train.batch_tokens} is below one row of train.pack_length="
                                                f"{train.pack_length} tokens"))
    if train.replay:
        problems.append(Problem("replay", "not available with train.pack_length (a packed batch takes whole "
                                          "rows of one training set)"))
    return problems
