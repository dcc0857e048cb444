"""Worker processes: same batches bit for bit with 0, 1, 2 workers, order, errors naming the
example and carrying the worker's traceback, clean shutdown, no orphans."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import dlkit as dl
from dlkit.backend import generator
from dlkit.data import (
    Compose,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomCrop,
    RandomHorizontalFlip,
    get_worker_info,
)
from dlkit.data.workers import WorkerError, _layout, _split

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX shared memory")
SRC = str(Path(__file__).resolve().parents[2] / "src")


class NoisyImages(Dataset):
    """Images with per-example random noise drawn from the dlkit generator (augmentation
    inside the dataset), labels, and a string field."""

    def __len__(self) -> int:
        return 45

    def __getitem__(self, i: int):
        x = np.full((6, 6, 3), i, dtype=np.float32)
        x += generator().standard_normal(x.shape).astype(np.float32)
        return x, i, f"img{i}"


class FailsAt(Dataset):
    def __init__(self, bad: int) -> None:
        self.bad = bad

    def __len__(self) -> int:
        return 200

    def __getitem__(self, i: int):
        if i == self.bad:
            raise ValueError(f"cannot decode record {i}")
        return np.zeros(3, dtype=np.float32)


def _epochs(num_workers: int, n_epochs: int = 2):
    dl.manual_seed(11)
    augment = Compose([RandomCrop(4, padding=1), RandomHorizontalFlip()])
    loader = DataLoader(NoisyImages(), batch_size=8, transform=augment, num_workers=num_workers,
                        prefetch=2)
    out = [[(x.numpy(), y.numpy(), names) for x, y, names in loader] for _ in range(n_epochs)]
    return out, generator().random()


def test_zero_one_two_workers_give_the_same_batches_bit_for_bit():
    ref, ref_next = _epochs(0)
    assert len(ref[0]) == 6 and ref[0][0][0].shape == (8, 4, 4, 3)
    assert not np.array_equal(ref[0][0][0], ref[1][0][0])  # a new epoch, new draws
    for workers in (1, 2):
        got, got_next = _epochs(workers)
        assert got_next == ref_next  # the main generator moved the same way
        for epoch_ref, epoch_got in zip(ref, got):
            assert len(epoch_ref) == len(epoch_got)
            for (x0, y0, n0), (x1, y1, n1) in zip(epoch_ref, epoch_got):
                assert np.array_equal(x0, x1) and np.array_equal(y0, y1) and n0 == n1
                assert n1 == [f"img{i}" for i in y1]  # order within and across batches kept


def test_a_worker_error_names_example_137_and_carries_its_traceback():
    loader = DataLoader(FailsAt(137), batch_size=16, shuffle=True, num_workers=2)
    with pytest.raises(ValueError) as info:
        for _ in loader:
            pass
    msg = str(info.value)
    assert "example 137" in msg and "cannot decode record 137" in msg
    assert "Worker traceback" in msg and "__getitem__" in msg
    assert multiprocessing.active_children() == []


def _shm_names() -> set[str]:
    return {n for n in os.listdir("/dev/shm") if n.startswith("psm_")} \
        if os.path.isdir("/dev/shm") else set()


def test_break_and_exceptions_in_the_loop_stop_the_workers_and_free_shared_memory():
    before = _shm_names()
    for _ in range(3):  # workers stopped while busy must still unlink their slots
        loader = DataLoader(FailsAt(-1), batch_size=10, num_workers=2)
        for _ in loader:
            break
        assert multiprocessing.active_children() == []
        with pytest.raises(KeyboardInterrupt):
            for _ in loader:
                raise KeyboardInterrupt
        assert multiprocessing.active_children() == []
    assert _shm_names() - before == set()


class KillsItsWorker(Dataset):
    def __len__(self) -> int:
        return 40

    def __getitem__(self, i: int):
        if i == 25:
            os.kill(os.getpid(), signal.SIGKILL)
        return np.zeros(2)


def test_a_dead_worker_raises_instead_of_hanging():
    with pytest.raises(WorkerError, match="exited unexpectedly"):
        list(DataLoader(KillsItsWorker(), batch_size=5, shuffle=False, num_workers=2))
    assert multiprocessing.active_children() == []


def test_batches_travel_as_a_small_description_plus_shared_memory():
    batch = (np.zeros((64, 32, 32, 3), np.float32), np.arange(64), ["a"] * 64)
    arrays: list = []
    meta = _split(batch, arrays)
    layout, size = _layout(arrays)
    assert len(arrays) == 2 and size >= arrays[0].nbytes + arrays[1].nbytes
    assert len(pickle.dumps((meta, layout))) < 2000  # not the 786 kB of pixels


def test_killing_the_main_process_leaves_no_workers(tmp_path):
    script = textwrap.dedent(f"""
        import sys, time, multiprocessing
        sys.path.insert(0, {SRC!r})
        import numpy as np
        from dlkit.data import DataLoader, Dataset

        class Slow(Dataset):
            def __len__(self):
                return 10_000
            def __getitem__(self, i):
                time.sleep(0.01)
                return np.zeros(4)

        it = iter(DataLoader(Slow(), batch_size=4, num_workers=2))
        next(it)
        print(" ".join(str(p.pid) for p in multiprocessing.active_children()), flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(p) for p in proc.stdout.readline().split()]
        assert len(pids) >= 2
        proc.kill()
        proc.wait(timeout=10)
        deadline = time.time() + 10
        alive = pids
        while alive and time.time() < deadline:
            alive = [p for p in pids if _running(p)]
            time.sleep(0.1)
        assert alive == [], f"workers {alive} outlived the main process"
    finally:
        proc.kill()
        proc.stdout.close()


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            state = next(line for line in f if line.startswith("State:"))
        return "Z" not in state.split()[1]
    except (FileNotFoundError, ProcessLookupError, StopIteration):
        return False


