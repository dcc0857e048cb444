"""Tensor and reverse-mode autograd.

A ``Tensor`` wraps an array (``.data``) and, when it was computed from tensors that require
gradients, the ``Function`` that made it (the tape). ``backward()`` walks the tape in reverse
topological order, iteratively (no recursion), calling each function's ``backward`` (the notes'
formula) and summing gradients of tensors used more than once. Gradients of broadcast inputs
are summed back to the input's shape, and cast back to the input's dtype.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from dlkit import backend as _backend
from dlkit.backend import array_module, get_default_dtype, to_numpy
from dlkit.devices import Device, device_of, same_device, to_device
from dlkit.errors import ShapeError

_DEVICE_TYPES = _backend._ARRAY_MODULES  # empty until a device array type is registered


class _GradMode(threading.local):
    enabled = True


_grad_mode = _GradMode()


def is_grad_enabled() -> bool:
    return _grad_mode.enabled


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Record nothing on the tape inside the block (evaluation, parameter updates)."""
    previous = _grad_mode.enabled
    _grad_mode.enabled = False
    try:
        yield
    finally:
        _grad_mode.enabled = previous


@contextlib.contextmanager
def enable_grad() -> Iterator[None]:
    """Record on the tape again inside a ``no_grad`` block."""
    previous = _grad_mode.enabled
    _grad_mode.enabled = True
    try:
        yield
    finally:
        _grad_mode.enabled = previous


