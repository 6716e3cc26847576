"""Parallel loops over serial, nogil Numba kernels, run by a pool of Python threads.

Why not Numba's prange: the threading layer a plain `pip install numba` gives (GNU OpenMP) kills any child
forked after its first use (a torch DataLoader's fork workers, multiprocessing), "workqueue" aborts the
process when two Python threads enter parallel code at once, and both hand out work statically, so with one
core busy elsewhere (a training loop) two threads ran 5x slower than one.  Here every kernel is a plain
`@njit(cache=True, nogil=True)` function over a range of work items; this module hands consecutive chunks of
the range to threads as they free up.  The threads live for one call only, so nothing is left running at a
later fork; any number of callers may run at once; and a thread slowed by a busy core simply takes fewer
chunks.  Kernels also compile faster without parallel=True.

Results are combined in chunk order, never in completion order, so they are bit-identical for every thread
count.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from typing import Callable

_lock = threading.Lock()
_process_default: int | None = None
_local = threading.local()


def _initial_threads() -> int:
    # NUMBA_NUM_THREADS is what Dask nannies and users already set to bound kernel threads
    for name in ("RICCI_FAST_NUM_THREADS", "NUMBA_NUM_THREADS"):
        value = os.environ.get(name)
        if value:
            try:
                n = int(value)
            except ValueError:
                raise ValueError(f"environment variable {name}={value!r} must be a positive integer.") from None
            if n >= 1:
                return n
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _check_threads(n, name: str = "n_threads") -> int:
    import numbers

    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or int(n) < 1:
        raise ValueError(f"{name} must be a positive integer, got {n!r}.")
    return int(n)


def get_num_threads() -> int:
    """Threads the kernels use: the innermost `num_threads` block of this thread, else the process
    default (set_num_threads, else RICCI_FAST_NUM_THREADS or NUMBA_NUM_THREADS, else the usable cores)."""
    override = getattr(_local, "n_threads", None)
    if override is not None:
        return override
    global _process_default
    if _process_default is None:
        with _lock:
            if _process_default is None:
                _process_default = _initial_threads()
    return _process_default


def set_num_threads(n: int) -> None:
    """Set the process-wide number of kernel threads (1 inside a training loop that owns the cores)."""
    global _process_default
    _process_default = _check_threads(n)


@contextmanager
def num_threads(n: int):
    """Use n kernel threads inside the block, in this Python thread only."""
    n = _check_threads(n)
    before = getattr(_local, "n_threads", None)
    _local.n_threads = n
    try:
        yield n
    finally:
        _local.n_threads = before


def parallel_for(
    n_items: int,
    work: Callable,
    *,
    n_threads: int | None = None,
    chunk: int | None = None,
    scratch: Callable | None = None,
    chunks_per_thread: int = 8,
    min_chunk: int = 1,
) -> list:
    """Run work(start, stop, state) over consecutive ranges covering [0, n_items); return the results in
    range order.

    work is expected to call a nogil kernel (so threads run at once) and to write only its own output
    slots.  state is scratch() made once per thread (None without scratch), for per-thread work arrays.
    chunk: items per range (default: about chunks_per_thread ranges per thread, so that a slow thread
    takes fewer), but at least min_chunk (so that cheap items are not split below what starting a thread
    costs, ~0.1 ms).  The calling thread works too; with one thread or one range nothing else is started.
    The first exception stops further ranges from being handed out and is raised once all threads stop.
    """
    n_items = int(n_items)
    if n_items <= 0:
        return []
    threads = get_num_threads() if n_threads is None else _check_threads(n_threads)
    if chunk is None:
        chunk = max(-(-n_items // (threads * chunks_per_thread)), int(min_chunk))
    chunk = max(1, int(chunk))
    bounds = [(start, min(start + chunk, n_items)) for start in range(0, n_items, chunk)]
    results = [None] * len(bounds)
    threads = min(threads, len(bounds))
    if threads == 1:
        state = scratch() if scratch is not None else None
        for i, (start, stop) in enumerate(bounds):
            results[i] = work(start, stop, state)
        return results

    counter_lock = threading.Lock()
    next_index = [0]  # a lock, not the GIL, makes taking the next range atomic (free-threaded builds too)
    failed = threading.Event()
    errors: list[BaseException] = []

    def take() -> int | None:
        with counter_lock:
            i = next_index[0]
            if i >= len(bounds) or failed.is_set():
                return None
            next_index[0] = i + 1
            return i

    def worker():
        try:
            state = scratch() if scratch is not None else None
            while True:
                i = take()
                if i is None:
                    return
                results[i] = work(bounds[i][0], bounds[i][1], state)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller below
            errors.append(exc)
            failed.set()

    # plain threads, started and joined here: nothing outlives the call (so a later fork finds no
    # threads), and no executor that refuses work during interpreter shutdown
    helpers = [threading.Thread(target=worker, name=f"ricci_fast-{t}", daemon=False) for t in range(threads - 1)]
    for helper in helpers:
        helper.start()
    try:
        worker()
    except BaseException:  # KeyboardInterrupt in the calling thread: let the others stop first
        failed.set()
        raise
    finally:
        for helper in helpers:
            helper.join()
    if errors:
        raise errors[0]
    return results
