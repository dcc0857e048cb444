"""roi_pool and roi_align: loop references written from torchvision's C++ definitions,
float64 gradient checks, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import dlkit as dl
from dlkit.errors import ShapeError
from dlkit.ops.roi import roi_align, roi_pool


def ref_roi_pool(x, rois, ph, pw, scale):
    m, h, w, c = x.shape
    out = np.zeros((len(rois), ph, pw, c))
    for k, (b, x1, y1, x2, y2) in enumerate(rois):
        sw, sh = round(x1 * scale), round(y1 * scale)
        ew, eh = round(x2 * scale), round(y2 * scale)
        rw, rh = max(ew - sw + 1, 1), max(eh - sh + 1, 1)
        for i in range(ph):
            for j in range(pw):
                hs = min(max(math.floor(i * rh / ph) + sh, 0), h)
                he = min(max(math.ceil((i + 1) * rh / ph) + sh, 0), h)
                ws = min(max(math.floor(j * rw / pw) + sw, 0), w)
                we = min(max(math.ceil((j + 1) * rw / pw) + sw, 0), w)
                if he > hs and we > ws:
                    out[k, i, j] = x[int(b), hs:he, ws:we].max(axis=(0, 1))
    return out


def bilinear(img, y, x):
    h, w = img.shape[:2]
    if y < -1 or y > h or x < -1 or x > w:
        return 0 * img[0, 0]
    y, x = max(y, 0.0), max(x, 0.0)
    yl, xl = int(y), int(x)
    if yl >= h - 1:
        yl = yh = h - 1
        y = float(yl)
    else:
        yh = yl + 1
    if xl >= w - 1:
        xl = xh = w - 1
        x = float(xl)
    else:
        xh = xl + 1
    ly, lx = y - yl, x - xl
    return ((1 - ly) * (1 - lx) * img[yl, xl] + (1 - ly) * lx * img[yl, xh]
            + ly * (1 - lx) * img[yh, xl] + ly * lx * img[yh, xh])


def ref_roi_align(x, rois, ph, pw, scale, s, aligned):
    out = np.zeros((len(rois), ph, pw, x.shape[-1]))
    off = 0.5 if aligned else 0.0
    for k, (b, x1, y1, x2, y2) in enumerate(rois):
        sx, sy = x1 * scale - off, y1 * scale - off
        rw, rh = x2 * scale - off - sx, y2 * scale - off - sy
        if not aligned:
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        for i in range(ph):
            for j in range(pw):
                acc = 0
                for a in range(s):
                    for bb in range(s):
                        yy = sy + i * rh / ph + (a + 0.5) * rh / ph / s
                        xx = sx + j * rw / pw + (bb + 0.5) * rw / pw / s
                        acc = acc + bilinear(x[int(b)], yy, xx)
                out[k, i, j] = acc / (s * s)
    return out


ROIS = np.array([[0, 1.2, 2.5, 9.7, 7.1], [1, 0, 0, 15, 11], [0, 4, 4, 4.6, 5.2],
                 [1, 10.5, 3, 17, 12.5], [0, -2, -1, 3, 2]])


@pytest.mark.parametrize("scale,size", [(1.0, (2, 3)), (0.5, (3, 3)), (0.25, (1, 2))])
def test_roi_pool_matches_reference(rng, scale, size):
    x = rng.standard_normal((2, 12, 16, 3))
    y = roi_pool(x, ROIS, size, scale).data
    np.testing.assert_allclose(y, ref_roi_pool(x, ROIS, *size, scale), atol=1e-12)


@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("scale,ratio", [(1.0, 2), (0.5, 1), (0.7, 3)])
def test_roi_align_matches_reference(rng, scale, ratio, aligned):
    x = rng.standard_normal((2, 12, 16, 3))
    y = roi_align(x, ROIS, (3, 2), scale, ratio, aligned).data
    np.testing.assert_allclose(y, ref_roi_align(x, ROIS, 3, 2, scale, ratio, aligned),
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
