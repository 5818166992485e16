"""Search domains of a study and the problems a study file can have.

A value of a study's ``data`` / ``model`` / ``train`` section is either a constant or a search
domain (``{choice|grid|int|float: ..., log: ..., when: ...}``). :class:`Param` is one searched
parameter; :func:`parse_parameters` finds them all, :func:`resolve_active` applies conditions,
:func:`substitute` puts an arm's values into the sections. A :class:`Problem` is one thing wrong
with a file (the field path and what was expected); checks collect them into :class:`InvalidStudy`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, Literal

from axiomatic.errors import UserError

SECTIONS = ("data", "model", "train")
DOMAIN_KINDS = ("choice", "grid", "int", "float")
DOMAIN_OPTIONS = ("log", "when")
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


def problem(path: str, message: str) -> InvalidStudy:
    return InvalidStudy([Problem(path, message)])


def user_error(source: str, problems: list[Problem]) -> UserError:
    return UserError(f"{source}: invalid study\n" + "\n".join(p.line() for p in problems))


def raise_collected(problems: list[Problem]) -> None:
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
        raise problem(path, f"a search domain has exactly one of {', '.join(DOMAIN_KINDS)}; got {got}")
    kind = kinds[0]
    for key in domain:
        if key not in DOMAIN_KINDS + DOMAIN_OPTIONS:
            raise problem(f"{path}.{key}", f"unknown key in a search domain; accepted: {kind}, log, when")
    log = domain.get("log", False)
    if not isinstance(log, bool):
        raise problem(f"{path}.log", f"expected true or false, got {log!r}")
    when = _parse_when(f"{path}.when", domain["when"]) if "when" in domain else {}
    if kind in ("choice", "grid"):
        if log:
            raise problem(f"{path}.log", "log applies to int and float domains only")
        return Param(path, kind, values=_categorical_values(f"{path}.{kind}", domain[kind]), when=when)
    low, high = _bounds(f"{path}.{kind}", kind, domain[kind])
    if log and low <= 0:
        raise problem(f"{path}.log", f"a log scale needs low > 0, got low = {low}")
    return Param(path, kind, low=low, high=high, log=log, when=when)


def _categorical_values(path: str, values: Any) -> tuple:
    if not isinstance(values, list) or not values:
        raise problem(path, f"expected a non-empty list of values, got {values!r}")
    for index, value in enumerate(values):
        # Optuna stores categorical values as they are, and only accepts these types.
        if value is not None and not isinstance(value, (str, int, float, bool)):
            raise problem(f"{path}.{index}", "expected a string, number, boolean or null, "
                                              f"got {type(value).__name__} {value!r}")
    repeated = [v for i, v in enumerate(values) if any(_same(v, w) for w in values[:i])]
    if repeated:
        raise problem(path, f"values must be distinct; repeated: {', '.join(map(repr, repeated))}")
    return tuple(values)


def _bounds(path: str, kind: str, bounds: Any) -> tuple[int | float, int | float]:
    what = "integers" if kind == "int" else "numbers"
    if not isinstance(bounds, list) or len(bounds) != 2:
        raise problem(path, f"expected [low, high], two {what}; got {bounds!r}")
    valid = all(_is_number(b) and (kind == "float" or isinstance(b, int)) for b in bounds)
    if not valid:
        # PyYAML follows YAML 1.1: a float needs a dot, so 1e-4 arrives as the string "1e-4".
        hint = "; write exponents with a dot (1.0e-4), YAML reads 1e-4 as a string" if any(
            isinstance(b, str) for b in bounds) else ""
        raise problem(path, f"expected [low, high], two {what}; got {bounds!r}{hint}")
    low, high = bounds
    if kind == "int":
        if low > high:
            raise problem(path, f"expected low <= high, got [{low}, {high}]")
        return low, high
    if not low < high:
        raise problem(path, f"expected low < high, got [{low}, {high}] (for one value write a constant)")
    return float(low), float(high)


def _parse_when(path: str, when: Any) -> dict[str, tuple]:
    example = "e.g. {model.pe: rope} or {model.pe: [rope, alibi]}"
    if not isinstance(when, dict) or not when:
        raise problem(path, f"expected a mapping of parameter path to value or list of values, {example}")
    conditions = {}
    for ref, allowed in when.items():
        allowed = tuple(allowed) if isinstance(allowed, list) else (allowed,)
        if not allowed:
            raise problem(path, f"{ref}: expected a value or a non-empty list of values, {example}")
        conditions[str(ref)] = allowed
    return conditions


def parse_parameters(sections: Mapping[str, Mapping[str, Any]]) -> list[Param]:
    """Every search domain of the sections, in section order and then YAML order."""
    params, problems = collect_parameters(sections)
    raise_collected(problems)
    return params


def collect_parameters(sections: Mapping[str, Mapping[str, Any]]) -> tuple[list[Param], list[Problem]]:
    """The well-formed search domains, and a problem for each malformed one."""
    params, problems = [], []
    for section in SECTIONS:
        for key, value in sections.get(section, {}).items():
            if not is_domain(value):
                continue
            try:
                params.append(parse_domain(f"{section}.{key}", value))
            except InvalidStudy as invalid:
                problems += invalid.problems
    return params, problems


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


def check_assignment(declared: list[Param], params: Mapping[str, Any]) -> None:
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


def substitute(sections: Mapping[str, dict], declared: list[Param],
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
