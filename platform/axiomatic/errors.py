"""User-facing errors: which file, which field, what was expected. The CLI exits 2 on these, and 1
on a run that diverged (its input was valid; its training was not)."""

from __future__ import annotations

from pydantic import ValidationError


class UserError(Exception):
    """Bad input from the user; the message is complete and printed as is."""


class Diverged(RuntimeError):
    """The training loss stopped being a finite number: nothing after it means anything."""


def field_path(loc) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def from_validation(err: ValidationError, source: str, prefix: str = "") -> UserError:
    lines = []
    for e in err.errors():
        path = field_path(((prefix,) if prefix else ()) + tuple(e["loc"]))
        message = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            message = "unknown key (not part of the schema)"
        lines.append(f"  {path}: {message}")
    return UserError(f"{source}: invalid input\n" + "\n".join(lines))
