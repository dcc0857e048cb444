"""How many threads dlkit's matrix products use, as ``torch.set_num_threads``.

dlkit's heavy work is NumPy's BLAS (OpenBLAS in NumPy's wheels); its element-wise passes run
on one core. ``set_num_threads`` sets the BLAS's thread count for the whole process (the same
as ``OPENBLAS_NUM_THREADS`` before start-up, or threadpoolctl's limit). Measured on 2 cores
(docs/performance.md): a second thread speeds up the products when the machine is otherwise
idle, and slows the whole step down when other work keeps the cores busy, because OpenBLAS's
idle threads spin between products; on a shared machine, 1 is the safer setting.
"""

from __future__ import annotations

from dlkit.ops import gemm


def set_num_threads(n: int) -> None:
    """Use ``n`` >= 1 threads in the BLAS behind NumPy's matrix products."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected an int >= 1, got {n!r}")
    setter = gemm._THREADS.get("set_threads")
    if setter is not None:
        setter(n)
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        raise RuntimeError(
            "set_num_threads: NumPy's BLAS was not found and threadpoolctl is not installed; "
            "set OPENBLAS_NUM_THREADS (or MKL_NUM_THREADS) before starting Python, or "
            "pip install threadpoolctl") from None
    threadpool_limits(limits=n, user_api="blas")


def get_num_threads() -> int:
    """The number of threads the BLAS behind NumPy's matrix products uses."""
    getter = gemm._THREADS.get("get_threads")
    if getter is not None:
        return int(getter())
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        raise RuntimeError("get_num_threads: NumPy's BLAS was not found and threadpoolctl is "
                           "not installed (pip install threadpoolctl)") from None
    counts = [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]
    return max(counts, default=1)
