"""one_hot, Standardizer (input normalization) and train/dev/test splits."""

import numpy as np
import pytest

import dlkit as dl
from dlkit.data import (
    Standardizer,
    from_one_hot,
    one_hot,
    split,
    train_dev_split,
    train_dev_test_split,
    train_test_split,
    train_traindev_split,
)

# -- one_hot ------------------------------------------------------------------------------------


def test_one_hot_shape_dtype_and_round_trip():
    y = np.array([2, 0, 1, 2])
    Y = one_hot(y)
    assert Y.shape == (4, 3) and Y.dtype == np.float32
    np.testing.assert_array_equal(Y, np.eye(3, dtype=np.float32)[y])
    np.testing.assert_array_equal(from_one_hot(Y), y)
    assert from_one_hot(Y).dtype == np.int64
    assert one_hot(y, n_classes=5).shape == (4, 5)
    assert one_hot(y, dtype=np.float64).dtype == np.float64
    np.testing.assert_array_equal(one_hot(y.reshape(-1, 1)), Y)  # (m, 1) labels
    np.testing.assert_array_equal(one_hot(np.array([[1.0], [0.0]])), [[0, 1], [1, 0]])
    np.testing.assert_array_equal(one_hot(dl.tensor(np.array([1, 0]))), [[0, 1], [1, 0]])
    np.testing.assert_array_equal(one_hot(np.array([True, False])), [[0, 1], [1, 0]])


def test_one_hot_follows_default_dtype():
    dl.set_default_dtype("float64")
    assert one_hot([0, 1]).dtype == np.float64


def test_one_hot_errors_name_the_bad_label():
    with pytest.raises(ValueError, match=r"one_hot: .*got -1 at index 1.*non-negative"):
        one_hot([0, -1, 2])
    with pytest.raises(ValueError, match=r"one_hot: expected labels in \[0, 2\].*got 3 at "
                                         r"index 2.*raise n_classes"):
        one_hot([0, 1, 3], n_classes=3)
    with pytest.raises(ValueError, match=r"whole-number.*0.5"):
        one_hot([0.0, 0.5])
    with pytest.raises(dl.ShapeError, match="already one-hot"):
        one_hot(np.eye(3))
    with pytest.raises(ValueError, match="n_classes"):
        one_hot([0, 1], n_classes=0)
    with pytest.raises(ValueError, match="empty labels"):
        one_hot(np.array([], dtype=int))
    with pytest.raises(TypeError, match="integer class labels"):
        one_hot(np.array(["a", "b"]))
    with pytest.raises(dl.ShapeError, match=r"from_one_hot: expected Y of shape \(m, C\)"):
        from_one_hot(np.array([0, 1]))


def test_from_one_hot_takes_argmax_of_probabilities():
    P = np.array([[0.1, 0.7, 0.2], [0.8, 0.1, 0.1]])
    np.testing.assert_array_equal(from_one_hot(P), [1, 0])


# -- Standardizer -------------------------------------------------------------------------------


def _features(rng, m):
    # two features on very different scales (the notes' elongated cost contours)
    return np.c_[rng.normal(500, 200, m), rng.normal(0.5, 0.01, m)].astype(np.float32)


