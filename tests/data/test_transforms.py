"""Data augmentation: flips, crops, color shifts, PCA color, rotations, shears, Normalize,
Compose/RandomApply, configs, seeding, DataLoader(transform=...), and errors."""

import json

import numpy as np
import pytest

import dlkit as dl
from dlkit.backend import generator
from dlkit.data import (
    ColorShift,
    Compose,
    DataLoader,
    Normalize,
    PCAColorAugmentation,
    RandomApply,
    RandomCrop,
    RandomHorizontalFlip,
    RandomRotation,
    RandomShear,
    RandomVerticalFlip,
    transform_from_config,
)


@pytest.fixture
def images(rng):
    return rng.random((16, 7, 7, 3), dtype=np.float32)


def all_transforms(X):
    return [
        RandomHorizontalFlip(), RandomVerticalFlip(p=0.3), RandomCrop(5, padding=2),
        RandomCrop((6, 4), padding=(1, 3), mode="reflect"), ColorShift(0.2, clip=(0, 1)),
        PCAColorAugmentation(std=0.5).fit(X), RandomRotation(30),
        RandomRotation((-20, 45), interpolation="bilinear", fill=0.5), RandomShear(25),
        RandomShear((0, 30), interpolation="bilinear"), Normalize([0.5, 0.4, 0.3], 0.2),
        RandomApply(RandomRotation(90), p=0.5),
        Compose([RandomCrop(7, padding=1), RandomHorizontalFlip(), ColorShift([0.1, 0, 0.2])]),
    ]


# -- shapes, dtypes, seeding, configs ---------------------------------------------------------

def test_every_transform_keeps_dtype_and_layout_and_leaves_input_alone(images):
    before = images.copy()
    for t in all_transforms(images):
        Y = t(images)
        assert Y.dtype == np.float32, t
        assert Y.ndim == 4 and Y.shape[0] == 16 and Y.shape[-1] == 3, t
        np.testing.assert_array_equal(images, before)
        assert t(images.astype(np.float64)).dtype == np.float64, t
        assert t(images[:0]).shape[0] == 0, t  # an empty batch is fine
    assert RandomCrop((6, 4), padding=(1, 3))(images).shape == (16, 6, 4, 3)


def test_integer_images_keep_dtype_where_only_moved_else_become_float32(rng):
    X = rng.integers(0, 256, (4, 6, 6, 3)).astype(np.uint8)
    for t in (RandomHorizontalFlip(), RandomCrop(4, padding=1), RandomRotation(20)):
        assert t(X).dtype == np.uint8
    for t in (ColorShift(), Normalize(127.5, 127.5), RandomShear(10, interpolation="bilinear")):
        assert t(X).dtype == np.float32


def test_seeding_repeats_every_transform_bit_for_bit(images):
    for t in all_transforms(images):
        dl.manual_seed(11)
        a = t(images)
        dl.manual_seed(11)
        b = t(images)
        np.testing.assert_array_equal(a, b)
        assert not isinstance(t, Normalize) or np.array_equal(a, t(images))


def test_configs_are_json_and_rebuild_the_same_transform(images):
    for t in all_transforms(images):
        config = json.loads(json.dumps(t.get_config()))
        assert config["type"] == type(t).__name__
        u = transform_from_config(config)
        assert repr(u) == repr(t)
        dl.manual_seed(2)
        a = t(images)
        dl.manual_seed(2)
        np.testing.assert_array_equal(a, u(images))
    with pytest.raises(ValueError, match="unknown transform"):
        transform_from_config({"type": "Sharpen"})


# -- flips ------------------------------------------------------------------------------------

@pytest.mark.parametrize("cls, axis", [(RandomHorizontalFlip, 2), (RandomVerticalFlip, 1)])
def test_flips_flip_exactly_the_chosen_examples(images, cls, axis):
    dl.manual_seed(4)
    chosen = generator().random(len(images)) < 0.5
    dl.manual_seed(4)
    Y = cls(p=0.5)(images)
    assert 0 < chosen.sum() < len(images)
    for i in range(len(images)):
        expected = np.flip(images[i], axis=axis - 1) if chosen[i] else images[i]
        np.testing.assert_array_equal(Y[i], expected)
    np.testing.assert_array_equal(cls(p=0.0)(images), images)
    np.testing.assert_array_equal(cls(p=1.0)(images), np.flip(images, axis=axis))
    assert "RandomHorizontalFlip" in repr(RandomHorizontalFlip())


