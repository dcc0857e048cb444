"""keep_freed_memory: glibc's thresholds raised at import, or left alone when asked."""

import os
import subprocess
import sys

import pytest

CODE = ("import ctypes, dlkit; libc = ctypes.CDLL('libc.so.6'); "
        "from dlkit.allocator import keep_freed_memory; print(keep_freed_memory())")


def run(**env):
    return subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True,
                          env={**os.environ, **env}, check=True).stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_thresholds_are_set_on_linux():
    assert run() == "True"


def test_environment_variable_leaves_malloc_alone():
    assert run(DLKIT_KEEP_MALLOC="1") == "False"
