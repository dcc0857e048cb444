"""Classification with localization and landmarks: targets as the notes, both loss forms
against the formula, gradient checks, masks of absent objects and invisible points, learning."""

from __future__ import annotations

import numpy as np
import pytest

import dlkit as dl
from dlkit.errors import ShapeError
from dlkit.vision.localization import landmark_loss, localization_loss, localization_targets


def test_targets_as_the_notes():
    # the notes' example: a car (class 2 of 3) at b_x 0.45, b_y 0.7, b_h = b_w = 0.4
    y = localization_targets([[25, 50, 65, 90], None], [1, -1], (100, 100), 3)
    np.testing.assert_allclose(y[0], [1, 0.45, 0.7, 0.4, 0.4, 0, 1, 0], atol=1e-6)
    assert not y[1].any()
    with pytest.raises(ValueError, match="not in"):
        localization_targets([[0, 0, 1, 1]], [3], (10, 10), 3)


def test_squared_form_ignores_dont_cares(rng):
    y = localization_targets([[10, 10, 30, 40], None], [0, -1], (50, 50), 2).astype(float)
    pred = rng.standard_normal(y.shape)
    expected = ((pred[0] - y[0]) ** 2).sum() + (pred[1, 0] - 0) ** 2
    assert float(localization_loss(pred, y, "squared").data) == pytest.approx(expected / 2)


def test_logistic_form_matches_formula_and_gradients(rng):
    y = localization_targets([[10, 10, 30, 40], None, [0, 5, 50, 45]], [0, -1, 2], (50, 50),
                             3).astype(float)
    pred = rng.standard_normal(y.shape)

    def bce(z, t):
        return np.maximum(z, 0) - z * t + np.log1p(np.exp(-abs(z)))

    expected = 0.0
    for p, t in zip(pred, y):
        expected += bce(p[0], t[0])
        if t[0]:
            z = p[5:]
            expected += ((p[1:5] - t[1:5]) ** 2).sum()
            expected += np.log(np.exp(z).sum()) - z[t[5:].argmax()]
    assert float(localization_loss(pred, y).data) == pytest.approx(expected / 3, rel=1e-12)
    for form in ("logistic", "squared"):
        assert dl.gradient_check(lambda p, f=form: localization_loss(p, y, f), [pred]) < 2e-7
    weighted = float(localization_loss(pred, y, box_weight=3.0).data)
    box = sum(((p[1:5] - t[1:5]) ** 2).sum() for p, t in zip(pred, y) if t[0])
    assert weighted == pytest.approx(expected / 3 + 2 * box / 3, rel=1e-12)
    with pytest.raises(ValueError, match="form"):
        localization_loss(pred, y, "l1")
    with pytest.raises(ShapeError, match="5 \\+ C"):
        localization_loss(pred[:, :7], y)


def test_landmark_loss_with_visibility(rng):
    pred = rng.standard_normal((4, 6))
    xy = rng.standard_normal((4, 6))
    v = np.array([[1, 0, 1], [1, 1, 1], [0, 0, 0], [2, 1, 0]], float)
    triplets = np.stack([xy[:, 0::2], xy[:, 1::2], v], -1).reshape(4, 9)
    mask = np.repeat(v > 0, 2, axis=1)
    expected = (((pred - xy) ** 2) * mask).sum() / 4
    assert float(landmark_loss(pred, triplets).data) == pytest.approx(expected)
    assert float(landmark_loss(pred, xy).data) == pytest.approx(((pred - xy) ** 2).sum() / 4)
    assert dl.gradient_check(lambda p: landmark_loss(p, triplets), [pred]) < 2e-7
    with pytest.raises(ShapeError, match="visibility"):
        landmark_loss(pred, xy[:, :4])


def test_a_small_network_learns_to_localize():
    """One shape per image (or none): a small CNN learns p_c, the box and the class."""
    from dlkit.models import simple_cnn
    from dlkit.vision.shapes import make_shapes

    dl.manual_seed(0)
    data = make_shapes(300, 32, max_objects=1, min_objects=0, size_range=(0.2, 0.3), seed=0)
    boxes = [b[0] if len(b) else None for b in data.boxes]
    labels = [int(l[0]) if len(l) else -1 for l in data.labels]
    y = localization_targets(boxes, labels, (32, 32), 3)
    net = simple_cnn((32, 32, 3), 8, widths=(8, 16, 16))
    opt = dl.optim.Adam(net.parameters(), lr=0.01)
    def loss(pred, target):
        return localization_loss(pred, target, box_weight=5.0)

    history = dl.train.fit(net, loss, opt, data.images, y, epochs=8, batch_size=32, metrics=())
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    net.eval()
    with dl.no_grad():
        out = net(dl.tensor(data.images[:100])).data
    present = y[:100, 0] > 0
    assert ((out[:100, 0] > 0) == present).mean() > 0.9
    truth = y[:100][present, 1:3]
    box_err = np.abs(out[:100][present, 1:3] - truth).mean()
    baseline = np.abs(truth - truth.mean(axis=0)).mean()  # always guessing the mean midpoint
    assert box_err < 0.75 * baseline, (box_err, baseline)  # 0.077 vs 0.129 when written
