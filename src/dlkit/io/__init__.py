"""Saving: models, weights and training checkpoints as safetensors (never pickle).

- ``save(model, path)`` / ``load(path)``: weights and the model config; ``load`` rebuilds it.
- ``save_weights(model, path)`` / ``load_weights(model, path)``: the state_dict of any Module.
- ``save_checkpoint`` / ``load_checkpoint``: model, optimizer, schedule, callbacks, epoch, step
  and RNG state, to resume training bit for bit.
- ``load_torch_state_dict(model, state_dict)``: import the weights of a PyTorch model of the
  same architecture (layouts converted; PyTorch itself is never imported);
  ``load_torch_rnn`` for nn.RNN / nn.LSTM / nn.GRU (gate order and GRU convention mapped).

Every write is atomic (temporary file, fsync, ``os.replace``): a crash leaves the old file.
"""

from dlkit.io.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from dlkit.io.files import CorruptFileError, atomic_write_bytes
from dlkit.io.model import load, load_weights, save, save_weights
from dlkit.io.torch_import import (
    TorchImport,
    TorchImportError,
    load_torch_state_dict,
    permute_flatten_linear,
)
from dlkit.io.torch_rnn import (
    load_torch_bidirectional,
    load_torch_rnn,
    load_torch_rnn_stack,
    torch_rnn_weights,
)

__all__ = [
    "CorruptFileError", "atomic_write_bytes", "load", "load_checkpoint", "load_weights",
    "read_checkpoint", "save", "save_checkpoint", "save_weights", "TorchImport",
    "TorchImportError", "load_torch_state_dict", "permute_flatten_linear",
    "load_torch_bidirectional", "load_torch_rnn", "load_torch_rnn_stack", "torch_rnn_weights",
]
