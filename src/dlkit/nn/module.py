"""Module: the base of layers and models (parameters, children, buffers, modes, state)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import numpy as np

from dlkit.backend import array_module, to_numpy
from dlkit.errors import ShapeError
from dlkit.nn.parameter import Parameter
from dlkit.tensor import Tensor


class Module:
    """Subclasses set parameters, buffers and child modules as attributes in ``__init__``
    and write ``forward``; calling the module calls ``forward``.

    Parameters are ``Parameter`` attributes; buffers (running statistics) are arrays
    registered with ``register_buffer``; both go into ``state_dict`` under dotted keys
    (``"0.weight"``, ``"bn.running_mean"``).
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}: call super().__init__() before setting attributes"
            )
        target = self._parameters if isinstance(value, Parameter) else \
            self._modules if isinstance(value, Module) else None
        for store in (self._parameters, self._modules, self._buffers):
            if store is not target:
                store.pop(name, None)
        if target is not None:
            target[name] = value  # a replaced entry keeps its place (a Sequential's order)
        object.__setattr__(self, name, value)

    def register_buffer(self, name: str, array: Any) -> None:
        """A state array that is saved but not trained (e.g. batch norm's running mean)."""
        self._buffers[name] = array
        object.__setattr__(self, name, array)

    def _set_buffer(self, name: str, array: Any) -> None:
        self._buffers[name] = array
        object.__setattr__(self, name, array)

    # ---- calling ----------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.forward is not written")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # ---- traversal --------------------------------------------------------------------
    def children(self) -> Iterator[Module]:
        yield from self._modules.values()

    def named_children(self) -> Iterator[tuple[str, Module]]:
        yield from self._modules.items()

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            yield name, module
            children = [(f"{name}.{k}" if name else k, m) for k, m in module._modules.items()]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        seen: set[int] = set()
        for mod_name, module in self.named_modules(prefix):
            for name, p in module._parameters.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self) -> Iterator[Parameter]:
        for _, p in self.named_parameters():
            yield p

    def named_buffers(self) -> Iterator[tuple[str, Any]]:
        for mod_name, module in self.named_modules():
            for name, b in module._buffers.items():
                yield (f"{mod_name}.{name}" if mod_name else name), b

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.size for p in self.parameters() if p.requires_grad or not trainable_only)

    # ---- modes ------------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Training mode: dropout drops, batch norm uses batch statistics."""
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: dropout is the identity, batch norm uses running averages."""
        return self.train(False)

    # ---- devices ----------------------------------------------------------------------
    def to(self, device: Any) -> Module:
        """Move every parameter (and its gradient) and buffer to ``device`` (``"cuda"``,
        ``"cpu"``) in place, as PyTorch's; returns the module. Optimizers built on these
        parameters follow: their state moves at their next step."""
        from dlkit.devices import device as _device
        from dlkit.devices import to_device

        dev = _device(device)
        for p in self.parameters():
            p.data = to_device(p.data, dev)
            if p.grad is not None:
                p.grad = to_device(p.grad, dev)
        for module in self.modules():
            for name, b in list(module._buffers.items()):
                if b is not None and hasattr(b, "shape"):
                    module._set_buffer(name, to_device(b, dev))
        return self

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self, index: int = 0) -> Module:
        return self.to(f"cuda:{index}")

    @property
    def device(self) -> Any:
        """The device of the first parameter (the CPU for a module without parameters)."""
        from dlkit.devices import CPU, device_of

        for p in self.parameters():
            return device_of(p.data)
        return CPU

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def requires_grad_(self, flag: bool = True) -> Module:
        """Freeze (``False``) or unfreeze every parameter of this module."""
        for p in self.parameters():
            p.requires_grad = flag
        return self

    def freeze(self) -> Module:
        return self.requires_grad_(False)

    def unfreeze(self) -> Module:
        return self.requires_grad_(True)

    # ---- state ------------------------------------------------------------------------
    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Parameters and buffers as NumPy arrays (copies) under dotted names."""
        state: OrderedDict[str, np.ndarray] = OrderedDict()
        for name, p in self.named_parameters():
            state[name] = to_numpy(p.data).copy()
        for name, b in self.named_buffers():
            state[name] = to_numpy(b).copy()
        return state

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> None:
        """Copy arrays into parameters and buffers (keeping their dtype and device).

        ``strict``: the keys must match exactly. A shape mismatch is always an error that
        names the key and both shapes.
        """
        targets: dict[str, tuple[Module, str, str]] = {}
        for mod_name, module in self.named_modules():
            for kind, store in (("param", module._parameters), ("buffer", module._buffers)):
                for name in store:
                    key = f"{mod_name}.{name}" if mod_name else name
                    targets[key] = (module, kind, name)
        missing = [k for k in targets if k not in state]
        unexpected = [k for k in state if k not in targets]
        if strict and (missing or unexpected):
            raise KeyError(
                f"load_state_dict: keys do not match; missing {missing}, unexpected {unexpected}"
                " (pass strict=False to load the keys that match)"
            )
        for key, value in state.items():
            if key not in targets:
                continue
            module, kind, name = targets[key]
            value = value.data if isinstance(value, Tensor) else value
            current = module._parameters[name].data if kind == "param" else module._buffers[name]
            if tuple(value.shape) != tuple(current.shape):
                raise ShapeError(
                    f"load_state_dict: size mismatch for {key!r}: the model has shape "
                    f"{tuple(current.shape)}, the state has {tuple(value.shape)}"
                )
            xp = array_module(current)
            array = xp.asarray(to_numpy(value), dtype=current.dtype)
            if kind == "param":
                module._parameters[name].data = array.copy()
            else:
                module._set_buffer(name, array.copy())

    # ---- display ----------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not self._modules:
            return head + ")"
        lines = [head]
        for name, m in self._modules.items():
            body = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        return "\n".join(lines) + "\n)"
