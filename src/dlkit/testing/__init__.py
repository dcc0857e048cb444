"""Testing helpers: a strict CuPy stand-in (``dlkit.testing.strict``)."""