def test_persistent_workers_serve_every_epoch_and_stop_on_close():
    ref, _ = _epochs(2)
    dl.manual_seed(11)
    augment = Compose([RandomCrop(4, padding=1), RandomHorizontalFlip()])
    loader = DataLoader(NoisyImages(), batch_size=8, transform=augment, num_workers=2,
                        persistent_workers=True)
    epochs, pids = [], []
    for _ in range(2):
        epochs.append([(x.numpy(), y.numpy()) for x, y, _ in loader])
        pids.append(sorted(p.pid for p in multiprocessing.active_children()))
    assert len(pids[0]) == 2 and pids[0] == pids[1]  # the same processes served both epochs
    for epoch_ref, epoch_got in zip(ref, epochs):
        for (x0, y0, _), (x1, y1) in zip(epoch_ref, epoch_got):
            assert np.array_equal(x0, x1) and np.array_equal(y0, y1)
    loader.close()
    assert multiprocessing.active_children() == []


def test_spawned_workers_read_a_picklable_memmap_dataset(tmp_path):
    """"spawn" (macOS and Windows' default) pickles the dataset: a memmap travels as its file."""
    from dlkit.data import ArrayDataset
    np.save(tmp_path / "x.npy", np.arange(240, dtype=np.float32).reshape(60, 2, 2, 1))
    ds = ArrayDataset(np.load(tmp_path / "x.npy", mmap_mode="r"), np.arange(60))
    runs = []
    for workers, context in ((0, None), (2, "spawn")):
        dl.manual_seed(0)
        runs.append([x.numpy() for x, _ in DataLoader(ds, batch_size=16, num_workers=workers,
                                                      transform=RandomHorizontalFlip(),
                                                      multiprocessing_context=context)])
    assert len(runs[1]) == 4
    assert all(np.array_equal(a, b) for a, b in zip(*runs))


