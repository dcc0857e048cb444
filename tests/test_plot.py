"""Figures are written as real PNG files."""

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from dlkit.plot import plot_curves, plot_decision_boundary  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def test_curves_png(tmp_path):
    history = {"loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.7, 0.6], "accuracy": [0.5, 0.8, 0.9]}
    path = plot_curves(history, tmp_path / "curves.png")
    assert path.read_bytes()[:8] == PNG and path.stat().st_size > 5000
    with pytest.raises(ValueError, match="none of"):
        plot_curves({"f1": [0.1]}, tmp_path / "x.png")


def test_decision_boundary_png(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 2))
    y = (X[:, 0] > 0).astype(int)
    seen = []

    def predict(points):
        seen.append(points.shape)
        return (points[:, 0] > 0).astype(int)

    path = plot_decision_boundary(predict, X, y, tmp_path / "sub" / "boundary.png",
                                  resolution=50)
    assert path.read_bytes()[:8] == PNG and seen == [(2500, 2)]
    with pytest.raises(ValueError, match=r"\(m, 2\)"):
        plot_decision_boundary(predict, np.zeros((5, 3)), y[:5], tmp_path / "b.png")
