"""Former-neighbour distances (no geodesic sums) with the early-stopping BFS: each batch of 256 sources
clears only the nodes it reached (kernels/bfs.py bfs_batches_touched) against the old full clear of
all N nodes after every batch (bfs_batches_range), on two k-NN graphs of 3-D points (a point cloud and a
jittered copy: the 'previous' and 'next' layer).

    python bench/former_bfs.py --n 1000000          # prints both times, their ratio and the distances
"""

import argparse
import os
import time

import numpy as np

import ricci_fast as rf
from ricci_fast import geodesics
from ricci_fast._parallel import get_num_threads, parallel_for
from ricci_fast.kernels import bfs as B
from ricci_fast.kernels import csr


def full_clear(indptr, indices, sources, t_indptr, t_indices):
    n_nodes = indptr.shape[0] - 1
    batch = B.WORDS * B.WORD_BITS
    n_batches = -(-sources.size // batch)
    dist = np.full(t_indices.shape[0], -1, np.int32)
    groups = np.zeros(n_batches * B.WORDS, np.int64)

    def work(a, b, state):
        B.bfs_batches_range(indptr, indices, sources, False, t_indptr, t_indices, B.AUTO, a, b, *state, dist, groups)

    parallel_for(n_batches, work, chunk=1, scratch=lambda: B.bfs_scratch(n_nodes, False))
    return dist


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("-k", type=int, default=30)
    parser.add_argument("--skip-old", action="store_true", help="time only the new kernel")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(args.n, 3))
    start = time.perf_counter()
    previous, graph = rf.knn_graph(X, args.k), rf.knn_graph(X + 0.01 * rng.normal(size=X.shape), args.k)
    print(f"N={args.n} k={args.k}: graphs in {time.perf_counter() - start:.1f} s ({graph.n_edges} edges); "
          f"{get_num_threads()} threads; load {os.getloadavg()[0]:.1f}", flush=True)
    order, rank, indptr, indices = geodesics._relabelled(graph)
    t_indptr, t_indices, _ = csr.relabel(previous.indptr, previous.indices, order, rank)
    sources = np.arange(args.n, dtype=np.int64)
    B.multi_source_bfs(indptr, indices, sources[:300], False, t_indptr, t_indices, B.AUTO)  # compile
    full_clear(indptr, indices, sources[:300], t_indptr, t_indices)
    start = time.perf_counter()
    new = B.multi_source_bfs(indptr, indices, sources, False, t_indptr, t_indices, B.AUTO)[1]
    t_new = time.perf_counter() - start
    line = f"clear reached nodes: {t_new:.1f} s"
    if not args.skip_old:
        start = time.perf_counter()
        old = full_clear(indptr, indices, sources, t_indptr, t_indices)
        t_old = time.perf_counter() - start
        line += f"; clear all N: {t_old:.1f} s ({t_old / t_new:.2f}x); identical: {np.array_equal(old, new)}"
    print(line)
    print(f"distance histogram (1, 2, ...): {np.bincount(new)[1:].tolist()}; load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
