"""Ricci-flow communities of a trained network's layers (the Hehl, von Renesse and Weber 2025 connection).

    python bench/flow_communities.py            # about a minute on 2 cores

A small MLP (scikit-learn, three hidden layers) is trained on the digits data set bundled with
scikit-learn.  For every layer (the input and each hidden layer) the weighted k-NN graph of N held-out
points is flowed by the discrete Ricci flow (`ricci_fast.discrete_ricci_flow`, GRC's settings) and cut
into communities (`ricci_fast.ricci_communities`).  Printed per layer: the number of communities, their
adjusted Rand index (ARI) with the class labels, and the ARI with the communities of every later layer;
a network that separates classes as it goes should show communities that approach the labels and agree
more and more with those of the layers after them.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

import ricci_fast as rf


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=500, help="held-out points per layer")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--iterations", type=int, default=10)
    args = parser.parse_args(argv)

    from sklearn.datasets import load_digits
    from sklearn.metrics import adjusted_rand_score
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=args.n, random_state=0, stratify=y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = MLPClassifier(hidden_layer_sizes=(64, 32, 16), max_iter=400, random_state=0).fit(X_train, y_train)
    print(f"test accuracy {net.score(X_test, y_test):.3f}")
    layers = {"input": X_test}
    h = X_test
    for depth, (W, b) in enumerate(zip(net.coefs_[:-1], net.intercepts_[:-1]), start=1):
        h = np.maximum(h @ W + b, 0.0)
        layers[f"hidden {depth}"] = h
    # ReLU layers can map distinct inputs to one point (an edge of length 0): keep points distinct in all layers
    keep = np.ones(len(y_test), bool)
    for acts in layers.values():
        _, first = np.unique(np.round(acts, 9), axis=0, return_index=True)
        distinct = np.zeros(len(y_test), bool)
        distinct[first] = True
        keep &= distinct
    y_test = y_test[keep]
    print(f"{keep.sum()} points distinct in every layer")
    found = {}
    for name, acts in layers.items():
        graph = rf.knn_graph(acts[keep], args.k, weighted=True)
        # lengths in units of their mean, where GRC's exp(-w^2) neighbour masses are meant to work
        graph = rf.Graph(graph.indptr, graph.indices, weights=graph.weights / graph.weights.mean())
        found[name] = rf.ricci_communities(graph, iterations=args.iterations)
    names = list(found)
    print("| layer | communities | modularity | ARI with labels | " + " | ".join(f"ARI with {n}" for n in names[1:]) + " |")
    print("|---" * (4 + len(names) - 1) + "|")
    for i, name in enumerate(names):
        c = found[name]
        later = [f"{adjusted_rand_score(c.labels, found[m].labels):.2f}" if j > i else "" for j, m in
                 enumerate(names) if j > 0]
        print(f"| {name} | {c.n_communities} | {c.modularity:.3f} | {adjusted_rand_score(y_test, c.labels):.2f} | "
              + " | ".join(later) + " |")


if __name__ == "__main__":
    main()
