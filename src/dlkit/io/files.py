"""Safetensors files on disk: atomic writes, and reads that name the file when they fail.

Writes go to ``.NAME.PID.XXXX.tmp`` next to the file, then ``os.replace``; a crash between the
two leaves that temporary, which the next write to the same path removes (when its process is
gone, or it is older than an hour). dlkit's safetensors files carry a SHA-256 of their arrays
in the metadata (``"dlkit.sha256"``), checked on read; the header is checked against the file's
length before any array is allocated.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Mapping
from typing import IO, Any

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save as _serialize

from dlkit.backend import to_numpy
from dlkit.io.validate import CHECKSUM, check_header, checksum

PathLike = str | os.PathLike
CHUNK = 1 << 20
STALE_AFTER_S = 3600.0  # a temporary this old is left over, whoever made it


class CorruptFileError(ValueError):
    """A file that exists but is not a valid dlkit/safetensors file (truncated, corrupt)."""


def _write_all(f: IO[bytes], data: bytes) -> None:
    """Write ``data`` in 1 MiB chunks (a crash can stop it midway)."""
    view = memoryview(data)
    for start in range(0, len(view), CHUNK):
        f.write(view[start:start + CHUNK])


def _fsync_folder(folder: str) -> None:
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: PathLike, data: bytes, func: str = "save") -> None:
    """Write to a temporary file in the same folder, fsync it, then ``os.replace`` it onto
    ``path``: readers see the old file or the new one, never a part of one."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{func}: the folder {folder!r} of {path!r} does not exist")
    remove_stale_temporaries(path)
    # a replaced file keeps its permissions; a new one gets rw-r--r-- (mkstemp makes rw-------)
    mode = os.stat(path).st_mode & 0o777 if os.path.isfile(path) else 0o644
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.{os.getpid()}.",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            _write_all(f, data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's live process (or no way to tell): leave its file
    return True


def remove_stale_temporaries(path: PathLike) -> list[str]:
    """Remove the temporaries that interrupted atomic writes to ``path`` left behind: those
    whose writing process has ended, and any older than an hour. Returns their paths."""
    path = os.path.abspath(os.fspath(path))
    folder, base = os.path.split(path)
    prefix = f".{base}."
    removed = []
    try:
        names = [n for n in os.listdir(folder) if n.startswith(prefix) and n.endswith(".tmp")]
    except OSError:
        return removed
    now = time.time()
    for name in names:
        pid_text = name[len(prefix):].split(".", 1)[0]
        tmp = os.path.join(folder, name)
        try:
            old = now - os.stat(tmp).st_mtime > STALE_AFTER_S
        except OSError:
            continue
        ended = pid_text.isdigit() and int(pid_text) != os.getpid() and \
            not _pid_alive(int(pid_text))
        if old or ended:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
                removed.append(tmp)
    return removed


def write_safetensors(path: PathLike, tensors: Mapping[str, Any], metadata: dict[str, str],
                      func: str = "save") -> None:
    """Serialize NumPy (or CuPy) arrays with string ``metadata`` and write them atomically.
    Arrays keep their dtype; a SHA-256 of the arrays is added to the metadata."""
    arrays: dict[str, np.ndarray] = {}
    for name, value in tensors.items():
        a = np.ascontiguousarray(to_numpy(value))
        if a.dtype.kind not in "biuf":
            raise TypeError(f"{func}: array {name!r} has dtype {a.dtype}; safetensors files "
                            "hold bool, integer and float arrays")
        arrays[name] = a
    metadata = {**metadata, CHECKSUM: checksum(arrays)}
    atomic_write_bytes(path, _serialize(arrays, metadata=metadata), func)


def read_safetensors(path: PathLike, func: str = "load") -> tuple[dict[str, np.ndarray],
                                                                    dict[str, str]]:
    """All arrays and the metadata of a safetensors file. A missing file raises
    ``FileNotFoundError``; an unreadable one ``CorruptFileError``; both name the path.

    The header is checked against the file's length before any array is read, and the arrays
    against the file's checksum when it has one (files of older versions have none)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{func}: no such file: {path!r}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{func}: {path!r} is a folder, expected a .safetensors file")
    try:
        check_header(path)
        with safe_open(path, framework="numpy") as f:
            metadata = f.metadata() or {}
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except Exception as e:  # safetensors raises its own SafetensorError for bad headers
        raise CorruptFileError(
            f"{func}: {path!r} is not a valid dlkit/safetensors file (truncated or corrupt?): {e}"
        ) from e
    expected = metadata.get(CHECKSUM)
    if expected is not None and checksum(tensors) != expected:
        raise CorruptFileError(
            f"{func}: {path!r} is corrupt: its arrays do not match the checksum stored in the "
            "file (changed on disk after it was written); restore it from a copy or retrain"
        )
    return tensors, metadata
