"""User-facing errors: which file, which field, what was expected. The CLI exits 2 on these, and 1
on a run that diverged (its input was valid; its training was not) or stopped short (Incomplete)."""

from __future__ import annotations

from pydantic import ValidationError


class UserError(Exception):
    """Bad input from the user; the message is complete and printed as is."""


class Incomplete(RuntimeError):
    """A run stopped short for a reason outside its input (a storage that stopped answering);
    the message says what was lost and how to resume."""


class Diverged(RuntimeError):
    """The training loss stopped being a finite number: nothing after it means anything."""


def field_path(loc) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def validation_problems(err: ValidationError, prefix: str = "") -> list[tuple[str, str]]:
    """(field path, message) of every error pydantic found, the path under ``prefix``."""
    problems = []
    for e in err.errors():
        path = field_path(((prefix,) if prefix else ()) + tuple(e["loc"]))
        message = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            message = "unknown key (not part of the schema)"
        problems.append((path, message))
    return problems


def invalid_input(source: str, problems: list[tuple[str, str]]) -> UserError:
    """One error naming the source and, a line each, every (field path, message)."""
    lines = [f"  {path}: {message}" for path, message in problems]
    return UserError(f"{source}: invalid input\n" + "\n".join(lines))


def from_validation(err: ValidationError, source: str, prefix: str = "") -> UserError:
    return invalid_input(source, validation_problems(err, prefix))