# -- crops ------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["constant", "reflect", "edge"])
def test_crops_are_windows_of_the_padded_image(images, mode):
    h, w, p = 5, 4, 2
    dl.manual_seed(0)
    Y = RandomCrop((h, w), padding=p, mode=mode)(images)
    padded = np.pad(images, ((0, 0), (p, p), (p, p), (0, 0)), mode=mode)
    corners = set()
    for i in range(len(images)):
        found = [(r, c) for r in range(padded.shape[1] - h + 1)
                 for c in range(padded.shape[2] - w + 1)
                 if np.array_equal(padded[i, r:r + h, c:c + w], Y[i])]
        assert found, f"example {i} is not a window of its padded image"
        corners.add(found[0])
    assert len(corners) > 3  # a fresh offset per example
    if mode == "constant":
        assert (Y == 0).any()  # zero padding shows up in some windows


def test_crop_of_full_size_without_padding_is_identity(images):
    np.testing.assert_array_equal(RandomCrop(7)(images), images)


# -- color ------------------------------------------------------------------------------------

def test_color_shift_adds_one_constant_per_example_and_channel(images):
    dl.manual_seed(1)
    delta = ColorShift(max_shift=[0.1, 0.2, 0.0])(images) - images  # (m, H, W, 3)
    per = delta[:, :1, :1, :]
    np.testing.assert_allclose(delta, np.broadcast_to(per, delta.shape), atol=1e-6)
    per = per[:, 0, 0]
    assert np.all(np.abs(per) <= np.array([0.1, 0.2, 0.0]) + 1e-6)
    assert np.all(per[:, 2] == 0)
    assert np.unique(np.round(per[:, 0], 5)).size == len(images)  # differs per example
    clipped = ColorShift(0.5, clip=(0.0, 1.0))(images)
    assert clipped.min() >= 0 and clipped.max() <= 1


def test_pca_color_moves_pixels_along_the_dominant_color_axis(rng):
    v = np.array([1.0, 2.0, -1.0]) / np.sqrt(6.0)
    t = rng.normal(0, 1.0, (200, 4, 4, 1))
    X = 0.5 + 0.3 * t * v + 0.001 * rng.normal(size=(200, 4, 4, 3))  # float64: exact deltas
    aug = PCAColorAugmentation(std=0.1).fit(X)
    ref_vals = np.linalg.eigvalsh(np.cov(X.reshape(-1, 3).T))
    np.testing.assert_allclose(aug.eigvals, ref_vals[::-1], rtol=1e-6)
    assert abs(aug.eigvecs[:, 0] @ v) > 0.999  # the dominant axis is found
    assert aug.eigvals[0] > 100 * aug.eigvals[1]

    dl.manual_seed(3)
    Y = aug(X[:50])
    delta = Y - X[:50]
    per = delta[:, 0, 0]  # (50, 3)
    np.testing.assert_allclose(delta, np.broadcast_to(per[:, None, None], delta.shape),
                               atol=1e-12)
    cosine = np.abs(per @ v) / np.linalg.norm(per, axis=1)
    assert np.all(cosine > 0.99)  # offsets parallel to the dominant color direction
    # the offsets are sum_j alpha_j lambda_j p_j with alpha ~ N(0, std): recover alpha
    dl.manual_seed(3)
    alpha = generator().normal(0.0, 0.1, size=(50, 3))
    np.testing.assert_allclose(per, (alpha * aug.eigvals) @ aug.eigvecs.T, atol=1e-12)


def test_pca_color_errors_before_fit_and_on_other_channel_counts(images):
    with pytest.raises(RuntimeError, match="fit"):
        PCAColorAugmentation()(images)
    aug = PCAColorAugmentation().fit(images)
    with pytest.raises(dl.ShapeError, match="n_C = 3"):
        aug(images[..., :1])
    assert "not fitted" in repr(PCAColorAugmentation())


