"""C += A @ B in place: the accumulating matrix product that the stride-1 convolution sums
its kernel offsets with.

BLAS's gemm computes C = alpha A B + beta C in one pass over C; NumPy's ``matmul`` has no
beta, so ``c += a @ b`` costs a temporary and two more passes over memory. NumPy's wheels
ship OpenBLAS (``scipy-openblas64``); its ``cblas_?gemm`` is called here through ctypes on the
arrays' own memory (row slices and transposed views included, no copies), with beta = 1.
Calling NumPy's own BLAS, not a second one such as SciPy's, matters: two OpenBLAS libraries
in one process each keep a pool of threads that spin after every call and slow each other
down (measured 2.9x slower with 2 threads). Where NumPy's BLAS cannot be found (another
build of NumPy), for other dtypes, CuPy arrays or views BLAS cannot take, the NumPy formula
runs. ``DLKIT_NUMPY_GEMM=1`` forces the NumPy formula (the tests run both).
"""

from __future__ import annotations

import ctypes
import glob
import os
from typing import Any

import numpy as np

from dlkit.errors import ShapeError

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112


def _find_cblas() -> dict:
    """NumPy's bundled OpenBLAS gemm functions (ILP64, 64-bit integers), by dtype; its
    thread-count getter and setter go into ``_THREADS`` (for ``dlkit.threads``)."""
    if os.environ.get("DLKIT_NUMPY_GEMM"):
        return {}
    root = os.path.dirname(np.__file__)
    paths = (glob.glob(os.path.join(root + ".libs", "*openblas*"))
             + glob.glob(os.path.join(root, ".dylibs", "*openblas*")))
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        found = {}
        for dtype, letter, scalar in ((np.float32, "s", ctypes.c_float),
                                      (np.float64, "d", ctypes.c_double)):
            for name in (f"scipy_cblas_{letter}gemm64_", f"cblas_{letter}gemm64_"):
                fn = getattr(lib, name, None)
                if fn is not None:
                    i64, ptr = ctypes.c_int64, ctypes.c_void_p
                    fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, i64, i64, i64,
                                   scalar, ptr, i64, ptr, i64, scalar, ptr, i64]
                    fn.restype = None
                    found[np.dtype(dtype)] = fn
                    break
        if found and _works(found):
            for key, name in (("get_threads", "scipy_openblas_get_num_threads64_"),
                              ("set_threads", "scipy_openblas_set_num_threads64_")):
                fn = getattr(lib, name, None)
                if fn is not None:
                    fn.argtypes = [] if key == "get_threads" else [ctypes.c_int]
                    fn.restype = ctypes.c_int if key == "get_threads" else None
                    _THREADS[key] = fn
            return found
    return {}


_THREADS: dict = {}


def _works(found: dict) -> bool:
    """A small product through each function equals NumPy's (guards against an ABI surprise)."""
    global _GEMM
    _GEMM = found
    rng = np.random.default_rng(0)
    try:
        for dtype in found:
            a, b = rng.standard_normal((5, 3)).astype(dtype), rng.standard_normal((4, 3))
            c = np.ones((7, 4), dtype=dtype)
            matmul_add(a, b.astype(dtype).T, c[1:6])
            expect = np.ones((5, 4)) + a.astype(np.float64) @ b.T
            if not (np.allclose(c[1:6], expect, rtol=1e-4, atol=1e-4) and (c[0] == 1).all()):
                return False
        return True
    finally:
        _GEMM = {}


_GEMM: dict = {}


def blas_accumulates() -> bool:
    """Whether ``matmul_add`` runs in place through NumPy's BLAS (else NumPy's formula)."""
    return bool(_GEMM)


def _operand(a: Any, size: int) -> tuple[int, int] | None:
    """(transpose flag, leading dimension) of a 2-D view, or None when BLAS cannot take it."""
    s0, s1 = a.strides
    if s1 == size and s0 % size == 0 and s0 // size >= max(1, a.shape[1]):
        return _NO_TRANS, s0 // size
    if s0 == size and s1 % size == 0 and s1 // size >= max(1, a.shape[0]):
        return _TRANS, s1 // size
    return None


def matmul_add(a: Any, b: Any, c: Any, accumulate: bool = True) -> None:
    """c += a @ b (or c = a @ b without ``accumulate``), with a (n, k), b (k, p) and c (n, p)
    (c a row slice of a C-contiguous array, or any view whose rows are contiguous)."""
    if a.shape[0] != c.shape[0] or a.shape[1] != b.shape[0] or b.shape[1] != c.shape[1]:
        raise ShapeError(f"matmul_add: expected a (n, k), b (k, p), c (n, p), got a {a.shape}, "
                         f"b {b.shape}, c {c.shape}")  # BLAS would read out of bounds
    gemm = _GEMM.get(c.dtype) if isinstance(c, np.ndarray) else None
    if (gemm is not None and isinstance(a, np.ndarray) and isinstance(b, np.ndarray)
            and a.dtype == c.dtype and b.dtype == c.dtype and min(c.shape) > 0
            and a.shape[1] > 0):
        size = c.itemsize
        op_a, op_b, op_c = _operand(a, size), _operand(b, size), _operand(c, size)
        if op_a and op_b and op_c and op_c[0] == _NO_TRANS:
            (n, k), p = a.shape, b.shape[1]
            gemm(_ROW_MAJOR, op_a[0], op_b[0], n, p, k, 1.0, a.ctypes.data, op_a[1],
                 b.ctypes.data, op_b[1], 1.0 if accumulate else 0.0, c.ctypes.data, op_c[1])
            return
    if accumulate:
        c += a @ b
    else:
        c[...] = a @ b


_GEMM = _find_cblas()
