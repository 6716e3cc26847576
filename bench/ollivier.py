"""Ollivier-Ricci curvature: ricci_fast beside GraphRicciCurvature and a per-edge POT loop, in one process.

    pip install --no-deps graphriccicurvature networkit python-louvain   # its scipy pin is stale
    python bench/ollivier.py             # the README tables (several minutes on 2 cores)
    python bench/ollivier.py --quick     # small sizes
    python bench/ollivier.py --large     # adds one layer at N = 100,000
    python bench/ollivier.py --hubs-only # only the hub-heavy graphs (high-dimensional data) beside GRC
    python bench/ollivier.py --hubs-only --kinds dead_relu   # one of gauss50, gauss784, relu512, dead_relu
    python bench/ollivier.py --kinds ""  # the manifold tables only (no hub graphs)
    python bench/ollivier.py --by-degree --kinds gauss50     # one thread, time by the owner's degree class
    python bench/ollivier.py --ab HEAD~3 --kinds gauss50,relu512   # one thread: that revision's kernels vs now

Times are medians of --repeat runs after a warm-up; memory is the peak RSS (worker processes included)
above the starting level.  GraphRicciCurvature runs method "OTD" with the same alpha and as many
processes as ricci_fast has threads, and both must agree to 1e-9 on every edge.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))

import ricci_fast as rf  # noqa: E402
from ricci_fast import _parallel  # noqa: E402
import reference  # noqa: E402
from _timing import median_time  # noqa: E402
from compare import PeakMemory, measure, network_layers  # noqa: E402


def graph_of(n, k, seed=0):
    return rf.knn_graph(network_layers(n, [50], seed=seed)[0], k)


def grc_curvature(graph, alpha, procs):
    import networkx as nx
    from GraphRicciCurvature.OllivierRicci import OllivierRicci

    G = nx.from_scipy_sparse_array(graph.to_scipy())
    orc = OllivierRicci(G, alpha=alpha, method="OTD", proc=procs, verbose="ERROR")
    orc.compute_ricci_curvature()
    return orc.G


def hub_layer(kind, n, seed=0):
    """High-dimensional activations, whose k-NN graphs have hubs (hubness): isotropic Gaussian points in
    R^50 or R^784, or one random width-512 ReLU layer on Gaussian inputs in R^100; "dead_relu" is that
    layer with the first half of the rows all zero (inputs on which every unit is dead, as in trained
    ReLU nets), so the k-NN graph has N/2 identical points: hubs of degree ~N/2 and thousands of twins."""
    rng = np.random.default_rng(seed)
    if kind == "gauss50":
        return rng.normal(size=(n, 50)).astype(np.float32)
    if kind == "gauss784":
        return rng.normal(size=(n, 784)).astype(np.float32)
    X = rng.normal(size=(n, 100)).astype(np.float32)
    W = rng.normal(size=(100, 512)).astype(np.float32) / np.float32(10.0)
    out = np.maximum(X @ W, 0)
    if kind == "dead_relu":
        out[: n // 2] = 0
    return out


HUB_LABELS = {"gauss50": "Gaussian, D=50", "gauss784": "Gaussian, D=784", "relu512": "ReLU layer, width 512",
              "dead_relu": "ReLU layer, width 512, half the rows dead (all zero)"}
HUB_KINDS = ("gauss50", "gauss784", "relu512", "dead_relu")


def hub_size(kind, quick):
    if kind == "dead_relu":
        return 600 if quick else 3000
    return 1000 if quick else 5000


def degree_stats(graph):
    from ricci_fast.ollivier import twin_classes

    deg = graph.degrees
    twin, _ = twin_classes(graph)
    n_twins = int((twin != np.arange(graph.n_nodes)).sum())
    return f"max degree {int(deg.max())}, {int((deg >= 64).sum())} nodes of degree >= 64, {n_twins} twins"


def bench_hub(kind, n, k, alpha, repeat, with_grc=True):
    graph = rf.knn_graph(hub_layer(kind, n), k)
    t_ours, m_ours, res = measure(lambda: rf.ollivier_ricci(graph, alpha), repeat)
    label = f"{HUB_LABELS[kind]}, N={n}, k={k} ({graph.n_edges} edges; {degree_stats(graph)}), alpha={alpha}"
    if not with_grc:
        return f"| {label} | {t_ours:.3f} s | - | - | {mib(m_ours)} / - |"
    procs = _parallel.get_num_threads()
    theirs = measure(lambda: grc_curvature(graph, alpha, procs), 1, children=True)
    M = res.values
    G = theirs[2]
    rows = np.repeat(np.arange(graph.n_nodes), graph.degrees)
    lookup = {(int(u), int(v)): M[p] for p, (u, v) in enumerate(zip(rows, graph.indices))}
    worst = max(abs(lookup[(u, v)] - d["ricciCurvature"]) for u, v, d in G.edges(data=True))
    assert worst < 1e-9, f"GraphRicciCurvature disagrees by {worst}"
    return f"| {label} | {t_ours:.3f} s | {theirs[0]:.2f} s | {theirs[0] / t_ours:.0f}x | {mib(m_ours)} / {mib(theirs[1])} |"


def pot_edge(graph, x, y, alpha, adjacency=None):
    """1 - ot.emd2 for one edge.  Its ground costs are hop distances between N[x] and N[y], which are at
    most 3 (u - x - y - v): 0 on the diagonal, 1 for an edge, 2 for a common neighbour (a sparse product of
    the two blocks of rows), else 3: no search over the graph, so that a hub's edge (about 900 sources)
    costs milliseconds, not 900 BFS.  adjacency: graph.to_scipy(), made once per graph."""
    import ot

    A = graph.to_scipy() if adjacency is None else adjacency

    def measure(v):
        nbrs = graph.indices[graph.indptr[v]:graph.indptr[v + 1]]
        m = {int(u): (1 - alpha) / nbrs.size for u in nbrs}
        m[v] = m.get(v, 0.0) + alpha
        return {u: w for u, w in m.items() if w > 0}

    mx, my = measure(x), measure(y)
    s, t = sorted(mx), sorted(my)
    rows, cols = A[s].astype(np.int32), A[t].astype(np.int32)  # int8 counts of common neighbours overflow
    D = np.full((len(s), len(t)), 3.0)
    D[(rows @ cols.T).toarray() > 0] = 2.0
    D[rows[:, t].toarray() > 0] = 1.0
    D[np.array(s)[:, None] == np.array(t)[None, :]] = 0.0
    return 1.0 - float(ot.emd2(np.array([mx[u] for u in s]), np.array([my[v] for v in t]), D))


def hub_pot_check(kind, n, k, alpha, n_edges=300, seed=0):
    """Worst |ours - ot.emd2| over a random sample of edges of a hub-heavy graph."""
    graph = rf.knn_graph(hub_layer(kind, n), k)
    values = rf.ollivier_ricci(graph, alpha).values
    rows = np.repeat(np.arange(graph.n_nodes), graph.degrees)
    # edges at the largest hubs first, then a random sample
    order = np.argsort(-np.maximum(graph.degrees[rows], graph.degrees[graph.indices]), kind="stable")
    pick = np.concatenate([order[: n_edges // 2], np.random.default_rng(seed).choice(rows.size, n_edges // 2)])
    adjacency = graph.to_scipy()
    worst = 0.0
    for p in pick:
        x, y = int(rows[p]), int(graph.indices[p])
        worst = max(worst, abs(values[p] - pot_edge(graph, x, y, alpha, adjacency)))
    return worst


def bench_grc(n, k, alpha, repeat):
    graph = graph_of(n, k)
    procs = _parallel.get_num_threads()
    ours = measure(lambda: rf.ollivier_ricci(graph, alpha).values, repeat)
    theirs = measure(lambda: grc_curvature(graph, alpha, procs), repeat, children=True)
    M = rf.curvature_of_graph(graph, "ollivier", geodesics=False, alpha=alpha).curvature_matrix()
    G = theirs[2]
    worst = max(abs(M[u, v] - d["ricciCurvature"]) for u, v, d in G.edges(data=True))
    assert worst < 1e-9, f"GraphRicciCurvature disagrees by {worst}"
    return f"| N={n}, k={k} ({graph.n_edges} edges), alpha={alpha} | {ours[0]:.3f} s | {theirs[0]:.2f} s | " \
           f"{theirs[0] / ours[0]:.0f}x | {mib(ours[1])} / {mib(theirs[1])} |"


def mib(value):
    # the sampler cannot see the few hundred kB of per-thread scratch
    return "< 1 MiB" if value < 1 else f"{value:.0f} MiB"


def pot_loop(graph, alpha):
    import ot
    from scipy.sparse.csgraph import shortest_path

    D = shortest_path(graph.to_scipy(), unweighted=True, directed=False)
    out = {}
    for x, y in graph.edges():
        mx = np.zeros(graph.n_nodes)
        my = np.zeros(graph.n_nodes)
        nx_ = graph.indices[graph.indptr[x]:graph.indptr[x + 1]]
        ny = graph.indices[graph.indptr[y]:graph.indptr[y + 1]]
        mx[nx_] = (1 - alpha) / nx_.size
        mx[x] += alpha
        my[ny] = (1 - alpha) / ny.size
        my[y] += alpha
        s, t = np.flatnonzero(mx), np.flatnonzero(my)
        out[(x, y)] = 1 - ot.emd2(mx[s], my[t], D[np.ix_(s, t)])
    return out


def bench_pot(n, k, repeat):
    graph = graph_of(n, k)
    ours = measure(lambda: rf.ollivier_ricci(graph, 0.0).values, max(repeat, 5))
    theirs = measure(lambda: pot_loop(graph, 0.0), 1)
    return f"| N={n}, k={k} ({graph.n_edges} edges) | {ours[0]:.3f} s | {theirs[0]:.2f} s | {theirs[0] / ours[0]:.0f}x |"


def sinkhorn_table(repeat):
    rows = []
    for n, dim, k in [(1000, 5, 10), (1000, 50, 10), (300, 50, 30)]:
        graph = rf.knn_graph(network_layers(n, [dim])[0] if dim > 5 else np.random.default_rng(0).normal(size=(n, 5)), k)
        t_exact, _, exact = measure(lambda: rf.ollivier_ricci(graph).values, repeat)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t_sk, _, res = measure(lambda: rf.ollivier_ricci(graph, solver="sinkhorn"), 1)
        err = np.abs(res.values - exact)
        ok = res.converged
        rows.append(
            f"| N={n}, D={dim}, k={k} | {t_exact:.3f} s | {t_sk:.2f} s | {err[ok].max():.1e} | {err.max():.1e} | "
            f"{res.n_not_converged} of {graph.n_edges} |"
        )
    return rows


def flow_6_layers(repeat):
    layers = network_layers(1000, [50] * 6)
    t, m, flow = measure(lambda: rf.ricci_flow(layers, 30, curvature="ollivier", progress=False), repeat)
    return f"| 6-layer flow, N=1000, k=30, curvature='ollivier' | {t:.3f} s | {mib(m)} | global {flow.global_coefficient:.3f} |"


def by_degree(kind, n, k, alpha, repeat):
    """One thread, the exact solver restricted to the owners of each degree class (an edge is solved by
    its end point of larger degree): where the time of a hub graph goes (the README's profile)."""
    from ricci_fast.ollivier import _exact

    graph = rf.knn_graph(hub_layer(kind, n), k)
    deg = graph.degrees.astype(np.int64)
    rows = np.repeat(np.arange(graph.n_nodes), deg)
    cols = graph.indices.astype(np.int64)
    owner = np.where((deg[rows] > deg[cols]) | ((deg[rows] == deg[cols]) & (rows < cols)), rows, -1)
    _exact(graph, alpha, n_threads=1)  # compile or load every kernel the graph needs
    whole = median_time(lambda: _exact(graph, alpha, n_threads=1), repeat)
    lines = [f"{HUB_LABELS[kind]}, N={n}, k={k}, one thread: all owners {whole:.3f} s\n",
             "| owner degree | owners | edges | s | us per edge |", "|---|---|---|---|---|"]
    bounds = [0, 64, 128, 256, 512, 1024, int(deg.max()) + 1]
    for lo, hi in zip(bounds, bounds[1:]):
        if lo >= hi:
            continue
        nodes = np.flatnonzero((deg >= lo) & (deg < hi))
        n_edges = int(np.isin(owner, nodes).sum())
        if n_edges == 0:
            continue
        t = median_time(lambda: _exact(graph, alpha, owners=nodes, n_threads=1), repeat)
        lines.append(f"| [{lo}, {hi}) | {nodes.size} | {n_edges} | {t:.3f} | {1e6 * t / n_edges:.1f} |")
    return "\n".join(lines)


def ab_kernels(rev, kinds, repeat, quick):
    """One thread, interleaved runs: kernels/bitset_transport.py as of git revision `rev` against the
    working tree's, thread CPU time (less sensitive to a shared machine than wall time); the values must
    be bit-identical."""
    from _timing import module_at

    from ricci_fast import ollivier

    old = module_at(rev, "kernels/bitset_transport.py", "bitset_transport_old")
    if hasattr(old.word_transport, "py_func"):
        raise SystemExit(f"--ab {rev}: that revision calls its solvers directly (before kernels/transport_solvers.py); "
                         f"compare against a revision from d344a95 on.")
    from numba import cfunc
    from types import SimpleNamespace

    from ricci_fast.kernels import transport_solvers

    # the old file's solvers as C callbacks too (compiled here, not cached: the module is a temporary copy)
    old_solvers = SimpleNamespace(
        word_solver=lambda f=cfunc(transport_solvers.WORD_SIGNATURE)(old.word_transport): f,
        bitset_solver=lambda f=cfunc(transport_solvers.BITSET_SIGNATURE)(old.bitset_transport): f)
    new = (ollivier._bitset, ollivier._solvers)
    lines = []
    try:
        for kind in kinds:
            graph = rf.knn_graph(hub_layer(kind, hub_size(kind, quick)), 30)
            values, times = {}, {"old": [], "new": []}
            for name, module in (("old", (old, old_solvers)), ("new", new)):
                ollivier._bitset, ollivier._solvers = module
                values[name] = ollivier._exact(graph, 0.0, n_threads=1)
            assert np.array_equal(values["old"], values["new"]), "the two kernels' values differ"
            for _ in range(repeat):
                for name, module in (("old", (old, old_solvers)), ("new", new)):
                    ollivier._bitset, ollivier._solvers = module
                    start = time.thread_time()
                    ollivier._exact(graph, 0.0, n_threads=1)
                    times[name].append(time.thread_time() - start)
            t_old, t_new = float(np.median(times["old"])), float(np.median(times["new"]))
            lines.append(f"| {HUB_LABELS[kind]}, N={hub_size(kind, quick)} | {t_old:.3f} | {t_new:.3f} | "
                         f"{t_new / t_old:.3f} | bit-identical |")
            print(lines[-1], flush=True)
    finally:
        ollivier._bitset, ollivier._solvers = new
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--large", action="store_true")
    parser.add_argument("--hubs-only", action="store_true")
    parser.add_argument("--no-grc-hubs", action="store_true", help="skip GraphRicciCurvature on the hub graphs")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--kinds", default=",".join(HUB_KINDS), help="hub graphs to run (comma-separated)")
    parser.add_argument("--by-degree", action="store_true", help="only: one thread, time by owner degree class")
    parser.add_argument("--ab", metavar="REV", help="only: one thread, the kernels of git revision REV against "
                        "the working tree's (CPU seconds, median of --repeat, interleaved)")
    args = parser.parse_args(argv)
    kinds = [kind for kind in args.kinds.split(",") if kind]
    unknown = sorted(set(kinds) - set(HUB_KINDS))
    if unknown:
        parser.error(f"--kinds: unknown hub graph(s) {', '.join(unknown)}; choose from {', '.join(HUB_KINDS)}")
    if args.ab:
        print(f"kernels/bitset_transport.py at {args.ab} (old) against the working tree (new), one thread, "
              f"thread CPU seconds, median of {args.repeat} interleaved runs, alpha = 0:\n")
        print("| graph | old | new | new / old | values |\n|---|---|---|---|---|", flush=True)
        ab_kernels(args.ab, kinds, args.repeat, args.quick)
        return
    if args.by_degree:
        for kind in kinds:
            print(by_degree(kind, hub_size(kind, args.quick), 30, 0.0, args.repeat), "\n", flush=True)
        return
    small = graph_of(300, 10)
    rf.ollivier_ricci(small)
    rf.ollivier_ricci(small, solver="sinkhorn")
    rf.ricci_flow(network_layers(200, [20] * 4), 10, curvature="ollivier", progress=False)

    sizes = [(500, 10), (500, 30)] if args.quick else [(2000, 10), (2000, 30), (5000, 10), (5000, 30)]
    print(f"ricci_fast {rf.__version__}, {_parallel.get_num_threads()} threads, median of {args.repeat} runs\n")
    if kinds:
        print("Hub-heavy graphs (k-NN graphs of high-dimensional data) against GraphRicciCurvature (OTD, same alpha, "
              "same number of processes):\n")
        print("| graph | ricci_fast exact | GraphRicciCurvature | speed-up | peak memory (ricci_fast / GRC) |")
        print("|---|---|---|---|---|")
        for kind in kinds:
            print(bench_hub(kind, hub_size(kind, args.quick), 30, 0.0, args.repeat, with_grc=not args.no_grc_hubs),
                  flush=True)
        print("\nExact against POT (ot.emd2 on the hop-distance cost) on 300 edges of each hub graph (the 150 at the "
              "largest hubs and 150 at random):\n")
        print("| graph | worst abs difference |\n|---|---|")
        for kind in kinds:
            n = hub_size(kind, args.quick)
            print(f"| {HUB_LABELS[kind]}, N={n}, k=30 | {hub_pot_check(kind, n, 30, 0.0):.1e} |", flush=True)
    if args.hubs_only:
        return
    print()
    print("Against GraphRicciCurvature (method OTD, same alpha, same number of processes):\n")
    print("| graph | ricci_fast exact | GraphRicciCurvature | speed-up | peak memory (ricci_fast / GRC) |")
    print("|---|---|---|---|---|")
    for n, k in sizes:
        for alpha in (0.0, 0.5):
            print(bench_grc(n, k, alpha, args.repeat), flush=True)
    print("\nAgainst a per-edge POT loop (ot.emd2 on hop-distance costs, one run):\n")
    print("| graph | ricci_fast exact | POT loop | speed-up |")
    print("|---|---|---|---|")
    print(bench_pot(500 if args.quick else 2000, 10, args.repeat), flush=True)
    print("\nSinkhorn (defaults: epsilon 0.01, tol 1e-6) against the exact solver:\n")
    print("| graph | exact | Sinkhorn | max error (converged edges) | max error (all) | not converged |")
    print("|---|---|---|---|---|---|")
    for r in sinkhorn_table(args.repeat if not args.quick else 1):
        print(r, flush=True)
    print("\n| run | time | peak memory | |\n|---|---|---|---|")
    print(flow_6_layers(args.repeat), flush=True)
    if args.large:
        X = network_layers(100_000, [50])[0]
        graph = rf.knn_graph(X, 30)
        with PeakMemory() as mem:
            start = time.perf_counter()
            rf.ollivier_ricci(graph)
            elapsed = time.perf_counter() - start
        print(f"| Ollivier-Ricci of one layer, N=100,000, k=30 ({graph.n_edges} edges) | {elapsed:.1f} s | "
              f"{mib(mem.mib)} | |")


if __name__ == "__main__":
    main()
