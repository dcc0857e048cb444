"""Dataset sources (scikit-learn), the dataset registry and the file loaders (.h5, .npz, CSV),
on small files the tests write."""

import sys

import numpy as np
import pytest

import dlkit as dl
from dlkit.data import (
    DATASETS,
    dataset_info,
    get_dataset,
    load_breast_cancer,
    load_csv,
    load_digits,
    load_h5_images,
    load_npz,
    make_circles,
    make_moons,
)

# -- scikit-learn sources -----------------------------------------------------------------------


@pytest.mark.parametrize("make", [make_moons, make_circles])
def test_2d_generators_shapes_dtypes_and_seed(make):
    pytest.importorskip("sklearn")
    dl.manual_seed(0)
    X, y = make(200, noise=0.1)
    assert X.shape == (200, 2) and y.shape == (200, 1)
    assert X.dtype == np.float32 and y.dtype == np.float32
    assert set(np.unique(y)) == {0.0, 1.0} and y.mean() == 0.5
    dl.manual_seed(0)
    X2, y2 = make(200, noise=0.1)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(X, make(200, noise=0.1)[0])  # the dlkit stream moved on
    with pytest.raises(ValueError, match=rf"{make.__name__}: expected m an int >= 2"):
        make(1)
    with pytest.raises(ValueError, match=rf"{make.__name__}: expected noise >= 0"):
        make(10, noise=-0.1)


def test_circles_radii_and_factor():
    pytest.importorskip("sklearn")
    X, y = make_circles(100, noise=0.0, factor=0.3)
    r = np.linalg.norm(X, axis=1)
    np.testing.assert_allclose(r[y[:, 0] == 1], 0.3, rtol=1e-5)  # inner circle is class 1
    np.testing.assert_allclose(r[y[:, 0] == 0], 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="0 < factor < 1"):
        make_circles(10, factor=1.5)


def test_digits_flat_images_and_scaling():
    pytest.importorskip("sklearn")
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64 and set(y) == set(range(10))
    assert X.min() == 0 and X.max() == 1
    imgs, y_img = load_digits(as_images=True)
    assert imgs.shape == (1797, 8, 8, 1)  # channels-last
    np.testing.assert_array_equal(imgs.reshape(1797, 64), X)
    np.testing.assert_array_equal(y_img, y)
    assert load_digits(scale=False)[0].max() == 16
    X3, y3 = load_digits(n_class=3)
    assert set(y3) == {0, 1, 2} and len(X3) == len(y3) < 1797
    with pytest.raises(ValueError, match=r"n_class an int in \[2, 10\]"):
        load_digits(n_class=11)


def test_breast_cancer():
    pytest.importorskip("sklearn")
    X, y = load_breast_cancer()
    assert X.shape == (569, 30) and X.dtype == np.float32
    assert y.shape == (569, 1) and y.dtype == np.float32 and set(np.unique(y)) == {0.0, 1.0}


def test_missing_sklearn_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r'make_moons: needs scikit-learn.*pip install '
                                          r'"dlkit\[data\]"'):
        make_moons(10)
    with pytest.raises(ImportError, match=r'dlkit\[data\]'):
        load_digits()


# -- registry -----------------------------------------------------------------------------------


def test_registry_names_descriptions_and_loading():
    pytest.importorskip("sklearn")
    assert set(DATASETS) == {"flower", "moons", "circles", "digits", "breast_cancer"}
    for name, info in DATASETS.items():
        assert info.name == name and info.description and info.task in ("binary", "multiclass")
        X, y = get_dataset(name)
        assert X.dtype == np.float32 and len(X) == len(y)
        if info.task == "binary":
            assert y.shape == (len(X), 1) and y.dtype == np.float32
        else:
            assert y.shape == (len(X),) and y.dtype == np.int64
            assert len(np.unique(y)) == info.n_classes
    X, _ = get_dataset("moons", m=50, noise=0.0)
    assert X.shape == (50, 2)
    assert dataset_info("Breast-Cancer") is DATASETS["breast_cancer"]
    dl.manual_seed(4)
    a = get_dataset("flower")[0]
    dl.manual_seed(4)
    np.testing.assert_array_equal(a, get_dataset("flower")[0])


def test_registry_unknown_name_lists_and_suggests():
    with pytest.raises(ValueError, match=r"unknown dataset 'moon'.*'circles'.*did you mean "
                                         r"'moons'\?"):
        get_dataset("moon")
    with pytest.raises(ValueError, match=r"expected one of \[") as err:
        get_dataset("imagenet")
    assert "did you mean" not in str(err.value)


# -- .h5 images (the course's cat/non-cat layout) -----------------------------------------------


