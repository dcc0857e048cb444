"""CSVLogger: one row per epoch (epoch and every logged value), written as training goes."""

from __future__ import annotations

import csv
import os
from typing import IO, Any

from dlkit.train.callbacks.base import Callback


class CSVLogger(Callback):
    """Writes ``epoch`` (counted from 0) and the logs of each epoch to ``path``; the header
    comes from the first epoch's keys. With ``append`` an existing file is continued under its
    own header (resuming a run); otherwise it is overwritten. Rows are flushed as written.
    ``History.from_csv`` reads the file back."""

    def __init__(self, path: str | os.PathLike, separator: str = ",", append: bool = False) -> None:
        self.path, self.separator, self.append = os.fspath(path), separator, append
        self._file: IO[str] | None = None
        self._writer: Any = None
        self.columns: list[str] | None = None

    def on_train_begin(self, logs: dict[str, float]) -> None:
        self.columns = None
        if self.append and os.path.isfile(self.path) and os.path.getsize(self.path) > 0:
            with open(self.path, newline="") as f:
                self.columns = next(csv.reader(f, delimiter=self.separator), None)
            self._file = open(self.path, "a", newline="")  # closed in on_train_end
        else:
            self._file = open(self.path, "w", newline="")
        self._writer = csv.writer(self._file, delimiter=self.separator, lineterminator="\n")

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if self._file is None:
            raise RuntimeError("CSVLogger: on_epoch_end before on_train_begin (is it passed "
                               "to fit's callbacks?)")
        if self.columns is None:
            self.columns = ["epoch", *logs]
            self._writer.writerow(self.columns)
        row = {"epoch": epoch, **logs}
        self._writer.writerow([_cell(row.get(k, "")) for k in self.columns])
        self._file.flush()

    def on_train_end(self, logs: dict[str, float]) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _cell(value: Any) -> str:
    """Floats in full precision (repr), so the file reads back exactly."""
    return repr(float(value)) if isinstance(value, float) else str(value)
