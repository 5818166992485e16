"""Search domains of a study.

A value of a study's ``data`` / ``model`` / ``train`` section is either a constant or a search
domain (``{choice|grid|int|float: ..., log: ..., when: ...}``): :data:`SearchDomain`, a pydantic
union tagged by that kind key, so a malformed domain's errors carry their field path like the rest
of the schema. :class:`Param` is one searched parameter; :func:`parameters_of` finds them all
(``StudySpec`` calls it once), :func:`resolve_active` applies conditions,
:func:`substitute` puts an arm's values into the sections. A :class:`Problem` is one thing wrong
with a file (:mod:`axiomatic.study.problems`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from axiomatic.errors import Problem, field_path
from axiomatic.study.problems import InvalidStudy

SECTIONS = ("data", "model", "train")
DOMAIN_KINDS = ("choice", "grid", "int", "float")
DOMAIN_OPTIONS = ("log", "when")
LABEL_DIGITS = 2  # significant digits of a sampled float in an arm's label


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


# ---------------------------------------------------------------- the domains' schema

def _categorical_list(values: Any) -> Any:
    if not isinstance(values, list) or not values:
        raise ValueError(f"expected a non-empty list of values, got {values!r}")
    return values


def _categorical_value(value: Any) -> Any:
    # Optuna stores categorical values as they are, and only accepts these types.
    if value is not None and not isinstance(value, (str, int, float, bool)):
        raise ValueError(f"expected a string, number, boolean or null, got {type(value).__name__} {value!r}")
    return value


def _distinct(values: tuple) -> tuple:
    repeated = [v for i, v in enumerate(values) if any(_same(v, w) for w in values[:i])]
    if repeated:
        raise ValueError(f"values must be distinct; repeated: {', '.join(map(repr, repeated))}")
    return values


def _bounds(kind: str, bounds: Any) -> tuple[int | float, int | float]:
    what = "integers" if kind == "int" else "numbers"
    if not isinstance(bounds, list) or len(bounds) != 2:
        raise ValueError(f"expected [low, high], two {what}; got {bounds!r}")
    valid = all(_is_number(b) and (kind == "float" or isinstance(b, int)) for b in bounds)
    if not valid:
        # PyYAML follows YAML 1.1: a float needs a dot, so 1e-4 arrives as the string "1e-4".
        hint = "; write exponents with a dot (1.0e-4), YAML reads 1e-4 as a string" if any(
            isinstance(b, str) for b in bounds) else ""
        raise ValueError(f"expected [low, high], two {what}; got {bounds!r}{hint}")
    low, high = bounds
    if kind == "int":
        if low > high:
            raise ValueError(f"expected low <= high, got [{low}, {high}]")
        return low, high
    if not low < high:
        raise ValueError(f"expected low < high, got [{low}, {high}] (for one value write a constant)")
    return float(low), float(high)


def _strict_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _conditions(when: Any) -> dict[str, tuple]:
    example = "e.g. {model.pe: rope} or {model.pe: [rope, alibi]}"
    if not isinstance(when, dict) or not when:
        raise ValueError(f"expected a mapping of parameter path to value or list of values, {example}")
    conditions = {}
    for ref, allowed in when.items():
        allowed = tuple(allowed) if isinstance(allowed, list) else (allowed,)
        if not allowed:
            raise ValueError(f"{ref}: expected a value or a non-empty list of values, {example}")
        conditions[str(ref)] = allowed
    return conditions


CategoricalValues = Annotated[tuple[Annotated[Any, AfterValidator(_categorical_value)], ...],
                              BeforeValidator(_categorical_list), AfterValidator(_distinct)]
IntBounds = Annotated[tuple[int, int], BeforeValidator(functools.partial(_bounds, "int"))]
FloatBounds = Annotated[tuple[float, float], BeforeValidator(functools.partial(_bounds, "float"))]
LogScale = Annotated[bool, BeforeValidator(_strict_bool)]
Conditions = Annotated[dict[str, tuple], BeforeValidator(_conditions)]


class _Domain(BaseModel):
    """The part every domain shares: ``when``, the condition that makes the parameter active.

    Each kind names its values by its own key (``choice: [...]``, ``int: [lo, hi]``): the field
    is aliased to it, so an error's location is the key the file used.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    KIND: ClassVar[str]

    when: Conditions = Field(default_factory=dict)


class _Categorical(_Domain):
    log: LogScale = False

    @field_validator("log")
    @classmethod
    def _no_log_scale(cls, log: bool) -> bool:
        if log:
            raise ValueError("log applies to int and float domains only")
        return log

    def param(self, path: str) -> Param:
        return Param(path, self.KIND, values=self.values, when=self.when)


class ChoiceDomain(_Categorical):
    KIND: ClassVar[str] = "choice"
    values: CategoricalValues = Field(alias="choice")


class GridDomain(_Categorical):
    KIND: ClassVar[str] = "grid"
    values: CategoricalValues = Field(alias="grid")