def _write_h5(path, prefix="train", m=5, classes=True, **extra):
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(m, 4, 4, 3), dtype=np.uint8)
    y = rng.integers(0, 2, size=m).astype(np.int64)
    with h5py.File(path, "w") as f:
        f[f"{prefix}_set_x"] = X
        f[f"{prefix}_set_y"] = y
        if classes:
            f["list_classes"] = np.array([b"non-cat", b"cat"], dtype="S7")
        for k, v in extra.items():
            f[k] = v
    return X, y


def test_load_h5_images_course_layout(tmp_path):
    path = tmp_path / "train_catvnoncat.h5"
    X_raw, y_raw = _write_h5(path)
    X, y, classes = load_h5_images(path)
    assert X.shape == (5, 4, 4, 3) and X.dtype == np.float32
    np.testing.assert_allclose(X, X_raw / 255.0, rtol=1e-6)  # the course divides by 255
    assert 0 <= X.min() and X.max() <= 1
    assert y.shape == (5, 1) and y.dtype == np.float32
    np.testing.assert_array_equal(y[:, 0], y_raw)
    assert classes == ["non-cat", "cat"]
    X_unscaled, _, _ = load_h5_images(str(path), split="train", scale=False)
    np.testing.assert_array_equal(X_unscaled, X_raw.astype(np.float32))


def test_load_h5_images_test_prefix_and_split_choice(tmp_path):
    path = tmp_path / "test_catvnoncat.h5"
    _write_h5(path, prefix="test", m=3, classes=False)
    X, y, classes = load_h5_images(path)  # found automatically
    assert X.shape == (3, 4, 4, 3) and y.shape == (3, 1) and classes is None
    with pytest.raises(ValueError, match=r"lacks the dataset\(s\) \['train_set_x', "
                                         r"'train_set_y'\].*found \['test_set_x', 'test_set_y'\]"):
        load_h5_images(path, split="train")
    with pytest.raises(ValueError, match="expected split 'train' or 'test', got 'dev'"):
        load_h5_images(path, split="dev")
    both = tmp_path / "both.h5"
    _write_h5(both, test_set_x=np.zeros((2, 4, 4, 3), np.uint8), test_set_y=np.zeros(2))
    with pytest.raises(ValueError, match="both train and test sets; pass split="):
        load_h5_images(both)
    assert load_h5_images(both, split="test")[0].shape == (2, 4, 4, 3)


def test_load_h5_images_errors(tmp_path):
    h5py = pytest.importorskip("h5py")
    missing = tmp_path / "nope.h5"
    with pytest.raises(FileNotFoundError, match=r"load_h5_images: no such file: '.*nope\.h5'"):
        load_h5_images(missing)
    text = tmp_path / "notes.h5"
    text.write_text("not hdf5")
    with pytest.raises(ValueError, match=r"'.*notes\.h5' is not an HDF5 file"):
        load_h5_images(text)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["images"] = np.zeros((2, 4, 4, 3))
    with pytest.raises(ValueError, match=r"neither train_set_x nor test_set_x.*found "
                                         r"datasets \['images'\]"):
        load_h5_images(other)
    bad_y = tmp_path / "bad_y.h5"
    with h5py.File(bad_y, "w") as f:
        f["train_set_x"] = np.zeros((4, 2, 2, 3), np.uint8)
        f["train_set_y"] = np.zeros(3)
    with pytest.raises(ValueError, match=r"train_set_x has 4 images but train_set_y has shape "
                                         r"\(3,\)"):
        load_h5_images(bad_y)
    with pytest.raises(ValueError, match="expected a file, got a directory"):
        load_h5_images(tmp_path)


def test_load_h5_images_grayscale_and_row_labels(tmp_path):
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "gray.h5"
    with h5py.File(path, "w") as f:
        f["train_set_x"] = np.full((3, 2, 2), 255, np.uint8)
        f["train_set_y"] = np.array([[0, 1, 1]])  # (1, m), as the course reshapes it
    X, y, _ = load_h5_images(path)
    assert X.shape == (3, 2, 2, 1) and np.all(X == 1)
    np.testing.assert_array_equal(y, [[0], [1], [1]])


def test_load_h5_images_without_h5py_says_how_to_install(tmp_path, monkeypatch):
    path = tmp_path / "x.h5"
    path.write_bytes(b"")
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r'load_h5_images: needs h5py.*"dlkit\[data\]"'):
        load_h5_images(path)


# -- .npz ---------------------------------------------------------------------------------------


def test_load_npz_round_trip_and_keys(tmp_path):
    X, y = np.arange(12.0).reshape(6, 2), np.arange(6)
    path = tmp_path / "data.npz"
    np.savez(path, X=X, y=y, extra=np.zeros(1))
    X2, y2 = load_npz(path)
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)
    other = tmp_path / "other.npz"
    np.savez_compressed(other, images=X, labels=y)
    np.testing.assert_array_equal(load_npz(other, x_key="images", y_key="labels")[1], y)
    X3, none = load_npz(other, x_key="images", y_key=None)
    assert none is None and X3.shape == (6, 2)


