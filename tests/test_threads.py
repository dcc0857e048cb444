"""dl.set_num_threads / dl.get_num_threads: the BLAS thread count, as PyTorch's."""

import numpy as np
import pytest

import dlkit as dl


def test_set_then_get():
    before = dl.get_num_threads()
    try:
        dl.set_num_threads(2)
        assert dl.get_num_threads() == 2
        dl.set_num_threads(1)
        assert dl.get_num_threads() == 1
        a = np.ones((64, 64), np.float32)
        assert (a @ a == 64).all()  # products still right after the change
    finally:
        dl.set_num_threads(before)


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_bad_counts_are_refused(bad):
    with pytest.raises(ValueError, match="set_num_threads: expected an int >= 1"):
        dl.set_num_threads(bad)
