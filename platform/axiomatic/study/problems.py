"""What is wrong with a study file: each :class:`Problem` names the field path at fault and what
was expected there; a layer of checks raises them together as :class:`InvalidStudy`, and the
loader turns every problem of every layer into one :class:`~axiomatic.errors.UserError`."""

from __future__ import annotations

import dataclasses

from axiomatic.errors import UserError


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


def user_error(source: str, problems: list[Problem]) -> UserError:
    return UserError(f"{source}: invalid study\n" + "\n".join(p.line() for p in problems))
