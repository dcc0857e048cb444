"""Seeding, RNG state, default dtype and the per-array module lookup."""

from __future__ import annotations

import json

import numpy as np
import pytest

import dlkit as dl
from dlkit import backend


def test_manual_seed_repeats_randn_bit_for_bit():
    dl.manual_seed(123)
    a = [dl.randn(4, 5).numpy(), dl.rand(3).numpy(), dl.randint(0, 10, (6,)).numpy()]
    dl.manual_seed(123)
    b = [dl.randn(4, 5).numpy(), dl.rand(3).numpy(), dl.randint(0, 10, (6,)).numpy()]
    for x, y in zip(a, b):
        assert x.tobytes() == y.tobytes()
    dl.manual_seed(124)
    assert dl.randn(4, 5).numpy().tobytes() != a[0].tobytes()


def test_manual_seed_fixes_dropout_masks():
    x = dl.tensor(np.ones((8, 8)))
    dl.manual_seed(5)
    m1 = dl.dropout(x, 0.5).numpy()
    dl.manual_seed(5)
    m2 = dl.dropout(x, 0.5).numpy()
    np.testing.assert_array_equal(m1, m2)
    assert set(np.unique(m1)) == {0.0, 2.0}


def test_rng_state_restores_the_stream():
    dl.manual_seed(7)
    dl.randn(3)
    state = dl.get_rng_state()
    after = [dl.randn(5).numpy(), dl.rand(2).numpy()]
    dl.randn(100)
    dl.set_rng_state(state)
    again = [dl.randn(5).numpy(), dl.rand(2).numpy()]
    for x, y in zip(after, again):
        assert x.tobytes() == y.tobytes()
    assert state["seed"] == 7


def test_rng_state_survives_a_json_round_trip():
    dl.manual_seed(9)
    state = json.loads(json.dumps(dl.get_rng_state()))
    expected = dl.randn(4).numpy()
    dl.manual_seed(1)
    dl.set_rng_state(state)
    assert dl.randn(4).numpy().tobytes() == expected.tobytes()


@pytest.mark.parametrize("seed", [-1, 1.5, "3", True])
def test_manual_seed_rejects_bad_seeds(seed):
    with pytest.raises(ValueError, match="manual_seed"):
        dl.manual_seed(seed)


@pytest.mark.parametrize("dtype", ["int32", np.int64, "bool", "complex64"])
def test_set_default_dtype_rejects_non_float_dtypes(dtype):
    with pytest.raises(ValueError, match=r"set_default_dtype: expected one of .*float32"):
        dl.set_default_dtype(dtype)
    assert dl.get_default_dtype() == np.float32


@pytest.mark.parametrize("dtype", ["float64", np.float64, np.dtype("float16")])
def test_set_default_dtype_accepts_float_dtypes(dtype):
    dl.set_default_dtype(dtype)
    assert dl.get_default_dtype() == np.dtype(dtype)
    assert dl.zeros(2).dtype == np.dtype(dtype)


def test_array_module_is_numpy_for_numpy_arrays():
    assert backend.array_module(np.ones(3)) is np
    assert backend.array_module(np.float32(1.0)) is np
    assert not backend.is_gpu_array(np.ones(3))
    a = np.ones(3)
    assert backend.to_numpy(a) is a


def test_creation_functions_use_the_default_dtype_and_shapes():
    assert dl.zeros(2, 3).shape == (2, 3) and dl.zeros((2, 3)).shape == (2, 3)
    assert dl.ones(4, dtype="float64").dtype == np.float64
    assert dl.randn(2, requires_grad=True).requires_grad
    assert dl.full((2,), 3.0).numpy().tolist() == [3.0, 3.0]
    assert dl.eye(3).dtype == np.float32
    assert dl.arange(4).numpy().tolist() == [0, 1, 2, 3]
