"""Saving: models, weights and training checkpoints as safetensors (never pickle).

- ``save(model, path)`` / ``load(path)``: weights and the model config; ``load`` rebuilds it.
- ``save_weights(model, path)`` / ``load_weights(model, path)``: the state_dict of any Module.
- ``save_checkpoint`` / ``load_checkpoint``: model, optimizer, schedule, callbacks, epoch, step
  and RNG state, to resume training bit for bit.

Every write is atomic (temporary file, fsync, ``os.replace``): a crash leaves the old file.
"""

from dlkit.io.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from dlkit.io.files import CorruptFileError, atomic_write_bytes
from dlkit.io.model import load, load_weights, save, save_weights

__all__ = [
    "CorruptFileError", "atomic_write_bytes", "load", "load_checkpoint", "load_weights",
    "read_checkpoint", "save", "save_checkpoint", "save_weights",
]
