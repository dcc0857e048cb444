"""column_sums (the bias gradient of dense and convolution layers) equals a sum over rows, for
wide and narrow arrays (narrow ones are read as rows of 8 C), in float32 and float64."""

import numpy as np
import pytest

from dlkit.ops.reduction import column_sums


@pytest.mark.parametrize("shape", [(50176, 6), (2048, 1), (1024, 7), (1000, 3), (4096, 8),
                                   (64, 10), (3, 2)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_column_sums_is_the_sum_over_rows(shape, dtype):
    a = np.random.default_rng(1).normal(size=shape).astype(dtype)
    got = column_sums(a)
    assert got.shape == (shape[1],) and got.dtype == dtype
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, a.astype(np.float64).sum(axis=0), rtol=tol,
                               atol=tol * np.sqrt(shape[0]))


def test_column_sums_of_a_view_that_is_not_contiguous():
    a = np.random.default_rng(2).normal(size=(4096, 12))[:, ::2]
    np.testing.assert_allclose(column_sums(a), a.sum(axis=0), rtol=1e-12, atol=1e-10)
