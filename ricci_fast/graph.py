"""k-nearest-neighbour graphs (SPEC section 1) and the `Graph` they come in."""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numba
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, reverse_cuthill_mckee
from scipy.spatial import cKDTree
from threadpoolctl import ThreadpoolController

from ricci_fast._validation import (
    as_activation_array,
    as_activation_tensor,
    check_choice,
    check_k,
    is_device_tensor,
)
from ricci_fast.kernels import csr as _csr
from ricci_fast.kernels import knn as _knn

METRICS = ("euclidean", "sqeuclidean", "cosine")
SYMMETRIZE = ("union", "mutual")
METHODS = ("auto", "exact", "brute", "kdtree", "approximate")

#: Up to this many features, method="auto" uses a KD-tree (scipy's cKDTree); above it, blocked BLAS.
KDTREE_MAX_DIMS = 8
#: Above this many points (and KDTREE_MAX_DIMS features), method="auto" switches to approximate search
#: (NN-descent) and says so: exact brute force grows as N^2 (18 s at N = 100,000, D = 50 here; about
#: 30 minutes at N = 1,000,000), NN-descent roughly as N log N, with recall measured on a sample.
APPROXIMATE_ABOVE = 200_000
#: Bytes of the inner-product block the brute-force search holds at a time (rows x N); a few MB keeps
#: the GEMM output hot in cache (one 4000 x 4000 product was 9x slower than 16 blocks of 250 rows here).
BRUTE_BLOCK_BYTES = 4 * 2**20


