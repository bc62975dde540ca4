"""One exception type for every bad input, with one-line messages that name the argument."""

from __future__ import annotations


class RemedyError(ValueError):
    """A user-facing error: the message names the argument and what was expected."""


class RemedyWarning(UserWarning):
    """A result that needs the user's attention: a treatment that had to back off, or lost accuracy on its guard."""


def check(condition: bool, argument: str, expected: str) -> None:
    """Raise :class:`RemedyError` ``"<argument>: expected <expected>"`` unless ``condition`` holds."""
    if not condition:
        raise RemedyError(f"{argument}: expected {expected}")
