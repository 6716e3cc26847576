"""Speed with 1 and 2 kernel threads, on idle cores and with one core busy (issue 10).

A training loop or a cluster node always shares its cores (torch's threads, DataLoader workers, other
jobs).  With the earlier prange kernels (OpenMP, static scheduling) one busy core made 2 threads 5x slower
than 1; the thread-pool design must keep 2 threads never slower than 1.  The busy core is a spinning
subprocess (pinned to the last core where the OS allows).

    python bench/contention.py            # 5-layer Forman flow, N = 1500, D = 50, k = 30; sums at N = 10,000
    python bench/contention.py --repeat 7 --sums-n 20000

Prints a markdown table of medians and the ratio (2 threads) / (1 thread); below 1 means faster.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np

import ricci_fast as rf
from _timing import median_time

_SPIN = "import os\ntry:\n    os.sched_setaffinity(0, {%d})\nexcept Exception:\n    pass\nwhile True:\n    pass\n"


def _layers(n: int, dims: int, n_layers: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = np.tanh(rng.normal(size=(n, 5)) @ rng.normal(size=(5, dims)))
    layers = [X]
    for _ in range(n_layers - 1):
        X = np.maximum(X @ rng.normal(size=(dims, dims)) / np.sqrt(dims), 0) + 0.05 * X
        layers.append(X)
    return layers



class _BusyCore:
    """A subprocess spinning on one core for the duration of the block."""

    def __enter__(self):
        core = max(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
        self.process = subprocess.Popen([sys.executable, "-c", _SPIN % core])
        time.sleep(0.3)  # let it start spinning
        return self

    def __exit__(self, *exc):
        self.process.kill()
        self.process.wait()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1500, help="points per layer of the flow")
    parser.add_argument("--dims", type=int, default=50)
    parser.add_argument("--k", type=int, default=30)
    parser.add_argument("--layers", type=int, default=5)
    parser.add_argument("--sums-n", type=int, default=10_000, help="points for the geodesic-sums case")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    layers = _layers(args.n, args.dims, args.layers)
    big = _layers(args.sums_n, args.dims, 1, seed=1)[0]
    graph = rf.knn_graph(big, args.k)
    graph.bfs_order  # cached on the graph: time the BFS, not the ordering

    cases = {
        f"{args.layers}-layer Forman flow, N={args.n}, D={args.dims}, k={args.k}":
            lambda: rf.ricci_flow(layers, args.k, progress=False),
        f"geodesic sums, N={args.sums_n}, k={args.k}": lambda: rf.geodesic_sums(graph),
    }
    for run in cases.values():  # compile / load the kernels outside the timings
        run()

    rows = []
    for name, run in cases.items():
        for load in ("idle", "one core busy"):
            medians = {}
            for threads in (1, 2):
                with rf.num_threads(threads):
                    if load == "idle":
                        medians[threads] = median_time(run, args.repeat)
                    else:
                        with _BusyCore():
                            medians[threads] = median_time(run, args.repeat)
            rows.append((name, load, medians[1], medians[2], medians[2] / medians[1]))

    print(f"ricci_fast {rf.__version__}, {os.cpu_count()} CPUs, median of {args.repeat} runs\n")
    print("| case | cores | 1 thread (s) | 2 threads (s) | 2 / 1 |")
    print("|---|---|---|---|---|")
    for name, load, one, two, ratio in rows:
        print(f"| {name} | {load} | {one:.3f} | {two:.3f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
