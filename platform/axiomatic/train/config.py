"""What one training run is: data spec + model config + train config (``recipes``) + seed.

A run file (``configs/cpu_small.yaml``) has the sections ``data``, ``model``, ``train`` and
optionally ``suites``, ``seed`` and ``curriculum``; each section may name a preset/recipe and
override its fields:

    data:  {preset: TS2, size: 20000}
    model: {preset: tiny, pe: rope}
    train: {recipe: fast, epochs: 5}
    curriculum:                     # trained first, in order; each stage overrides fields of `data`
      - {steps: 1500, data: {chain_lengths: [2, 2]}}
      - {steps: 3000, until_acc: 0.95, data: {chain_lengths: [2, 3]}}  # or sooner, once learned
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from axiomatic.data import tasks, tokenizer
from axiomatic.data.axioms import corr2cause
from axiomatic.data.tasks import TaskSpec
from axiomatic.errors import InvalidConfig, Problem, UserError, invalid_input, validation_problems
from axiomatic.strict_yaml import read_yaml
from axiomatic.model.config import PRESETS as MODEL_PRESETS
from axiomatic.model.config import ModelConfig
from axiomatic.train.recipes import TrainConfig, train_config


def data_spec(section: dict | None) -> TaskSpec:
    return tasks.build_spec(section)


def model_config(section: dict | None) -> ModelConfig:
    section = dict(section or {})
    preset = section.pop("preset", "tiny")
    if preset not in MODEL_PRESETS:
        raise InvalidConfig("model", [Problem("preset", f"unknown preset {preset!r}; "
                                                        f"accepted: {', '.join(MODEL_PRESETS)}")])
    known = set(ModelConfig.model_fields)
    unknown = [key for key in section if key not in known]
    if unknown:
        accepted = f"accepted: preset, {', '.join(sorted(known))}"
        raise InvalidConfig("model", [Problem(key, f"unknown key (not part of the schema); {accepted}")
                                      for key in unknown])
    # the vocabulary is the tokenizer's, so a run file never names it
    return ModelConfig.preset(preset, **{"vocab_size": tokenizer.VOCAB_SIZE, **section})


@dataclasses.dataclass(frozen=True)
class Stage:
    """A curriculum stage: up to ``steps`` optimiser steps on its own training set before the
    main data; with ``until_acc`` it ends sooner, once the training accuracy of its last
    ``train.gate_window`` steps reaches that share."""

    steps: int
    data: TaskSpec
    until_acc: float | None = None
    name: str | None = None

    def to_dict(self) -> dict:
        gate = {} if self.until_acc is None else {"until_acc": self.until_acc}
        named = {} if self.name is None else {"name": self.name}
        return {**named, "steps": self.steps, **gate, "data": self.data.model_dump(mode="json")}

    @classmethod
    def from_dict(cls, d: dict) -> "Stage":
        return cls(int(d["steps"]), tasks.build_spec(d["data"]), d.get("until_acc"), d.get("name"))


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """One training run. ``to_dict`` is what checkpoints and Tune trials carry."""

    data: TaskSpec
    model: ModelConfig
    train: TrainConfig
    suites: tuple[str, ...] = ()
    seed: int = 0
    curriculum: tuple[Stage, ...] = ()

    @property
    def stage_ends(self) -> list[int]:
        """The step at which each curriculum stage ends at the latest (exactly, unless gated)."""
        return np.cumsum([stage.steps for stage in self.curriculum]).tolist()

    @property
    def curriculum_steps(self) -> int:
        return sum(stage.steps for stage in self.curriculum)

    def to_dict(self) -> dict:
        return {"data": self.data.model_dump(mode="json"), "model": self.model.to_dict(),
                "train": self.train.model_dump(mode="json"), "suites": list(self.suites),
                "seed": self.seed, "curriculum": [stage.to_dict() for stage in self.curriculum]}

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        curriculum = tuple(Stage.from_dict(stage) for stage in d.get("curriculum", ()))
        return cls(tasks.build_spec(d["data"]), ModelConfig.from_dict(d["model"]), TrainConfig(**d["train"]),
                   tuple(d.get("suites", ())), int(d.get("seed", 0)), curriculum)


class _StageFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]+$")
    steps: int = Field(gt=0)
    until_acc: float | None = Field(None, gt=0, le=1)
    data: dict = Field(default_factory=dict)


class _RunFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    data: dict = Field(default_factory=dict)
    model: dict = Field(default_factory=dict)
    train: dict = Field(default_factory=dict)
    suites: list[str] = Field(default_factory=list)
    seed: int = 0
    curriculum: list[_StageFile] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _mapping(cls, v):
        if not isinstance(v, dict):
            raise ValueError("expected a mapping with sections data, model, train, suites, seed")
        return v

    @field_validator("curriculum")
    @classmethod
    def _distinct_stage_names(cls, stages: list[_StageFile]) -> list[_StageFile]:
        # train.stages picks stages by name: two of one name would leave it to list order
        names = [stage.name for stage in stages if stage.name]
        repeated = sorted({name for k, name in enumerate(names) if name in names[:k]})
        if repeated:
            raise ValueError(f"curriculum stage names must be distinct (train.stages picks stages by "
                             f"name); repeated: {', '.join(repeated)}")
        return stages


Problems = list[Problem]


def build_run(sections: dict, source: str) -> RunConfig:
    """Validate a run's sections; the error names the source and, a line each, the field path
    of every problem of every section and curriculum stage."""
    run, problems = try_build_run(sections)
    if problems:
        raise invalid_input(source, problems)
    return run


def try_build_run(sections: dict) -> tuple[RunConfig | None, Problems]:
    """The run and no problems, or None and every problem: each section and stage is built on
    its own, so a mistake in one does not hide those of another."""
    try:
        raw = _RunFile(**sections) if isinstance(sections, dict) else _RunFile.model_validate(sections)
    except ValidationError as err:
        return None, validation_problems(err)
    built, problems = {}, []
    for name, build in (("data", data_spec), ("model", model_config), ("train", train_config)):
        built[name], found = _build_section(name, build, getattr(raw, name))
        problems += found
    stages = []
    if built["data"] is not None:  # a stage lays its fields over the main data, so needs it
        stages = [_stage(raw, k, built["data"]) for k in range(len(raw.curriculum))]
        problems += [problem for _, found in stages for problem in found]
    if not problems and built["train"].init_from is not None:
        built["train"], problems = _starting_weights(built["train"], built["model"], raw.seed)
    chosen, found = _chosen_stages(raw.curriculum, built["train"])
    problems += found
    if not problems and built["train"].question_first:
        problems += _question_first_problems([built["data"], *(stage.data for stage, _ in stages)],
                                             raw.suites)
    if not problems and built["train"].node_loss > 0:
        problems += _node_loss_problems([built["data"], *(stage.data for stage, _ in stages)],
                                        built["train"])
    if not problems and built["train"].given_first:
        problems += _given_first_problems([built["data"], *(stage.data for stage, _ in stages)],
                                          raw.suites)
    if problems:
        return None, problems
    # every stage is checked all the same: the arm that does use it must build
    curriculum = tuple(stage for k, (stage, _) in enumerate(stages) if k in chosen)
    return RunConfig(built["data"], built["model"], built["train"], tuple(raw.suites), raw.seed,
                     curriculum), []


def _chosen_stages(curriculum: list[_StageFile], train: TrainConfig | None) -> tuple[set[int], Problems]:
    """The indices of the stages this run trains: all, none (``use_curriculum: false``), or those
    ``train.stages`` names."""
    if train is None or not train.use_curriculum:
        return set(), []
    if train.stages is None:
        return set(range(len(curriculum))), []
    if train.stages == "none":
        return set(), []
    names = [stage.name for stage in curriculum]
    wanted = train.stages.split("+")
    unknown = [name for name in wanted if name not in names]
    if unknown:
        known = ", ".join(n for n in names if n) or "none (give stages a 'name')"
        return set(), [Problem("train.stages", f"no curriculum stage named {', '.join(map(repr, unknown))}; "
                                               f"the named stages: {known}; or 'none'")]
    return {names.index(name) for name in wanted}, []


def _question_first_problems(specs: list[TaskSpec], suite_names: list[str]) -> Problems:
    """What ``train.question_first`` cannot turn: Corr2Cause rows (its hypotheses end in '.' like
    its premise's sentences) and rows of several questions sharing one premise stated first."""
    problems = []
    if any(spec.task == "corr2cause" for spec in specs) or any(map(corr2cause.is_suite_name, suite_names)):
        problems.append(Problem("train.question_first", "not available for corr2cause data (its "
                                                        "hypotheses end in '.' like its premise's sentences)"))
    if any(getattr(spec, "questions_per_premise", 1) > 1 for spec in specs):
        problems.append(Problem("train.question_first", "needs data.questions_per_premise: 1 (several "
                                                        "questions in one row share the premise stated "
                                                        "before them)"))
    return problems


def _node_loss_problems(specs: list[TaskSpec], train: TrainConfig) -> Problems:
    """What ``train.node_loss`` needs: the question before the premise (stated after it, no
    premise token can know which path is asked) and d-separation rows to take its targets from."""
    problems = []
    if not train.question_first:
        problems.append(Problem("train.node_loss", "needs train.question_first: true (a premise "
                                                   "token sees the question only when it comes first)"))
    if train.pack_length is not None:
        problems.append(Problem("train.node_loss", "not available with train.pack_length (the targets "
                                                   "are read from rows of one question each)"))
    if not any(spec.task == "dseparation" for spec in specs):
        problems.append(Problem("train.node_loss", "needs d-separation data (data.task or a curriculum "
                                                   "stage's task: dseparation); other tasks have no node "
                                                   "targets"))
    return problems


def _given_first_problems(specs: list[TaskSpec], suite_names: list[str]) -> Problems:
    """What ``train.given_first`` cannot turn: Corr2Cause rows (its hypotheses end in '.')."""
    if any(spec.task == "corr2cause" for spec in specs) or any(map(corr2cause.is_suite_name, suite_names)):
        return [Problem("train.given_first", "not available for corr2cause data (its hypotheses "
                                             "end in '.' and state no d-separation given set)")]
    return []


def _starting_weights(train: TrainConfig, model: ModelConfig, seed: int) -> tuple[TrainConfig, Problems]:
    """``train`` with ``init_from`` made absolute and its seed filled in (workers run elsewhere),
    or the problem: no checkpoint there, another tokenizer, or a model of another shape."""
    from axiomatic.train import checkpoint  # imports torch: only runs that start from weights pay

    path = Path(train.init_from.replace("{seed}", str(seed))).expanduser().resolve()
    try:
        found = checkpoint.weights_of(path)
        trained = ModelConfig.from_dict(checkpoint.read_meta(found)["run"]["model"])
    except UserError as err:
        return train, [Problem("train.init_from", str(err))]
    differ = [f"{key} {getattr(trained, key)!r} (this run: {getattr(model, key)!r})"
              for key in ModelConfig.model_fields if key != "dropout" and getattr(trained, key) != getattr(model, key)]
    if differ:
        return train, [Problem("train.init_from", f"{found}: its model differs from this run's: "
                                                  f"{'; '.join(differ)}")]
    return train.model_copy(update={"init_from": str(found)}), []


def _build_section(prefix: str, build, section):
    """(what ``build`` makes of the section, []) or (None, its problems under ``prefix``)."""
    try:
        return build(section), []
    except ValidationError as err:
        return None, validation_problems(err, prefix=prefix)
    except InvalidConfig as err:
        return None, [problem.under(prefix) for problem in err.problems]
    except (ValueError, TypeError) as err:  # the data spec's builder: a "field: message" line each
        return None, [_located(prefix, line) for line in str(err).splitlines() if line.strip()]


def _located(prefix: str, line: str) -> Problem:
    """Problem("data.size", "...") from a builder's "size: ..." line: the builders lead with the field."""
    field, separator, message = line.partition(": ")
    if not separator or " " in field:
        return Problem(prefix, line)
    return Problem(f"{prefix}.{field}", message)


def _stage(raw: _RunFile, k: int, main: TaskSpec) -> tuple[Stage | None, Problems]:
    """Stage k's data: the main ``data`` section with the stage's fields laid over it, or, for a
    stage of another task (an axiom before the transfer task), the stage's fields alone. Its seed
    defaults to the main seed + 1 + k, so no stage replays the main data's rows."""
    stage = raw.curriculum[k]
    own_task = stage.data.get("task", main.task) != main.task
    section = {**({} if own_task else raw.data), "seed": main.seed + 1 + k, **stage.data}
    if not own_task and ("shares" in stage.data or "perturbation" in stage.data):
        # a stage that states its mixture replaces the main one instead of clashing with it
        for key in ("shares", "perturbation", "preset"):
            if key not in stage.data:
                section.pop(key, None)
    data, problems = _build_section(f"curriculum.{k}.data", data_spec, section)
    return (Stage(stage.steps, data, stage.until_acc, stage.name) if data is not None else None), problems


def load_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    loaded = read_yaml(path)  # strict: a repeated key is an error, not a silent overwrite
    if not isinstance(loaded, dict):
        raise UserError(f"{path}: expected a mapping at the top level, got {type(loaded).__name__}")
    return loaded


def load_run(path: str | Path) -> RunConfig:
    return build_run(load_yaml(path), str(path))