@dataclass(eq=False)
class Graph:
    """An undirected, unweighted graph in CSR form: row i lists i's neighbours, sorted, without i.

    Attributes: indptr (int64, N + 1), indices (int32).  Graphs built by `knn_graph` also keep the
    directed k-NN table they came from (knn_indices, knn_distances: (N, k), nearest first) and how
    they were built (k, metric, symmetrize, method, recall for approximate search).
    """

    indptr: np.ndarray
    indices: np.ndarray
    k: int | None = None
    metric: str | None = None
    symmetrize: str | None = None
    method: str | None = None
    knn_indices: np.ndarray | None = field(default=None, repr=False)
    knn_distances: np.ndarray | None = field(default=None, repr=False)
    recall: float | None = None
    #: positive edge lengths aligned with indices (symmetric), or None for an unweighted graph
    weights: np.ndarray | None = field(default=None, repr=False)
    #: the caller's node ids (from_networkx), position i naming node i; None means 0 .. N-1
    node_ids: tuple | None = field(default=None, repr=False)

    def __post_init__(self):
        self.indptr = np.ascontiguousarray(self.indptr, dtype=np.int64)
        self.indices = np.ascontiguousarray(self.indices, dtype=np.int32)

    @property
    def n_nodes(self) -> int:
        return self.indptr.shape[0] - 1

    @property
    def n_edges(self) -> int:
        """Undirected edges (each counted once)."""
        return int(self.indptr[-1]) // 2

    @cached_property
    def degrees(self) -> np.ndarray:
        return np.diff(self.indptr)

    @cached_property
    def _components(self) -> tuple[int, np.ndarray]:
        n, labels = connected_components(self.to_scipy(), directed=False)
        return int(n), labels.astype(np.int32)

    @property
    def n_components(self) -> int:
        return self._components[0]

    @property
    def component_labels(self) -> np.ndarray:
        return self._components[1]

    @cached_property
    def bfs_order(self) -> np.ndarray:
        """Reverse Cuthill-McKee order: neighbouring nodes get nearby ids, which keeps the sources of a
        bit-parallel BFS batch close together."""
        return reverse_cuthill_mckee(self.to_scipy(), symmetric_mode=True).astype(np.int64)

    def to_scipy(self, weighted: bool = False) -> sp.csr_matrix:
        """The symmetric 0/1 adjacency matrix as scipy.sparse CSR (int8 data); weighted=True gives the
        edge lengths as float64 data instead (1.0 on an unweighted graph)."""
        if weighted:
            from ricci_fast.networks import weighted_matrix

            return weighted_matrix(self)
        data = np.ones(self.indices.shape[0], dtype=np.int8)
        return sp.csr_matrix((data, self.indices, self.indptr), shape=(self.n_nodes, self.n_nodes))

    def edges(self) -> np.ndarray:
        """(n_edges, 2) int array of undirected edges i < j, in CSR order."""
        rows = np.repeat(np.arange(self.n_nodes, dtype=np.int64), self.degrees)
        upper = self.indices > rows
        return np.stack([rows[upper], self.indices[upper].astype(np.int64)], axis=1)

    @classmethod
    def from_scipy(cls, matrix, weighted: bool = False) -> "Graph":
        """A Graph from any square scipy.sparse or dense adjacency matrix (nonzero = edge).

        The matrix must be symmetric and have an empty diagonal; weighted=True keeps its entries as edge
        lengths (Graph.weights: finite, > 0, symmetric), else they are ignored.
        """
        if weighted:
            from ricci_fast.networks import graph_from_scipy

            return graph_from_scipy(cls, matrix)
        matrix = sp.csr_matrix(matrix)
        if matrix.shape[0] != matrix.shape[1]:
            raise ValueError(f"matrix: an adjacency matrix must be square, got shape {matrix.shape}.")
        matrix.eliminate_zeros()
        pattern = (matrix != 0).astype(np.int8)
        if pattern.diagonal().any():
            raise ValueError("matrix: self-loops are not allowed; clear the diagonal (matrix.setdiag(0)).")
        if (pattern != pattern.T).nnz:
            raise ValueError("matrix: the graph must be undirected; symmetrise it (e.g. matrix.maximum(matrix.T)).")
        pattern.sort_indices()
        return cls(pattern.indptr, pattern.indices)

    @classmethod
    def from_edges(cls, edges, n_nodes: int, weights=None) -> "Graph":
        """A Graph from an (E, 2) array of undirected edges (duplicates and both orders allowed);
        weights: optional (E,) positive edge lengths (a duplicate must repeat the same length)."""
        if weights is not None:
            from ricci_fast.networks import graph_from_edges

            return graph_from_edges(cls, edges, n_nodes, weights)
        edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
        if edges.size and (edges.min() < 0 or edges.max() >= n_nodes):
            raise ValueError(f"edges: node ids must lie in [0, {n_nodes - 1}].")
        if np.any(edges[:, 0] == edges[:, 1]):
            raise ValueError("edges: self-loops are not allowed.")
        rows = np.concatenate([edges[:, 0], edges[:, 1]])
        cols = np.concatenate([edges[:, 1], edges[:, 0]])
        matrix = sp.csr_matrix((np.ones(rows.size, np.int8), (rows, cols)), shape=(n_nodes, n_nodes))
        matrix.data[:] = 1
        return cls.from_scipy(matrix)

    def __repr__(self) -> str:
        built = f", k={self.k}, metric={self.metric!r}, symmetrize={self.symmetrize!r}" if self.k else ""
        return (
            f"Graph(n_nodes={self.n_nodes}, n_edges={self.n_edges}, mean_degree="
            f"{self.indices.shape[0] / max(self.n_nodes, 1):.2f}{built}"
            f"{', weighted' if self.weights is not None else ''})"
        )

    # --- bridges to networkx, PyTorch Geometric and edge tables (ricci_fast/networks.py) ---

    @classmethod
    def from_networkx(cls, G, weight: str | None = "weight") -> "Graph":
        """A Graph from an undirected networkx graph.  Nodes keep their ids (any hashable: Graph.node_ids,
        in G.nodes() order); the edge attribute `weight` becomes Graph.weights when edges carry it
        (weight=None ignores weights).  See docs/definitions.md section "Weighted graphs"."""
        from ricci_fast.networks import graph_from_networkx

        return graph_from_networkx(cls, G, weight)

    def to_networkx(self, edge_values=None, node_values=None, name: str = "curvature", weight: str = "weight"):
        """This graph as networkx.Graph with the original node ids; edge_values (per CSR entry, per
        undirected edge, or a curvature result) become the edge attribute `name`, node_values (per node,
        or True for the mean of the incident edge values) the node attribute `name`; weights go to the
        edge attribute `weight`."""
        from ricci_fast.networks import graph_to_networkx

        return graph_to_networkx(self, edge_values, node_values, name, weight)

    @classmethod
    def from_edge_index(cls, edge_index, num_nodes: int | None = None, edge_weight=None) -> "Graph":
        """A Graph from a PyTorch Geometric style (2, E) edge_index (numpy or torch; one or both
        directions of each edge) and optional (E,) edge_weight used as edge lengths."""
        from ricci_fast.networks import graph_from_edge_index

        return graph_from_edge_index(cls, edge_index, num_nodes, edge_weight)

    def to_edge_index(self, as_torch: bool = False):
        """(2, 2 E) int64 edge_index, both directions, column p being CSR entry p (so graph.weights and
        edge_curvature values line up with its columns); a torch tensor when as_torch=True."""
        from ricci_fast.networks import graph_to_edge_index

        return graph_to_edge_index(self, as_torch)

    def edge_table(self, values=None, name: str = "value"):
        """pandas DataFrame with one row per undirected edge: u, v (original node ids), weight (if
        weighted) and `name` from values (per CSR entry, per undirected edge, or a curvature result)."""
        from ricci_fast.networks import edge_table

        return edge_table(self, values, name=name)

    def unweighted(self) -> "Graph":
        """The same graph (node ids kept) without edge weights."""
        from ricci_fast.networks import with_weights

        return with_weights(self, None)


