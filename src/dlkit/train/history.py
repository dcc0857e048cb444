"""History: per-epoch lists of the logged values, as Keras' ``model.fit`` returns."""

from __future__ import annotations

import csv
import io
import math
import os
from collections import defaultdict

from dlkit.io.files import atomic_write_bytes


class History:
    """``history["loss"]`` is the list of epoch losses; ``epochs`` the epoch indices (from 0,
    or from ``initial_epoch`` of a resumed fit)."""

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = defaultdict(list)
        self.epochs: list[int] = []

    def append(self, epoch: int, logs: dict[str, float]) -> None:
        self.epochs.append(epoch)
        for k, v in logs.items():
            self.history[k].append(float(v))

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def __contains__(self, key: str) -> bool:
        return key in self.history

    def __len__(self) -> int:
        return len(self.epochs)

    def keys(self) -> list[str]:
        return list(self.history)

    def to_csv(self, path: str | os.PathLike) -> None:
        """Write ``epoch`` and every key, one row per epoch (floats in full precision);
        the same layout as ``CSVLogger``. The write is atomic."""
        keys = self.keys()
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["epoch", *keys])
        for i, epoch in enumerate(self.epochs):
            values = self.history
            writer.writerow([epoch, *(repr(values[k][i]) if i < len(values[k]) else ""
                                      for k in keys)])
        atomic_write_bytes(path, out.getvalue().encode(), "History.to_csv")

    @classmethod
    def from_csv(cls, path: str | os.PathLike, separator: str = ",") -> History:
        """Read a file written by ``to_csv`` or ``CSVLogger``; empty cells become NaN."""
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"History.from_csv: no such file: {path!r}")
        with open(path, newline="") as f:
            rows = list(csv.reader(f, delimiter=separator))
        if not rows or not rows[0] or rows[0][0] != "epoch":
            raise ValueError(f"History.from_csv: {path!r} has no header starting with 'epoch' "
                             f"(got {rows[0] if rows else 'an empty file'})")
        header, history = rows[0], cls()
        for line, row in enumerate(rows[1:], start=2):
            if len(row) != len(header):
                raise ValueError(f"History.from_csv: {path!r} line {line} has {len(row)} cells, "
                                 f"the header has {len(header)}")
            try:
                logs = {k: float(v) if v != "" else math.nan for k, v in zip(header[1:], row[1:])}
                history.append(int(row[0]), logs)
            except ValueError as e:
                raise ValueError(f"History.from_csv: {path!r} line {line}: {e}") from e
        return history

    def __repr__(self) -> str:
        last = {k: round(v[-1], 4) for k, v in self.history.items() if v}
        return f"History(epochs={len(self.epochs)}, last={last})"
