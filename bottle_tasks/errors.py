"""Errors a user can cause and fix.

Anything raised as a :class:`BottleError` is printed as a sentence, never as
a traceback: it names the file, key or thing at fault and says what to do.
"""
from __future__ import annotations

__all__ = ["BottleError", "ManifestError"]


class BottleError(Exception):
    """A mistake in the user's input or environment, reported without a traceback."""


class ManifestError(BottleError):
    """An agent or bottle manifest that cannot be used as written."""

    def __init__(self, path: str, problems: list[str]):
        self.path = path
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{path}:\n{lines}")