def knn_graph(
    X,
    k: int = 30,
    *,
    metric: str = "euclidean",
    symmetrize: str = "union",
    method: str = "auto",
    check_recall: int | bool | None = None,
    random_state: int | None = 0,
    backend: str = "auto",
    weighted: bool = False,
) -> Graph:
    """Symmetrised, unweighted k-nearest-neighbour graph of the rows of X (SPEC section 1).

    Each point takes exactly its k nearest other points, ties broken by the lower index (duplicates
    are distinct points at distance 0); symmetrize="union" keeps an edge if either end chose the other,
    "mutual" if both did.  Distances are compared exactly in float64.

    method: "auto" (a KD-tree for at most KDTREE_MAX_DIMS features, else blocked BLAS brute force, and
    above APPROXIMATE_ABOVE points in more dimensions approximate search, with a warning and a recall
    check), "exact" (always exact), "brute", "kdtree", or "approximate" (NN-descent via pynndescent: its
    first call compiles for 35-200 s and its recall falls on high-intrinsic-dimension data).  check_recall=M (or True for 1000) measures recall@k of approximate search
    against exact search on M random points and stores it in Graph.recall.

    backend: "auto" searches on the GPU when X is a torch tensor there (exact search, same tie rule;
    only the (N, k) neighbour table comes back to the host), else on the CPU; "torch" forces the torch
    path on the tensor's device, "numpy" forces the CPU kernels.

    weighted: True gives the edges lengths (Graph.weights): the distance between the two points in
    `metric` (for weighted Ollivier-Ricci, weighted Forman and the discrete Ricci flow).
    """
    check_choice(backend, "backend", ("auto", "numpy", "torch"))
    check_choice(metric, "metric", METRICS)
    check_choice(symmetrize, "symmetrize", SYMMETRIZE)
    check_choice(method, "method", METHODS)
    if backend == "torch" or (backend == "auto" and is_device_tensor(X)):
        if method not in ("auto", "exact", "brute"):
            raise ValueError(f"method={method!r} runs on the CPU; use backend='numpy' or method='exact'.")
        from ricci_fast._torch_knn import torch_knn

        tensor = as_activation_tensor(X)
        k = check_k(k, tensor.shape[0])
        knn_idx, knn_sq = torch_knn(tensor, k, metric)
        return _finish_graph(knn_idx, knn_sq, k, metric, symmetrize, f"exact ({tensor.device.type})", None, weighted)
    X = as_activation_array(X)
    n_points = X.shape[0]
    k = check_k(k, n_points)
    if check_recall is not None and method not in ("approximate", "auto"):
        warnings.warn("check_recall only applies to method='approximate'; exact search has recall 1.", stacklevel=2)
    Xd = _prepare_points(X, metric)
    if method == "auto" and Xd.shape[1] > KDTREE_MAX_DIMS and n_points > APPROXIMATE_ABOVE:
        try:
            import pynndescent  # noqa: F401
        except ImportError:
            warnings.warn(
                f"N={n_points} is above {APPROXIMATE_ABOVE}, where method='auto' would use approximate search, "
                f"but pynndescent is not installed (pip install 'ricci_fast[approximate]'); searching exactly.",
                stacklevel=2,
            )
        else:
            method = "approximate"
            check_recall = 1000 if check_recall is None else check_recall
            warnings.warn(
                f"N={n_points} > {APPROXIMATE_ABOVE}: method='auto' uses approximate k-NN search (NN-descent); "
                f"its recall@k on {check_recall} random points is in Graph.recall. Pass method='exact' to "
                f"search exactly (time grows as N^2).",
                stacklevel=2,
            )
    if method in ("auto", "exact"):
        method = "kdtree" if Xd.shape[1] <= KDTREE_MAX_DIMS else "brute"
    recall = None
    if method == "brute":
        knn_idx, knn_sq = _brute_knn(Xd, k)
    elif method == "kdtree":
        knn_idx, knn_sq = _kdtree_knn(Xd, k)
    else:
        knn_idx, knn_sq = _approximate_knn(Xd, k, random_state)
        if check_recall:
            sample = 1000 if check_recall is True else int(check_recall)
            recall = _recall(Xd, knn_idx, k, sample, random_state)
    return _finish_graph(knn_idx, knn_sq, k, metric, symmetrize, method, recall, weighted)