def test_ctrl_c_while_waiting_for_a_worker_stops_everything(tmp_path):
    script = textwrap.dedent(f"""
        import sys, time, multiprocessing
        sys.path.insert(0, {SRC!r})
        import numpy as np
        from dlkit.data import DataLoader, Dataset

        class Slow(Dataset):
            def __len__(self):
                return 100
            def __getitem__(self, i):
                time.sleep(0.5 if i >= 4 else 0)
                return np.zeros(4)

        it = iter(DataLoader(Slow(), batch_size=4, shuffle=False, num_workers=2))
        next(it)
        print(" ".join(str(p.pid) for p in multiprocessing.active_children()), flush=True)
        try:
            next(it)
        except KeyboardInterrupt:
            it.close()
            print("interrupted", len(multiprocessing.active_children()), flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        pids = [int(p) for p in proc.stdout.readline().split()]
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
        assert out.strip() == "interrupted 0", (out, err)
        assert "Traceback" not in err  # the workers ignore the interrupt: no noise from them
        assert not [p for p in pids if _running(p)]
    finally:
        proc.kill()
        proc.communicate()


def test_a_full_shared_memory_falls_back_to_pickling_not_a_crash(monkeypatch):
    """A full /dev/shm (small in containers) fails when the slot's space is reserved: the
    batch then travels pickled instead of the worker dying of SIGBUS."""
    def no_space(fd, offset, length):
        raise OSError(28, "No space left on device")

    before = _shm_names()
    monkeypatch.setattr(os, "posix_fallocate", no_space, raising=False)
    ref, _ = _epochs(0, n_epochs=1)
    got, _ = _epochs(2, n_epochs=1)
    for (x0, y0, _), (x1, y1, _) in zip(ref[0], got[0]):
        assert np.array_equal(x0, x1) and np.array_equal(y0, y1)
    assert _shm_names() - before == set()


def test_an_unshuffled_pass_leaves_the_generator_alone_and_still_repeats():
    runs = []
    for workers in (0, 2):
        dl.manual_seed(21)
        loader = DataLoader(NoisyImages(), batch_size=16, shuffle=False, num_workers=workers)
        runs.append([x.numpy() for x, _, _ in loader])
        assert generator().random() == _fresh_draw(21)  # no draw was taken
    assert all(np.array_equal(a, b) for a, b in zip(*runs))


def _fresh_draw(seed: int) -> float:
    dl.manual_seed(seed)
    return generator().random()


class ShardedStream(IterableDataset):
    """Examples 0..n-1, each worker taking every num_workers-th (PyTorch's sharding idiom)."""

    def __init__(self, n: int, fail_at: int = -1) -> None:
        self.n, self.fail_at = n, fail_at

    def __iter__(self):
        info = get_worker_info()
        wid, count = (info.id, info.num_workers) if info else (0, 1)
        for i in range(wid, self.n, count):
            if i == self.fail_at:
                raise ValueError(f"broken record {i}")
            yield np.full(2, i, np.float32), i


def test_streams_are_sharded_across_workers_and_taken_in_turn():
    for workers in (0, 1, 2, 3):
        batches = [y.numpy().tolist() for _, y in DataLoader(ShardedStream(23), batch_size=4,
                                                              num_workers=workers)]
        seen = sorted(i for b in batches for i in b)
        assert seen == list(range(23)), workers
        if workers == 2:  # worker 0 gives 0, 2, 4, 6; worker 1 gives 1, 3, 5, 7; ...
            assert batches[:2] == [[0, 2, 4, 6], [1, 3, 5, 7]]
            assert batches[-2:] == [[16, 18, 20, 22], [17, 19, 21]]
    assert multiprocessing.active_children() == []
    with pytest.raises(ValueError, match=r"failed in worker 1 while reading the stream: .*"
                                         r"broken record 7"):
        list(DataLoader(ShardedStream(23, fail_at=7), batch_size=4, num_workers=2))
    assert get_worker_info() is None


class Stalls(Dataset):
    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int):
        if i == 5:
            time.sleep(30)
        if i == 2:
            raise KeyError("missing field 'label'")
        return np.zeros(2)


def test_timeouts_and_exceptions_without_a_message_constructor():
    with pytest.raises(WorkerError, match=r"no batch from the workers in 0.5 s"):
        list(DataLoader(Stalls(), batch_size=1, shuffle=False, num_workers=1, timeout=0.5,
                        sampler=[5]))
    with pytest.raises(WorkerError, match=r"example 2 failed in worker 0 while loading: "
                                          r"KeyError: .*missing field"):
        list(DataLoader(Stalls(), batch_size=2, shuffle=False, num_workers=1))
    assert multiprocessing.active_children() == []
