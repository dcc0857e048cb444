"""Files that lie: declared sizes larger than the file, deep JSON, bit flips, and the
temporaries a crash leaves behind."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

import dlkit as dl
from dlkit import io, nn

SRC = str(Path(dl.__file__).resolve().parents[1])


def _model():
    dl.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))


def _raw_file(path: Path, header: dict, data: bytes = b"") -> None:
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)


def _linear_config(n_in: int, n_out: int) -> str:
    return json.dumps({"class": "Linear", "config": {"n_in": n_in, "n_out": n_out,
                                                     "bias": True, "dtype": "float32",
                                                     "init": "he"}})


# ---- declared sizes against the file -----------------------------------------------------


def test_a_small_file_whose_config_declares_a_huge_layer_allocates_nothing_big(tmp_path):
    path = tmp_path / "huge.safetensors"
    save_file({"weight": np.zeros((2, 2), np.float32), "bias": np.zeros(2, np.float32)},
              str(path), metadata={"dlkit.kind": "model",
                                   "dlkit.config": _linear_config(50_000, 50_000)})
    assert path.stat().st_size < 400
    tracemalloc.start()
    try:
        with pytest.raises(io.CorruptFileError, match="huge.safetensors.*more weights"):
            io.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5 * 2**20  # a 50,000 x 50,000 layer would be 10 GB


def test_a_config_matching_its_arrays_still_loads_and_keeps_the_rng(tmp_path):
    path = tmp_path / "m.safetensors"
    model = _model()
    io.save(model, path)
    dl.manual_seed(3)
    state = dl.get_rng_state()
    loaded = io.load(path)
    assert dl.get_rng_state() == state
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[k], v)


@pytest.mark.parametrize("entry, reason", [
    ({"dtype": "F32", "shape": [100_000, 100_000], "data_offsets": [0, 40_000_000_000]},
     "ends at byte 40000000000"),
    ({"dtype": "F32", "shape": [100_000, 100_000], "data_offsets": [0, 16]},
     r"declares shape \(100000, 100000\) of F32 \(40000000000 bytes\)"),
    ({"dtype": "F99", "shape": [2, 2], "data_offsets": [0, 16]}, "unknown dtype"),
    ({"dtype": "F32", "shape": [-2, -2], "data_offsets": [0, 16]}, "invalid shape"),
    ({"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "cover 8 bytes of data"),
])
def test_declared_arrays_are_checked_against_the_file_length(tmp_path, entry, reason):
    path = tmp_path / "w.safetensors"
    _raw_file(path, {"__metadata__": {"dlkit.kind": "weights"}, "weight": entry}, b"\0" * 16)
    for call in (lambda: io.load_weights(nn.Linear(2, 2, bias=False), path),
                 lambda: io.read_checkpoint(path), lambda: io.load(path)):
        with pytest.raises(io.CorruptFileError, match=f"w.safetensors.*{reason}"):
            call()


def test_a_header_longer_than_the_file_is_refused(tmp_path):
    path = tmp_path / "h.safetensors"
    path.write_bytes(struct.pack("<Q", 10**12) + b"{}")
    with pytest.raises(io.CorruptFileError, match="header declares 1000000000000 bytes"):
        io.load(path)


# ---- nesting depth ------------------------------------------------------------------------


def test_a_deeply_nested_config_is_corrupt_not_a_recursion_error(tmp_path):
    path = tmp_path / "deep.safetensors"
    deep = '{"class": "Sequential", "config": {"layers": ' + "[" * 100_000 + "]" * 100_000 + "}}"
    save_file({"w": np.zeros(1, np.float32)}, str(path),
              metadata={"dlkit.kind": "model", "dlkit.config": deep})
    with pytest.raises(io.CorruptFileError, match="deep.safetensors.*nested 100002 levels"):
        io.load(path)


def test_models_nested_well_within_the_bound_still_load(tmp_path):
    path = tmp_path / "nested.safetensors"
    model = nn.Linear(1, 1)
    for _ in range(30):  # JSON about 92 levels deep
        model = nn.Sequential(model)
    io.save(model, path)
    assert isinstance(io.load(path), nn.Sequential)


def test_a_deeply_nested_checkpoint_is_corrupt(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    deep = "[" * 50_000 + "]" * 50_000
    save_file({"x": np.zeros(1)}, str(path),
              metadata={"dlkit.kind": "checkpoint", "dlkit.checkpoint": deep})
    with pytest.raises(io.CorruptFileError, match="ckpt.safetensors.*nested"):
        io.read_checkpoint(path)


# ---- checksum -----------------------------------------------------------------------------


def _flip_last_data_bit(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01  # inside the last array: the file stays well-formed
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("writer", ["save", "save_weights", "save_checkpoint"])
def test_a_bit_flipped_file_is_corrupt_and_names_the_file(tmp_path, writer):
    model = _model()
    path = tmp_path / "model.safetensors"
    {"save": lambda: io.save(model, path),
     "save_weights": lambda: io.save_weights(model, path),
     "save_checkpoint": lambda: io.save_checkpoint(path, model, None, epoch=1, step=1)}[writer]()
    with safe_open(str(path), framework="numpy") as f:
        assert len(f.metadata()["dlkit.sha256"]) == 64
    io.load_weights(_model(), path)
    _flip_last_data_bit(path)
    with safe_open(str(path), framework="numpy") as f:  # still a valid safetensors file
        assert set(f.keys())
    with pytest.raises(io.CorruptFileError, match="model.safetensors.*checksum"):
        io.load_weights(_model(), path)
    if writer != "save_weights":
        with pytest.raises(io.CorruptFileError, match="model.safetensors.*checksum"):
            io.load(path)


def test_files_without_a_checksum_from_older_versions_still_load(tmp_path):
    model = _model()
    path = tmp_path / "old.safetensors"
    save_file({k: np.ascontiguousarray(v) for k, v in model.state_dict().items()}, str(path),
              metadata={"dlkit.kind": "model", "dlkit.format_version": "1",
                        "dlkit.config": json.dumps(nn.to_config(model))})
    loaded = io.load(path)
    np.testing.assert_array_equal(loaded[0].weight.data, model[0].weight.data)


def test_the_checksum_does_not_depend_on_array_order_or_layout():
    from dlkit.io.validate import checksum
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert checksum({"a": a, "b": a.T}) == checksum({"b": np.ascontiguousarray(a.T), "a": a})
    assert checksum({"a": a}) != checksum({"a": a.reshape(3, 2)})
    assert checksum({"a": a}) != checksum({"a": a.astype(np.float64)})


# ---- temporaries left by a crash ----------------------------------------------------------

_CRASH = """
import os, signal, sys
sys.path.insert(0, {src!r})
import dlkit as dl
dl.manual_seed(0)
model = dl.nn.Linear(3, 2)
os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)  # die between write and rename
dl.io.save(model, {path!r})
"""


def test_a_crash_between_write_and_rename_leaves_a_temporary_the_next_save_removes(tmp_path):
    path = tmp_path / "model.safetensors"
    io.save(_model(), path)
    before = path.read_bytes()
    proc = subprocess.run([sys.executable, "-c", _CRASH.format(src=SRC, path=str(path))],
                          timeout=60)
    assert proc.returncode == -9
    left = [n for n in os.listdir(tmp_path) if n != "model.safetensors"]
    assert len(left) == 1 and left[0].startswith(".model.safetensors.")
    assert path.read_bytes() == before  # the old file is intact
    io.save(_model(), path)
    assert os.listdir(tmp_path) == ["model.safetensors"]


def test_only_stale_temporaries_are_removed(tmp_path):
    from dlkit.io.files import remove_stale_temporaries
    path = tmp_path / "ckpt.safetensors"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = tmp_path / f".ckpt.safetensors.{sleeper.pid}.abcd.tmp"  # a write in progress
        old = tmp_path / ".ckpt.safetensors.k3j2h1.tmp"  # an older version's name, 2 h old
        other = tmp_path / ".other.safetensors.1.abcd.tmp"  # another file's temporary
        for p in (live, old, other):
            p.write_bytes(b"x")
        two_hours_ago = time.time() - 7200
        os.utime(old, (two_hours_ago, two_hours_ago))
        removed = remove_stale_temporaries(path)
        assert removed == [str(old)]
        assert live.exists() and other.exists()
    finally:
        sleeper.kill()
        sleeper.wait()
    assert remove_stale_temporaries(path) == [str(live)]  # its process has ended
