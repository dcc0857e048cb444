"""Run under mpiexec -n 2: rank 1 pretends to run another dlkit version."""

import os

import dlkit

if os.environ.get("PMI_RANK") == "1":
    dlkit.__version__ = "0.0.0-other"
dlkit.distributed.init()
print("not reached")
