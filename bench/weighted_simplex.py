"""The weighted exact transport's simplex alone, on every transport problem of a graph, replayed.

    python bench/weighted_simplex.py                               # the hub-heavy k-NN graph (gauss_knn, N=1000)
    python bench/weighted_simplex.py --kinds knn,barabasi_albert,planted_partition --n 2000
    python bench/weighted_simplex.py --ab 3c9dffd                  # that revision's simplex on the same problems

Each owned edge's problem is built as kernels/weighted_transport.group_transport builds it (GRC's masses,
alpha = 0.5; the mass both measures put on a node cancelled; costs d(u, v) / d(x, y) from scipy's all-pairs
Dijkstra, which is N x N: fine for a benchmark, never done by the library), then `simplex_core` solves all
of them in a loop on one thread, cold starts.  Prints the problems' sizes, thread CPU seconds (median of
--repeat), pivots per problem, the worst difference from POT's emd2 on --pot-sample problems, and with --ab
the same for kernels/weighted_transport.py as of git revision REV: its values and pivots must be identical
(a change to how a pivot is carried out, not which pivot is taken), or differ by rounding only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

sys.path.insert(0, os.path.dirname(__file__))

from _timing import module_at  # noqa: E402
from weighted import make_graph  # noqa: E402

from ricci_fast.kernels import weighted_transport as current  # noqa: E402
from ricci_fast.weighted import neighbour_masses  # noqa: E402


def problems(graph):
    """(a, b, C) of every owned edge x-y (owned by the smaller (degree, id)), in CSR order."""
    indptr, indices, n = graph.indptr, graph.indices, graph.n_nodes
    lengths = graph.weights if graph.weights is not None else np.ones(indices.shape[0])
    nbr_mass, self_mass = neighbour_masses(graph, 0.5, "grc")
    dist = dijkstra(sp.csr_matrix((lengths, indices, indptr), shape=(n, n)), directed=False)
    deg = np.diff(indptr)
    out = []
    for x in range(n):
        for p in range(indptr[x], indptr[x + 1]):
            y = int(indices[p])
            if (deg[x], x) > (deg[y], y):
                continue
            mass_y = dict(zip([y, *indices[indptr[y]:indptr[y + 1]].tolist()],
                              [self_mass[y], *nbr_mass[indptr[y]:indptr[y + 1]].tolist()]))
            a, rows = [], []
            for node, mass in zip([x, *indices[indptr[x]:indptr[x + 1]].tolist()],
                                  [self_mass[x], *nbr_mass[indptr[x]:indptr[x + 1]].tolist()]):
                if node in mass_y:
                    shared = min(mass, mass_y[node])
                    mass -= shared
                    mass_y[node] -= shared
                if mass > 0.0:
                    a.append(mass)
                    rows.append(node)
            cols = [node for node, mass in mass_y.items() if mass > 0.0]
            b = [mass_y[node] for node in cols]
            if a and b:
                C = np.ascontiguousarray(dist[np.ix_(rows, cols)].ravel() / dist[x, y])
                out.append((np.array(a), np.array(b), C))
    return out


def solve_all(module, probs, repeat):
    cap = 1 + max(max(a.shape[0], b.shape[0]) for a, b, _ in probs)
    ints, floats, flags, adj = module.simplex_scratch(2 * cap)

    def run():
        return [module.simplex_core(a, b, C, a.shape[0], b.shape[0], 50 * (a.shape[0] + b.shape[0]) ** 2 + 1000,
                                    ints, floats, flags, adj, False) for a, b, C in probs]

    run()
    times = []
    for _ in range(repeat):
        start = time.thread_time()
        out = run()
        times.append(time.thread_time() - start)
    return statistics.median(times), np.array([v for v, _ in out]), np.array([p for _, p in out])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kinds", default="gauss_knn", help="graphs of bench/weighted.py (make_graph)")
    parser.add_argument("--n", type=int, default=None, help="nodes (default: 1000 for gauss_knn, else 2000)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pot-sample", type=int, default=300, help="problems checked against POT (0: none)")
    parser.add_argument("--ab", default=None, metavar="REV", help="also time that git revision's simplex")
    args = parser.parse_args(argv)
    old = module_at(args.ab, "kernels/weighted_transport.py", "weighted_transport_old") if args.ab else None
    print(f"one thread, thread CPU s, median of {args.repeat}; load average {os.getloadavg()[0]:.1f}")
    print("| graph | problems | mean m x n | largest m x n | pivots per problem | simplex | "
          + (f"{args.ab} | ratio | " if old else "") + "worst diff from POT |")
    print("|---|---|---|---|---|---|" + ("---|---|" if old else "") + "---|")
    for kind in args.kinds.split(","):
        n = args.n or (1000 if kind == "gauss_knn" else 2000)
        probs = problems(make_graph(kind, n))
        cells = np.array([a.shape[0] * b.shape[0] for a, b, _ in probs])
        big = probs[int(np.argmax(cells))]
        t_new, values, pivots = solve_all(current, probs, args.repeat)
        extra = ""
        if old is not None:
            t_old, old_values, old_pivots = solve_all(old, probs, args.repeat)
            same = "bit-identical" if np.array_equal(values, old_values) else \
                f"max diff {np.max(np.abs(values - old_values)):.1e}"
            same += ", same pivots" if np.array_equal(pivots, old_pivots) else ", other pivots"
            extra = f"{t_old:.3f} s | {t_new / t_old:.2f} ({same}) | "
        worst = "-"
        if args.pot_sample:
            import ot

            pick = np.random.default_rng(0).choice(len(probs), min(args.pot_sample, len(probs)), replace=False)
            pick = np.union1d(pick, [int(np.argmax(cells))])  # the largest problem always
            worst = f"{max(abs(ot.emd2(probs[i][0], probs[i][1], probs[i][2].reshape(probs[i][0].shape[0], -1), numItermax=10**8) - values[i]) for i in pick):.1e}"
        print(f"| {kind} N={n} | {len(probs)} | {cells.mean():.0f} | {big[0].shape[0]} x {big[1].shape[0]} | "
              f"{pivots.mean():.0f} | {t_new:.3f} s | {extra}{worst} |", flush=True)


if __name__ == "__main__":
    main()