def test_normalize_per_channel(images):
    out = Normalize([0.5, 0.4, 0.3], [0.1, 0.2, 0.4])(images)
    expected = (images - np.array([0.5, 0.4, 0.3], np.float32)) / np.array([0.1, 0.2, 0.4],
                                                                            np.float32)
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    fitted = Normalize.from_data(images)(images)
    np.testing.assert_allclose(fitted.mean(axis=(0, 1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(fitted.std(axis=(0, 1, 2)), 1, atol=1e-4)
    with pytest.raises(dl.ShapeError, match="n_C = 3"):
        Normalize([0.5, 0.5], 1.0)(images)
    with pytest.raises(ValueError, match="std > 0"):
        Normalize(0.0, 0.0)


# -- rotations and shears ---------------------------------------------------------------------

@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_rotation_by_zero_is_identity_and_quarter_turns_match_rot90(rng, interpolation):
    for n in (6, 7):
        X = rng.random((5, n, n, 2), dtype=np.float32)
        for deg, k in ((0, 0), (90, 1), (180, 2), (-90, -1), (270, 3)):
            Y = RandomRotation((deg, deg), interpolation=interpolation)(X)
            np.testing.assert_array_equal(Y, np.rot90(X, k=k, axes=(1, 2)))
    X = rng.random((3, 5, 8, 1), dtype=np.float32)  # non-square: half-turns stay exact
    Y = RandomRotation((180, 180), interpolation=interpolation)(X)
    np.testing.assert_array_equal(Y, X[:, ::-1, ::-1])


def test_rotation_draws_an_angle_per_example_and_fills_corners(rng):
    X = np.ones((20, 9, 9, 1), np.float32)
    Y = RandomRotation(45, fill=-1.0)(X)
    assert Y[:, 4, 4, 0].tolist() == [1.0] * 20  # the centre stays
    corner_filled = (Y[:, 0, 0, 0] == -1.0)
    assert 0 < corner_filled.sum() < 20  # some angles are big enough to empty a corner
    dl.manual_seed(0)
    Y = RandomRotation(45)(np.arange(81, dtype=np.float32).reshape(1, 9, 9, 1).repeat(10, 0))
    assert len({y.tobytes() for y in Y}) == 10


def test_bilinear_rotation_reproduces_a_linear_ramp(rng):
    n, theta = 21, 17.0
    r, c = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    X = (0.3 * r + 0.7 * c).astype(np.float64)[None, :, :, None]
    Y = RandomRotation((theta, theta), interpolation="bilinear")(X)[0, :, :, 0]
    t = np.deg2rad(theta)
    y, x = r - 10, c - 10
    sy, sx = np.cos(t) * y + np.sin(t) * x + 10, -np.sin(t) * y + np.cos(t) * x + 10
    inner = (y ** 2 + x ** 2) < 8 ** 2  # well inside the image
    np.testing.assert_allclose(Y[inner], (0.3 * sy + 0.7 * sx)[inner], atol=1e-4)


def test_shear_by_zero_is_identity_and_45_degrees_shifts_each_row(rng):
    X = rng.random((4, 7, 9, 2), dtype=np.float32)
    np.testing.assert_array_equal(RandomShear((0, 0))(X), X)
    Y = RandomShear((45, 45))(X)
    expected = np.zeros_like(X)
    for r in range(7):  # row r slides right by r - 3 (the centre row stays)
        s = r - 3
        if s >= 0:
            expected[:, r, s:] = X[:, r, :9 - s]
        else:
            expected[:, r, :9 + s] = X[:, r, -s:]
    np.testing.assert_array_equal(Y, expected)
    with pytest.raises(ValueError, match="90"):
        RandomShear(90)


# -- Compose, RandomApply ---------------------------------------------------------------------

def test_compose_applies_in_order_and_random_apply_picks_examples(images):
    both = Compose([RandomHorizontalFlip(p=1.0), RandomVerticalFlip(p=1.0)])
    np.testing.assert_array_equal(both(images), images[:, ::-1, ::-1])
    np.testing.assert_array_equal(Compose([])(images), images)
    dl.manual_seed(5)
    chosen = generator().random(len(images)) < 0.5
    dl.manual_seed(5)
    Y = RandomApply(RandomHorizontalFlip(p=1.0), p=0.5)(images)
    np.testing.assert_array_equal(Y[chosen], images[chosen, :, ::-1])
    np.testing.assert_array_equal(Y[~chosen], images[~chosen])
    with pytest.raises(dl.ShapeError, match="keep the image shape"):
        RandomApply(RandomCrop(3), p=1.0)(images)
    with pytest.raises(TypeError, match="list of transforms"):
        Compose(RandomHorizontalFlip())


# -- DataLoader(transform=...) ---------------------------------------------------------------

def test_loader_applies_the_transform_per_batch_and_leaves_labels(rng):
    X = rng.random((10, 4, 4, 1), dtype=np.float32)
    y = np.arange(10)
    dl.manual_seed(0)
    plain = list(DataLoader(X, y, batch_size=4))
    dl.manual_seed(0)
    flipped = list(DataLoader(X, y, batch_size=4, transform=RandomHorizontalFlip(p=1.0)))
    assert len(plain) == len(flipped) == 3
    for (xa, ya), (xb, yb) in zip(plain, flipped):
        np.testing.assert_array_equal(ya.numpy(), yb.numpy())  # same order, labels untouched
        np.testing.assert_array_equal(xa.numpy(), X[ya.numpy()])  # no transform: unchanged
        np.testing.assert_array_equal(xb.numpy(), X[yb.numpy()][:, :, ::-1])
        assert xb.dtype == np.float32


def test_loader_transform_redraws_each_epoch_and_never_touches_the_data(rng):
    X = rng.random((8, 5, 5, 3), dtype=np.float32)
    before = X.copy()

    def zero_in_place(batch):
        batch *= 0
        return batch

    for b, in DataLoader(X, batch_size=3, shuffle=False, transform=zero_in_place):
        assert not b.numpy().any()
    np.testing.assert_array_equal(X, before)
    loader = DataLoader(X, batch_size=8, shuffle=False, transform=ColorShift(0.5))
    first, second = next(iter(loader))[0].numpy(), next(iter(loader))[0].numpy()
    assert not np.array_equal(first, second)


def test_loader_transform_errors():
    X = np.zeros((6, 4, 4, 1), np.float32)
    with pytest.raises(TypeError, match="callable"):
        DataLoader(X, transform="flip")
    with pytest.raises(dl.ShapeError, match="keep the batch's examples"):
        list(DataLoader(X, batch_size=3, transform=lambda b: b[:1]))


# -- errors -----------------------------------------------------------------------------------

def test_bad_layouts_get_clear_shape_errors():
    flip = RandomHorizontalFlip()
    with pytest.raises(dl.ShapeError, match=r"RandomHorizontalFlip.*channels-last"):
        flip(np.zeros((2, 3, 32, 32), np.float32))
    with pytest.raises(dl.ShapeError, match=r"channels-first"):
        ColorShift()(np.zeros((2, 1, 28, 28), np.float32))
    with pytest.raises(dl.ShapeError, match=r"X\[None\]"):
        RandomCrop(3)(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(dl.ShapeError, match=r"\(m, n_H, n_W, n_C\)"):
        RandomRotation(10)(np.zeros((4, 64), np.float32))
    with pytest.raises(dl.DTypeError, match="numeric"):
        flip(np.array([["a"]]))
    with pytest.raises(dl.ShapeError, match="does not fit"):
        RandomCrop(10, padding=1)(np.zeros((2, 7, 7, 1), np.float32))
    flip(np.zeros((2, 3, 3, 16), np.float32))  # tiny images with many channels are fine


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="probability"):
        RandomHorizontalFlip(p=1.5)
    with pytest.raises(ValueError, match="size"):
        RandomCrop(0)
    with pytest.raises(ValueError, match="mode"):
        RandomCrop(3, padding=1, mode="wrap-around")
    with pytest.raises(ValueError, match="lo <= hi"):
        RandomRotation((30, -30))
    with pytest.raises(ValueError, match="interpolation"):
        RandomRotation(10, interpolation="bicubic")
    with pytest.raises(ValueError, match="max_shift >= 0"):
        ColorShift(-0.1)
