"""Running scripts under ``mpiexec -n 2``. Without MPI the tests skip, unless the environment
says ``DLKIT_REQUIRE_MPI=1`` (CI), where a missing MPI is a failure."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

WORKERS = Path(__file__).parent / "workers"
SRC = Path(__file__).parents[2] / "src"


def mpiexec() -> str:
    """The mpiexec beside this Python (the mpich wheel puts it there), or on the PATH."""
    here = Path(sys.executable).parent / "mpiexec"
    found = str(here) if here.exists() else shutil.which("mpiexec")
    problem = None
    if found is None:
        problem = "no mpiexec (pip install 'dlkit[mpi]')"
    else:
        try:
            import mpi4py  # noqa: F401
        except ImportError:
            problem = "mpi4py is not installed (pip install 'dlkit[mpi]')"
    if problem:
        if os.environ.get("DLKIT_REQUIRE_MPI") == "1":
            pytest.fail(f"DLKIT_REQUIRE_MPI=1 but {problem}")
        pytest.skip(problem)
    return found


def run_script(script: str, *args: str, ranks: int = 2, timeout: float = 60,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``mpiexec -n ranks python workers/script args`` (ranks=0: plain python)."""
    command = [sys.executable, str(WORKERS / script), *args]
    if ranks:
        command = [mpiexec(), "-n", str(ranks), *command]
    environment = {**os.environ, "PYTHONPATH": str(SRC), "OPENBLAS_NUM_THREADS": "1",
                   **(env or {})}
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env=environment)
