"""The study YAML: what a researcher writes, checked completely before any trial runs.

A study names fixed ``data`` / ``model`` / ``train`` sections (the keys of a run file, see
``axiomatic.train.config``) in which any value may instead be a *search domain*::

    model: {preset: paper, pe: {grid: [none, rope]},
            rope_theta: {float: [1000, 100000], log: true, when: {model.pe: rope}}}

plus the seeds every arm runs with, the search algorithm, an optional ASHA scheduler, the objective,
the evaluation suites, per-trial resources, a baseline arm and the paper's reference rows.

:func:`load_study` reads a file and raises one :class:`~axiomatic.errors.UserError` naming every
problem it finds, a line each with the field path: schema (types, unknown keys), search domains,
cross-field rules (conditions, grid, baseline, metric, suites, resources, references) and building
every arm's run config with :func:`build_run`. Only YAML syntax stops everything. Otherwise a check
is skipped only when a field it reads is itself broken (judging a stand-in for it would report
problems the file does not have), and the arms are built once the checks that define them pass.

docs/studies.md is the user-facing reference for every field.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictInt,
    ValidationError,
    field_validator,
)

from axiomatic import metric_names
from axiomatic.data import suites as suite_catalog
from axiomatic.errors import Problem, UserError, field_path
from axiomatic.study.domains import (
    Param,
    check_assignment,
    label_value,
    parameters_of,
    resolve_active,
    substitute,
)
from axiomatic.study.problems import user_error
from axiomatic.study.rules import PARAMETERS, rule_problems
from axiomatic.train.config import RunConfig, build_run
from axiomatic.strict_yaml import read_yaml

NAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]+")


# ---------------------------------------------------------------- the schema

PositiveInt = Annotated[StrictInt, Field(ge=1)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SearchSpec(_Section):
    algorithm: Literal["tpe", "grid", "random"] = "grid"
    num_samples: PositiveInt = 1
    seed: StrictInt = 0
    max_concurrent: PositiveInt | None = None
    # grid only: the points of the grid to run (default: the whole product), each {path: value}
    arms: list[dict[str, Any]] | None = Field(None, min_length=1)


class SchedulerSpec(_Section):
    type: Literal["asha", "none"] = "none"
    grace_period: PositiveInt = 1
    reduction_factor: float = Field(2.0, gt=1)
    max_t: PositiveInt | None = None


class ObjectiveSpec(_Section):
    metric: str = metric_names.VAL_ACC
    mode: Literal["max", "min"] = "max"
    combine: Literal["mean", "median", "min"] = "mean"


class ResourcesSpec(_Section):
    cpu: float = Field(1.0, gt=0)
    gpu: float = Field(0.0, ge=0)
    workers: PositiveInt = 1
    # Ray custom resources each worker of a cell holds: {gpu_node: 1} places cells only on the
    # nodes started with --resources '{"gpu_node": N}' (at most N cells at once on each)
    # (strict: YAML's true is no amount, though pydantic would read it as 1)
    custom: dict[str, Annotated[float, Field(gt=0, strict=True)]] = Field(default_factory=dict)


NESTED_SPECS: dict[str, type[BaseModel]] = {
    "search": SearchSpec, "scheduler": SchedulerSpec, "objective": ObjectiveSpec,
    "resources": ResourcesSpec,
}


class StudySpec(BaseModel):
    """A validated study. Build it with :func:`load_study` (or :func:`validate_study`): the
    constructor alone checks the schema only, not the cross-field rules."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    data: dict[str, Any] = Field(default_factory=dict)
    model: dict[str, Any] = Field(default_factory=dict)
    train: dict[str, Any] = Field(default_factory=dict)
    curriculum: list[dict[str, Any]] = Field(default_factory=list)
    seeds: list[StrictInt] = Field(default_factory=lambda: [0], min_length=1)
    search: SearchSpec = Field(default_factory=SearchSpec)
    scheduler: SchedulerSpec = Field(default_factory=SchedulerSpec)
    objective: ObjectiveSpec = Field(default_factory=ObjectiveSpec)
    suites: list[str] = Field(default_factory=list)
    resources: ResourcesSpec = Field(default_factory=ResourcesSpec)
    baseline: dict[str, Any] | None = None
    references: list[str] = Field(default_factory=list)
    optuna_storage: str | None = None  # a database URL; None: runs/<study>/optuna.db (study/storage.py)
    storage: str | None = None  # where runs/<study> is kept: a directory or a URI (location.py); None: runs

    _source: str = PrivateAttr("study")
    _published: Path | None = PrivateAttr(None)  # None: the default place (suites.published_dir)
    _parameters: tuple[Param, ...] = PrivateAttr(())
    _domain_problems: list[Problem] = PrivateAttr(default_factory=list)

    @field_validator("name")
    @classmethod
    def _run_dir_name(cls, name: str) -> str:
        # The name becomes the directory runs/<name>: no separators, and never "." or "..".
        if not NAME_PATTERN.fullmatch(name) or set(name) == {"."}:
            raise ValueError(f"expected letters, digits, '_', '.' and '-' only (it names the run "
                             f"directory runs/<name>), got {name!r}")
        return name

    @field_validator("storage")
    @classmethod
    def _storage_named(cls, storage: str | None) -> str | None:
        # "" would be the current directory, silently ignoring --runs-dir: refused, as --storage '' is
        if storage is not None and not storage.strip():
            raise ValueError("empty; name a directory or a URI (s3://bucket/studies), or leave the key out "
                             "for --runs-dir")
        return storage

    @field_validator("data", "model", "train", mode="before")
    @classmethod
    def _empty_section(cls, section: Any) -> Any:
        return {} if section is None else section  # "model:" with nothing under it

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, seeds: list[int]) -> list[int]:
        repeated = sorted({s for i, s in enumerate(seeds) if s in seeds[:i]})
        if repeated:
            raise ValueError(f"seeds must be distinct (each arm runs once per seed); repeated: {repeated}")
        return seeds

    def model_post_init(self, context: Any) -> None:
        # The searched parameters are read from the sections once, here: every later view of
        # the study (arms, sampling, run configs) uses these.
        self._parameters, self._domain_problems = parameters_of(self.sections())

    # ------------------------------------------------------------ derived views

    @property
    def source(self) -> str:
        """The file the study came from (or "study"), used as the prefix of every error."""
        return self._source

    @property
    def published_dir(self) -> Path | None:
        """Where its ``published/...`` suites are read from, as the command line resolved it."""
        return self._published

    def sections(self) -> dict[str, dict[str, Any]]:
        return {"data": self.data, "model": self.model, "train": self.train}

    def parameters(self) -> tuple[Param, ...]:
        """The searched parameters, section by section (data, model, train), each in YAML order."""
        if self._domain_problems:
            raise user_error(self.source, self._domain_problems)
        return self._parameters

    def expanded_suites(self) -> list[str]:
        """The suite patterns resolved to suite names (published ones from ``published_dir``)."""
        return suite_catalog.expand(self.suites, self._published) if self.suites else []

    # ------------------------------------------------------------ what the runner calls

    def run_config(self, params: Mapping[str, Any], seed: int) -> RunConfig:
        """One trial's run: the sections with ``params`` (keyed by path) substituted, suites
        expanded, the seed set. A conditional parameter absent from ``params`` keeps its section's
        default. Raises ValueError when ``params`` misses an active parameter or names an unknown one.
        """
        declared = self.parameters()
        check_assignment(declared, params)
        sections = substitute(self.sections(), declared, params)
        return build_run({**sections, "curriculum": self.curriculum, "suites": self.expanded_suites(),
                          "seed": seed}, self.source)

    def arm_name(self, params: Mapping[str, Any]) -> str:
        """A short readable label, e.g. ``pe=rope lr=0.0012``; "default" with nothing searched.

        Keys are the last path component (the full path where two would clash); floats sampled
        from a range show 2 significant digits, listed (choice/grid) floats show as written.
        """
        declared = self.parameters()
        unknown = sorted(set(params) - {p.path for p in declared})
        if unknown:
            raise ValueError(f"not searched parameters of study {self.name!r}: {unknown}")
        keys = [p.key for p in declared]
        parts = []
        for param in declared:
            if param.path in params:
                label = param.key if keys.count(param.key) == 1 else param.path
                parts.append(f"{label}={label_value(param, params[param.path])}")
        return " ".join(parts) or "default"

    def representative_arm(self) -> dict[str, Any]:
        """The first of ``search.arms``, else the first listed value or low bound of every
        parameter that is then active: an arm that always builds (checked at load), for sizing
        and timing a trial."""
        params = self.parameters()
        if self.search.arms is not None:
            return resolve_active(params, self.search.arms[0])
        return resolve_active(params, {p.path: p.representative() for p in params})

    def baseline_arm(self) -> str | None:
        """The arm name of ``baseline`` (what paired comparisons are made against), if any."""
        return None if self.baseline is None else self.arm_name(self.baseline)

    def fingerprint(self) -> dict:
        """What an existing arm means: sections with their domains, suites and objective.

        Seeds, sample counts, concurrency, resources, scheduler, references and description are
        left out on purpose: changing them extends or reschedules a study without changing what
        any finished arm measured.
        """
        fingerprint = {
            "data": copy.deepcopy(self.data),
            "model": copy.deepcopy(self.model),
            "train": copy.deepcopy(self.train),
            "suites": sorted(self.expanded_suites()),
            "objective": self.objective.model_dump(mode="json"),
        }
        if self.curriculum:  # absent when empty: runs made before curricula existed still match
            fingerprint["curriculum"] = copy.deepcopy(self.curriculum)
        return fingerprint


