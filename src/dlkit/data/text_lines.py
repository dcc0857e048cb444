"""TextLineDataset: the lines of a text file as examples, read when asked for.

Opening indexes the byte offset of every line (one pass, in chunks), so a corpus bigger
than memory costs 8 bytes a line; ``ds[i]`` seeks and decodes line ``i``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dlkit.data.dataset import Dataset

_CHUNK = 1 << 22


class TextLineDataset(Dataset):
    """``ds[i]`` = line ``i`` of ``path`` (without its line break), or ``encode(line)``
    (e.g. a vocabulary's ``encode``, giving an int array: the loader pads such sequences into
    a ``PaddedSequence``). ``skip_empty`` leaves out blank lines."""

    def __init__(self, path: str | os.PathLike, encode: Callable[[str], Any] | None = None,
                 encoding: str = "utf-8", skip_empty: bool = True) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"TextLineDataset: no file {str(self.path)!r}")
        if encode is not None and not callable(encode):
            raise TypeError(f"TextLineDataset: expected encode a callable on a line, got "
                            f"{type(encode).__name__}")
        self.encode, self.encoding = encode, encoding
        self.starts, self.ends = self._index(skip_empty)
        self._file, self._pid = None, -1

    def _index(self, skip_empty: bool) -> tuple[np.ndarray, np.ndarray]:
        breaks, offset = [], 0
        with open(self.path, "rb") as f:
            while chunk := f.read(_CHUNK):
                breaks.append(np.flatnonzero(np.frombuffer(chunk, np.uint8) == 10) + offset)
                offset += len(chunk)
        ends = np.concatenate([*breaks, np.zeros(0, np.int64)]).astype(np.int64)
        if offset and (not len(ends) or ends[-1] != offset - 1):
            ends = np.append(ends, offset)  # a last line without a line break
        starts = np.concatenate([[0], ends[:-1] + 1]).astype(np.int64)[:len(ends)]
        if skip_empty:
            keep = ends - starts > 0
            with open(self.path, "rb") as f:  # lines of only "\r" or spaces count as blank
                for i in np.flatnonzero(keep & (ends - starts < 4)).tolist():
                    f.seek(starts[i])
                    if not f.read(ends[i] - starts[i]).strip():
                        keep[i] = False
            starts, ends = starts[keep], ends[keep]
        return starts, ends

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, index: int) -> Any:
        if self._pid != os.getpid():  # a forked worker opens its own file
            self._file, self._pid = open(self.path, "rb"), os.getpid()  # noqa: SIM115
        start, end = int(self.starts[index]), int(self.ends[index])
        self._file.seek(start)
        line = self._file.read(end - start).decode(self.encoding).rstrip("\r")
        return self.encode(line) if self.encode is not None else line

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_file": None, "_pid": -1}
