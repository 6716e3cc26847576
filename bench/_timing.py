"""Timing helper shared by the bench scripts (run as `python bench/NAME.py`, so bench/ is on sys.path)."""

from __future__ import annotations

import statistics
import time


def median_time(fn, repeat: int = 5) -> float:
    """Median wall seconds of `repeat` calls of fn()."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(statistics.median(times))
