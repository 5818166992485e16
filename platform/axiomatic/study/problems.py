"""What is wrong with a study file: each :class:`~axiomatic.errors.Problem` names the field path at
fault and what was expected there; a layer of checks raises them together as :class:`InvalidStudy`,
and the loader turns every problem of every layer into one :class:`~axiomatic.errors.UserError`."""

from __future__ import annotations

from axiomatic.errors import AxiomaticError, Problem, UserError, invalid_input


class InvalidStudy(AxiomaticError):
    """Problems found in one layer of checks; turned into a UserError naming the study file."""

    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(p.line() for p in problems))
        self.problems = problems


def user_error(source: str, problems: list[Problem]) -> UserError:
    return invalid_input(source, problems, "study")
