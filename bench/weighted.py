"""Weighted Ollivier-Ricci curvature and the discrete Ricci flow: ricci_fast beside GraphRicciCurvature
(GRC), in one process, with GRC's settings (alpha=0.5, exp(-w^2) neighbour masses, method "OTD").

    pip install --no-deps graphriccicurvature networkit python-louvain
    python bench/weighted.py                       # N = 2,000 with GRC, N = 20,000 ours only
    python bench/weighted.py --grc-sizes 2000,5000 # GRC at larger sizes too (its APSP is N^2 doubles)
    python bench/weighted.py --quick               # N = 500 with GRC
    python bench/weighted.py --sinkhorn            # adds solver='sinkhorn'
    python bench/weighted.py --sizes 2000 --profile # where our time goes (searches / transport), no GRC
    # GRC at N = 20,000: its all-pairs matrix would not fit in 12 GB (below), so its own O(edges) mode
    python bench/weighted.py --sizes 20000 --grc-sizes 20000 --kinds knn --grc-flow-sizes "" \
        --grc-shortest-path pairwise

Graphs: Barabasi-Albert (m=3) with lengths U(0.5, 2), a planted partition (blocks of 100, mean degree
about 10, unit lengths), and the weighted k-NN graph (k=10, Euclidean lengths) of a random ReLU layer;
`--kinds gauss_knn` is a hub-heavy one: Gaussian points in R^50, k=30 (max degree about 430 at N = 1,000):

    python bench/weighted.py --sizes 1000 --grc-sizes 1000 --kinds gauss_knn --flow-iterations 2
GRC's default shortest_path="all_pairs" holds the N x N matrix (as a list of Python floats first:
about 40 bytes per pair at its peak); shortest_path="pairwise" (GRC 0.6) runs one multi-target Dijkstra
per source and edge instead.  Times are medians of --repeat runs after a warm-up (wall time, and CPU time of all threads and worker
processes, which a shared machine's load moves less); memory is the peak RSS above the start (GRC's
worker processes included); GRC runs with as many processes as ricci_fast has threads.  Every edge must agree
with GRC to 1e-9 (curvature) and, after the flow, to 1e-8 (lengths).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings

import networkx as nx
import numpy as np

sys.path.insert(0, os.path.dirname(__file__))

import ricci_fast as rf  # noqa: E402
from compare import PeakMemory, network_layers  # noqa: E402
from ricci_fast._parallel import get_num_threads  # noqa: E402


def make_graph(kind: str, n: int, seed: int = 0) -> rf.Graph:
    rng = np.random.default_rng(seed)
    if kind == "barabasi_albert":
        G = nx.barabasi_albert_graph(n, 3, seed=seed)
        for a, b in G.edges():
            G[a][b]["weight"] = float(rng.uniform(0.5, 2.0))
        return rf.Graph.from_networkx(G)
    if kind == "planted_partition":
        blocks = max(2, n // 100)
        G = nx.planted_partition_graph(blocks, n // blocks, 9.0 / (n // blocks), 1.0 / n, seed=seed)
        return rf.Graph.from_networkx(G, weight=None)
    if kind == "gauss_knn":
        # i.i.d. Gaussian points in R^50, k = 30: high-dimensional activations' hubs (max degree about 430
        # at N = 1,000), whose edges' transport problems are tens by hundreds
        return rf.knn_graph(rng.normal(size=(n, 50)), 30, weighted=True)
    X = network_layers(n, [50, 30], seed=seed)[1]
    return rf.knn_graph(X, 10, weighted=True)


def measure(fn, repeat, children=False, one_run=False):
    """(median wall time, peak memory of a separate first run, result, median CPU time) of `repeat` runs.
    CPU time counts every thread, and with children=True the worker processes (reaped when GRC closes
    its pool): on a shared machine it moves less with the load than wall time does.  one_run: a single
    run, timed with the memory sampler on (for runs too long to repeat)."""
    mem = None
    if not one_run:
        with PeakMemory(children=children) as mem:
            fn()
    walls, cpus, result = [], [], None
    for _ in range(1 if one_run else repeat):
        before, start = os.times(), time.perf_counter()
        if one_run:
            with PeakMemory(children=children) as mem:
                result = fn()
        else:
            result = fn()
        walls.append(time.perf_counter() - start)
        after = os.times()
        cpus.append(sum(getattr(after, f) - getattr(before, f) for f in
                        ("user", "system", "children_user", "children_system")))
    return statistics.median(walls), mem.mib, result, statistics.median(cpus)


def profile(graph: rf.Graph, label: str, flow_iterations: int, sample: int = 200):
    """Where one weighted ORC call spends its time (one thread, CPU seconds: the searches, the transport
    problems, the rest), after 0 and `flow_iterations` flow steps, and what bounds the searches: the
    targets a source's problems need against the nodes its Dijkstra must settle to reach the farthest
    one (all nodes closer than it), for `sample` sources, by scipy's Dijkstra."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import dijkstra

    import ricci_fast.weighted as weighted
    from ricci_fast._parallel import num_threads

    spent = {}
    plain = weighted.parallel_for

    def timed(n_items, work, **kw):
        start = time.process_time()
        try:
            return plain(n_items, work, **kw)
        finally:
            spent[work.__name__] = spent.get(work.__name__, 0.0) + time.process_time() - start

    g = graph
    for step in (0, flow_iterations):
        if step:
            g = rf.discrete_ricci_flow(graph, iterations=step, keep_history=False).graph
        spent.clear()
        weighted.parallel_for = timed
        try:
            with num_threads(1):
                start = time.process_time()
                rf.weighted_ollivier_ricci(g, 0.5, mass="grc")
                total = time.process_time() - start
        finally:
            weighted.parallel_for = plain
        lengths = g.weights if g.weights is not None else np.ones(g.indices.shape[0])
        A = sp.csr_matrix((lengths, g.indices, g.indptr), shape=(g.n_nodes, g.n_nodes))
        sources = np.linspace(0, g.n_nodes - 1, min(sample, g.n_nodes)).astype(np.int64)
        D = dijkstra(A, indices=sources)
        deg = np.diff(g.indptr)
        nbrs = lambda v: g.indices[g.indptr[v]:g.indptr[v + 1]]  # noqa: E731
        targets, settled = [], []
        for row, u in enumerate(sources):
            need = set()
            for x in [u, *nbrs(u)]:
                for y in nbrs(x):
                    if deg[y] > deg[x] or (deg[y] == deg[x] and y > x):  # x owns x-y
                        need.add(int(y))
                        need.update(nbrs(y).tolist())
            if need:
                reach = D[row, list(need)].max()
                targets.append(len(need))
                settled.append(int(np.count_nonzero(D[row] <= reach)))
        print(f"| {label} | {step} | {total:.3f} | {spent.get('search', 0):.3f} | {spent.get('transport', 0):.3f} | "
              f"{total - spent.get('search', 0) - spent.get('transport', 0):.3f} | {np.mean(targets):.0f} | "
              f"{np.mean(settled):.0f} | {np.mean(settled) / g.n_nodes:.0%} |", flush=True)


