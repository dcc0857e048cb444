"""The ``dlkit`` command: train, evaluate, predict, charlm, sample, diagnose, runs, compare, tune.

A user mistake (bad option, missing file, data of the wrong shape) is reported in one line on
stderr with exit code 2, never a traceback.
"""

from __future__ import annotations

import sys

import click
import numpy as np

from dlkit import __version__
from dlkit.cli.errors import UserError
from dlkit.errors import DTypeError, ShapeError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dlkit")
def cli() -> None:
    """dlkit: the Deep Learning Specialization as a library and a command."""


# commands register on the group when imported
from dlkit.cli import (  # noqa: E402,F401
    charlm,
    detect,
    diagnose,
    embed,
    evaluate,
    runs,
    segment,
    speech,
    style,
    train,
    translate,
    trigger,
    tune,
    verify,
    visualize,
)


def _subcommand(argv: list[str] | None) -> str:
    """The command named on the command line ("train"), for messages that carry none."""
    args = sys.argv[1:] if argv is None else list(argv)
    return next((str(a) for a in args if not str(a).startswith("-")), "")


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs the command; a user error is one line on stderr and exit code 2.
    NumPy's floating-point warnings are silenced: non-finite losses and inputs are caught
    and reported by the commands themselves, in one line."""
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            cli.main(args=argv, prog_name="dlkit", standalone_mode=False)
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.exceptions.Abort:
        click.echo("dlkit: aborted", err=True)
        return 1
    except click.ClickException as e:
        ctx = getattr(e, "ctx", None)
        command = ctx.command_path if ctx is not None and ctx.parent else "dlkit"
        click.echo(f"{command}: error: {e.format_message()}", err=True)
        return 2
    except UserError as e:
        name = e.command or _subcommand(argv)
        click.echo(f"dlkit {name}: error: {e}" if name else f"dlkit: error: {e}", err=True)
        return 2
    except (ShapeError, DTypeError, FileNotFoundError, ValueError, ImportError) as e:
        name = _subcommand(argv)
        click.echo(f"dlkit {name}: error: {e}" if name else f"dlkit: error: {e}", err=True)
        return 2
    return 0


__all__ = ["UserError", "cli", "main"]

