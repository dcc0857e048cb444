"""roi_pool and roi_align against the loop references written from torchvision's C++
definitions (tests/ops/numpy_refs.py), float64 gradient checks, errors."""

from __future__ import annotations

import numpy as np
import pytest
from numpy_refs import roi_align_ref, roi_pool_ref

import dlkit as dl
from dlkit.errors import ShapeError
from dlkit.ops.roi import roi_align, roi_pool

ROIS = np.array([[0, 1.2, 2.5, 9.7, 7.1], [1, 0, 0, 15, 11], [0, 4, 4, 4.6, 5.2],
                 [1, 10.5, 3, 17, 12.5], [0, -2, -1, 3, 2]])


@pytest.mark.parametrize("scale,size", [(1.0, (2, 3)), (0.5, (3, 3)), (0.25, (1, 2))])
def test_roi_pool_matches_reference(rng, scale, size):
    x = rng.standard_normal((2, 12, 16, 3))
    y = roi_pool(x, ROIS, size, scale).data
    np.testing.assert_allclose(y, roi_pool_ref(x, ROIS, size, scale), atol=1e-12)


@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("scale,ratio", [(1.0, 2), (0.5, 1), (0.7, 3)])
def test_roi_align_matches_reference(rng, scale, ratio, aligned):
    x = rng.standard_normal((2, 12, 16, 3))
    y = roi_align(x, ROIS, (3, 2), scale, ratio, aligned).data
    np.testing.assert_allclose(y, roi_align_ref(x, ROIS, (3, 2), scale, ratio, aligned),
                               atol=1e-12)


def test_gradient_checks(rng):
    x = rng.standard_normal((2, 8, 9, 2))
    rois = np.array([[0, 0.5, 1.5, 6.2, 7.0], [1, 2, 0, 8.5, 5.5], [1, 7, 6, 12, 10]])
    w = rng.standard_normal((3, 2, 3, 2))
    for fn in (lambda x: roi_align(x, rois, (2, 3), 1.0, 2), lambda x: roi_align(
            x, rois, (2, 3), 0.8, 3, aligned=True), lambda x: roi_pool(x, rois, (2, 3))):
        assert dl.gradient_check(lambda x, fn=fn: (fn(x) * dl.tensor(w)).sum(), [x]) < 2e-7


def test_errors():
    x = np.zeros((2, 8, 8, 3))
    with pytest.raises(ShapeError, match="batch indices"):
        roi_align(x, np.array([[0, 0, 4, 4]]), 2)
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        roi_pool(x, np.array([[2, 0, 0, 4, 4]]), 2)
    with pytest.raises(ValueError, match="x2 < x1"):
        roi_pool(x, np.array([[0, 5, 0, 4, 4]]), 2)
    with pytest.raises(ValueError, match="sampling_ratio"):
        roi_align(x, np.array([[0, 0, 0, 4, 4]]), 2, sampling_ratio=0)
