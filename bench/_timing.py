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


def module_at(rev: str, path: str, name: str):
    """The file `path` (e.g. "kernels/bitset_transport.py") as of git revision `rev`, imported as module
    `name` from a temporary copy, for A/B runs against the working tree.  Its kernels are compiled, not
    cached (cache=True turned off: the copy is thrown away)."""
    import importlib.util
    import os
    import subprocess
    import sys
    import tempfile

    root = os.path.join(os.path.dirname(__file__), "..")
    source = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=root, check=True, capture_output=True,
                            text=True).stdout
    file = os.path.join(tempfile.mkdtemp(prefix="ricci_fast_ab_"), name + ".py")
    with open(file, "w") as f:
        f.write(source.replace("cache=True", "cache=False"))
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
