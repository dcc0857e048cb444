"""Checks of a file's contents before they are trusted: the safetensors header against the
file's length (before any array is allocated), the nesting depth of JSON, and a checksum of
the arrays.

A safetensors file is an 8-byte little-endian header length N, N bytes of JSON
``{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}``,
then the data. Every declared array must satisfy prod(shape) * itemsize == end - begin, lie
inside the data, and the arrays together must cover the data exactly.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

MAX_HEADER_BYTES = 100 * 1024 * 1024  # as the safetensors library itself
MAX_JSON_DEPTH = 100  # model configs and checkpoint trees nest far less
CHECKSUM = "dlkit.sha256"

ITEMSIZE = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "U16": 2, "I16": 2,
            "F16": 2, "BF16": 2, "U32": 4, "I32": 4, "F32": 4, "U64": 8, "I64": 8, "F64": 8}

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


class JSONDepthError(ValueError):
    """JSON nested deeper than ``MAX_JSON_DEPTH``."""


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in JSON ``text`` (strings skipped), found
    without parsing (so without recursion)."""
    depth = deepest = 0
    for bracket in _BRACKET.findall(_STRING.sub("", text)):
        if bracket in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def loads_bounded(text: str | bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` that refuses JSON nested deeper than ``max_depth`` (raising
    ``JSONDepthError``, a ``ValueError``) instead of recursing until ``RecursionError``."""
    if isinstance(text, (bytes, bytearray)):
        text = text.decode("utf-8")
    depth = json_depth(text)
    if depth > max_depth:
        raise JSONDepthError(f"JSON nested {depth} levels deep (at most {max_depth} allowed)")
    return json.loads(text)


def check_header(path: str) -> None:
    """Raise ``ValueError`` with the reason when the header of the safetensors file ``path``
    does not match the file: a header longer than the file, arrays whose declared shape and
    dtype need more bytes than their slice, slices outside the data, or gaps. Reads only
    the header."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise ValueError(f"the file holds {size} bytes, fewer than the 8-byte header length")
        n = int.from_bytes(head, "little")
        if n > size - 8 or n > MAX_HEADER_BYTES:
            raise ValueError(f"the header declares {n} bytes, the file holds {size - 8} after "
                             "the length")
        raw = f.read(n)
    try:
        header = loads_bounded(raw, max_depth=3)
    except (UnicodeDecodeError, ValueError) as e:
        raise ValueError(f"the header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise ValueError("the header is not a JSON object")
    metadata = header.get("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ValueError("the header's __metadata__ is not a map of strings")
    data = size - 8 - n
    spans = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        spans.append(_check_entry(name, info, data))
    covered = 0
    for begin, end, name in sorted(spans):
        if begin != covered:
            raise ValueError(f"array {name!r} starts at byte {begin} of the data, expected "
                             f"{covered} (arrays overlap or leave a gap)")
        covered = end
    if covered != data:
        raise ValueError(f"the arrays cover {covered} bytes of data, the file holds {data}")


def _check_entry(name: str, info: Any, data: int) -> tuple[int, int, str]:
    if not isinstance(info, dict):
        raise ValueError(f"array {name!r}: its header entry is not an object")
    dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if dtype not in ITEMSIZE:
        raise ValueError(f"array {name!r}: unknown dtype {dtype!r}")
    if not isinstance(shape, list) or not all(_natural(d) for d in shape):
        raise ValueError(f"array {name!r}: invalid shape {shape!r}")
    if (not isinstance(offsets, list) or len(offsets) != 2 or not all(map(_natural, offsets))
            or offsets[0] > offsets[1]):
        raise ValueError(f"array {name!r}: invalid data_offsets {offsets!r}")
    begin, end = offsets
    need = math.prod(shape) * ITEMSIZE[dtype]
    if need != end - begin:
        raise ValueError(f"array {name!r} declares shape {tuple(shape)} of {dtype} "
                         f"({need} bytes) but its slice holds {end - begin} bytes")
    if end > data:
        raise ValueError(f"array {name!r} ends at byte {end} of the data, the file holds "
                         f"{data} bytes of data")
    return begin, end, name


def _natural(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def checksum(arrays: Mapping[str, np.ndarray]) -> str:
    """SHA-256 (hex) of named arrays: for each name in sorted order, its name, dtype, shape
    and bytes. Equal for the arrays written and the arrays read back, whatever the layout."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.asarray(arrays[name])
        a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<"))
        h.update(f"{name}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(memoryview(a.reshape(-1)).cast("B"))
    return h.hexdigest()
