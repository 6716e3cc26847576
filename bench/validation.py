"""Cost of the boundary checks (issue 10): Graph validation and the k-NN input preparation / output check.

    python bench/validation.py [--n 100000] [--k 30]

Prints medians of 5 runs and the share of the k-NN graph's time the checks take.
"""

import argparse

import numpy as np

import ricci_fast as rf
from ricci_fast import graph as graph_module
from _timing import median_time



def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--d", type=int, default=50)
    parser.add_argument("--k", type=int, default=30)
    args = parser.parse_args()
    X = np.random.default_rng(0).normal(size=(args.n, args.d))
    graph = rf.knn_graph(X, args.k)  # also compiles
    rf.Graph(graph.indptr, graph.indices)
    knn = median_time(lambda: rf.knn_graph(X, args.k), repeat=3)
    check = median_time(lambda: rf.Graph(graph.indptr, graph.indices))
    prepare = median_time(lambda: graph_module._prepare_points(X, "euclidean"))
    table = median_time(lambda: graph_module._check_table(graph.knn_indices, graph.knn_distances, args.k))
    print(f"N={args.n}, D={args.d}, k={args.k}: {graph.indices.size} CSR entries")
    print(f"knn_graph (exact)                      {knn:8.4f} s")
    print(f"Graph(indptr, indices) full check      {check:8.4f} s  ({check / knn:.1%} of knn_graph)")
    print(f"_prepare_points (scale by 2^e)         {prepare:8.4f} s  ({prepare / knn:.1%})")
    print(f"_check_table (every slot filled)       {table:8.4f} s  ({table / knn:.1%})")


if __name__ == "__main__":
    main()
