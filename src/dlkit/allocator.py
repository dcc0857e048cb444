"""Freed memory kept in the process: glibc's malloc set up for a training loop.

A training step allocates and frees the same large arrays every step (activations, gate
buffers, gradients: from hundreds of kilobytes to megabytes each). glibc's malloc serves
every allocation above ``M_MMAP_THRESHOLD`` with a fresh ``mmap`` and gives the free memory at
the top of its heap back to the system once it exceeds ``M_TRIM_THRESHOLD``; the next step
then writes to fresh pages, and the kernel zero-fills each 4 KiB page on its first write (one
page fault per page). Measured on the LSTM language-model step (``benchmarks/lstm_lm.py``,
about 20 MB of buffers a step, 1 thread): 23 ms with glibc's defaults, 14 ms without the
faults. Caching allocators (PyTorch's on the GPU, CuPy's memory pool) keep freed memory for
the same reason.

At import dlkit sets ``M_MMAP_THRESHOLD`` to 32 MiB (larger arrays are still mapped and
unmapped: their page faults are small next to the work done on them) and
``M_TRIM_THRESHOLD`` to 256 MiB: up to that much freed memory stays with the process for the
next step. Nothing is changed where malloc is not
glibc's, where the environment already sets one of glibc's malloc variables
(``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``, ``MALLOC_TOP_PAD_``,
``GLIBC_TUNABLES``), or with ``DLKIT_MALLOC=system``.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (malloc.h)
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 256 << 20
_USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_",
                  "GLIBC_TUNABLES")

tuned = False  # whether ``keep_freed_memory`` changed malloc's settings in this process


def keep_freed_memory(mmap_threshold: int = MMAP_THRESHOLD,
                      trim_threshold: int = TRIM_THRESHOLD) -> bool:
    """Set glibc's ``M_MMAP_THRESHOLD`` and ``M_TRIM_THRESHOLD`` (bytes) so that freed
    memory is reused by the next step instead of going back to the system. Returns whether
    they were set (False: not glibc, or a value refused)."""
    global tuned
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 (only glibc has it)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = bool(mallopt(M_MMAP_THRESHOLD, int(mmap_threshold))
              and mallopt(M_TRIM_THRESHOLD, int(trim_threshold)))
    tuned = tuned or ok
    return ok


def tune_at_import() -> bool:
    """``keep_freed_memory()`` unless the environment says otherwise (see the module)."""
    if os.environ.get("DLKIT_MALLOC", "").lower() == "system":
        return False
    if any(name in os.environ for name in _USER_SETTINGS):
        return False
    return keep_freed_memory()