# ---------------------------------------------------------------- loading and checking

def load_study(path: str | Path, published: Path | None = None) -> StudySpec:
    """Read and fully check a study file; any problem raises UserError naming file and field.
    ``published``: the directory of the published suites (None: the default place)."""
    source = str(path)
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{source}: no such file")
    return validate_study(read_yaml(path, source), source, published)


def validate_study(raw: Any, source: str = "study", published: Path | None = None) -> StudySpec:
    """Check a study given as a parsed mapping; ``source`` prefixes every error message."""
    if not isinstance(raw, dict):
        got = "an empty file" if raw is None else f"a {type(raw).__name__}"
        raise user_error(source, [Problem("(top level)", "expected a mapping of study fields "
                                           f"(name, data, model, train, seeds, ...), got {got}")])
    spec, unsound, problems = _read_schema(raw)
    if spec is None:
        raise user_error(source, problems)
    spec._source = source
    spec._published = published
    if spec._domain_problems:
        unsound |= {PARAMETERS}
    problems += spec._domain_problems + rule_problems(spec, spec._parameters, frozenset(unsound))
    if problems:
        raise user_error(source, problems)
    return spec


def _read_schema(raw: dict) -> tuple[StudySpec | None, set[str], list[Problem]]:
    """The spec, the top-level fields the schema rejected, and the schema's problems.

    With problems, the spec is read again without the rejected fields (defaults in their
    place), so that the checks which do not read them still run and the file's other problems
    are named in the same message.
    """
    try:
        return StudySpec.model_validate(raw), set(), []
    except ValidationError as err:
        problems = _schema_problems(err)
        unsound = {str(error["loc"][0]) for error in err.errors() if error["loc"]}
    readable = {key: value for key, value in raw.items() if key not in unsound}
    readable.setdefault("name", "study")  # a stand-in: only the run directory reads it
    try:
        return StudySpec.model_validate(readable), unsound, problems
    except ValidationError:
        return None, unsound, problems


def _schema_problems(err: ValidationError) -> list[Problem]:
    problems = []
    for error in err.errors():
        loc = error["loc"]
        if error["type"] == "extra_forbidden":
            owner = NESTED_SPECS.get(loc[0], StudySpec) if len(loc) > 1 else StudySpec
            message = f"unknown key; accepted: {', '.join(owner.model_fields)}"
        elif error["type"] == "missing":
            message = "required"
        else:
            message = error["msg"].removeprefix("Value error, ") + f", got {_short_repr(error['input'])}"
        problems.append(Problem(field_path(loc), message))
    return problems


def _short_repr(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
