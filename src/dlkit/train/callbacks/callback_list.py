"""CallbackList: every hook of every callback, dispatched in one place, in ``order``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from dlkit.train.callbacks.base import Callback
from dlkit.train.callbacks.progress_bar import ProgressBar


class CallbackList:
    """The callbacks of one ``fit``, sorted by their ``order`` (stable; ``ProgressBar`` first,
    ``ModelCheckpoint`` last), each given the ``trainer``. ``verbose`` adds a ``ProgressBar``
    unless one is there. Each hook method calls that hook of every callback."""

    def __init__(self, callbacks: Iterable[Callback], trainer: Any = None,
                 verbose: int = 0) -> None:
        items = list(callbacks)
        for cb in items:
            if not isinstance(cb, Callback) and not hasattr(cb, "on_epoch_end"):
                raise TypeError(f"fit: expected callbacks (dlkit.train.Callback), got "
                                f"{type(cb).__name__}")
        if verbose and not any(isinstance(cb, ProgressBar) for cb in items):
            items.append(ProgressBar())
        items.sort(key=lambda cb: getattr(cb, "order", 0))
        self.callbacks = items
        if trainer is not None:
            self.set_trainer(trainer)

    def set_trainer(self, trainer: Any) -> None:
        for cb in self.callbacks:
            cb.trainer = trainer

    def __iter__(self) -> Iterator[Callback]:
        return iter(self.callbacks)

    def __len__(self) -> int:
        return len(self.callbacks)

    def _call(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            method = getattr(cb, hook, None)
            if method is not None:
                method(*args)

    def on_train_begin(self, logs: dict[str, float]) -> None:
        self._call("on_train_begin", logs)

    def on_epoch_begin(self, epoch: int, logs: dict[str, float]) -> None:
        self._call("on_epoch_begin", epoch, logs)

    def on_batch_begin(self, batch: int, logs: dict[str, float]) -> None:
        self._call("on_batch_begin", batch, logs)

    def on_batch_end(self, batch: int, logs: dict[str, float]) -> None:
        self._call("on_batch_end", batch, logs)

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        self._call("on_epoch_end", epoch, logs)

    def on_train_end(self, logs: dict[str, float]) -> None:
        self._call("on_train_end", logs)