class Function:
    """One differentiable op: ``forward`` on arrays and ``backward`` on arrays, side by side.

    ``forward(*arrays)`` returns an array (or a tuple of arrays) and saves on ``self`` what the
    backward needs. ``backward(*grads)`` receives one gradient per output (same shape as the
    output) and returns one gradient per input (``None`` where an input needs none).
    Calling the function on tensors runs forward and, when grad mode is on and an input
    requires grad, records the function on the tape.
    """

    inputs: tuple[Tensor, ...] = ()
    outputs_meta: list | None = None
    _freed = False  # set once backward has freed what forward saved (see Tensor.backward)

    def __call__(self, *inputs: Tensor) -> Any:
        for t in inputs:
            if not isinstance(t, Tensor):  # arrays or numbers given to a Function directly
                inputs = tuple(as_tensor(t) for t in inputs)
                break
        arrays = [t.data for t in inputs]
        if _DEVICE_TYPES and len(arrays) > 1:  # only once a device exists: one type test
            t0 = type(arrays[0])
            for a in arrays:
                if type(a) is not t0:
                    arrays = same_device(type(self).__name__.lower(), arrays)
                    break
        try:
            out = self.forward(*arrays)
        except ValueError as e:
            if isinstance(e, ShapeError) or "broadcast" not in str(e):
                raise
            raise ShapeError(f"{type(self).__name__.lower()}: {e}") from None
        multi = type(out) is tuple
        if multi:
            out = tuple(np.asarray(o) if isinstance(o, np.generic) else o for o in out)
        elif isinstance(out, np.generic):  # NumPy turns 0-d results into scalars
            out = np.asarray(out)
        if _grad_mode.enabled:
            for t in inputs:
                if t.requires_grad:
                    self.inputs = inputs
                    if multi:
                        self.outputs_meta = [(o.shape, o.dtype) for o in out]
                        return tuple(Tensor._from_op(o, self, i) for i, o in enumerate(out))
                    return Tensor._from_op(out, self, 0)
        if multi:
            return tuple(Tensor(o) for o in out)
        return Tensor(out)

    def forward(self, *xs: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, *gys: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def needs_grad(self, i: int) -> bool:
        """Whether input ``i`` needs a gradient (lets a backward skip work)."""
        return self.inputs[i].requires_grad


def sum_to(g: Any, shape: tuple[int, ...]) -> Any:
    """Undo broadcasting: sum ``g`` over the axes that were broadcast to reach ``g.shape``."""
    extra = g.ndim - len(shape)
    if extra > 0:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g


class Tensor:
    """An array with an optional gradient and the op that produced it."""

    __slots__ = ("data", "grad", "requires_grad", "_ctx", "_idx", "__weakref__")
    __array_ufunc__ = None  # ndarray <op> Tensor defers to Tensor's reflected operator
    __hash__ = object.__hash__

    def __init__(self, data: Any, requires_grad: bool = False) -> None:
        self.data = data
        self.grad = None
        self.requires_grad = requires_grad
        self._ctx: Function | None = None
        self._idx = 0

    @classmethod
    def _from_op(cls, data: Any, ctx: Function, idx: int) -> Tensor:
        t = cls.__new__(cls)
        t.data = data
        t.grad = None
        t.requires_grad = True
        t._ctx = ctx
        t._idx = idx
        return t

    # ---- properties -------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def T(self) -> Tensor:
        return _ops.transpose(self)

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        body = np.array2string(to_numpy(self.data), separator=", ", prefix="tensor(")
        extra = ", requires_grad=True" if self.requires_grad else ""
        dt = "" if self.dtype == get_default_dtype() else f", dtype={self.dtype.name}"
        return f"tensor({body}{dt}{extra})"

    @property
    def device(self) -> Device:
        """Where the data lives: ``device('cpu')`` or ``device('cuda:0')``."""
        return device_of(self.data)

    def to(self, device: str | Device | None = None, dtype: Any = None) -> Tensor:
        """This tensor on ``device`` (and/or cast to ``dtype``): itself when nothing changes,
        else a copy that stays on the tape (gradients flow back to the original device)."""
        out = self
        if device is not None:
            from dlkit.devices import device as _device

            dev = _device(device)
            if device_of(self.data) != dev:
                out = _ToDevice(dev)(self)
        if dtype is not None and np.dtype(dtype) != out.dtype:
            out = _ops.cast(out, dtype)
        return out

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self, index: int = 0) -> Tensor:
        return self.to(f"cuda:{index}")

    def numpy(self) -> np.ndarray:
        """The data as a NumPy array (copied from the GPU if needed; shares memory on the CPU)."""
        return to_numpy(self.data)

    def item(self) -> float | int | bool:
        if self.data.size != 1:
            raise ValueError(f"item: expected a tensor with one element, got shape {self.shape}")
        return self.data.reshape(()).item()

    def tolist(self) -> Any:
        return to_numpy(self.data).tolist()

    def detach(self) -> Tensor:
        """The same data, cut from the tape."""
        return Tensor(self.data)

    def requires_grad_(self, flag: bool = True) -> Tensor:
        if flag and self.data.dtype.kind not in "fc":
            raise TypeError(
                f"requires_grad_: only float tensors can require gradients, got {self.dtype}"
            )
        if not self.is_leaf:
            raise RuntimeError("requires_grad_: only leaf tensors can change requires_grad")
        self.requires_grad = flag
        return self

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (``.grad = None``), as PyTorch's ``set_to_none``."""
        self.grad = None

    def astype(self, dtype: Any) -> Tensor:
        return _ops.cast(self, dtype)

    def float(self) -> Tensor:
        return _ops.cast(self, np.float32)

    def double(self) -> Tensor:
        return _ops.cast(self, np.float64)

    # ---- autograd ---------------------------------------------------------------------
    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Fill ``.grad`` of every leaf this tensor depends on with d(self)/d(leaf).

        ``grad`` is the upstream gradient; it may be omitted for a one-element tensor.
        Leaves accumulate: call ``zero_grad`` (or the optimizer's) between steps.
        As in PyTorch, the arrays the ops saved for backward are freed as the pass goes, so a
        second ``backward`` through an op that saved any raises ``RuntimeError``; pass
        ``retain_graph=True`` to keep them for another pass.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward: this tensor does not require grad (no input had requires_grad=True, "
                "or it was computed under no_grad)"
            )
        xp = array_module(self.data)
        caller_grad = grad is not None
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward: grad can be omitted only for a one-element output, got shape "
                    f"{self.shape}; pass grad= of that shape or reduce with .sum() / .mean()"
                )
            grad = xp.ones_like(self.data)
        else:
            grad = grad.data if isinstance(grad, Tensor) else xp.asarray(grad, self.dtype)
            if grad.shape != self.shape:
                raise ValueError(
                    f"backward: expected grad of shape {self.shape}, got {grad.shape}"
                )
        # the caller's array is theirs: a leaf that receives it as it is stores a copy
        assigned = {id(grad)} if caller_grad else set()
        if self._ctx is None:
            _accumulate_leaf(self, grad, assigned)
            return
        _run_backward(self._ctx, self._idx, grad, assigned, retain_graph)

    # ---- operators (no grad for comparisons) ------------------------------------------
    def __add__(self, other: Any) -> Tensor:
        return _ops.add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return _ops.add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return _ops.sub(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return _ops.sub(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return _ops.mul(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return _ops.mul(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return _ops.div(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return _ops.div(other, self)

    def __pow__(self, other: Any) -> Tensor:
        return _ops.pow(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return _ops.pow(other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return _ops.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _ops.matmul(other, self)

    def __neg__(self) -> Tensor:
        return _ops.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return _ops.abs(self)

    def __getitem__(self, index: Any) -> Tensor:
        return _ops.getitem(self, index)

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):
            yield self[i]

    def _compare(self, other: Any, op: Any) -> Tensor:
        return Tensor(op(self.data, other.data if isinstance(other, Tensor) else other))

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, lambda a, b: a == b)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, lambda a, b: a != b)

    def __lt__(self, other: Any) -> Tensor:
        return self._compare(other, lambda a, b: a < b)

    def __le__(self, other: Any) -> Tensor:
        return self._compare(other, lambda a, b: a <= b)

    def __gt__(self, other: Any) -> Tensor:
        return self._compare(other, lambda a, b: a > b)

    def __ge__(self, other: Any) -> Tensor:
        return self._compare(other, lambda a, b: a >= b)

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(
                f"bool: the truth value of a tensor of shape {self.shape} is ambiguous; "
                "use .any() or .all()"
            )
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    # ---- methods mirroring the ops ------------------------------------------------------
    def sum(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.sum(self, axis, keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.mean(self, axis, keepdims)

    def max(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.max(self, axis, keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.min(self, axis, keepdims)

    def var(self, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
        return _ops.var(self, axis, keepdims, ddof)

    def logsumexp(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.logsumexp(self, axis, keepdims)

    def argmax(self, axis: int | None = None) -> Tensor:
        return Tensor(self.data.argmax(axis=axis))

    def argmin(self, axis: int | None = None) -> Tensor:
        return Tensor(self.data.argmin(axis=axis))

    def any(self) -> bool:
        return bool(self.data.any())

    def all(self) -> bool:
        return bool(self.data.all())

    def reshape(self, *shape: Any) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _ops.reshape(self, shape)

    def view(self, *shape: Any) -> Tensor:
        return self.reshape(*shape)

    def flatten(self, start_dim: int = 0) -> Tensor:
        return _ops.flatten(self, start_dim)

    def transpose(self, *axes: Any) -> Tensor:
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return _ops.transpose(self, axes or None)

    def permute(self, *axes: int) -> Tensor:
        return self.transpose(*axes)

    def swapaxes(self, a: int, b: int) -> Tensor:
        return _ops.swapaxes(self, a, b)

    def squeeze(self, axis: Any = None) -> Tensor:
        return _ops.squeeze(self, axis)

    def unsqueeze(self, axis: int) -> Tensor:
        return _ops.unsqueeze(self, axis)

    def expand_dims(self, axis: int) -> Tensor:
        return _ops.unsqueeze(self, axis)

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        return _ops.broadcast_to(self, tuple(shape))

    def exp(self) -> Tensor:
        return _ops.exp(self)

    def log(self) -> Tensor:
        return _ops.log(self)

    def sqrt(self) -> Tensor:
        return _ops.sqrt(self)

    def abs(self) -> Tensor:
        return _ops.abs(self)

    def clip(self, lo: float | None = None, hi: float | None = None) -> Tensor:
        return _ops.clip(self, lo, hi)

    clamp = clip

    def sigmoid(self) -> Tensor:
        return _ops.sigmoid(self)

    def tanh(self) -> Tensor:
        return _ops.tanh(self)

    def relu(self) -> Tensor:
        return _ops.relu(self)

    def softmax(self, axis: int = -1) -> Tensor:
        return _ops.softmax(self, axis)

    def log_softmax(self, axis: int = -1) -> Tensor:
        return _ops.log_softmax(self, axis)


def _accumulate_leaf(t: Tensor, g: Any, assigned: set) -> None:
    """Add ``g`` to a leaf's ``.grad``; a fresh array is stored, never one shared with another
    leaf or a view of one, so in-place changes of one ``.grad`` cannot reach another."""
    if t.grad is None:
        if isinstance(g, np.generic):
            g = np.array(g)
        elif g.base is not None or id(g) in assigned or not getattr(g.flags, "writeable", True):
            g = g.copy()
        assigned.add(id(g))
        t.grad = g
    else:
        t.grad = t.grad + g


_FREED_MESSAGE = (
    "backward: trying to backward through the graph a second time (or to use values saved for "
    "backward after they were freed). The arrays an op saves for backward are freed when "
    "backward() runs; specify retain_graph=True on the first backward if you need to backward "
    "through the graph a second time, or recompute the forward pass"
)


_PLAIN = (int, float, bool, str, type(None), np.dtype)


def _holds_array(v: Any) -> bool:
    """Whether a saved attribute is (or directly holds) an array or a tensor."""
    t = type(v)
    if t is np.ndarray or t is Tensor:
        return True
    if t in _PLAIN:
        return False
    if t is tuple or t is list:
        return any(_holds_array(x) for x in v)
    if t is dict:
        return any(_holds_array(x) for x in v.values())
    return isinstance(v, Tensor) or (hasattr(v, "ndim") and not isinstance(v, np.generic))


def _free_saved(fn: Function, saved_names: list[str]) -> None:
    """Drop what ``fn`` saved for backward (its arrays and tensors, set before backward ran)
    and, when it saved any, its inputs too; such a function is marked freed and refuses
    another pass. A function that saved only shapes and constants (add, sum, reshape) stays
    usable, as in PyTorch."""
    saved = fn.__dict__
    freed = False
    for k in saved_names:
        if k != "inputs" and k != "outputs_meta" and k in saved and _holds_array(saved[k]):
            del saved[k]
            freed = True
    if freed:
        fn.inputs = ()
        fn._freed = True


def _run_backward(root: Function, root_idx: int, grad: Any, assigned: set[int],
                  retain_graph: bool = False) -> None:
    # Count, for each function on the tape, how many edges from later functions lead to it;
    # a function runs once all its consumers have passed their gradients (Kahn's order).
    # A freed function (from an earlier pass) is refused here, before any gradient moves.
    pending: dict[Function, int] = {}
    stack = [root]
    seen = {root}
    while stack:
        fn = stack.pop()
        if fn._freed:
            raise RuntimeError(_FREED_MESSAGE)
        for t in fn.inputs:
            p = t._ctx
            if p is not None and t.requires_grad:
                pending[p] = pending.get(p, 0) + 1
                if p not in seen:
                    seen.add(p)
                    stack.append(p)

    grads: dict[tuple[Function, int], Any] = {(root, root_idx): grad}
    ready = [root]
    while ready:
        fn = ready.pop()
        saved_names = None if retain_graph else list(fn.__dict__)  # what forward saved
        meta = fn.outputs_meta
        if meta is None:
            gy = grads.pop((fn, 0), None)
            gxs = fn.backward(gy) if gy is not None else None
        else:
            gys = [grads.pop((fn, i), None) for i in range(len(meta))]
            if all(g is None for g in gys):
                gxs = None
            else:
                xp = array_module(fn.inputs[0].data)
                gxs = fn.backward(*[xp.zeros(shape, dtype) if g is None else g
                                    for g, (shape, dtype) in zip(gys, meta)])
        if gxs is None:  # no gradient reached this function: nothing flows to its inputs
            gxs = (None,) * len(fn.inputs)
        elif type(gxs) is not tuple:
            gxs = (gxs,)
        for t, g in zip(fn.inputs, gxs):
            if not t.requires_grad:
                continue
            p = t._ctx
            if g is not None:
                data = t.data
                if g.shape != data.shape:
                    g = sum_to(g, data.shape)
                if g.dtype != data.dtype:
                    g = g.astype(data.dtype)
                if p is None:
                    _accumulate_leaf(t, g, assigned)
                    continue
                key = (p, t._idx)
                prev = grads.get(key)
                grads[key] = g if prev is None else prev + g
            elif p is None:
                continue
            # every edge into p is counted, with or without a gradient, so p runs once all
            # of its consumers are done
            pending[p] -= 1
            if pending[p] == 0:
                ready.append(p)
        if saved_names is not None:
            _free_saved(fn, saved_names)


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None,
           device: str | Device | None = None) -> Tensor:
    """A new tensor holding a copy of ``data``, on ``device`` (default: where ``data`` is;
    the CPU for Python data).

    Python floats become the default dtype (float32 unless ``set_default_dtype``); arrays keep
    their dtype; ``dtype=`` converts. Only float tensors can require gradients.
    """
    if isinstance(data, Tensor):
        data = data.data
    xp = array_module(data)
    from_python = not hasattr(data, "dtype")
    arr = xp.array(data, dtype=dtype, copy=True)
    if dtype is None and from_python and arr.dtype.kind == "f":
        arr = arr.astype(get_default_dtype())
    if requires_grad and arr.dtype.kind not in "fc":
        raise TypeError(
            f"tensor: only float tensors can require gradients, got dtype {arr.dtype}; "
            "pass dtype='float32' or float data"
        )
    if device is not None:
        arr = to_device(arr, device)
    return Tensor(arr, requires_grad=requires_grad)


def as_tensor(x: Any, like: Tensor | None = None) -> Tensor:
    """``x`` itself when it is a tensor, else a constant tensor (no copy when possible).

    A Python number next to a float tensor takes that tensor's dtype, so float32 stays float32.
    """
    if isinstance(x, Tensor):
        return x
    if like is not None and isinstance(x, (int, float, bool)):
        dt = like.data.dtype
        if dt.kind == "f":  # a NumPy scalar of the tensor's dtype: float32 stays float32
            return Tensor(dt.type(x))
        return Tensor(array_module(like.data).asarray(x, dtype=np.result_type(dt, x)))
    if isinstance(x, (int, float, list, tuple)):
        return Tensor(np.asarray(x, dtype=get_default_dtype() if _is_floaty(x) else None))
    return Tensor(array_module(x).asarray(x))


class _ToDevice(Function):
    """y = x on another device; dx = dy moved back to x's device."""

    def __init__(self, dev: Device) -> None:
        self.dev = dev

    def forward(self, x: Any) -> Any:
        self.source = device_of(x)
        return to_device(x, self.dev)

    def backward(self, gy: Any) -> Any:
        return to_device(gy, self.source)


def _is_floaty(x: Any) -> bool:
    return np.asarray(x).dtype.kind == "f"


from dlkit import ops as _ops  # noqa: E402  (ops build on Tensor and Function above)
