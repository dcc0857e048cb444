"""Pictures of attention heads and of the positional encoding table."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from dlkit.nn.transformer import sinusoidal_table  # noqa: E402
from dlkit.plot_attention import plot_attention_heads, plot_positional_encoding  # noqa: E402


def test_attention_heads_picture(tmp_path, rng):
    w = rng.random((3, 4, 5))
    w /= w.sum(-1, keepdims=True)
    path = plot_attention_heads(w, tmp_path / "heads.png", list("abcd"), list("vwxyz"), "t")
    assert path.stat().st_size > 5000
    from PIL import Image
    assert Image.open(path).size[0] > Image.open(path).size[1]  # heads side by side
    with pytest.raises(ValueError, match="3 query_labels for 4 positions"):
        plot_attention_heads(w, tmp_path / "x.png", list("abc"))
    with pytest.raises(ValueError, match="head 5 out of range"):
        plot_attention_heads(w, tmp_path / "x.png", heads=[5])
    with pytest.raises(ValueError, match=r"\(num_heads, T_q, T_k\)"):
        plot_attention_heads(np.zeros((2, 3, 4, 5)), tmp_path / "x.png")


def test_positional_encoding_picture(tmp_path):
    path = plot_positional_encoding(sinusoidal_table(40, 32), tmp_path / "pe.png")
    assert path.stat().st_size > 10000
    with pytest.raises(ValueError, match="positions, d_model"):
        plot_positional_encoding(np.zeros(4), tmp_path / "x.png")