def _finish_graph(knn_idx, knn_sq, k, metric, symmetrize, method, recall, weighted=False) -> Graph:
    indptr, indices = _csr.symmetrize_knn(knn_idx, symmetrize == "mutual")
    distances = np.sqrt(knn_sq)
    if metric == "cosine":
        distances = knn_sq / 2.0  # |a - b|^2 = 2 - 2 cos for unit vectors
    elif metric == "sqeuclidean":
        distances = knn_sq
    lengths = None
    if weighted:
        from ricci_fast.networks import knn_edge_lengths

        lengths = knn_edge_lengths(indptr, indices, knn_idx, distances)
    return Graph(
        indptr, indices, k=k, metric=metric, symmetrize=symmetrize, method=method,
        knn_indices=knn_idx, knn_distances=distances, recall=recall, weights=lengths,
    )


def _prepare_points(X: np.ndarray, metric: str) -> np.ndarray:
    Xd = np.ascontiguousarray(X, dtype=np.float64)
    if metric == "cosine":
        norms = np.linalg.norm(Xd, axis=1)
        zero = np.flatnonzero(norms == 0)
        if zero.size:
            raise ValueError(
                f"X: metric='cosine' is undefined for all-zero rows ({zero.size} such rows, first at index "
                f"{zero[0]}); drop them or use metric='euclidean'."
            )
        Xd = np.ascontiguousarray(Xd / norms[:, None])
    return Xd


