"""Errors dlkit raises for bad input: the op, what was expected, what was given, a hint."""

from __future__ import annotations


class ShapeError(ValueError):
    """An input of the wrong shape; the message names the op and both shapes."""


class DTypeError(TypeError):
    """An input of the wrong dtype; the message names the op and both dtypes."""


def shape_error(op: str, expected: str, given: tuple, hint: str = "") -> ShapeError:
    msg = f"{op}: expected {expected}, got shape {tuple(given)}"
    return ShapeError(f"{msg}; {hint}" if hint else msg)


def transpose_hint(shape: tuple, n_features: int) -> str:
    """The hint for the most common layout mistake: examples as columns ``(n_x, m)``."""
    if len(shape) == 2 and shape[0] == n_features:
        return (
            f"examples laid out as columns (n_x, m) as in the notes? dlkit is batch-first "
            f"(m, n_x): transpose? (x.T has shape {shape[::-1]})"
        )
    return ""


class UserError(ValueError):
    """A mistake in a command's options or inputs (a bad option, a missing or malformed file,
    a run folder that is not one). The ``dlkit`` command reports it in one line with exit
    code 2; ``command`` names the subcommand ("train", "evaluate", ...)."""

    def __init__(self, message: str, command: str = "") -> None:
        super().__init__(message)
        self.command = command