class _Range(_Domain):
    @field_validator("log", check_fields=False)
    @classmethod
    def _log_needs_positive_low(cls, log: bool, info: ValidationInfo) -> bool:
        low = info.data["bounds"][0] if "bounds" in info.data else None
        if log and low is not None and low <= 0:
            raise ValueError(f"a log scale needs low > 0, got low = {low}")
        return log

    def param(self, path: str) -> Param:
        low, high = self.bounds
        return Param(path, self.KIND, low=low, high=high, log=self.log, when=self.when)


class IntDomain(_Range):
    KIND: ClassVar[str] = "int"
    bounds: IntBounds = Field(alias="int")
    log: LogScale = False  # after bounds: its check reads them


class FloatDomain(_Range):
    KIND: ClassVar[str] = "float"
    bounds: FloatBounds = Field(alias="float")
    log: LogScale = False  # after bounds: its check reads them


def _one_kind(domain: Any) -> Any:
    kinds = [k for k in DOMAIN_KINDS if k in domain]
    if len(kinds) != 1:
        got = " and ".join(kinds) if kinds else "none of them"
        raise ValueError(f"a search domain has exactly one of {', '.join(DOMAIN_KINDS)}; got {got}")
    return domain


def _kind(domain: Any) -> str:
    """The union's tag: the kind key a mapping uses, or the kind of a validated domain."""
    if isinstance(domain, _Domain):
        return domain.KIND
    return next(k for k in DOMAIN_KINDS if k in domain)


SearchDomain = Annotated[
    Annotated[Annotated[ChoiceDomain, Tag("choice")] | Annotated[GridDomain, Tag("grid")]
              | Annotated[IntDomain, Tag("int")] | Annotated[FloatDomain, Tag("float")],
              Discriminator(_kind)],
    BeforeValidator(_one_kind)]
_SEARCH_DOMAIN = TypeAdapter(SearchDomain)


def parse_domain(path: str, domain: dict) -> Param:
    """One ``{choice|grid|int|float: ..., log: ..., when: ...}`` mapping -> Param (shape only)."""
    try:
        return _SEARCH_DOMAIN.validate_python(domain).param(path)
    except ValidationError as err:
        raise InvalidStudy(_domain_problems(path, err)) from None


def _domain_problems(path: str, err: ValidationError) -> list[Problem]:
    problems = []
    for error in err.errors():
        loc = error["loc"]  # (kind, field, ...): a tagged union puts its tag first
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = f"unknown key in a search domain; accepted: {loc[0]}, log, when"
        problems.append(Problem(field_path((path, *loc[1:])), message))
    return problems


def parameters_of(sections: Mapping[str, Mapping[str, Any]]) -> tuple[tuple[Param, ...], list[Problem]]:
    """The well-formed search domains of the sections (section order, then YAML order), and a
    problem for each malformed one."""
    params, problems = [], []
    for section in SECTIONS:
        for path, value in _domains_under(section, sections.get(section, {})):
            try:
                params.append(parse_domain(path, value))
            except InvalidStudy as invalid:
                problems += invalid.problems
    return tuple(params), problems


def _domains_under(prefix: str, mapping: Mapping[str, Any]):
    """(path, domain) for every domain in a section, nested ones included (``data.shares.sequential``)."""
    for key, value in mapping.items():
        if is_domain(value):
            yield f"{prefix}.{key}", value
        elif isinstance(value, Mapping):
            yield from _domains_under(f"{prefix}.{key}", value)


def sampling_order(params: Sequence[Param]) -> list[Param]:
    """The parameters ordered so that each follows those its ``when`` refers to (else YAML order).

    Raises ValueError naming the parameters whose conditions form a cycle.
    """
    known = {p.path for p in params}
    ordered: Sequence[Param] = []
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


def resolve_active(params: Sequence[Param], assignment: Mapping[str, Any]) -> dict[str, Any]:
    """The values of ``assignment`` whose parameters are active, in YAML order."""
    active: dict[str, Any] = {}
    for param in sampling_order(params):
        if param.path in assignment and param.is_active(active):
            active[param.path] = assignment[param.path]
    return {p.path: active[p.path] for p in params if p.path in active}


def check_assignment(declared: Sequence[Param], params: Mapping[str, Any]) -> None:
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


def substitute(sections: Mapping[str, dict], declared: Sequence[Param],
                params: Mapping[str, Any]) -> dict[str, dict]:
    """Copies of the sections with each searched key set to its value, or removed when inactive
    (so it keeps the default of the section's preset or recipe)."""
    active = resolve_active(declared, params)
    out = {name: dict(section) for name, section in sections.items()}
    for param in declared:
        *parents, last = param.key.split(".")
        mapping = out[param.section]
        for key in parents:  # copy each nested mapping on the way: the spec's own stay untouched
            mapping[key] = dict(mapping[key])
            mapping = mapping[key]
        if param.path in active:
            mapping[last] = active[param.path]
        else:
            del mapping[last]
    return out


def label_value(param: Param, value: Any) -> str:
    if not isinstance(value, float):
        return str(value)
    if param.categorical:
        # A listed value is shown as written: rounding could give two grid arms one label.
        text = repr(value).removesuffix(".0")
    else:
        text = f"{value:.{LABEL_DIGITS}g}"
    mantissa, e, exponent = text.partition("e")
    return f"{mantissa}e{int(exponent)}" if e else text  # 1e+04 -> 1e4, 3e-05 -> 3e-5
