"""What saving flow_many's results costs the driver, per task, at 10,000 tasks.

    python bench/journal.py                 # 10,000 tasks (a few minutes on 2 cores)
    python bench/journal.py --tasks 2000    # quicker

1. Saving one finished row: an append to the journal, fsync'd at most every second (what flow_many does
   now; one fsync per row costs what `fsync` prints), against
   rewriting the whole results table after every task (what it did before: quadratic in the tasks).
2. flow_many end to end on --tasks small networks (N = 40 points, 4 layers, k = 5) on a LocalCluster of
   2 single-threaded workers, with out=...parquet: total wall time, wall time per task, the driver's time
   spent saving rows (journal_seconds) per task, and the final merge of the journal into out.
Prints medians; the numbers go into the README's Dask section.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import pandas as pd

import dask
from dask.distributed import Client, LocalCluster

from ricci_fast import distributed


def tiny_network(seed: int):
    rng = np.random.default_rng(seed)
    layers = [rng.normal(size=(40, 3))]
    for _ in range(3):
        layers.append(np.maximum(layers[-1] @ rng.normal(size=(layers[-1].shape[1], 6)), 0) + 1e-3 * rng.normal(size=(40, 6)))
    return layers


class Loader:
    """A picklable 'load' callable (no files: the cost measured is the driver's, not the disk's)."""

    def __init__(self, seed):
        self.seed = seed

    def __call__(self):
        return tiny_network(self.seed)


def _row(i: int) -> dict:
    return {"task": i, "model": f"m{i}", "k": 5, "curvature": "forman", "parameters": "{}", "global_coefficient": 0.1 * i,
            "layer_coefficients": [0.1, 0.2, 0.3], "total_curvature": [1.0, 2.0, 3.0, 4.0],
            "geodesic_sum": [10.0, 11.0, 12.0, 13.0], "error": "", "flow_seconds": 0.01}


def saving_costs(n: int, folder: str) -> list[str]:
    journal = distributed._Journal(os.path.join(folder, "bench.journal"))
    journal.open()
    per_row = []
    for i in range(n):
        start = time.perf_counter()
        journal.append([{"v": 1, "match": str(i), "row": _row(i)}])
        per_row.append(time.perf_counter() - start)
    journal.close()
    fsyncs = []
    with open(journal.path, "ab") as fh:
        for _ in range(50):
            start = time.perf_counter()
            fh.write(b"\n")
            fh.flush()
            os.fsync(fh.fileno())
            fsyncs.append(time.perf_counter() - start)
    start = time.perf_counter()
    records = journal.read()
    frame = pd.DataFrame([r["row"] for r in records])
    distributed._write_out(frame, os.path.join(folder, "merged.parquet"))
    merge = time.perf_counter() - start
    rewrites = {}
    for size in sorted({max(1, n // 10), n // 2, n}):
        times = []
        for _ in range(3):
            start = time.perf_counter()
            distributed._write_out(frame.iloc[:size], os.path.join(folder, "rewrite.parquet"))
            times.append(time.perf_counter() - start)
        rewrites[size] = statistics.median(times)
    # the old scheme wrote a table of 1, 2, ..., n rows: about n times the mean of those writes
    old_total = n * statistics.mean(rewrites.values())
    lines = [
        f"| save one row: journal append (fsync at most every second) (median of {n}) | {1e3 * statistics.median(per_row):.3f} ms |",
        f"| one fsync of the journal, for comparison (median of 50) | {1e3 * statistics.median(fsyncs):.3f} ms |",
        f"| merge the {n}-row journal into out.parquet, once at the end | {merge:.2f} s |",
    ]
    lines += [f"| old: rewrite the whole table at {size} rows (median of 3) | {1e3 * t:.1f} ms |"
              for size, t in rewrites.items()]
    lines.append(f"| old: all rewrites for {n} tasks (estimated) | {old_total:.0f} s |")
    lines.append(f"| new: all saves for {n} tasks | {sum(per_row) + merge:.1f} s |")
    return lines


def end_to_end(n: int, folder: str) -> list[str]:
    tasks = [{"load": Loader(i), "model": f"m{i}"} for i in range(n)]
    with dask.config.set({"distributed.nanny.pre-spawn-environ.NUMBA_NUM_THREADS": "1"}):
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    try:
        distributed.flow_many(tasks[:4], client, k=5, progress=False)  # load the cached kernels in the workers
        out = os.path.join(folder, "results.parquet")
        start = time.perf_counter()
        table = distributed.flow_many(tasks, client, k=5, out=out, progress=False)
        wall = time.perf_counter() - start
        start = time.perf_counter()
        resumed = distributed.flow_many(tasks, client, k=5, out=out, progress=False)
        resume = time.perf_counter() - start
    finally:
        client.close()
        cluster.close()
    assert (table["error"] == "").all() and resumed.attrs["n_resumed"] == n
    flow = float(table["flow_seconds"].median())
    return [
        f"| flow_many, {n} tasks, 2 workers x 1 thread, out=parquet: total | {wall:.1f} s |",
        f"| per task (wall) | {1e3 * wall / n:.2f} ms (median flow inside a task {1e3 * flow:.2f} ms) |",
        f"| driver time saving rows, per task (journal_seconds / {n}) | {1e3 * table.attrs['journal_seconds'] / n:.3f} ms |",
        f"| rerun: all {n} rows resumed from the journal | {resume:.1f} s |",
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--skip-cluster", action="store_true", help="only the saving costs")
    args = parser.parse_args(argv)
    folder = tempfile.mkdtemp(prefix="ricci_fast_journal_")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, files in {folder}\n")
    print("| step | time |\n|---|---|")
    print("\n".join(saving_costs(args.tasks, folder)), flush=True)
    if not args.skip_cluster:
        print("\n".join(end_to_end(args.tasks, folder)))


if __name__ == "__main__":
    main()
