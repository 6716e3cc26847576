"""Cost of disconnected="join" beside the k-NN search it follows: python bench/join.py

Two (or more) Gaussian clusters far apart in R^D; median of 3 runs of knn_graph and of join_components.
"""

import argparse

import numpy as np

import ricci_fast as rf
from ricci_fast.components import join_components
from _timing import median_time



def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    small = rng.normal(size=(200, 5))
    join_components(rf.knn_graph(np.r_[small, small + 100], 5), np.r_[small, small + 100])  # compile
    print("| N | D | components | k-NN graph (k=30) | join | edges added |")
    print("|---|---|---|---|---|---|")
    for n, dims, parts in ((2000, 2, 2), (5000, 50, 2), (5000, 50, 10), (20000, 50, 2), (5000, 784, 2)):
        X = np.concatenate([rng.normal(size=(n // parts, dims)) + 50 * i for i in range(parts)]).astype(np.float32)
        graph = rf.knn_graph(X, 30)
        t_knn = median_time(lambda: rf.knn_graph(X, 30), args.repeat)
        t_join = median_time(lambda: join_components(graph, X), args.repeat)
        _, edges, _ = join_components(graph, X)
        print(f"| {n} | {dims} | {graph.n_components} | {t_knn:.3f} s | {t_join:.3f} s ({t_join / t_knn:.1f}x) | {len(edges)} |")


if __name__ == "__main__":
    main()
