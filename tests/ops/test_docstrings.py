"""help(dl.sigmoid) says what the op computes: every public op has a docstring."""

import pytest

import dlkit as dl


@pytest.mark.parametrize("name", dl.ops.__all__)
def test_every_public_op_has_a_docstring(name):
    doc = (getattr(dl.ops, name).__doc__ or "").strip()
    assert len(doc) > 20, f"dl.{name} has no docstring with its formula"
