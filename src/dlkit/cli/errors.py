"""The CLI's user error (defined with the library's errors, so library code that checks
options and run folders can raise it without importing the CLI)."""

from dlkit.errors import UserError

__all__ = ["UserError"]
