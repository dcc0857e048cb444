"""Verification (distance and threshold), ROC/AUC, threshold choice, galleries."""

from __future__ import annotations

import numpy as np
import pytest

import dlkit as dl
from dlkit.errors import ShapeError
from dlkit.io import CorruptFileError
from dlkit.vision.verification import (
    Gallery,
    auc,
    choose_threshold,
    identify,
    make_pairs,
    model_fingerprint,
    plot_roc,
    roc_curve,
    verification_accuracy,
    verify,
)


def test_verify_distance_and_decision(rng):
    e1, e2 = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    d, same = verify(e1, e2, threshold=4.0)
    np.testing.assert_allclose(d, ((e1 - e2) ** 2).sum(1))
    np.testing.assert_array_equal(same, d < 4.0)
    d1, _ = verify(e1[0], e2[0], 1.0)
    assert d1.shape == (1,) and d1[0] == pytest.approx(d[0])
    with pytest.raises(ShapeError, match="different sizes"):
        verify(e1, rng.standard_normal((5, 4)), 1.0)


def test_verify_with_encoder():
    dl.manual_seed(0)
    from dlkit.models import conv_encoder
    enc = conv_encoder((8, 8, 1), 8, widths=(4,))
    x = dl.rand(2, 8, 8, 1).numpy()
    d, same = verify(x, x[::-1], 0.5, encoder=enc)
    assert d[0] == pytest.approx(d[1]) and d[0] > 0
    d, same = verify(x, x, 1e-6, encoder=enc)
    assert np.allclose(d, 0, atol=1e-6) and same.all()


def brute_roc(d, s, t):
    acc = d < t
    return (acc & ~s).sum() / (~s).sum(), (acc & s).sum() / s.sum()


def test_roc_curve_and_auc_against_brute_force(rng):
    d = np.round(rng.random(60), 2)  # ties on purpose
    s = rng.random(60) < 0.4
    far, tar, th = roc_curve(d, s)
    assert far[0] == 0 and tar[0] == 0 and far[-1] == 1 and tar[-1] == 1
    assert np.all(np.diff(th) > 0)
    for f, t, thr in zip(far, tar, th):
        assert (f, t) == pytest.approx(brute_roc(d, s, thr))
    # AUC = P(d_same < d_diff) + 1/2 P(tie) (the Mann-Whitney statistic)
    ds, dd = d[s][:, None], d[~s][None, :]
    ref = (ds < dd).mean() + 0.5 * (ds == dd).mean()
    assert auc(far, tar) == pytest.approx(ref)
    sk = pytest.importorskip("sklearn.metrics")
    assert auc(far, tar) == pytest.approx(sk.roc_auc_score(s, -d))


def test_choose_threshold_best_accuracy_and_target_far(rng):
    d = np.concatenate([rng.random(50) * 0.6, 0.4 + rng.random(50)])
    s = np.arange(100) < 50
    t = choose_threshold(d, s)
    best = max(verification_accuracy(d, s, x) for x in np.unique(d) + 1e-9)
    assert verification_accuracy(d, s, t) == pytest.approx(best)
    t10 = choose_threshold(d, s, target_far=0.1)
    far = ((d < t10) & ~s).sum() / 50
    assert far <= 0.1
    # the largest such threshold: one more distance accepted would pass the FAR target
    nxt = np.sort(d[d >= t10])[0]
    assert ((d <= nxt) & ~s).sum() / 50 > 0.1 or ((d <= nxt) & s).sum() > ((d < t10) & s).sum()
    assert choose_threshold(d, s, target_far=0.0) <= d[~s].min()
    with pytest.raises(ValueError, match="target_far"):
        choose_threshold(d, s, target_far=2)
    with pytest.raises(ValueError, match="both"):
        roc_curve(d[:10], s[:10])


def test_make_pairs_balanced_and_right(rng):
    dl.manual_seed(3)
    y = np.array([0, 0, 0, 1, 1, 2, 3, 3])
    i, j, same = make_pairs(y, 200)
    assert same.sum() == 100
    np.testing.assert_array_equal(same, y[i] == y[j])
    assert (i[same] != j[same]).all()
    assert set(y[i[same]]) == {0, 1, 3}  # label 2 has one example: no positive pair


def test_plot_roc_writes_png(tmp_path, rng):
    d = rng.random(40)
    s = d + 0.3 * rng.random(40) < 0.6
    far, tar, _ = roc_curve(d, s)
    path = plot_roc(far, tar, tmp_path / "roc.png", threshold_point=(0.1, 0.8))
    assert path.exists() and path.read_bytes()[:4] == b"\x89PNG"