def test_standardizer_zero_mean_unit_variance_on_train(rng):
    X = _features(rng, 1000)
    scaler = Standardizer()
    Xn = scaler.fit_transform(X)
    assert Xn.shape == X.shape and Xn.dtype == np.float32
    np.testing.assert_allclose(Xn.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(Xn.std(axis=0), 1, atol=1e-5)
    np.testing.assert_allclose(scaler.mu, X.astype(np.float64).mean(axis=0))
    np.testing.assert_allclose(scaler.sigma, X.astype(np.float64).std(axis=0))  # 1/m, ddof=0
    np.testing.assert_allclose(scaler.inverse_transform(Xn), X, rtol=1e-5, atol=1e-3)


def test_standardizer_uses_train_statistics_on_dev(rng):
    X_train = _features(rng, 500)
    X_dev = _features(rng, 100) + np.float32(1000)  # a shifted dev set
    scaler = Standardizer().fit(X_train)
    mu, sigma = scaler.mu.copy(), scaler.sigma.copy()
    X_dev_n = scaler.transform(X_dev)
    np.testing.assert_array_equal(scaler.mu, mu)  # transform never refits
    np.testing.assert_array_equal(scaler.sigma, sigma)
    np.testing.assert_allclose(X_dev_n, (X_dev - mu) / sigma, rtol=1e-5)
    assert X_dev_n.mean(axis=0)[0] > 3  # dev's own mean did not leak in: not re-centred


def test_standardizer_leaves_constant_features_unscaled():
    X = np.array([[1.0, 7.0], [3.0, 7.0], [5.0, 7.0]], dtype=np.float32)
    scaler = Standardizer().fit(X)
    Xn = scaler.transform(X)
    assert np.all(np.isfinite(Xn))
    np.testing.assert_array_equal(Xn[:, 1], 0)  # centred, not divided by 0
    assert scaler.sigma[1] == 1
    near_constant = np.full((10, 1), 0.1, dtype=np.float32)
    assert np.all(Standardizer().fit_transform(near_constant) == 0)


def test_standardizer_integer_input_and_images(rng):
    Xi = rng.integers(0, 255, size=(20, 3))
    assert Standardizer().fit_transform(Xi).dtype == np.float32
    imgs = rng.random((8, 4, 4, 3)).astype(np.float32)
    scaler = Standardizer().fit(imgs)
    assert scaler.mu.shape == (4, 4, 3)
    np.testing.assert_allclose(scaler.transform(imgs).mean(axis=0), 0, atol=1e-5)


def test_standardizer_state_dict_round_trip(rng):
    X = _features(rng, 50)
    scaler = Standardizer().fit(X)
    state = scaler.state_dict()
    assert set(state) == {"mu", "sigma"}
    assert all(type(v) is np.ndarray for v in state.values())
    state["mu"][0] = 1e9  # a copy: editing it leaves the scaler alone
    restored = Standardizer().load_state_dict(scaler.state_dict())
    np.testing.assert_array_equal(restored.transform(X), scaler.transform(X))
    with pytest.raises(ValueError, match=r"missing \['sigma'\]"):
        Standardizer().load_state_dict({"mu": np.zeros(2)})
    with pytest.raises(dl.ShapeError, match="same shape"):
        Standardizer().load_state_dict({"mu": np.zeros(2), "sigma": np.ones(3)})
    with pytest.raises(ValueError, match="sigma > 0"):
        Standardizer().load_state_dict({"mu": np.zeros(2), "sigma": np.zeros(2)})


def test_standardizer_errors():
    with pytest.raises(RuntimeError, match=r"Standardizer.transform: not fitted.*fit\(X_train\)"):
        Standardizer().transform(np.zeros((2, 3)))
    with pytest.raises(RuntimeError, match="inverse_transform: not fitted"):
        Standardizer().inverse_transform(np.zeros((2, 3)))
    with pytest.raises(RuntimeError, match="state_dict: not fitted"):
        Standardizer().state_dict()
    scaler = Standardizer().fit(np.random.default_rng(0).random((100, 3)))
    with pytest.raises(dl.ShapeError, match=r"expected X of shape \(m, 3\).*got shape \(3, 100\)"
                                            r".*transpose\?"):
        scaler.transform(np.zeros((3, 100)))
    with pytest.raises(dl.ShapeError, match=r"got shape \(5, 4\)") as err:
        scaler.transform(np.zeros((5, 4)))
    assert "transpose" not in str(err.value)
    with pytest.raises(dl.ShapeError, match=r"reshape\(-1, 1\)"):
        Standardizer().fit(np.zeros(5))
    with pytest.raises(ValueError, match="at least one example"):
        Standardizer().fit(np.zeros((0, 3)))
    with pytest.raises(TypeError, match="numeric"):
        Standardizer().fit(np.array([["a"], ["b"]]))
    assert "not fitted" in repr(Standardizer()) and "(3,)" in repr(scaler)


# -- splits -------------------------------------------------------------------------------------


def _data(m=100):
    return np.arange(m * 2).reshape(m, 2), np.arange(m)


def test_train_dev_test_split_partitions_and_keeps_pairs():
    X, y = _data(200)
    dl.manual_seed(0)
    parts = train_dev_test_split(X, y, dev=0.1, test=0.2)
    X_tr, X_dev, X_te, y_tr, y_dev, y_te = parts
    assert [len(p) for p in parts] == [140, 20, 40, 140, 20, 40]
    for Xp, yp in ((X_tr, y_tr), (X_dev, y_dev), (X_te, y_te)):
        np.testing.assert_array_equal(Xp[:, 0] // 2, yp)  # rows stay paired
    assert sorted(np.concatenate([y_tr, y_dev, y_te])) == list(range(200))
    counts = train_dev_test_split(X, y, dev=10, test=5)  # ints are counts (big data: 10_000)
    assert [len(p) for p in counts[:3]] == [185, 10, 5]


def test_splits_are_seeded():
    X, y = _data()
    for fn in (train_test_split, train_dev_split, train_dev_test_split, train_traindev_split):
        dl.manual_seed(3)
        a = fn(X, y)
        dl.manual_seed(3)
        b = fn(X, y)
        for u, v in zip(a, b):
            np.testing.assert_array_equal(u, v)
        assert not np.array_equal(a[-1], fn(X, y)[-1])  # the stream moves on


def test_train_dev_and_traindev_splits():
    X, y = _data(100)
    dl.manual_seed(0)
    X_tr, X_dev, y_tr, y_dev = train_dev_split(X, y, dev=0.25)
    assert (len(X_tr), len(X_dev)) == (75, 25)
    X_tr2, X_td, y_tr2, y_td = train_traindev_split(X_tr, y_tr, size=15)
    assert (len(X_tr2), len(X_td)) == (60, 15)
    assert set(y_td) <= set(y_tr) and not set(y_td) & set(y_tr2)  # carved out of training
    assert len(train_traindev_split(X, y)[1]) == 5  # 5% by default
    X_a, X_b = train_test_split(X, test_size=0.3, shuffle=False)
    np.testing.assert_array_equal(np.concatenate([X_a, X_b]), X)


def test_stratified_split_keeps_class_proportions():
    y = np.repeat([0, 1, 2], [700, 200, 100])
    X = np.arange(1000).reshape(-1, 1)
    dl.manual_seed(1)
    X_tr, X_dev, X_te, y_tr, y_dev, y_te = train_dev_test_split(X, y, dev=0.1, test=0.1,
                                                                stratify=y)
    assert (len(y_tr), len(y_dev), len(y_te)) == (800, 100, 100)
    for part, n in ((y_tr, 800), (y_dev, 100), (y_te, 100)):
        np.testing.assert_allclose(np.bincount(part, minlength=3) / n, [0.7, 0.2, 0.1],
                                   atol=1.5 / n)
    np.testing.assert_array_equal(y[X_dev[:, 0]], y_dev)
    assert len(np.unique(y_dev[:20])) > 1  # shuffled within the part, not grouped by class
    y_bin = (np.arange(50) < 5).astype(np.float32).reshape(-1, 1)  # rare positive, (m, 1)
    for _ in range(5):
        _, _, _, y_te = train_test_split(y_bin, y_bin, test_size=0.2, stratify=y_bin)
        assert y_te.sum() == 1  # every split keeps exactly 10% positives
    dl.manual_seed(2)
    a = split(y, fractions=(0.5, 0.5), stratify=y)
    dl.manual_seed(2)
    np.testing.assert_array_equal(a[0], split(y, fractions=(0.5, 0.5), stratify=y)[0])
    assert np.bincount(a[0]).tolist() == [350, 100, 50]
    Y = dl.data.one_hot(y)  # one-hot labels stratify too
    y_half = from_one_hot(split(Y, fractions=(0.5, 0.5), stratify=Y)[1])
    assert np.bincount(y_half).tolist() == [350, 100, 50]


def test_split_errors():
    X, y = _data(10)
    with pytest.raises(ValueError, match="summing to 1"):
        split(y, fractions=(0.5, 0.2))
    with pytest.raises(dl.ShapeError, match=r"array 1 has 3 examples, array 0 has 10.*transpose"):
        train_test_split(X, y[:3])
    with pytest.raises(ValueError, match=r"dev=0.6, test=0.5.*exceed the 10 examples"):
        train_dev_test_split(X, y, dev=0.6, test=0.5)
    with pytest.raises(ValueError, match=r"test_size a fraction in \[0, 1\).*int"):
        train_test_split(X, test_size=1.5)
    with pytest.raises(ValueError, match="between 0 and 10 examples, got 11"):
        train_dev_split(X, dev=11)
    with pytest.raises(TypeError, match="size a fraction"):
        train_traindev_split(X, size="a lot")
    with pytest.raises(ValueError, match="stratify needs shuffle=True"):
        train_test_split(X, y, stratify=y, shuffle=False)
    with pytest.raises(dl.ShapeError, match="stratify labels for the 10 examples"):
        train_test_split(X, y, stratify=y[:4])
    with pytest.raises(ValueError, match="at least one array"):
        train_dev_split()
