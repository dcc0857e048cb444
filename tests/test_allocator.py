"""dlkit.allocator: glibc's malloc keeps freed memory for the next step, unless told not to."""

import os
import subprocess
import sys

import pytest

from dlkit import allocator

glibc = pytest.mark.skipif(
    not sys.platform.startswith("linux") or "glibc" not in " ".join(
        __import__("platform").libc_ver()), reason="glibc's malloc only")


def _tuned_in_child(**env_changes):
    env = {k: v for k, v in os.environ.items() if k not in allocator._USER_SETTINGS}
    env.pop("DLKIT_MALLOC", None)
    env.update(env_changes)
    code = "import dlkit, dlkit.allocator as a; print(a.tuned)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120, check=True)
    return out.stdout.strip()


@glibc
def test_tuned_at_import_and_the_environment_can_say_no():
    assert _tuned_in_child() == "True"
    assert _tuned_in_child(DLKIT_MALLOC="system") == "False"
    assert _tuned_in_child(MALLOC_TRIM_THRESHOLD_="1000000") == "False"


@glibc
def test_keep_freed_memory_sets_glibcs_thresholds():
    assert allocator.keep_freed_memory()
    assert allocator.tuned
