"""Connected components of a layer's k-NN graph: describing them and joining them (docs/definitions.md
section 4, "Disconnected layers").

`join_components` adds the fewest edges that connect the graph, and the shortest such: the minimum
spanning tree of the components, where two components are as far apart as their closest pair of points
(scikit-learn's Isomap instead links every pair of components by its closest pair).  The tree is found by
Boruvka rounds (each component takes its shortest edge to another, then they merge), so no table of
pairwise component distances and no N x N matrix is ever held.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ricci_fast._parallel import parallel_for
from ricci_fast.graph import Graph
from ricci_fast.kernels import join as _join

#: Work (point pairs x features) up to which a refusal also computes the k that would connect the graph.
SUGGEST_K_BUDGET = 1.5e9
#: Bytes of BLAS inner products one thread holds at a time (rows x N float64).
BLOCK_BYTES = 4 * 2**20
#: Up to this many features the direct scan is as fast as BLAS.
DIRECT_MAX_DIMS = 8


def component_sizes(graph: Graph) -> np.ndarray:
    """Sizes of the connected components, largest first."""
    return np.sort(np.bincount(graph.component_labels, minlength=graph.n_components))[::-1]


def describe_components(graph: Graph, limit: int = 6) -> str:
    """'3 components of sizes 500, 480, 20' (the first `limit` sizes, largest first)."""
    sizes = component_sizes(graph)
    shown = ", ".join(str(s) for s in sizes[:limit])
    more = f", ... ({sizes.size - limit} more)" if sizes.size > limit else ""
    return f"{sizes.size} components of sizes {shown}{more}"


def _points(graph: Graph, X) -> tuple[np.ndarray, int]:
    from ricci_fast._validation import as_activation_array
    from ricci_fast.graph import _prepare_points

    X = as_activation_array(X)
    if X.shape[0] != graph.n_nodes:
        raise ValueError(f"X: {X.shape[0]} points for a graph of {graph.n_nodes} nodes.")
    # the joining edges are shortest in the metric the graph was built with (unit vectors for cosine),
    # searched on the points scaled by 2^-exponent as knn_graph does (exact; immune to magnitude)
    return _prepare_points(X, graph.metric or "euclidean")


def _labels_after(labels: np.ndarray, edges: np.ndarray) -> np.ndarray:
    n = int(labels.max()) + 1
    link = sp.coo_matrix((np.ones(len(edges)), (labels[edges[:, 0]], labels[edges[:, 1]])), shape=(n, n))
    _, merged = connected_components(link, directed=False)
    return merged[labels].astype(np.int64)


def shortest_joining_edges(Xp: np.ndarray, labels: np.ndarray, n_threads: int | None = None):
    """The edges of the minimum spanning tree over the components given by `labels`, where each
    cross-component pair (i, j) weighs its squared distance and ties are broken by (min(i, j), max(i, j)).

    Returns ((C - 1, 2) int64 edges with i < j, in the order they were found, and their float64 lengths).
    """
    labels = np.ascontiguousarray(labels, dtype=np.int64)
    n = labels.size
    found, lengths = [], []
    rows = np.arange(n, dtype=np.int64)
    nearest = _direct_nearest if Xp.shape[1] <= DIRECT_MAX_DIMS else _blas_nearest(Xp)
    while np.unique(labels).size > 1:
        best_j, best_d2 = nearest(Xp, labels, n_threads)
        lo, hi = np.minimum(rows, best_j), np.maximum(rows, best_j)
        # each component's shortest outgoing edge under the total order (squared length, lo, hi)
        order = np.lexsort((hi, lo, best_d2, labels))
        first = order[np.r_[True, labels[order][1:] != labels[order][:-1]]]
        picked = np.unique(np.stack([best_d2[first], lo[first], hi[first]], axis=1), axis=0)
        edges = picked[:, 1:].astype(np.int64)
        found.append(edges)
        lengths.append(np.sqrt(picked[:, 0]))
        labels = _labels_after(labels, edges)
    if not found:
        return np.zeros((0, 2), np.int64), np.zeros(0, np.float64)
    return np.concatenate(found), np.concatenate(lengths)


def _direct_nearest(Xp, labels, n_threads):
    n = labels.size
    best_j = np.empty(n, np.int64)
    best_d2 = np.empty(n, np.float64)

    def work(start, stop, _state):
        _join.nearest_other_component(Xp, labels, start, stop, best_j, best_d2)

    parallel_for(n, work, n_threads=n_threads)
    return best_j, best_d2


def _blas_nearest(Xp):
    """Nearest other-component point of every row from blocks of BLAS inner products, re-measured
    exactly (the same answer as _direct_nearest)."""
    from ricci_fast.graph import _blas_controller

    centred = np.ascontiguousarray(Xp - Xp.mean(axis=0))
    sqnorms = np.einsum("ij,ij->i", centred, centred)
    # rounding bound of |c_i|^2 + |c_j|^2 - 2 c_i.c_j and of the exact re-measurement, with margin
    coef = (4 * Xp.shape[1] + 16) * np.finfo(np.float64).eps / 2
    max_sq = float(sqnorms.max())
    n = Xp.shape[0]
    block = int(min(n, max(32, BLOCK_BYTES // (8 * n))))

    def nearest(Xp, labels, n_threads):
        best_j = np.empty(n, np.int64)
        best_d2 = np.empty(n, np.float64)

        def work(start, stop, _state):
            gram = centred[start:stop] @ centred.T
            _join.block_nearest_other(Xp, sqnorms, gram, start, labels, coef, max_sq, best_j, best_d2)

        # one single-threaded GEMM per kernel thread
        with _blas_controller().limit(limits=1, user_api="blas"):
            parallel_for(n, work, n_threads=n_threads, chunk=block)
        return best_j, best_d2

    return nearest


def joining_cost(graph: Graph, n_features: int) -> float:
    """Point pairs x features one Boruvka round scans: sum over components of size x (N - size) x D."""
    sizes = component_sizes(graph).astype(np.float64)
    return float(np.sum(sizes * (graph.n_nodes - sizes)) * n_features)


def with_edges(graph: Graph, edges: np.ndarray) -> Graph:
    """`graph` with extra undirected edges (its k-NN table and build parameters kept)."""
    if edges.size == 0:
        return graph
    n = graph.n_nodes
    extra = sp.coo_matrix(
        (np.ones(2 * len(edges), np.int8), (np.r_[edges[:, 0], edges[:, 1]], np.r_[edges[:, 1], edges[:, 0]])),
        shape=(n, n),
    )
    matrix = (graph.to_scipy() + extra).tocsr()
    matrix.sum_duplicates()
    matrix.sort_indices()
    return dataclasses.replace(graph, indptr=matrix.indptr, indices=matrix.indices)


def join_components(graph: Graph, X, n_threads: int | None = None):
    """Connect `graph` (the k-NN graph of X) by the shortest edges between its components.

    Returns (the joined Graph, (C - 1, 2) int64 added edges i < j, their float64 lengths in the graph's
    metric: Euclidean, or between unit vectors for metric="cosine").  A connected graph comes back as it
    is, with no edges.  Time: about log2(C) scans of all cross-component pairs, O(N) memory.
    """
    if getattr(graph, "weights", None) is not None:
        raise ValueError("graph: joining components is defined for unweighted k-NN graphs only.")
    if graph.n_components == 1:
        return graph, np.zeros((0, 2), np.int64), np.zeros(0, np.float64)
    Xp, exponent = _points(graph, X)
    edges, lengths = shortest_joining_edges(Xp, graph.component_labels, n_threads)
    return with_edges(graph, edges), edges, np.ldexp(lengths, exponent)


def connecting_k(graph: Graph, X, edges: np.ndarray | None = None) -> int | None:
    """A k at which the k-NN graph of X (same metric and symmetrisation) is connected: the largest
    neighbour rank a joining edge needs (an upper bound; a smaller k may connect it too).  None when
    the work would exceed SUGGEST_K_BUDGET."""
    if graph.n_components == 1:
        return graph.k
    Xp, _ = _points(graph, X)
    if edges is None:
        if joining_cost(graph, Xp.shape[1]) > SUGGEST_K_BUDGET:
            return None
        edges, _ = shortest_joining_edges(Xp, graph.component_labels)
    need = 0
    for i, j in edges:
        a, b = _join.rank_of(Xp, int(i), int(j)), _join.rank_of(Xp, int(j), int(i))
        need = max(need, max(a, b) if graph.symmetrize == "mutual" else min(a, b))
    return max(int(need), int(graph.k or 1))