def test_gallery_identify_unknown_and_roundtrip(tmp_path, rng):
    E = np.eye(3)
    g = Gallery.from_examples(E, ["ana", "bo", "cy"], threshold=0.5, model="abc")
    names, dist = g.identify(np.array([[0.9, 0.1, 0.0], [0.0, 0.0, 1.1], [0.6, 0.6, 0.5]]))
    assert names == ["ana", "cy", None]  # the last is nobody: nearest distance 0.57 >= 0.5
    np.testing.assert_allclose(dist, [0.02, 0.01, 0.16 + 0.36 + 0.25])
    g.add("ana", np.array([0.0, 0.7, 0.7]))
    assert len(g) == 4 and g.identities == ["ana", "bo", "cy"]
    path = tmp_path / "gallery.safetensors"
    g.save(path)
    back = Gallery.load(path)
    assert back.names == g.names and back.threshold == 0.5 and back.model == "abc"
    np.testing.assert_array_equal(back.embeddings, g.embeddings)
    with pytest.raises(ShapeError, match="another model"):
        back.identify(np.zeros((1, 5)))
    with pytest.raises(ValueError, match="another model"):
        back.check_model("xyz")
    back.check_model("abc")
    with pytest.raises(ValueError, match="empty"):
        Gallery(3).identify(E)


def test_gallery_load_rejects_other_files(tmp_path):
    dl.manual_seed(0)
    model = dl.nn.Linear(2, 2)
    dl.io.save(model, tmp_path / "model.safetensors")
    with pytest.raises(CorruptFileError, match="not a dlkit gallery"):
        Gallery.load(tmp_path / "model.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a file")
    with pytest.raises(CorruptFileError):
        Gallery.load(tmp_path / "junk.safetensors")
    with pytest.raises(FileNotFoundError):
        Gallery.load(tmp_path / "missing.safetensors")


def test_model_fingerprint_changes_with_weights():
    dl.manual_seed(0)
    a = dl.nn.Linear(2, 3)
    fa = model_fingerprint(a)
    assert fa == model_fingerprint(a)
    a.weight.data = a.weight.data + 1
    assert model_fingerprint(a) != fa


def test_lfw_people_reads_only_the_cache(monkeypatch):
    import sklearn.datasets

    from dlkit.vision.oneshot import lfw_people

    def missing(**kwargs):
        assert kwargs["download_if_missing"] is False
        raise OSError("data not found")

    monkeypatch.setattr(sklearn.datasets, "fetch_lfw_people", missing)
    with pytest.raises(ValueError, match="not in scikit-learn's cache"):
        lfw_people()

    class Bunch:
        images = np.linspace(0, 255, 4 * 10 * 8).reshape(4, 10, 8).astype(np.float32)
        target = np.array([0, 1, 0, 1])
        target_names = np.array(["Ana", "Bo"])

    monkeypatch.setattr(sklearn.datasets, "fetch_lfw_people", lambda **kw: Bunch())
    X, y, names = lfw_people(size=6)
    assert X.shape == (4, 6, 6, 1) and 0 <= X.min() and X.max() <= 1
    assert names == ["Ana", "Bo"] and y.tolist() == [0, 1, 0, 1]


def test_synthetic_faces():
    from dlkit.vision.synthetic_faces import make_faces

    dl.manual_seed(0)
    X, y, names = make_faces(5, 3, size=12)
    assert X.shape == (15, 12, 12, 1) and X.dtype == np.float32
    assert 0 <= X.min() and X.max() <= 1
    assert y.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]
    assert names == ["person0", "person1", "person2", "person3", "person4"]
    assert not np.allclose(X[0], X[1])  # two photos of one person differ
    dl.manual_seed(0)
    np.testing.assert_array_equal(make_faces(5, 3, size=12)[0], X)  # seeded
    with pytest.raises(ValueError, match="n_identities"):
        make_faces(1, 3)


def test_identify_images_with_an_encoder():
    from dlkit.models import conv_encoder

    dl.manual_seed(0)
    enc = conv_encoder((8, 8, 1), 8, widths=(4,))
    X = dl.rand(3, 8, 8, 1).numpy()
    g = Gallery.from_examples(enc.embed(X), ["a", "b", "c"], threshold=1e-6,
                              model=model_fingerprint(enc))
    names, dist = identify(X[::-1], g, encoder=enc)
    assert names == ["c", "b", "a"] and np.allclose(dist, 0, atol=1e-6)
    other = conv_encoder((8, 8, 1), 8, widths=(4,))
    with pytest.raises(ValueError, match="another model"):
        identify(X, g, encoder=other)