def test_load_npz_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"load_npz: no such file: '.*missing\.npz'"):
        load_npz(tmp_path / "missing.npz")
    path = tmp_path / "data.npz"
    np.savez(path, images=np.zeros((2, 2)), labels=np.zeros(2))
    with pytest.raises(ValueError, match=r"has no array\(s\) \['X', 'y'\]; found \['images', "
                                         r"'labels'\]; pass x_key="):
        load_npz(path)
    with pytest.raises(ValueError, match=r"no array\(s\) \['y'\]"):
        load_npz(path, x_key="images")
    text = tmp_path / "text.npz"
    text.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match=r"'.*text\.npz' is not a NumPy \.npz archive"):
        load_npz(text)
    single = tmp_path / "single.npy"
    np.save(single, np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"single \.npy array of shape \(3, 2\), not an \.npz"):
        load_npz(single)
    mismatch = tmp_path / "mismatch.npz"
    np.savez(mismatch, X=np.zeros((4, 2)), y=np.zeros(3))
    with pytest.raises(ValueError, match=r"'X' has shape \(4, 2\) and 'y' has shape \(3,\)"):
        load_npz(mismatch)
    objects = tmp_path / "objects.npz"
    np.savez(objects, X=np.array([{"a": 1}], dtype=object), y=np.zeros(1))
    with pytest.raises(ValueError, match="pickled object arrays"):
        load_npz(objects)


# -- CSV ----------------------------------------------------------------------------------------


FOOTBALL = "x1,x2,y\n-0.158986,0.423977,1.0\n-0.347926,0.47076,1.0\n0.1,-0.2,0.0\n\n"


def test_load_csv_with_header(tmp_path):
    path = tmp_path / "football.csv"
    path.write_text(FOOTBALL, encoding="utf-8-sig")  # with a byte-order mark, as Excel writes
    X, y = load_csv(path, target="y")
    assert X.shape == (3, 2) and X.dtype == np.float32
    assert y.shape == (3, 1) and y.dtype == np.float32
    np.testing.assert_allclose(X[0], [-0.158986, 0.423977], rtol=1e-6)
    np.testing.assert_array_equal(y[:, 0], [1, 1, 0])
    np.testing.assert_array_equal(load_csv(path)[1], y)  # default: the last column
    X0, y0 = load_csv(path, target="x1")  # the first column, BOM stripped
    np.testing.assert_array_equal(X0[:, 1], y[:, 0])
    np.testing.assert_allclose(y0[:, 0], X[:, 0])
    assert load_csv(path, target=0)[1].shape == (3, 1)
    all_cols, none = load_csv(path, target=None)
    assert all_cols.shape == (3, 3) and none is None


def test_load_csv_without_header_and_delimiter(tmp_path):
    path = tmp_path / "plain.tsv"
    path.write_text("1\t2\t0\n3\t4\t1\n")
    X, y = load_csv(path, delimiter="\t")
    np.testing.assert_array_equal(X, [[1, 2], [3, 4]])
    np.testing.assert_array_equal(y, [[0], [1]])
    with pytest.raises(ValueError, match=r"target='y' is a column name but '.*plain\.tsv' has "
                                         r"no header"):
        load_csv(path, target="y", delimiter="\t")


def test_load_csv_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"load_csv: no such file: '.*nope\.csv'"):
        load_csv(tmp_path / "nope.csv")
    path = tmp_path / "football.csv"
    path.write_text(FOOTBALL)
    with pytest.raises(ValueError, match=r"no column 'team'.*columns are \['x1', 'x2', 'y'\]"):
        load_csv(path, target="team")
    with pytest.raises(ValueError, match=r"index in \[-3, 2\], got 3"):
        load_csv(path, target=3)
    bad = tmp_path / "bad.csv"
    bad.write_text("x1,x2,y\n1,2,0\n3,oops,1\n")
    with pytest.raises(ValueError, match=r"line 3 column 1 \('x2'\) is not a number: 'oops'"):
        load_csv(bad)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("x1,x2,y\n1,2,0\n3,1\n")
    with pytest.raises(ValueError, match="line 3 has 2 columns, expected 3"):
        load_csv(ragged)
    empty = tmp_path / "empty.csv"
    empty.write_text("\n")
    with pytest.raises(ValueError, match="is empty"):
        load_csv(empty)
    header_only = tmp_path / "header.csv"
    header_only.write_text("a,b\n")
    with pytest.raises(ValueError, match="no data rows"):
        load_csv(header_only)
    single = tmp_path / "single.csv"
    single.write_text("1\n2\n")
    with pytest.raises(ValueError, match="single column"):
        load_csv(single)
    assert load_csv(single, target=None)[0].shape == (2, 1)
