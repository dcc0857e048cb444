"""The model zoo of the courses."""

from dlkit.models.mlp import ACTIVATIONS, mlp

__all__ = ["ACTIVATIONS", "mlp"]
