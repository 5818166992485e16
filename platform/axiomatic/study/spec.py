"""The study YAML: what a researcher writes, checked completely before any trial runs.

A study names fixed ``data`` / ``model`` / ``train`` sections (the keys of a run file, see
``axiomatic.train.config``) in which any value may instead be a *search domain*::

    model: {preset: paper, pe: {grid: [none, rope]},
            rope_theta: {float: [1000, 100000], log: true, when: {model.pe: rope}}}

plus the seeds every arm runs with, the search algorithm, an optional ASHA scheduler, the objective,
the evaluation suites, per-trial resources, a baseline arm and the paper's reference rows.

:func:`load_study` reads a file and raises :class:`~axiomatic.errors.UserError` for the first layer
of problems it finds (every problem of that layer at once), each line naming the field path. The
layers run in order, because later checks need earlier ones to hold: YAML syntax -> schema (types,
unknown keys) -> search domains -> cross-field rules (conditions, grid, baseline, metric, suites,
resources, references) -> building every arm's run config with :func:`build_run`.

docs/studies.md is the user-facing reference for every field.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import math
import re
from collections.abc import Iterable, Iterator, Mapping
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

from axiomatic.data import suites as suite_catalog
from axiomatic.data.mixtures import DataSpec
from axiomatic.errors import UserError, field_path
from axiomatic.userfiles import read_yaml
from axiomatic.model.decoder import ModelConfig
from axiomatic.report.references import select_references
from axiomatic.study.results import suite_metric_name, suite_of_metric
from axiomatic.train.config import RunConfig, TrainConfig, build_run

SECTIONS = ("data", "model", "train")
DOMAIN_KINDS = ("choice", "grid", "int", "float")
DOMAIN_OPTIONS = ("log", "when")
# Metrics the training loop reports for every trial; suite accuracies are added per study suite.
TRIAL_METRICS = ("val/acc", "val/loss", "train/loss")
NAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]+")
# The keys each section accepts: the fields of what it builds plus the preset/recipe shorthand.
SECTION_KEYS: dict[str, tuple[str, ...]] = {
    "data": ("preset", *DataSpec.model_fields),
    "model": ("preset", *(f.name for f in dataclasses.fields(ModelConfig))),
    "train": ("recipe", *TrainConfig.model_fields),
}
LABEL_DIGITS = 2  # significant digits of a sampled float in an arm's label


# ---------------------------------------------------------------- problems

@dataclasses.dataclass(frozen=True)
class Problem:
    """One thing wrong with a study: the field path at fault and what was expected there."""

    path: str
    message: str

    def line(self) -> str:
        return f"  {self.path}: {self.message}"


class InvalidStudy(Exception):
    """Problems found in one layer of checks; turned into a UserError naming the study file."""

    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(p.line() for p in problems))
        self.problems = problems


def _problem(path: str, message: str) -> InvalidStudy:
    return InvalidStudy([Problem(path, message)])


def _user_error(source: str, problems: list[Problem]) -> UserError:
    return UserError(f"{source}: invalid study\n" + "\n".join(p.line() for p in problems))


def _raise_collected(problems: list[Problem]) -> None:
    if problems:
        raise InvalidStudy(problems)


# ---------------------------------------------------------------- the searched parameters

def _same(a: Any, b: Any) -> bool:
    """Equality that keeps booleans apart from numbers (True == 1 in Python, not in a study)."""
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclasses.dataclass(frozen=True)
class Param:
    """One searched parameter: ``path`` is ``<section>.<key>``, e.g. ``model.pe``.

    ``values`` is set for ``choice``/``grid``; ``low``/``high`` for ``int``/``float``. ``when``
    maps the path of another searched parameter to the values that make this one active.
    """

    path: str
    kind: Literal["choice", "grid", "int", "float"]
    values: tuple | None = None
    low: int | float | None = None
    high: int | float | None = None
    log: bool = False
    when: dict[str, tuple] = dataclasses.field(default_factory=dict)

    @property
    def section(self) -> str:
        return self.path.split(".", 1)[0]

    @property
    def key(self) -> str:
        return self.path.split(".", 1)[1]

    @property
    def categorical(self) -> bool:
        return self.kind in ("choice", "grid")

    def contains(self, value: Any) -> bool:
        if self.categorical:
            return any(_same(value, v) for v in self.values)
        if not _is_number(value) or (self.kind == "int" and not float(value).is_integer()):
            return False
        return self.low <= value <= self.high

    def is_active(self, assignment: Mapping[str, Any]) -> bool:
        """Whether every condition holds for the values already chosen in ``assignment``."""
        return all(ref in assignment and any(_same(assignment[ref], a) for a in allowed)
                   for ref, allowed in self.when.items())

    def representative(self) -> Any:
        """The value that stands for this parameter when the fixed sections are test-built."""
        return self.values[0] if self.categorical else self.low

    def probe_values(self) -> tuple:
        """Values worth test-building: every categorical value, or both ends of a range."""
        if self.categorical:
            return self.values
        return (self.low,) if self.low == self.high else (self.low, self.high)

    def describe(self) -> str:
        if self.categorical:
            return "one of " + ", ".join(map(str, self.values))
        scale = " (log scale)" if self.log else ""
        return f"{'an int' if self.kind == 'int' else 'a float'} in [{self.low}, {self.high}]{scale}"


def is_domain(value: Any) -> bool:
    """A section value is a search domain when it is a mapping using any domain key.

    Mappings without them (``data.shares: {sequential: .., ...}``) stay constants; one with only
    ``log`` or ``when`` counts as a domain so that the missing kind is reported, not ignored.
    """
    return isinstance(value, dict) and any(k in value for k in DOMAIN_KINDS + DOMAIN_OPTIONS)


def parse_domain(path: str, domain: dict) -> Param:
    """One ``{choice|grid|int|float: ..., log: ..., when: ...}`` mapping -> Param (shape only)."""
    kinds = [k for k in DOMAIN_KINDS if k in domain]
    if len(kinds) != 1:
        got = " and ".join(kinds) if kinds else "none of them"
        raise _problem(path, f"a search domain has exactly one of {', '.join(DOMAIN_KINDS)}; got {got}")
    kind = kinds[0]
    for key in domain:
        if key not in DOMAIN_KINDS + DOMAIN_OPTIONS:
            raise _problem(f"{path}.{key}", f"unknown key in a search domain; accepted: {kind}, log, when")
    log = domain.get("log", False)
    if not isinstance(log, bool):
        raise _problem(f"{path}.log", f"expected true or false, got {log!r}")
    when = _parse_when(f"{path}.when", domain["when"]) if "when" in domain else {}
    if kind in ("choice", "grid"):
        if log:
            raise _problem(f"{path}.log", "log applies to int and float domains only")
        return Param(path, kind, values=_categorical_values(f"{path}.{kind}", domain[kind]), when=when)
    low, high = _bounds(f"{path}.{kind}", kind, domain[kind])
    if log and low <= 0:
        raise _problem(f"{path}.log", f"a log scale needs low > 0, got low = {low}")
    return Param(path, kind, low=low, high=high, log=log, when=when)


def _categorical_values(path: str, values: Any) -> tuple:
    if not isinstance(values, list) or not values:
        raise _problem(path, f"expected a non-empty list of values, got {values!r}")
    for index, value in enumerate(values):
        # Optuna stores categorical values as they are, and only accepts these types.
        if value is not None and not isinstance(value, (str, int, float, bool)):
            raise _problem(f"{path}.{index}", "expected a string, number, boolean or null, "
                                              f"got {type(value).__name__} {value!r}")
    repeated = [v for i, v in enumerate(values) if any(_same(v, w) for w in values[:i])]
    if repeated:
        raise _problem(path, f"values must be distinct; repeated: {', '.join(map(repr, repeated))}")
    return tuple(values)


def _bounds(path: str, kind: str, bounds: Any) -> tuple[int | float, int | float]:
    what = "integers" if kind == "int" else "numbers"
    if not isinstance(bounds, list) or len(bounds) != 2:
        raise _problem(path, f"expected [low, high], two {what}; got {bounds!r}")
    valid = all(_is_number(b) and (kind == "float" or isinstance(b, int)) for b in bounds)
    if not valid:
        # PyYAML follows YAML 1.1: a float needs a dot, so 1e-4 arrives as the string "1e-4".
        hint = "; write exponents with a dot (1.0e-4), YAML reads 1e-4 as a string" if any(
            isinstance(b, str) for b in bounds) else ""
        raise _problem(path, f"expected [low, high], two {what}; got {bounds!r}{hint}")
    low, high = bounds
    if kind == "int":
        if low > high:
            raise _problem(path, f"expected low <= high, got [{low}, {high}]")
        return low, high
    if not low < high:
        raise _problem(path, f"expected low < high, got [{low}, {high}] (for one value write a constant)")
    return float(low), float(high)


def _parse_when(path: str, when: Any) -> dict[str, tuple]:
    example = "e.g. {model.pe: rope} or {model.pe: [rope, alibi]}"
    if not isinstance(when, dict) or not when:
        raise _problem(path, f"expected a mapping of parameter path to value or list of values, {example}")
    conditions = {}
    for ref, allowed in when.items():
        allowed = tuple(allowed) if isinstance(allowed, list) else (allowed,)
        if not allowed:
            raise _problem(path, f"{ref}: expected a value or a non-empty list of values, {example}")
        conditions[str(ref)] = allowed
    return conditions


def parse_parameters(sections: Mapping[str, Mapping[str, Any]]) -> list[Param]:
    """Every search domain of the sections, in section order and then YAML order."""
    params, problems = [], []
    for section in SECTIONS:
        for key, value in sections.get(section, {}).items():
            if not is_domain(value):
                continue
            try:
                params.append(parse_domain(f"{section}.{key}", value))
            except InvalidStudy as invalid:
                problems += invalid.problems
    _raise_collected(problems)
    return params


def sampling_order(params: list[Param]) -> list[Param]:
    """The parameters ordered so that each follows those its ``when`` refers to (else YAML order).

    Raises ValueError naming the parameters whose conditions form a cycle.
    """
    known = {p.path for p in params}
    ordered: list[Param] = []
    placed: set[str] = set()
    remaining = list(params)
    while remaining:
        ready = next((p for p in remaining if all(r in placed for r in p.when if r in known)), None)
        if ready is None:
            raise ValueError("conditions form a cycle among " + ", ".join(p.path for p in remaining))
        ordered.append(ready)
        placed.add(ready.path)
        remaining.remove(ready)
    return ordered


def resolve_active(params: list[Param], assignment: Mapping[str, Any]) -> dict[str, Any]:
    """The values of ``assignment`` whose parameters are active, in YAML order."""
    active: dict[str, Any] = {}
    for param in sampling_order(params):
        if param.path in assignment and param.is_active(active):
            active[param.path] = assignment[param.path]
    return {p.path: active[p.path] for p in params if p.path in active}


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
    metric: str = "val/acc"
    mode: Literal["max", "min"] = "max"
    combine: Literal["mean", "median", "min"] = "mean"


class ResourcesSpec(_Section):
    cpu: float = Field(1.0, gt=0)
    gpu: float = Field(0.0, ge=0)
    workers: PositiveInt = 1


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

    _source: str = PrivateAttr("study")

    @field_validator("name")
    @classmethod
    def _run_dir_name(cls, name: str) -> str:
        # The name becomes the directory runs/<name>: no separators, and never "." or "..".
        if not NAME_PATTERN.fullmatch(name) or set(name) == {"."}:
            raise ValueError(f"expected letters, digits, '_', '.' and '-' only (it names the run "
                             f"directory runs/<name>), got {name!r}")
        return name

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

    # ------------------------------------------------------------ derived views

    @property
    def source(self) -> str:
        """The file the study came from (or "study"), used as the prefix of every error."""
        return self._source

    def sections(self) -> dict[str, dict[str, Any]]:
        return {"data": self.data, "model": self.model, "train": self.train}

    def parameters(self) -> list[Param]:
        """The searched parameters, section by section (data, model, train), each in YAML order."""
        try:
            return parse_parameters(self.sections())
        except InvalidStudy as invalid:
            raise _user_error(self.source, invalid.problems) from None

    def expanded_suites(self) -> list[str]:
        """The suite patterns resolved to suite names (published ones from the default directory)."""
        return suite_catalog.expand(self.suites) if self.suites else []

    # ------------------------------------------------------------ what the runner calls

    def run_config(self, params: Mapping[str, Any], seed: int) -> RunConfig:
        """One trial's run: the sections with ``params`` (keyed by path) substituted, suites
        expanded, the seed set. A conditional parameter absent from ``params`` keeps its section's
        default. Raises ValueError when ``params`` misses an active parameter or names an unknown one.
        """
        declared = self.parameters()
        _check_assignment(declared, params)
        sections = _substitute(self.sections(), declared, params)
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
                parts.append(f"{label}={_label_value(param, params[param.path])}")
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


def _check_assignment(declared: list[Param], params: Mapping[str, Any]) -> None:
    by_path = {p.path: p for p in declared}
    unknown = sorted(set(params) - by_path.keys())
    if unknown:
        raise ValueError(f"not searched parameters: {unknown}; searched: {sorted(by_path)}")
    active: dict[str, Any] = {}
    missing = []
    for param in sampling_order(declared):
        if not param.is_active(active):
            continue
        if param.path in params:
            active[param.path] = params[param.path]
        else:
            missing.append(param.path)
    if missing:
        raise ValueError(f"no value for searched parameter(s) {missing}")
    outside = [f"{path}={value!r}" for path, value in params.items() if not by_path[path].contains(value)]
    if outside:
        raise ValueError(f"values outside their domains: {', '.join(outside)}")


def _substitute(sections: Mapping[str, dict], declared: list[Param],
                params: Mapping[str, Any]) -> dict[str, dict]:
    """Copies of the sections with each searched key set to its value, or removed when inactive
    (so it keeps the default of the section's preset or recipe)."""
    active = resolve_active(declared, params)
    out = {name: dict(section) for name, section in sections.items()}
    for param in declared:
        if param.path in active:
            out[param.section][param.key] = active[param.path]
        else:
            del out[param.section][param.key]
    return out


def _label_value(param: Param, value: Any) -> str:
    if not isinstance(value, float):
        return str(value)
    if param.categorical:
        # A listed value is shown as written: rounding could give two grid arms one label.
        text = repr(value).removesuffix(".0")
    else:
        text = f"{value:.{LABEL_DIGITS}g}"
    mantissa, e, exponent = text.partition("e")
    return f"{mantissa}e{int(exponent)}" if e else text  # 1e+04 -> 1e4, 3e-05 -> 3e-5


# ---------------------------------------------------------------- loading and checking

def load_study(path: str | Path) -> StudySpec:
    """Read and fully check a study file; any problem raises UserError naming file and field."""
    source = str(path)
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{source}: no such file")
    return validate_study(read_yaml(path, source), source)


def validate_study(raw: Any, source: str = "study") -> StudySpec:
    """Check a study given as a parsed mapping; ``source`` prefixes every error message."""
    if not isinstance(raw, dict):
        got = "an empty file" if raw is None else f"a {type(raw).__name__}"
        raise _user_error(source, [Problem("(top level)", "expected a mapping of study fields "
                                           f"(name, data, model, train, seeds, ...), got {got}")])
    try:
        spec = StudySpec.model_validate(raw)
    except ValidationError as err:
        raise _user_error(source, _schema_problems(err)) from None
    spec._source = source
    try:
        params = parse_parameters(spec.sections())
        _raise_collected(list(_rule_problems(spec, params)))
    except InvalidStudy as invalid:
        raise _user_error(source, invalid.problems) from None
    _check_builds(spec, params)
    return spec


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


def _rule_problems(spec: StudySpec, params: list[Param]) -> Iterator[Problem]:
    """Cross-field rules; each check yields every problem it sees."""
    yield from _section_key_problems(spec)
    yield from _condition_problems(params)
    yield from _grid_problems(spec, params)
    yield from _arm_list_problems(spec, params)
    yield from _baseline_problems(spec, params)
    yield from _scheduler_problems(spec.scheduler)
    yield from _resource_problems(spec.resources)
    yield from _reference_problems(spec.references)
    expanded, suite_problems = _expand_suites(spec.suites)
    yield from suite_problems
    if not suite_problems:
        yield from _objective_problems(spec.objective, expanded)


def _section_key_problems(spec: StudySpec) -> Iterator[Problem]:
    # Checked here (not left to build_run) so the message names the exact key, e.g. model.bogus.
    for section, values in spec.sections().items():
        for key in values:
            if key not in SECTION_KEYS[section]:
                yield Problem(f"{section}.{key}", f"unknown key; accepted: {', '.join(SECTION_KEYS[section])}")


def _condition_problems(params: list[Param]) -> Iterator[Problem]:
    by_path = {p.path: p for p in params}
    problems = []
    for param in params:
        where = f"{param.path}.when"
        for ref, allowed in param.when.items():
            target = by_path.get(ref)
            if ref == param.path:
                problems.append(Problem(where, "a parameter cannot be conditional on itself"))
            elif target is None:
                searched = ", ".join(by_path) or "none"
                problems.append(Problem(where, f"{ref!r} is not a searched parameter (searched: {searched}); "
                                               "a condition refers to another parameter's search domain"))
            else:
                problems += [Problem(where, f"{ref}={value!r} can never happen: {ref} is {target.describe()}")
                             for value in allowed if not target.contains(value)]
    yield from problems
    if not problems:  # a cycle is only worth reporting once every reference is sound
        try:
            sampling_order(params)
        except ValueError as err:
            yield Problem(f"{next(p.path for p in params if p.when)}.when", str(err))


def _grid_problems(spec: StudySpec, params: list[Param]) -> Iterator[Problem]:
    if spec.search.algorithm != "grid":
        return
    for param in params:
        if not param.categorical:
            yield Problem(f"{param.path}.{param.kind}",
                          f"a grid study enumerates its arms, so every searched parameter needs "
                          f"{{grid: [...]}} or {{choice: [...]}}; {'an int' if param.kind == 'int' else 'a float'} range has no grid. "
                          "List the values, or use search.algorithm tpe or random")
        if param.when:
            yield Problem(f"{param.path}.when",
                          "a grid study runs the full product of its grids, so it cannot have "
                          "conditional parameters; drop 'when', split the study, or use tpe or random")


def _arm_list_problems(spec: StudySpec, params: list[Param]) -> Iterator[Problem]:
    if spec.search.arms is None:
        return
    if spec.search.algorithm != "grid":
        yield Problem("search.arms", f"a list of arms belongs to a grid study; a "
                                     f"{spec.search.algorithm} study samples its arms")
        return
    by_path = {p.path: p for p in params}
    for index, arm in enumerate(spec.search.arms):
        where = f"search.arms.{index}"
        for path, value in arm.items():
            param = by_path.get(path)
            if param is None:
                yield Problem(f"{where}.{path}", f"not a searched parameter (searched: "
                                                 f"{', '.join(by_path) or 'none'})")
            elif not param.contains(value):
                yield Problem(f"{where}.{path}", f"{value!r} is not in its grid: {path} is {param.describe()}")
        missing = [path for path in by_path if path not in arm]
        if missing:
            yield Problem(where, f"no value for {', '.join(missing)}; an arm gives a value for every "
                                 "searched parameter")
        if any(arm == earlier for earlier in spec.search.arms[:index]):
            yield Problem(where, "the same arm is listed twice")


def _baseline_problems(spec: StudySpec, params: list[Param]) -> Iterator[Problem]:
    if spec.baseline is None:
        return
    if spec.search.algorithm != "grid":
        yield Problem("baseline", f"a {spec.search.algorithm} study samples its arms, so it has no "
                                  "fixed arm to compare against; remove baseline or use search.algorithm grid")
        return
    by_path = {p.path: p for p in params}
    for path, value in spec.baseline.items():
        param = by_path.get(path)
        if param is None:
            searched = ", ".join(by_path) or "none"
            yield Problem(f"baseline.{path}", f"not a searched parameter (searched: {searched}); "
                                              "the baseline names one arm by its searched values")
        elif not param.contains(value):
            yield Problem(f"baseline.{path}", f"{value!r} is not one of the grid's arms: "
                                              f"{path} is {param.describe()}")
    missing = [p for p in by_path if p not in spec.baseline]
    if missing:
        yield Problem("baseline", f"no value for {', '.join(missing)}; the baseline names one arm, "
                                  "so it gives a value for every searched parameter")
    elif spec.search.arms is not None and spec.baseline not in spec.search.arms:
        yield Problem("baseline", "not one of search.arms; the baseline names one of the arms the study runs")


def _scheduler_problems(scheduler: SchedulerSpec) -> Iterator[Problem]:
    if scheduler.type == "asha" and scheduler.max_t is not None and scheduler.grace_period > scheduler.max_t:
        yield Problem("scheduler.grace_period", f"expected <= max_t ({scheduler.max_t}), "
                                                f"got {scheduler.grace_period}")


def _resource_problems(resources: ResourcesSpec) -> Iterator[Problem]:
    if 0 < resources.gpu < 1 and resources.workers > 1:
        yield Problem("resources.gpu", f"fractional GPUs ({resources.gpu}) only for 1-worker trials: "
                                       f"NCCL refuses two workers on one GPU (workers = {resources.workers})")
    if resources.gpu > 1 and not float(resources.gpu).is_integer():
        yield Problem("resources.gpu", f"expected a fraction below 1 or a whole number, got {resources.gpu}")


def _reference_problems(labels: list[str]) -> Iterator[Problem]:
    for index, label in enumerate(labels):
        try:
            select_references([label])
        except ValueError as err:
            yield Problem(f"references.{index}", str(err))


def _expand_suites(patterns: list[str]) -> tuple[list[str], list[Problem]]:
    expanded, problems = [], []
    for index, pattern in enumerate(patterns):
        try:
            expanded += [n for n in suite_catalog.expand([pattern]) if n not in expanded]
        except ValueError as err:
            hint = ""
            if pattern.startswith("published/") and not suite_catalog.published_files(suite_catalog.published_dir()):
                hint = (f" (no published files found at {suite_catalog.published_dir()}; "
                        f"set {suite_catalog.PUBLISHED_ENV} to their directory)")
            problems.append(Problem(f"suites.{index}", f"{err}{hint}"))
    return expanded, problems


def _objective_problems(objective: ObjectiveSpec, expanded: list[str]) -> Iterator[Problem]:
    metric = objective.metric
    suite = suite_of_metric(metric)
    if metric not in TRIAL_METRICS and suite not in expanded:
        example = f"e.g. {suite_metric_name(expanded[0])}" if expanded else "none: the study lists no suites"
        accepted = (f"accepted: {', '.join(TRIAL_METRICS)}, or suite/<name>/acc for a suite of the "
                    f"study's suites ({example})")
        if suite is not None and suite in suite_catalog.all_names():
            yield Problem("objective.metric", f"suite {suite!r} is not among the study's suites; "
                                              f"add it to suites or pick another metric; {accepted}")
        else:
            yield Problem("objective.metric", f"{metric!r} is not reported by every trial; {accepted}")
    elif metric.endswith("/loss") and objective.mode == "max":
        yield Problem("objective.mode", f"{metric} is a loss: mode max would pick the worst arm; use mode: min")
    elif metric.endswith("/acc") and objective.mode == "min":
        yield Problem("objective.mode", f"{metric} is an accuracy: mode min would pick the worst arm; use mode: max")


# ---------------------------------------------------------------- building the arms

def _check_builds(spec: StudySpec, params: list[Param]) -> None:
    """Build the run config of every arm a grid can produce, or of representative values of
    every domain otherwise, so a bad fixed value or domain value fails now, not in a trial."""
    for assignment in _probe_assignments(spec, params):
        sections = _substitute(spec.sections(), params, assignment)
        try:
            build_run({**sections, "curriculum": spec.curriculum, "suites": [], "seed": spec.seeds[0]},
                      spec.source)
        except UserError as err:
            if assignment:
                raise UserError(f"{err}\n  (while building the arm {spec.arm_name(assignment)})") from None
            raise


def _probe_assignments(spec: StudySpec, params: list[Param]) -> Iterator[dict[str, Any]]:
    seen: set[str] = set()
    for assignment in _candidate_assignments(spec, params):
        active = resolve_active(params, assignment)
        key = repr(sorted(active.items(), key=lambda item: item[0]))
        if key not in seen:
            seen.add(key)
            yield active


def _candidate_assignments(spec: StudySpec, params: list[Param]) -> Iterable[dict[str, Any]]:
    if spec.search.algorithm == "grid" and spec.search.arms is not None:
        yield from spec.search.arms  # only the listed arms ever run
        return
    base = {p.path: p.representative() for p in params}  # inactive ones are dropped later
    yield base
    if spec.search.algorithm == "grid":
        # Sections build independently, so each section's grid product covers every arm.
        for section in SECTIONS:
            own = [p for p in params if p.section == section]
            for values in itertools.product(*(p.values for p in own)):
                yield {**base, **{p.path: v for p, v in zip(own, values)}}
        return
    by_path = {p.path: p for p in params}
    for param in params:
        for value in param.probe_values():
            yield _with_conditions_met({**base, param.path: value}, param, by_path)


def _with_conditions_met(assignment: dict[str, Any], param: Param, by_path: dict[str, Param]) -> dict[str, Any]:
    """Set the parameters that ``param`` is conditional on so that it is active (transitively)."""
    for ref, allowed in param.when.items():
        assignment[ref] = allowed[0]
        assignment = _with_conditions_met(assignment, by_path[ref], by_path)
    return assignment
