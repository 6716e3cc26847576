"""First-call times (issue 15): a fresh environment compiles the Numba kernels; later processes load them.

    python bench/startup.py               # 2 cold + 2 warm runs, N = 1,000 points, D = 50, k = 30
    python bench/startup.py --runs 3 --per-kernel
    python bench/startup.py --data manifold   # a 3-D manifold in R^50: no node of degree >= 63

--data gaussian (default): i.i.d. Gaussian points, whose k-NN graph has hubs (max degree about 430), so the
exact Ollivier-Ricci call needs both transport solvers; --data manifold: every closed neighbourhood fits one
machine word, so it needs only the one-word solver.

Each run is a new Python process.  "cold": an empty NUMBA_CACHE_DIR (as after pip install); "warm": the
cache the cold run left.  Stages, timed in that process in this order: `import ricci_fast`, the first
`rf.layer_curvature(X)` (Forman, with geodesic sums), the first `rf.ollivier_ricci(graph)` (exact) on the
same graph, the same two calls again (the steady state, without compilation), then the first
`rf.weighted_ollivier_ricci` (exact, GraphRicciCurvature's masses) on the weighted k-NN graph and again.  Prints medians (wall
seconds, and CPU seconds of the process, which are less disturbed by other load) as a markdown table.
--per-kernel adds, for one cold run, the compile time of each kernel (Numba's compile events).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

_CHILD = r"""
import json, sys, time
clock = {"wall": time.perf_counter, "cpu": time.process_time}
marks = {name: [f()] for name, f in clock.items()}
def mark():
    for name, f in clock.items():
        marks[name].append(f())
per_kernel = []
if PER_KERNEL:
    from numba.core import event
    class Listener(event.Listener):
        stack = []
        def on_start(self, e):
            d = e.data["dispatcher"]
            self.stack.append((d.py_func.__module__ + "." + d.py_func.__name__, time.thread_time()))
        def on_end(self, e):
            name, start = self.stack.pop()
            if not self.stack:
                per_kernel.append((name, time.thread_time() - start))
    event.register("numba:compile", Listener())
import numpy as np
import ricci_fast as rf
mark()
rng = np.random.default_rng(0)
X = rng.normal(size=(N, D)) if DATA == "gaussian" else np.tanh(rng.normal(size=(N, 3)) @ rng.normal(size=(3, D)))
layer = rf.layer_curvature(X, K)
mark()
rf.ollivier_ricci(layer.graph)
mark()
layer = rf.layer_curvature(X, K)
mark()
rf.ollivier_ricci(layer.graph)
mark()
# a GraphRicciCurvature user's first call: weighted exact ORC with GRC's masses, on the layer's k-NN
# graph with the neighbour distances as lengths (built before the clock: the k-NN search is compiled)
lengths = rf.knn_graph(X, K, weighted=True)
mark()
rf.weighted_ollivier_ricci(lengths, 0.5, mass="grc")
mark()
rf.weighted_ollivier_ricci(lengths, 0.5, mass="grc")
mark()
if PER_KERNEL:  # the two transport solvers are C callbacks (no dispatcher, no compile event)
    from ricci_fast.kernels import transport_solvers
    per_kernel += [("ricci_fast.kernels.transport_solvers." + name + " (cfunc)", s)
                   for name, s in transport_solvers.build_seconds.items()]
print("RESULT" + json.dumps({"marks": marks, "per_kernel": per_kernel}))
"""

_STAGES = ("import ricci_fast", "first layer_curvature (Forman)", "first ollivier_ricci (exact)",
           "layer_curvature again", "ollivier_ricci again", None,
           "first weighted_ollivier_ricci (exact, mass='grc')", "weighted_ollivier_ricci again")


def _run(cache_dir: str, n: int, dims: int, k: int, per_kernel: bool, data: str) -> dict:
    code = f"N, D, K, PER_KERNEL, DATA = {n}, {dims}, {k}, {per_kernel}, {data!r}\n" + _CHILD
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, env=env,
                          check=True)
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT"))
    result = json.loads(line[len("RESULT"):])
    steps = {}
    for clock, values in result["marks"].items():
        steps[clock] = [b - a for a, b in zip(values, values[1:])]
    return {"steps": steps, "per_kernel": result["per_kernel"]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2, help="cold runs (each followed by one warm run)")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--dims", type=int, default=50)
    parser.add_argument("--k", type=int, default=30)
    parser.add_argument("--per-kernel", action="store_true", help="compile seconds of each kernel (cold run)")
    parser.add_argument("--data", choices=("gaussian", "manifold"), default="gaussian",
                        help="Gaussian points (a k-NN graph with hubs) or a 3-D manifold in R^D (no hubs)")
    args = parser.parse_args(argv)

    cold, warm, kernels = [], [], []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="ricci_fast_numba_cache_") as cache:
            cold.append(_run(cache, args.n, args.dims, args.k, args.per_kernel and run == 0, args.data))
            warm.append(_run(cache, args.n, args.dims, args.k, False, args.data))
        kernels = kernels or cold[-1]["per_kernel"]

    print(f"{args.data} data, N={args.n}, D={args.dims}, k={args.k}; {os.cpu_count()} CPUs; median of {args.runs} processes each; "
          f"wall s (CPU s)\n")
    print("| stage | cold (fresh cache) | warm (cache on disk) |")
    print("|---|---|---|")
    for i, stage in enumerate(_STAGES):
        if stage is None:  # an untimed step between the stages
            continue
        cells = []
        for runs in (cold, warm):
            wall = statistics.median(r["steps"]["wall"][i] for r in runs)
            cpu = statistics.median(r["steps"]["cpu"][i] for r in runs)
            cells.append(f"{wall:.2f} ({cpu:.2f})")
        print(f"| {stage} | {cells[0]} | {cells[1]} |")
    if kernels:
        print("\n| kernel (cold compile, CPU s of the compiling thread) | s |")
        print("|---|---|")
        for name, seconds in sorted(kernels, key=lambda item: -item[1]):
            print(f"| {name} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
