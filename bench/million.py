"""One big layer on a Dask LocalCluster: every stage timed with 1 and 2 workers, peak memory per process,
and a cost model for more workers and points from the measured task times (issue 14).

    python bench/million.py --n 100000                          # a few minutes on 2 cores
    python bench/million.py --n 1000000 --workers 2 --knn approximate --json million.json   # the issue's run
    python bench/million.py --n 50000 --knn-per-core 20000      # streamed exact k-NN vs in-memory, 1 thread

Data: a 4-dimensional manifold (a smooth random map of a uniform 4-cube) in D = 64 plus noise, and a
second layer ReLU(X W), both written in row blocks to .npy memmaps (never held whole by the driver).
Stages, on the cluster (ricci_fast.distributed): the checks + k-NN of both layers (read by the workers
from the memmaps; --knn exact: every worker streams row blocks, one layer after the other; --knn
approximate: NN-descent, each layer read whole by one worker, the two layers at once on two workers,
with its recall@k against exact search on --check-recall random points), Forman and exact
Ollivier-Ricci of layer 1, the sampled geodesic sum of layer 1 with its standard error, and the
distances in layer 2's graph between former (layer 1) neighbours.
Prints per-stage wall times, ratios and peak memory per process; --json writes everything, including
per-task times (--report reprints the tables from it).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time

import numpy as np


def write_layers(folder: str, n: int, dims: int, seed: int = 0, block: int = 50_000):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(4, 16)) * 1.5
    B = rng.normal(size=(16, dims)) / 4
    W = rng.normal(size=(dims, dims)) / np.sqrt(dims)
    first = np.lib.format.open_memmap(os.path.join(folder, "layer1.npy"), mode="w+", dtype=np.float32, shape=(n, dims))
    second = np.lib.format.open_memmap(os.path.join(folder, "layer2.npy"), mode="w+", dtype=np.float32, shape=(n, dims))
    for start in range(0, n, block):
        stop = min(n, start + block)
        Z = rng.uniform(size=(stop - start, 4))
        X = np.sin(Z @ A) @ B + 0.02 * rng.normal(size=(stop - start, dims))
        first[start:stop] = X
        second[start:stop] = np.maximum(X @ W + 0.05, 0)
    first.flush()
    second.flush()
    del first, second
    return [np.load(os.path.join(folder, f"layer{i}.npy"), mmap_mode="r") for i in (1, 2)]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _warm_nndescent(X, k):
    import ricci_fast as rf

    rf.knn_graph(X, k, method="approximate", check_recall=10)


def run(layers, n_workers: int, k: int, sources: int, curvatures: list[str], knn: str = "exact",
        check_recall: int = 1000) -> dict:
    import dask
    from dask.distributed import Client, LocalCluster, get_task_stream

    from ricci_fast import distributed

    env = {"distributed.nanny.pre-spawn-environ.NUMBA_NUM_THREADS": "1",
           "distributed.nanny.pre-spawn-environ.OMP_NUM_THREADS": "1"}
    with dask.config.set(env):
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               memory_limit=None)
    client = Client(cluster)
    # compile or load the cached kernels (and pynndescent's, in every worker) before timing
    small = [np.ascontiguousarray(layer[:2000]) for layer in layers]
    method = "exact" if knn == "exact" else "approximate"
    if knn == "approximate":
        client.run(_warm_nndescent, small[0], k)
    g_small, g_small_2 = distributed.knn_graphs(small, k, client, method=method, progress=False)
    for kind in curvatures:
        distributed.edge_curvature(g_small, kind, client)
    distributed.former_neighbour_distances(g_small, g_small_2, client)
    distributed.sampled_geodesic_sum(g_small, 256, client, seed=0)
    stages = {}

    def stage(name, fn):
        with get_task_stream(client) as stream:
            start = time.perf_counter()
            value = fn()
            wall = time.perf_counter() - start
        tasks = [sum(s["stop"] - s["start"] for s in t["startstops"] if s["action"] == "compute")
                 for t in stream.data]
        stages[name] = {"wall_s": wall, "n_tasks": len(tasks), "task_s_sum": float(np.sum(tasks)),
                        "task_s_max": float(np.max(tasks)) if tasks else 0.0,
                        "task_s_median": float(np.median(tasks)) if tasks else 0.0}
        print(f"  {n_workers} worker(s) {name:<28} {wall:8.1f} s  ({len(tasks)} tasks, {np.sum(tasks):.1f} task-s)",
              flush=True)
        return value

    knn_layer_s = []
    g1, g2 = stage(f"knn layers 1+2 (scan + {knn})", lambda: distributed.knn_graphs(
        layers, k, client, method=method, check_recall=check_recall if knn == "approximate" else None,
        progress=False, timings=knn_layer_s))
    print(f"  {n_workers} worker(s) recall@{k} (layers 1, 2) "
          f"{g1.recall if g1.recall is not None else 1.0}, {g2.recall if g2.recall is not None else 1.0}", flush=True)
    for kind in curvatures:
        stage(f"curvature {kind}", lambda kind=kind: distributed.edge_curvature(g1, kind, client))
    estimate = stage(f"sampled geodesic sum (M={sources})",
                     lambda: distributed.sampled_geodesic_sum(g1, sources, client, seed=0))
    dist = stage("former-neighbour distances", lambda: distributed.former_neighbour_distances(g2, g1, client))
    worker_peaks = client.run(lambda: __import__("resource").getrusage(__import__("resource").RUSAGE_SELF).ru_maxrss / 1024.0)
    client.close()
    cluster.close()
    return {"n_workers": n_workers, "knn": knn, "knn_layer_s": knn_layer_s,
            "recall": [g.recall if g.recall is not None else 1.0 for g in (g1, g2)],
            "stages": stages, "driver_peak_mb": peak_rss_mb(),
            "worker_peak_mb": sorted(worker_peaks.values()), "n_edges": int(g1.n_edges),
            "geodesic_sum": [estimate.estimate, estimate.standard_error],
            "former_distance_histogram": np.bincount(dist[np.isfinite(dist)].astype(np.int64)).tolist()}


#: how each stage's work grows with N (for the model at another N): the exact search is all pairs;
#: NN-descent grows a little faster than N (measured here: 1.14 from N = 100,000 to 200,000, see
#: README); the curvature and the former-neighbour BFS (a few hops per source) are O(N k); a sampled
#: geodesic sum is M full BFS passes, O(M N k).
GROWTH = {"exact)": 2.0, "approximate)": 1.14, "curvature": 1.0, "sampled": 1.0, "former": 1.0}


def growth(name: str) -> float:
    for key, power in GROWTH.items():
        if key in name:
            return power
    return 1.0


def cost_model(results: list[dict], n: int, n_target: int, workers=(2, 16, 64)) -> dict:
    """T(W) = driver + task_s / W x imbalance, per stage, from the run whose tasks took the fewest
    task-seconds for that stage (the least contended; on a quiet machine they agree).

    driver = wall - task_s / W_measured x imbalance (what did not run in tasks: scatter, gathering the
    tables, the O(N k) bookkeeping), scaled linearly in N; task_s scaled by GROWTH; imbalance = the
    measured max task / mean task ratio bounded by 1.5 (4 tasks per worker).  Assumptions: workers as
    fast as these cores; the stores readable at the speed measured here (page cache) by every worker
    (a parallel file system; on NFS the k-NN's reads, the whole layer once per task, add
    tasks x 4 N D bytes / bandwidth); scheduler overhead negligible at these task sizes (seconds)."""
    model = {}
    for name in results[0]["stages"]:
        result = min(results, key=lambda r: r["stages"][name]["task_s_sum"])
        W = result["n_workers"]
        s = result["stages"][name]
        approximate = "approximate)" in name
        # NN-descent: two big tasks (one per layer) among the small scan tasks; their balance is that of
        # the longest against half the stage's task time
        mean = s["task_s_sum"] / (2 if approximate else max(s["n_tasks"], 1))
        imbalance = min(1.5, s["task_s_max"] / mean) if mean > 0 else 1.0
        driver = max(0.0, s["wall_s"] - s["task_s_sum"] / (min(W, 2) if approximate else W) * imbalance)
        scale = (n_target / n) ** growth(name)
        # NN-descent searches each layer on one worker: at most one worker per layer is busy
        width = (lambda w: min(w, 2)) if approximate else (lambda w: w)
        model[name] = {w: driver * n_target / n + s["task_s_sum"] * scale / width(w) * imbalance for w in workers}
    return model


def report(results: list[dict], n: int) -> None:
    print(f"\n| stage | " + " | ".join(f"{r['n_workers']} worker(s) s" for r in results) + " | speed-up |")
    print("|---|" + "---|" * len(results) + "---|")
    for name in results[0]["stages"]:
        walls = [r["stages"][name]["wall_s"] for r in results]
        print(f"| {name} | " + " | ".join(f"{w:.1f}" for w in walls) + f" | {walls[0] / walls[-1]:.2f}x |")
    totals = [sum(s["wall_s"] for s in r["stages"].values()) for r in results]
    print(f"| all stages | " + " | ".join(f"{t:.1f}" for t in totals) + f" | {totals[0] / totals[-1]:.2f}x |")
    for r in results:
        print(f"{r['n_workers']} worker(s): driver peak {r['driver_peak_mb']:.0f} MB, worker peaks "
              f"{', '.join(f'{m:.0f}' for m in r['worker_peak_mb'])} MB; {r['n_edges']} edges; sampled geodesic sum "
              f"{r['geodesic_sum'][0]:.4g} +- {r['geodesic_sum'][1]:.2g}; former-neighbour distances "
              f"{r['former_distance_histogram']}")
    for n_target in sorted({n, 1_000_000}):
        model = cost_model(results, n, n_target)
        print(f"\ncost model at N={n_target} (from the least contended task times; see cost_model):")
        for w in (2, 16, 64):
            print(f"  {w} workers: " + ", ".join(f"{name} {m[w]:.0f} s" for name, m in model.items())
                  + f"; all {sum(m[w] for m in model.values()) / 60:.1f} min")


def knn_per_core(layer, query_rows: int, repeats: int = 3) -> dict:
    """One thread, CPU seconds (median of `repeats`): the in-memory exact search of the first query_rows
    rows (query_rows^2 pairs) against the streamed search of the same rows among all N (query_rows x N
    pairs, read from the memmap); the ratio is per candidate pair (1.0: the same speed per core)."""
    import ricci_fast as rf
    from ricci_fast import _arrays, _parallel, knn_blocks

    n = layer.shape[0]
    first = np.ascontiguousarray(layer[:query_rows])
    source = _arrays.as_row_source(layer)
    stats = _arrays.scan(source)
    times = {"in_memory": [], "streamed": []}
    with _parallel.num_threads(1):
        rf.knn_graph(first[:2000], 30, method="exact")  # compile or load the kernels
        knn_blocks.knn_rows(source, stats, 30, "euclidean", 0, 300)
        for _ in range(repeats):
            start = time.process_time()
            rf.knn_graph(first, 30, method="exact")
            times["in_memory"].append(time.process_time() - start)
            start = time.process_time()
            knn_blocks.knn_rows(source, stats, 30, "euclidean", 0, query_rows)
            times["streamed"].append(time.process_time() - start)
    med = {key: float(np.median(v)) for key, v in times.items()}
    ratio = (med["streamed"] / (query_rows * n)) / (med["in_memory"] / query_rows ** 2)
    print(f"k-NN per core (1 thread, CPU s, median of {repeats}): in-memory {query_rows} x {query_rows} pairs "
          f"{med['in_memory']:.2f}; streamed {query_rows} x {n} pairs {med['streamed']:.2f}; streamed / in-memory per "
          f"pair {ratio:.2f}; load {os.getloadavg()[0]:.1f}")
    return {"seconds": times, "median": med, "per_pair_ratio": ratio}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dims", type=int, default=64)
    parser.add_argument("-k", type=int, default=30)
    parser.add_argument("--sources", type=int, default=1024, help="BFS sources of the sampled geodesic sum")
    parser.add_argument("--workers", default="1,2", help="worker counts to run, e.g. 1,2")
    parser.add_argument("--curvatures", default="forman,ollivier")
    parser.add_argument("--knn", choices=("exact", "approximate"), default=None,
                        help="k-NN search (default: exact up to 200,000 points, approximate above)")
    parser.add_argument("--check-recall", type=int, default=1000,
                        help="random points on which approximate search's recall@k is measured against exact")
    parser.add_argument("--folder", default=None, help="where the memmaps go (default: a temporary folder)")
    parser.add_argument("--json", default=None)
    parser.add_argument("--report", default=None, help="print the tables and the model from a --json file, no run")
    parser.add_argument("--knn-per-core", type=int, default=None, metavar="ROWS",
                        help="only compare the streamed exact k-NN with the in-memory kernel on one thread, for "
                             "ROWS query rows (e.g. --n 50000 --knn-per-core 20000)")
    args = parser.parse_args()
    if args.report:
        with open(args.report) as fh:
            saved = json.load(fh)
        report(saved["results"], saved["args"]["n"])
        return
    folder = args.folder or tempfile.mkdtemp(prefix="ricci_fast_million_")
    os.makedirs(folder, exist_ok=True)
    start = time.perf_counter()
    layers = write_layers(folder, args.n, args.dims)
    print(f"N={args.n} D={args.dims} k={args.k}: layers written to {folder} in {time.perf_counter() - start:.1f} s; "
          f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    if args.knn_per_core:
        result = knn_per_core(layers[0], min(args.knn_per_core, args.n))
        if args.json:
            with open(args.json, "w") as fh:
                json.dump({"args": vars(args), "knn_per_core": result}, fh, indent=1)
        return
    args.knn = args.knn or ("exact" if args.n <= 200_000 else "approximate")
    results = [run(layers, int(w), args.k, args.sources, args.curvatures.split(","), args.knn, args.check_recall)
               for w in args.workers.split(",")]
    report(results, args.n)
    print(f"load after: {os.getloadavg()[0]:.1f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"args": vars(args), "results": results}, fh, indent=1)


if __name__ == "__main__":
    main()
