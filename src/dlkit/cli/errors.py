"""The CLI's user error."""

from __future__ import annotations


class UserError(Exception):
    """A mistake in the command line or its inputs: reported in one line, exit code 2."""

    def __init__(self, message: str, command: str = "") -> None:
        super().__init__(message)
        self.command = command
