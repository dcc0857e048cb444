"""History: per-epoch lists of the logged values, as Keras' ``model.fit`` returns."""

from __future__ import annotations

from collections import defaultdict


class History:
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

    def keys(self) -> list[str]:
        return list(self.history)

    def __repr__(self) -> str:
        last = {k: round(v[-1], 4) for k, v in self.history.items() if v}
        return f"History(epochs={len(self.epochs)}, last={last})"
