"""Starting N processes of a command on this machine with the MPI launcher (``mpiexec``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path


def find_mpiexec() -> str | None:
    """The ``mpiexec`` beside this Python (where the ``mpich`` wheel of the ``mpi`` extra puts
    it), else the one on the PATH; None if there is none."""
    here = Path(sys.executable).parent / "mpiexec"
    return str(here) if here.exists() else shutil.which("mpiexec")


def launch(n: int, args: Sequence[str], module: str = "dlkit.cli") -> int:
    """Run ``mpiexec -n n python -m module args...`` here and wait; returns its exit code.
    Raises RuntimeError with the way out when MPI is not installed."""
    if n < 1:
        raise ValueError(f"launch: expected n >= 1 processes, got {n}")
    mpiexec = find_mpiexec()
    missing = "mpiexec" if mpiexec is None else None
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        missing = "mpi4py"
    if missing:
        raise RuntimeError(f"{missing} is not installed: training on several processes needs "
                           "the MPI extra (pip install 'dlkit[mpi]')")
    command = [mpiexec, "-n", str(n), sys.executable, "-m", module, *args]
    return subprocess.call(command, env=dict(os.environ))
