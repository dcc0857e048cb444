"""dlkit: the Deep Learning Specialization as a library, on NumPy (CuPy on a GPU)."""

from dlkit import (
    allocator,
    audio,
    cuda,
    data,
    distributed,
    io,
    metrics,
    models,
    nn,
    ops,
    optim,
    plot,
    strategy,
    text,
    train,
    vision,
)
from dlkit.backend import (
    get_default_dtype,
    get_rng_state,
    manual_seed,
    set_default_dtype,
    set_rng_state,
)
from dlkit.check import gradient_check, gradient_check_directional, gradient_check_module
from dlkit.creation import (
    arange,
    eye,
    full,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    zeros,
    zeros_like,
)
from dlkit.devices import Device, DeviceError, device
from dlkit.errors import DTypeError, ShapeError, UserError
from dlkit.ops import *  # noqa: F403 - the ops are dlkit's functional API: dl.relu, dl.linear
from dlkit.tensor import (
    Function,
    Tensor,
    as_tensor,
    enable_grad,
    is_grad_enabled,
    no_grad,
    tensor,
)
from dlkit.threads import get_num_threads, set_num_threads

__version__ = "0.1.0"

__all__ = [
    "DTypeError", "Device", "DeviceError", "Function", "ShapeError", "Tensor", "UserError",
    "arange", "as_tensor", "audio", "cuda", "data", "device",
    "distributed",
    "enable_grad", "eye", "full", "get_default_dtype", "get_num_threads", "get_rng_state",
    "gradient_check",
    "gradient_check_directional", "gradient_check_module", "io", "is_grad_enabled",
    "manual_seed", "metrics", "models", "nn", "no_grad", "strategy", "ones", "ones_like",
    "ops", "optim", "plot",
    "rand", "randint", "randn", "set_default_dtype", "set_num_threads", "set_rng_state",
    "tensor", "text", "train",
    "vision", "zeros", "zeros_like", *ops.__all__,
]

allocator.keep_freed_memory()  # reuse freed memory across steps (DLKIT_KEEP_MALLOC=1: off)
