"""Model configs: layers as JSON-able dicts and back, so a saved model rebuilds without pickle.

A layer's config is ``{"class": "Linear", "config": {"n_in": 2, "n_out": 4, ...}}``: its class
name in the registry and its constructor arguments (``layer.get_config()``). A class rebuilds
with ``cls.from_config(config)`` when it has one (``Sequential``), else ``cls(**config)``.
Register your own layers with ``@dlkit.nn.register`` and give them a ``get_config``.
"""

from __future__ import annotations

from typing import Any, TypeVar

from dlkit.nn.module import Module

M = TypeVar("M", bound=type)

LAYERS: dict[str, type[Module]] = {}


class UnknownLayerError(ValueError):
    """A config names a layer class that is not registered."""


def register(cls: Any = None, *, replace: bool = False) -> Any:
    """Class decorator: make ``cls`` buildable from a config under its class name.

    A name already registered by another class is an error (a saved config naming it would
    rebuild the wrong layer); ``@register(replace=True)`` replaces it on purpose."""

    def add(c: M) -> M:
        if not (isinstance(c, type) and issubclass(c, Module)):
            raise TypeError(f"register: expected a Module subclass, got {c!r}")
        old = LAYERS.get(c.__name__)
        same = old is not None and (old.__module__, old.__qualname__) == (c.__module__,
                                                                          c.__qualname__)
        if old is not None and old is not c and not same and not replace:
            raise ValueError(
                f"register: a layer named {c.__name__!r} is already registered "
                f"({old.__module__}.{old.__qualname__}); a config naming it would build the "
                f"wrong class: rename {c.__module__}.{c.__qualname__}, or pass "
                f"@register(replace=True) to replace it on purpose")
        LAYERS[c.__name__] = c
        return c

    return add(cls) if cls is not None else add


def to_config(module: Module) -> dict[str, Any]:
    """``{"class": name, "config": module.get_config()}``; a clear error when a module has no
    config (save such a model's weights with ``dlkit.io.save_weights``)."""
    name = type(module).__name__
    get_config = getattr(module, "get_config", None)
    if get_config is None:
        raise NotImplementedError(
            f"to_config: {name} has no get_config(); write one (constructor arguments as a "
            f"JSON-able dict) and decorate the class with @dlkit.nn.register, or save the "
            f"weights only with dlkit.io.save_weights"
        )
    if LAYERS.get(name) is not type(module):
        raise UnknownLayerError(
            f"to_config: {name} is not registered, so a saved config could not be rebuilt; "
            f"decorate the class with @dlkit.nn.register"
        )
    return {"class": name, "config": get_config()}


def module_from_config(config: dict[str, Any]) -> Module:
    """Build a module (with fresh weights) from a ``to_config`` dict."""
    if not isinstance(config, dict) or "class" not in config:
        raise ValueError(f"module_from_config: expected a dict with keys 'class' and 'config', "
                         f"got {config!r:.200}")
    name = config["class"]
    if name not in LAYERS:
        raise UnknownLayerError(
            f"module_from_config: unknown layer {name!r}; registered layers are "
            f"{sorted(LAYERS)} (register a custom layer with @dlkit.nn.register before loading)"
        )
    cls = LAYERS[name]
    kwargs = config.get("config", {})
    try:
        if hasattr(cls, "from_config"):
            return cls.from_config(kwargs)
        return cls(**kwargs)
    except TypeError as e:
        raise ValueError(f"module_from_config: cannot build {name} from {kwargs!r:.200}: {e}") \
            from e
