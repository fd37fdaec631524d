"""What every checker shares: the verdict, and calling the student's function safely."""

from __future__ import annotations

import html
from dataclasses import dataclass

__all__ = ["CheckResult", "call_student"]


@dataclass
class CheckResult:
    """The verdict of a checker: ``passed`` and a message in plain words."""

    exercise: str
    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        mark = "✔ correct" if self.passed else "✘ not yet"
        return f"{self.exercise}: {mark}. {self.message}"

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.passed else "#9a6700"
        mark = "✔ correct" if self.passed else "✘ not yet"
        return (f"<div style='border-left:4px solid {colour};padding:4px 10px'>"
                f"<b style='color:{colour}'>{html.escape(self.exercise)}: {mark}.</b> "
                f"{html.escape(self.message)}</div>")


def call_student(name: str, function, *args, returns: str):
    """Call the student's function: ``(answer, None)``, or ``(None, failed)`` with a CheckResult.

    It fails when ``function`` is not a function, raises, or returns None; ``returns`` names
    what it should have returned ("the mask"). Test ``failed is not None``: a failed
    CheckResult is falsy.
    """
    if not callable(function):
        return None, CheckResult(name, False, f"pass your function itself, not "
                                              f"{type(function).__name__}.")
    try:
        answer = function(*args)
    except Exception as error:  # the student's code may raise anything
        return None, CheckResult(name, False,
                                 f"your function raised {type(error).__name__}: {error}")
    if answer is None:
        return None, CheckResult(name, False, f"your function returned None: return {returns}.")
    return answer, None