def grc_networkx(graph: rf.Graph) -> nx.Graph:
    return graph.to_networkx()


def grc_curvature(G, procs, shortest_path="all_pairs"):
    from GraphRicciCurvature.OllivierRicci import OllivierRicci

    extra = {} if shortest_path == "all_pairs" else {"shortest_path": shortest_path}
    orc = OllivierRicci(G, alpha=0.5, method="OTD", proc=procs, verbose="ERROR", **extra)
    orc.compute_ricci_curvature()
    return orc.G


def grc_flow(G, procs, iterations, shortest_path="all_pairs"):
    from GraphRicciCurvature.OllivierRicci import OllivierRicci

    extra = {} if shortest_path == "all_pairs" else {"shortest_path": shortest_path}
    orc = OllivierRicci(G, alpha=0.5, method="OTD", proc=procs, verbose="ERROR", **extra)
    orc.compute_ricci_flow(iterations=iterations)
    return orc.G


def worst(graph, values, G, attribute):
    table = rf.edge_table(graph, values)
    return max(abs(x - G[u][v][attribute]) for u, v, x in zip(table.u, table.v, table.value))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="2000,20000")
    parser.add_argument("--grc-sizes", default="2000")
    parser.add_argument("--grc-flow-sizes", default=None,
                        help="sizes at which GRC's flow runs too (default: --grc-sizes; \"\" for none)")
    parser.add_argument("--grc-shortest-path", default="all_pairs", choices=("all_pairs", "pairwise"),
                        help="GRC's shortest_path option (pairwise: no N x N matrix)")
    parser.add_argument("--kinds", default="knn,planted_partition,barabasi_albert")
    parser.add_argument("--large-kinds", default="knn,planted_partition",
                        help="graphs at the sizes GRC does not run (the BA graph's searches settle most of it)")
    parser.add_argument("--sinkhorn", action="store_true", help="also time solver='sinkhorn' (slow on hubs)")
    parser.add_argument("--flow-iterations", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--profile", action="store_true",
                        help="only where our time goes (one thread): searches / transport / rest, and the nodes each "
                             "search settles against the targets it needs; after 0 and --flow-iterations flow steps")
    parser.add_argument("--one-run", action="store_true",
                        help="one timed run per row, memory sampled during it (no separate memory run)")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.grc_sizes = "500", "500"
    sizes = [int(s) for s in args.sizes.split(",") if s]
    grc_sizes = {int(s) for s in args.grc_sizes.split(",") if s}
    grc_flow_sizes = grc_sizes if args.grc_flow_sizes is None else {int(s) for s in args.grc_flow_sizes.split(",")
                                                                     if s} & grc_sizes
    try:
        import GraphRicciCurvature  # noqa: F401
    except ImportError:
        warnings.warn("GraphRicciCurvature is not installed: ricci_fast times only.", stacklevel=1)
        grc_sizes = grc_flow_sizes = set()
    threads = get_num_threads()
    # warm-up: compile or load the kernels before timing
    rf.discrete_ricci_flow(make_graph("knn", 200), iterations=1)
    if args.profile:
        print(f"one thread, CPU s; load average at start {os.getloadavg()[0]:.1f}")
        print("| graph | flow steps before | ORC total | searches | transport | rest | targets per search | "
              "nodes settled per search | of N |")
        print("|---|---|---|---|---|---|---|---|---|")
        for n in sizes:
            for kind in args.kinds.split(",") if n in grc_sizes else args.large_kinds.split(","):
                profile(make_graph(kind, n), f"{kind} N={n}", args.flow_iterations)
        print(f"load average at the end {os.getloadavg()[0]:.1f}")
        return
    print(f"threads / GRC processes: {threads}; GRC shortest_path={args.grc_shortest_path}; flow: "
          f"{args.flow_iterations} iterations; times: median of {args.repeat}"
          f"{' (memory sampled in the timed run)' if args.one_run else ''}; load average at start "
          f"{os.getloadavg()[0]:.1f}")
    print("| graph | edges | what | ricci_fast | GRC | speed-up | CPU s ours / GRC (ratio) | peak memory ours / GRC "
          "| max diff |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in sizes:
        kinds = args.kinds.split(",") if n in grc_sizes else [k for k in args.kinds.split(",")
                                                              if k in args.large_kinds.split(",")]
        for kind in kinds:
            graph = make_graph(kind, n)
            label = f"{kind} N={n}"
            ours = measure(lambda: rf.weighted_ollivier_ricci(graph, 0.5, mass="grc"), args.repeat,
                           one_run=args.one_run)
            if args.sinkhorn:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    sink = measure(lambda: rf.weighted_ollivier_ricci(graph, 0.5, mass="grc", solver="sinkhorn"),
                                   args.repeat, one_run=args.one_run)
                gap = float(np.abs(sink[2].values - ours[2].values).max())
            flow = measure(lambda: rf.discrete_ricci_flow(graph, iterations=args.flow_iterations), args.repeat,
                           one_run=args.one_run)
            cells = {"orc": ("-", "-", "-", "-", f"{ours[3]:.2f} / -"), "flow": ("-", "-", "-", "-", f"{flow[3]:.2f} / -")}
            if n in grc_sizes:
                G = grc_networkx(graph)
                theirs = measure(lambda: grc_curvature(G, threads, args.grc_shortest_path), args.repeat, children=True,
                                 one_run=args.one_run)
                diff = worst(graph, ours[2].values, theirs[2], "ricciCurvature")
                assert diff < 1e-9, f"GRC disagrees by {diff}"
                cells["orc"] = (f"{theirs[0]:.2f} s", f"{theirs[0] / ours[0]:.0f}x",
                                f"{theirs[1]:.0f} MiB", f"{diff:.1e}",
                                f"{ours[3]:.2f} / {theirs[3]:.2f} ({theirs[3] / max(ours[3], 1e-9):.0f}x)")
            if n in grc_flow_sizes:
                theirs = measure(lambda: grc_flow(G, threads, args.flow_iterations, args.grc_shortest_path),
                                 args.repeat, children=True,
                                 one_run=args.one_run)
                diff = worst(flow[2].graph, flow[2].graph.weights, theirs[2], "weight")
                assert diff < 1e-8, f"GRC's flow disagrees by {diff}"
                cells["flow"] = (f"{theirs[0]:.2f} s", f"{theirs[0] / flow[0]:.0f}x",
                                 f"{theirs[1]:.0f} MiB", f"{diff:.1e}",
                                 f"{flow[3]:.2f} / {theirs[3]:.2f} ({theirs[3] / max(flow[3], 1e-9):.0f}x)")
            c = cells["orc"]
            print(f"| {label} | {graph.n_edges} | ORC exact | {ours[0]:.3f} s | {c[0]} | {c[1]} | {c[4]} | "
                  f"{ours[1]:.0f} MiB / {c[2]} | {c[3]} |")
            if args.sinkhorn:
                print(f"| {label} | {graph.n_edges} | ORC Sinkhorn | {sink[0]:.3f} s | | | {sink[3]:.2f} / - | "
                      f"{sink[1]:.0f} MiB | {gap:.1e} vs exact |")
            c = cells["flow"]
            print(f"| {label} | {graph.n_edges} | flow x{args.flow_iterations} | {flow[0]:.3f} s | {c[0]} | {c[1]} | "
                  f"{c[4]} | {flow[1]:.0f} MiB / {c[2]} | {c[3]} |", flush=True)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