def _brute_knn(Xd: np.ndarray, k: int, gemm_dtype=np.float32):
    """Blocked BLAS brute force.  The GEMM runs in float32 by default (twice the speed of float64); its
    rounding only widens the candidate set, which is re-measured exactly in float64."""
    n_points = Xd.shape[0]
    centred = (Xd - Xd.mean(axis=0)).astype(gemm_dtype)
    sqnorms = np.einsum("ij,ij->i", centred, centred, dtype=np.float64)
    unit_roundoff = float(np.finfo(gemm_dtype).eps) / 2
    out_idx = np.empty((n_points, k), np.int32)
    out_sq = np.empty((n_points, k), np.float64)
    block = int(min(n_points, max(32, BRUTE_BLOCK_BYTES // (np.dtype(gemm_dtype).itemsize * n_points))))
    starts = list(range(0, n_points, block))
    n_workers = max(1, min(numba.get_num_threads(), len(starts)))

    def work(worker):
        buffer = np.empty((block, n_points), gemm_dtype)
        for start in starts[worker::n_workers]:
            gram = buffer[: min(block, n_points - start)]
            np.matmul(centred[start:start + block], centred.T, out=gram)
            _knn.brute_block_topk(Xd, sqnorms, gram, start, k, unit_roundoff, out_idx, out_sq)

    # one single-threaded GEMM + selection per thread (both release the GIL)
    with _blas_controller().limit(limits=1, user_api="blas"), ThreadPoolExecutor(n_workers) as pool:
        list(pool.map(work, range(n_workers)))
    return out_idx, out_sq


@lru_cache(maxsize=1)
def _blas_controller() -> ThreadpoolController:
    # inspecting the loaded BLAS libraries costs ~1.5 ms; do it once per process
    return ThreadpoolController()


def _kdtree_knn(Xd: np.ndarray, k: int):
    n_points = Xd.shape[0]
    tree = cKDTree(Xd)
    out_idx = np.empty((n_points, k), np.int32)
    out_sq = np.empty((n_points, k), np.float64)
    pending = np.arange(n_points, dtype=np.int64)
    n_query = min(n_points, k + 3)
    while pending.size:
        dist, idx = tree.query(Xd[pending], k=n_query, workers=-1)
        dist = dist.reshape(pending.size, n_query)
        idx = idx.reshape(pending.size, n_query)
        if n_query == n_points:
            complete = np.ones(pending.size, bool)
        else:
            # the candidate list is complete when its last entry lies strictly beyond the k-th other point
            # (with room for rounding differences between cKDTree and the exact re-measurement)
            others = np.cumsum(idx != pending[:, None], axis=1)
            kth = dist[np.arange(pending.size), np.argmax(others >= k, axis=1)]
            complete = dist[:, -1] > kth * (1 + 1e-9)
        rows = pending[complete]
        if rows.size:
            _knn.refine_candidates(Xd, rows, np.ascontiguousarray(idx[complete], dtype=np.int64), k, out_idx, out_sq)
        pending = pending[~complete]
        n_query = min(n_points, 2 * n_query)
    return out_idx, out_sq


def _approximate_knn(Xd: np.ndarray, k: int, random_state):
    try:
        from pynndescent import NNDescent
    except ImportError:
        raise ImportError(
            "method='approximate' needs pynndescent: pip install 'ricci_fast[approximate]'."
        ) from None
    n_points = Xd.shape[0]
    n_neighbors = min(n_points, k + 1)
    index = NNDescent(Xd, n_neighbors=n_neighbors, metric="euclidean", random_state=random_state)
    candidates = np.ascontiguousarray(index.neighbor_graph[0], dtype=np.int64)
    out_idx = np.empty((n_points, k), np.int32)
    out_sq = np.empty((n_points, k), np.float64)
    _knn.refine_candidates(Xd, np.arange(n_points, dtype=np.int64), candidates, k, out_idx, out_sq)
    short = np.flatnonzero((out_idx < 0).any(axis=1)).astype(np.int64)
    if short.size:
        # NN-descent occasionally pads a row with -1; those rows get an exact scan
        fixed_idx = np.empty((short.size, k), np.int32)
        fixed_sq = np.empty((short.size, k), np.float64)
        _knn.rows_exact_topk(Xd, short, k, fixed_idx, fixed_sq)
        out_idx[short] = fixed_idx
        out_sq[short] = fixed_sq
    return out_idx, out_sq


def _recall(Xd: np.ndarray, knn_idx: np.ndarray, k: int, sample: int, random_state) -> float:
    rng = np.random.default_rng(random_state)
    rows = np.sort(rng.choice(Xd.shape[0], size=min(sample, Xd.shape[0]), replace=False)).astype(np.int64)
    exact_idx = np.empty((rows.size, k), np.int32)
    exact_sq = np.empty((rows.size, k), np.float64)
    _knn.rows_exact_topk(Xd, rows, k, exact_idx, exact_sq)
    hits = sum(np.intersect1d(knn_idx[r], exact_idx[t]).size for t, r in enumerate(rows))
    return hits / (rows.size * k)
