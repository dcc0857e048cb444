"""``--workers N`` and runs under ``mpiexec``: relaunching a command on N processes, and giving
each rank its place (rank 0 writes the run folder and prints; the others work in a scratch
copy that is deleted at exit, and print nothing)."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import click

from dlkit.cli.errors import UserError
from dlkit.distributed import launched, rank
from dlkit.distributed.launch import launch
from dlkit.strategy import run_folder as rf


def relaunch(ctx: click.Context, workers: int, command: str) -> None:
    """Run this command again under ``mpiexec -n workers`` with the same options (less
    ``--workers``) and wait for it; a failure is a ``UserError`` (the ranks printed why)."""
    args = [ctx.info_name or command]
    for param in ctx.command.params:
        if param.name == "workers" or ctx.get_parameter_source(param.name) is not \
                click.core.ParameterSource.COMMANDLINE:
            continue
        value = ctx.params[param.name]
        if getattr(param, "is_flag", False):
            if value:
                args.append(param.opts[0])
            elif param.secondary_opts:
                args.append(param.secondary_opts[0])
        else:
            args += [param.opts[0], str(value)]
    try:
        code = launch(workers, args)
    except RuntimeError as e:
        raise UserError(f"--workers {workers}: {e}", command) from e
    if code:
        raise UserError(f"the run on {workers} processes failed (mpiexec exit code {code})",
                        command)


def rank_folders(out: str | None, resume: str | None, overwrite: bool,
                 command: str) -> tuple[str | None, str | None, bool]:
    """``(out, resume, overwrite)`` for this rank: unchanged on rank 0 (and outside
    mpiexec); on the others a scratch folder (a copy of the run to resume), and stdout off."""
    if not launched() or rank() == 0:
        return out, resume, overwrite
    scratch = tempfile.mkdtemp(prefix=f"dlkit-rank{rank()}-")
    atexit.register(shutil.rmtree, scratch, True)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - for the life of the process
    run = Path(scratch) / "run"
    if resume is not None:
        shutil.copytree(rf.run_folder(resume, command), run)
        return out, str(run), overwrite
    return str(run), None, True
