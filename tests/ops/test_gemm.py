"""matmul_add: c += a @ b in place through NumPy's BLAS, on views, or by NumPy's formula."""

import os
import subprocess
import sys

import numpy as np
import pytest

from dlkit.ops import gemm
from dlkit.ops.gemm import matmul_add


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["c", "a_transposed", "b_transposed", "both_transposed"])
def test_accumulates_into_a_row_slice_only(rng, dtype, layout):
    a = rng.standard_normal((13, 5)).astype(dtype)
    b = rng.standard_normal((5, 7)).astype(dtype)
    if layout in ("a_transposed", "both_transposed"):
        a = np.ascontiguousarray(a.T).T  # Fortran-ordered view
    if layout in ("b_transposed", "both_transposed"):
        b = np.ascontiguousarray(b.T).T
    c = rng.standard_normal((20, 7)).astype(dtype)
    before = c.copy()
    matmul_add(a, b, c[4:17])
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(c[4:17], before[4:17] + a.astype(np.float64) @ b, rtol=tol,
                               atol=tol)
    np.testing.assert_array_equal(c[:4], before[:4])  # nothing outside the slice changes
    np.testing.assert_array_equal(c[17:], before[17:])
    assert c.dtype == dtype


def test_strided_and_mixed_operands_fall_back_to_the_formula(rng):
    a = rng.standard_normal((6, 8))[:, ::2]  # no unit stride: BLAS cannot take it
    b = rng.standard_normal((4, 3)).astype(np.float32)  # another dtype
    c = np.zeros((6, 3))
    matmul_add(a, b, c)
    np.testing.assert_allclose(c, a @ b, rtol=1e-6)


def test_empty_products_change_nothing(rng):
    c = np.ones((3, 2), dtype=np.float32)
    matmul_add(np.zeros((3, 0), np.float32), np.zeros((0, 2), np.float32), c)
    np.testing.assert_array_equal(c, 1)


def test_numpys_blas_is_found_in_wheel_installs():
    # NumPy's wheels bundle scipy-openblas; the in-place path must be the one in use there
    libs = os.path.join(os.path.dirname(np.__file__) + ".libs")
    if not (os.path.isdir(libs) and any("openblas" in f for f in os.listdir(libs))):
        pytest.skip("this NumPy does not bundle OpenBLAS (not a wheel install)")
    assert gemm.blas_accumulates()


def test_environment_variable_forces_the_numpy_formula():
    code = ("from dlkit.ops import gemm; import numpy as np; c = np.zeros((2, 2)); "
            "gemm.matmul_add(np.eye(2), np.eye(2), c); "
            "print(gemm.blas_accumulates(), c.trace())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "DLKIT_NUMPY_GEMM": "1"}, check=True).stdout
    assert out.split() == ["False", "2.0"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_without_accumulate_overwrites(rng, dtype):
    a = rng.standard_normal((9, 4)).astype(dtype)
    b = rng.standard_normal((4, 3)).astype(dtype)
    c = np.full((9, 3), np.nan, dtype=dtype)  # garbage must not leak into the result
    matmul_add(a, b, c, accumulate=False)
    np.testing.assert_allclose(c, a @ b, rtol=1e-5)


def test_mismatched_shapes_are_refused_before_blas_reads_them():
    from dlkit.errors import ShapeError

    c = np.zeros((5, 3), np.float32)
    with pytest.raises(ShapeError, match=r"matmul_add: expected a \(n, k\)"):
        matmul_add(np.ones((4, 2), np.float32), np.ones((2, 3), np.float32), c)
    with pytest.raises(ShapeError):
        matmul_add(np.ones((5, 2), np.float32), np.ones((3, 3), np.float32), c)
