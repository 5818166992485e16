"""The errors this package raises on purpose, under one base, and :class:`Problem`: what is wrong at
which field, the shape every config layer reports its findings in.

    AxiomaticError
      UserError        bad input: which file, which field, what was expected (the CLI exits 2)
        DamagedLedger  a study's record that cannot be read (study/ledger.py)
      InvalidConfig    a config built with bad fields, as a list of problems (also a ValueError)
      InvalidStudy     one layer of a study file's checks (study/problems.py)
      FetchError       a download of the published files that failed (data/upstream.py)
      RefusedPickle    a pickle that names code (data/plain_pickle.py; also an UnpicklingError)
      Incomplete       a run stopped short for a reason outside its input (the CLI exits 1)
      Diverged         a training loss that stopped being a finite number (the CLI exits 1)
"""

from __future__ import annotations

import dataclasses

from pydantic import ValidationError


class AxiomaticError(Exception):
    """Base of every error the package raises on purpose: ``except AxiomaticError`` catches what
    a caller can act on, and lets a bug's exception through."""


class UserError(AxiomaticError):
    """Bad input from the user; the message is complete and printed as is."""


class Incomplete(AxiomaticError, RuntimeError):
    """A run stopped short for a reason outside its input (a storage that stopped answering);
    the message says what was lost and how to resume."""


class Diverged(AxiomaticError, RuntimeError):
    """The training loss stopped being a finite number: nothing after it means anything."""


@dataclasses.dataclass(frozen=True)
class Problem:
    """One thing wrong with a config or a file: the field path at fault and what was expected."""

    path: str
    message: str

    def line(self) -> str:
        return f"  {self.path}: {self.message}"

    def under(self, prefix: str) -> Problem:
        """The same problem, its path inside the section ``prefix`` (``n_head`` -> ``model.n_head``)."""
        return Problem(f"{prefix}.{self.path}" if self.path else prefix, self.message)


class InvalidConfig(AxiomaticError, ValueError):
    """A config built with bad fields: every problem at once, each with its field's path inside
    the config. A ValueError too, as pydantic's own checks are."""

    def __init__(self, subject: str, problems: list[Problem]):
        self.subject, self.problems = subject, problems
        super().__init__("\n".join(f"{subject}.{p.path}: {p.message}" for p in problems))


def field_path(loc) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def validation_problems(err: ValidationError, prefix: str = "") -> list[Problem]:
    """Every problem pydantic found, its path under ``prefix``."""
    problems = []
    for e in err.errors():
        path = field_path(((prefix,) if prefix else ()) + tuple(e["loc"]))
        message = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            message = "unknown key (not part of the schema)"
        problems.append(Problem(path, message))
    return problems


def invalid_input(source: str, problems: list[Problem], what: str = "input") -> UserError:
    """One error naming the source and, a line each, every problem (``what``: "input", "study")."""
    return UserError(f"{source}: invalid {what}\n" + "\n".join(p.line() for p in problems))


def from_validation(err: ValidationError, source: str, prefix: str = "") -> UserError:
    return invalid_input(source, validation_problems(err, prefix))
