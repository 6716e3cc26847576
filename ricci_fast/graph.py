"""k-nearest-neighbour graphs (SPEC section 1) and the `Graph` they come in."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import reverse_cuthill_mckee
from scipy.spatial import cKDTree
from threadpoolctl import ThreadpoolController

from ricci_fast import _parallel
from ricci_fast._validation import (
    as_activation_array,
    as_activation_tensor,
    check_choice,
    check_integer,
    check_k,
    is_device_tensor,
)
from ricci_fast.kernels import csr as _csr
from ricci_fast.kernels import connected as _connected
from ricci_fast.kernels import graph_checks as _checks
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


_INDEX_LIMIT = 2**31 - 1  # indices are int32


def _row_of(indptr: np.ndarray, position: int) -> int:
    return int(np.searchsorted(indptr, position, side="right")) - 1


def _as_index_array(value, name: str, dtype) -> np.ndarray:
    """A fresh, C-contiguous 1-D integer copy of value (the caller's array is never shared)."""
    try:
        array = np.asarray(value)
    except Exception as exc:  # ragged lists
        raise TypeError(f"{name}: could not convert {type(value).__name__} to an integer array: {exc}") from None
    if array.dtype.kind == "b":
        raise TypeError(f"{name}: expected integers, got a boolean array; pass node ids / offsets as integers.")
    if array.dtype.kind == "f":
        finite = np.isfinite(array)
        bad = np.flatnonzero(~finite | (np.floor(np.where(finite, array, 0)) != np.where(finite, array, 0)))
        if bad.size:
            raise TypeError(
                f"{name}: expected integers, got {array.dtype} with non-integral value "
                f"{float(array.ravel()[bad[0]])!r} at position {bad[0]}."
            )
        if array.size and np.abs(array).max() > 2.0**62:
            raise ValueError(f"{name}: values up to {np.abs(array).max():g} are far out of range.")
    elif array.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected an integer array, got dtype {array.dtype}.")
    if array.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array, got shape {array.shape}.")
    if array.dtype.kind == "u" and array.size and array.max() > np.iinfo(np.int64).max:
        raise ValueError(f"{name}: value {array.max()} is out of range.")
    if dtype == np.int32 and array.size:
        # range-check before the cast to int32 so a large id cannot wrap around
        low, high = int(array.min()), int(array.max())
        if low < 0 or high > _INDEX_LIMIT:
            return np.array(array, dtype=np.int64)  # reported with its position by the caller
    return np.array(array, dtype=dtype, order="C", copy=True)


def _checked_structure(indptr, indices) -> tuple[np.ndarray, np.ndarray]:
    """Validated, read-only copies of a CSR structure (docs/definitions.md section 1): indptr int64 of
    length N + 1 from 0 to len(indices), non-decreasing; indices int32 in [0, N), each row strictly
    increasing, no self-loops, symmetric.  O(nnz)."""
    indptr = _as_index_array(indptr, "indptr", np.int64)
    indices = _as_index_array(indices, "indices", np.int32)
    if indptr.shape[0] < 2:
        raise ValueError(
            f"indptr: a graph needs at least one node, so indptr needs length N + 1 >= 2; got length "
            f"{indptr.shape[0]}."
        )
    n = indptr.shape[0] - 1
    if n > _INDEX_LIMIT:
        raise ValueError(f"indptr: {n} nodes is more than int32 node ids allow ({_INDEX_LIMIT}).")
    if indptr[0] != 0:
        raise ValueError(f"indptr: must start at 0, got indptr[0] = {indptr[0]}.")
    steps = np.diff(indptr)
    if steps.size and steps.min() < 0:
        row = int(np.argmax(steps < 0))
        raise ValueError(
            f"indptr: must be non-decreasing, but row {row} ends before it starts "
            f"(indptr[{row}] = {indptr[row]} > indptr[{row + 1}] = {indptr[row + 1]})."
        )
    if indptr[-1] != indices.shape[0]:
        raise ValueError(
            f"indptr: must end at len(indices) = {indices.shape[0]}, got indptr[-1] = {indptr[-1]}."
        )
    if indices.size:
        low, high = int(indices.min()), int(indices.max())
        if low < 0 or high >= n:
            bad = int(np.argmax((indices < 0) | (indices >= n)))
            raise ValueError(
                f"indices: node id {int(indices[bad])} at entry {bad} (row {_row_of(indptr, bad)}) is out of "
                f"range; ids must lie in [0, N) = [0, {n})."
            )
    code, row, pos = _checks.check_csr(indptr, indices)
    if code != _checks.OK:
        row, pos = int(row), int(pos)
        j = int(indices[pos])
        what = {
            _checks.SELF_LOOP: f"a self-loop {row}-{row} at entry {pos}; self-loops are not allowed",
            _checks.DUPLICATE: f"neighbour {j} twice (entry {pos}); each neighbour is listed once",
            _checks.UNSORTED: f"neighbour {j} at entry {pos} after {int(indices[pos - 1])}; rows must be sorted "
                              f"increasingly (Graph.from_edges or Graph.from_scipy sort them)",
            _checks.ASYMMETRIC: f"neighbour {j} at entry {pos}, but row {j} does not list {row}; the graph must be "
                                f"undirected (symmetric)",
        }[code]
        raise ValueError(f"indices: row {row} has {what}.")
    indptr.setflags(write=False)
    indices.setflags(write=False)
    return indptr, indices


def _read_only(array):
    if isinstance(array, np.ndarray):
        array.setflags(write=False)
    return array


@dataclass(eq=False)
class Graph:
    """An undirected, unweighted graph in CSR form: row i lists i's neighbours, sorted, without i.

    Attributes: indptr (int64, N + 1), indices (int32).  Graphs built by `knn_graph` also keep the
    directed k-NN table they came from (knn_indices, knn_distances: (N, k), nearest first) and how
    they were built (k, metric, symmetrize, method, recall for approximate search).

    `Graph(indptr, indices)` checks the structure once (O(nnz); see `_checked_structure`) and raises a
    ValueError or TypeError naming what is wrong and where.  The arrays are stored as read-only copies,
    so in-place edits raise; assigning new ones (graph.indices = ...) checks them again.  Kernels may
    therefore index with them without bounds checks.
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

    #: Fields whose arrays the kernels index with: checked together, stored read-only, re-checked when
    #: assigned.  (Edge weights, aligned with indices, belong here too.)
    _STRUCTURE = ("indptr", "indices", "weights")
    #: Cached values derived from the structure, dropped when it changes.
    _DERIVED = ("degrees", "_components", "bfs_order")

    def __post_init__(self):
        if self.__dict__.pop("_trusted", False):
            # a constructor that built the arrays itself and guarantees the structure
            for name in self._STRUCTURE:
                _read_only(getattr(self, name))
            if self.weights is not None:  # lengths from a table can still be 0 (duplicate points): check them
                from ricci_fast.networks import check_weights

                object.__setattr__(self, "weights", _read_only(check_weights(self.weights, self.indptr, self.indices)))
        else:
            for name, array in self._validate_fields({f: getattr(self, f) for f in self._STRUCTURE}).items():
                object.__setattr__(self, name, array)
        _read_only(self.knn_indices)
        _read_only(self.knn_distances)
        self._mark_checked()

    @classmethod
    def _trusted(cls, indptr, indices, **fields) -> "Graph":
        """A Graph without the structural check, for internal constructors whose arrays are valid by
        construction (fresh int64 indptr and int32 indices, rows sorted, symmetric, no self-loops)."""
        graph = cls.__new__(cls)
        object.__setattr__(graph, "_trusted", True)
        graph.__init__(indptr, indices, **fields)
        return graph

    def _validate_fields(self, fields: dict) -> dict:
        """Checked, read-only arrays for the structural fields (raises ValueError/TypeError)."""
        indptr, indices = _checked_structure(fields["indptr"], fields["indices"])
        checked = {**fields, "indptr": indptr, "indices": indices}
        if fields.get("weights") is not None:
            from ricci_fast.networks import check_weights

            checked["weights"] = _read_only(check_weights(fields["weights"], indptr, indices).copy())
        return checked

    def _mark_checked(self):
        object.__setattr__(self, "_checked", tuple(id(getattr(self, f)) for f in self._STRUCTURE))

    def _ensure_valid(self) -> "Graph":
        """Re-check the structure if its arrays were replaced behind __setattr__'s back or made writable
        again (pickling, object.__setattr__, setflags); O(1) otherwise.  check_graph calls this."""
        arrays = [getattr(self, f) for f in self._STRUCTURE]
        same = self.__dict__.get("_checked") == tuple(id(a) for a in arrays)
        if same and all(not isinstance(a, np.ndarray) or not a.flags.writeable for a in arrays):
            return self
        for name, array in self._validate_fields({f: getattr(self, f) for f in self._STRUCTURE}).items():
            object.__setattr__(self, name, array)
        self._forget_derived()
        self._mark_checked()
        return self

    def _forget_derived(self):
        for name in self._DERIVED:
            self.__dict__.pop(name, None)

    def __setattr__(self, name, value):
        if name in self._STRUCTURE and "_checked" in self.__dict__:
            fields = {f: getattr(self, f) for f in self._STRUCTURE}
            fields[name] = value
            try:
                checked = self._validate_fields(fields)
            except (ValueError, TypeError) as exc:
                raise type(exc)(
                    f"Graph.{name}: the new value does not fit the graph: {exc} To change the structure, "
                    f"build a new Graph(indptr, indices)."
                ) from None
            for field_name, array in checked.items():
                object.__setattr__(self, field_name, array)
            self._forget_derived()
            self._mark_checked()
            return
        if name in ("knn_indices", "knn_distances"):
            value = _read_only(value)
        object.__setattr__(self, name, value)

    @property
    def n_nodes(self) -> int:
        return self.indptr.shape[0] - 1

    @property
    def n_edges(self) -> int:
        """Undirected edges (each counted once)."""
        return int(self.indptr[-1]) // 2

    @cached_property
    def degrees(self) -> np.ndarray:
        return _read_only(np.diff(self.indptr))

    @cached_property
    def _components(self) -> tuple[int, np.ndarray]:
        labels = np.empty(self.n_nodes, np.int32)
        n = _connected.component_labels(self.indptr, self.indices, labels, np.empty(self.n_nodes, np.int32))
        return int(n), _read_only(labels)

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
        return _read_only(reverse_cuthill_mckee(self.to_scipy(), symmetric_mode=True).astype(np.int64))

    def to_scipy(self, weighted: bool = False) -> sp.csr_matrix:
        """The symmetric 0/1 adjacency matrix as scipy.sparse CSR (int8 data); weighted=True gives the
        edge lengths as float64 data instead (1.0 on an unweighted graph)."""
        if weighted:
            from ricci_fast.networks import weighted_matrix

            return weighted_matrix(self)
        data = np.ones(self.indices.shape[0], dtype=np.int8)
        # copies: the graph's arrays are read-only, and edits to the matrix must not reach the graph
        return sp.csr_matrix((data, self.indices.copy(), self.indptr.copy()), shape=(self.n_nodes, self.n_nodes))

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
        if isinstance(matrix, (str, bytes)) or matrix is None:
            raise TypeError(f"matrix: expected a scipy.sparse matrix or a 2-D array, got {type(matrix).__name__}.")
        if sp.issparse(matrix):
            try:
                # scipy's own constructors do not look inside indptr/indices; a broken one must not reach C code
                if matrix.format in ("csr", "csc", "bsr"):
                    matrix.check_format(full_check=True)
            except ValueError as exc:
                raise ValueError(f"matrix: invalid sparse structure: {exc}") from None
            kind = matrix.dtype.kind
        else:
            try:
                dense = np.asarray(matrix)
            except Exception as exc:
                raise TypeError(f"matrix: could not convert {type(matrix).__name__} to an array: {exc}") from None
            if dense.ndim != 2:
                raise ValueError(f"matrix: an adjacency matrix must be 2-D, got shape {dense.shape}.")
            kind = dense.dtype.kind
            matrix = dense
        if kind not in "biuf":
            raise TypeError(f"matrix: expected a real or boolean adjacency matrix, got dtype {matrix.dtype}.")
        if weighted:
            from ricci_fast.networks import graph_from_scipy

            return graph_from_scipy(cls, matrix)
        if matrix.shape[0] != matrix.shape[1]:
            raise ValueError(f"matrix: an adjacency matrix must be square, got shape {matrix.shape}.")
        if matrix.shape[0] == 0:
            raise ValueError("matrix: a graph needs at least one node, got a 0 x 0 matrix.")
        matrix = sp.csr_matrix(matrix)
        if kind == "f" and not np.isfinite(matrix.data).all():
            raise ValueError("matrix: NaN or infinite entries; an adjacency matrix has finite values.")
        matrix.sum_duplicates()
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
        n_nodes = check_integer(n_nodes, "n_nodes", minimum=1, maximum=_INDEX_LIMIT)
        try:
            array = np.asarray(edges)
        except Exception as exc:  # ragged lists
            raise TypeError(f"edges: could not convert {type(edges).__name__} to an (E, 2) array: {exc}") from None
        if array.size and (array.ndim != 2 or array.shape[1] != 2):
            raise ValueError(f"edges: expected pairs of node ids, shape (E, 2), got shape {array.shape}.")
        edges = _as_index_array(array.ravel(), "edges", np.int64).reshape(-1, 2)
        if edges.size and (edges.min() < 0 or edges.max() >= n_nodes):
            bad = int(np.argmax(((edges < 0) | (edges >= n_nodes)).any(axis=1)))
            raise ValueError(f"edges: node ids must lie in [0, {n_nodes - 1}]; edge {bad} is {edges[bad].tolist()}.")
        if np.any(edges[:, 0] == edges[:, 1]):
            bad = int(np.argmax(edges[:, 0] == edges[:, 1]))
            raise ValueError(f"edges: self-loops are not allowed; edge {bad} is {edges[bad].tolist()}.")
        rows = np.concatenate([edges[:, 0], edges[:, 1]])
        cols = np.concatenate([edges[:, 1], edges[:, 0]])
        matrix = sp.csr_matrix((np.ones(rows.size, np.int8), (rows, cols)), shape=(n_nodes, n_nodes))
        matrix.sum_duplicates()
        matrix.data[:] = 1
        matrix.sort_indices()
        return cls._trusted(np.ascontiguousarray(matrix.indptr, np.int64), np.ascontiguousarray(matrix.indices, np.int32))

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
    "mutual" if both did.  Distances are compared exactly in float64.  The graph does not depend on the
    data's magnitude (the graph of c X is the graph of X for any finite c > 0; knn_distances are in X's
    units), and X's dtype is converted without merging points or refused (docs/definitions.md, Inputs).

    method: "auto" (a KD-tree for at most KDTREE_MAX_DIMS features, else blocked BLAS brute force, and
    above APPROXIMATE_ABOVE points in more dimensions approximate search, with a warning and a recall
    check), "exact" (always exact), "brute", "kdtree", or "approximate" (NN-descent via pynndescent: its
    first call compiles for 35-200 s and its recall falls on high-intrinsic-dimension data; the graph is
    the same for a given random_state whatever the thread count; the one path that is not fork-safe,
    since pynndescent runs on Numba's OpenMP threads).  check_recall=M (or True for 1000) measures recall@k of approximate search
    against exact search on M random points and stores it in Graph.recall.

    X may also live out of core (np.memmap, zarr or dask arrays, array-likes with row slicing): the exact
    search then reads it in row blocks (ricci_fast/knn_blocks.py), with the same graph bit for bit.

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
    if check_recall is not None and not isinstance(check_recall, (bool, np.bool_)):
        check_recall = check_integer(check_recall, "check_recall", minimum=1)
    if backend == "torch" or (backend == "auto" and is_device_tensor(X)):
        if method not in ("auto", "exact", "brute"):
            raise ValueError(f"method={method!r} runs on the CPU; use backend='numpy' or method='exact'.")
        from ricci_fast._torch_knn import torch_knn

        tensor = as_activation_tensor(X, name="X")
        k = check_k(k, tensor.shape[0])
        knn_idx, knn_sq, exponent = torch_knn(tensor, k, metric)
        return _finish_graph(knn_idx, knn_sq, exponent, k, metric, symmetrize, f"exact ({tensor.device.type})", None,
                             weighted)
    from ricci_fast import _arrays

    if _arrays.is_out_of_core(X):
        # memmaps, zarr and dask arrays: searched in row blocks, never converted whole (ricci_fast/knn_blocks.py)
        from ricci_fast.knn_blocks import knn_graph_blocks

        return knn_graph_blocks(X, k, metric=metric, symmetrize=symmetrize, method=method, check_recall=check_recall,
                                random_state=random_state, weighted=weighted)
    X = as_activation_array(X, name="X")
    n_points = X.shape[0]
    k = check_k(k, n_points)
    if check_recall is not None and method not in ("approximate", "auto"):
        warnings.warn("check_recall only applies to method='approximate'; exact search has recall 1.", stacklevel=2)
    Xd, exponent = _prepare_points(X, metric)
    if method == "auto" and Xd.shape[1] > KDTREE_MAX_DIMS and n_points > APPROXIMATE_ABOVE:
        try:
            import pynndescent  # noqa: F401
        except ImportError:
            warnings.warn(
                f"N={n_points} is above {APPROXIMATE_ABOVE}, where method='auto' would use approximate search, "
                f"but pynndescent is not installed (pip install \".[approximate]\" from a checkout); searching exactly.",
                stacklevel=2,
            )
        else:
            method = "approximate"
            check_recall = 1000 if check_recall is None else check_recall
            warnings.warn(
                f"N={n_points} > {APPROXIMATE_ABOVE}: method='auto' uses approximate k-NN search (NN-descent); "
                f"its recall@k on {check_recall} random points is in Graph.recall. It is deterministic for a "
                f"given random_state whatever the thread count, but not fork-safe (pynndescent uses Numba's "
                f"OpenMP threads). Pass method='exact' to search exactly (time grows as N^2).",
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
    return _finish_graph(knn_idx, knn_sq, exponent, k, metric, symmetrize, method, recall, weighted)


def _check_table(knn_idx: np.ndarray, knn_sq: np.ndarray, k: int) -> None:
    """Every slot of the (N, k) table filled: a neighbour id in range, not the point itself, not repeated,
    with a finite distance.  The symmetrisation kernel indexes with these ids, so an unfilled slot must
    stop here, never reach it."""
    n = knn_idx.shape[0]
    if knn_idx.shape != (n, k) or knn_sq.shape != (n, k):
        raise RuntimeError(f"k-NN search returned tables of shape {knn_idx.shape} / {knn_sq.shape}, not ({n}, {k}).")
    rows = np.arange(n)[:, None]
    bad = (knn_idx < 0) | (knn_idx >= n) | (knn_idx == rows) | ~np.isfinite(knn_sq)
    if k > 1:
        ordered = np.sort(knn_idx, axis=1)
        bad[:, 1:] |= ordered[:, 1:] == ordered[:, :-1]
    if bad.any():
        row = int(np.argmax(bad.any(axis=1)))
        raise RuntimeError(
            f"k-NN search left {int(bad.sum())} of {bad.size} neighbour slots unfilled or invalid (first in row "
            f"{row}); this is a bug in ricci_fast, please report it with the input's shape and dtype."
        )


def _finish_graph(knn_idx, knn_sq, exponent, k, metric, symmetrize, method, recall, weighted=False) -> Graph:
    """The Graph of a checked (N, k) table; knn_sq are squared distances of the points scaled by
    2^-exponent (see _prepare_points), reported in the caller's units."""
    _check_table(knn_idx, knn_sq, k)
    indptr, indices = _csr.symmetrize_knn(knn_idx, symmetrize == "mutual")
    if metric == "cosine":
        distances = knn_sq / 2.0  # |a - b|^2 = 2 - 2 cos for unit vectors
    elif metric == "sqeuclidean":
        with np.errstate(over="ignore"):  # a squared distance past 1.8e308 is inf in the caller's units
            distances = np.ldexp(knn_sq, 2 * exponent)
    else:
        distances = np.ldexp(np.sqrt(knn_sq), exponent)
    lengths = None
    if weighted:
        from ricci_fast.networks import knn_edge_lengths

        lengths = knn_edge_lengths(indptr, indices, knn_idx, distances)
    # symmetrize_knn guarantees the structure (sorted rows, no self-loops, symmetric) from a checked table;
    # lengths come from the same table, so they are symmetric too (checked when weighted)
    return Graph._trusted(
        indptr, indices, k=k, metric=metric, symmetrize=symmetrize, method=method,
        knn_indices=knn_idx, knn_distances=distances, recall=recall, weights=lengths,
    )


def _power_of_two_exponent(max_abs: float) -> int:
    """e with max_abs = m 2^e, 0.5 <= m < 1 (0 for 0): dividing by 2^e is exact in binary floating point
    (short of subnormal results) and keeps every comparison of distances."""
    if not max_abs > 0:
        return 0
    return int(np.frexp(max_abs)[1])


def _prepare_points(X: np.ndarray, metric: str) -> tuple[np.ndarray, int]:
    """The float64 points the search runs on, and the exponent e they were scaled by (points / 2^e).

    Distances are scale-covariant, so the search works on X / 2^e with the largest magnitude in
    [0.5, 1): the same graph at every scale, without float32 overflow in the GEMM (|x| above ~1e19),
    underflow (below ~1e-30), or float64 overflow of squared distances (above ~1e154).  For cosine
    each row is scaled by its own power of two before it is normalised (cosine ignores row lengths)."""
    Xd = np.ascontiguousarray(X, dtype=np.float64)
    if metric == "cosine":
        row_max = np.abs(Xd).max(axis=1)
        zero = np.flatnonzero(row_max == 0)
        if zero.size:
            raise ValueError(
                f"X: metric='cosine' is undefined for all-zero rows ({zero.size} such rows, first at index "
                f"{zero[0]}); drop them or use metric='euclidean'."
            )
        Xd = np.ldexp(Xd, -np.frexp(row_max)[1][:, None])
        return np.ascontiguousarray(Xd / np.linalg.norm(Xd, axis=1)[:, None]), 0
    exponent = _power_of_two_exponent(float(max(Xd.max(), -Xd.min())))
    if exponent:
        # in place only on our own float64 copy: the caller's X is never changed
        Xd = np.ldexp(Xd, -exponent, out=Xd if Xd is not X else None)
    return Xd, exponent


def _brute_knn(Xd: np.ndarray, k: int, gemm_dtype=np.float32):
    """Blocked BLAS brute force.  The GEMM runs in float32 by default (twice the speed of float64); its
    rounding only widens the candidate set, which is re-measured exactly in float64."""
    n_points = Xd.shape[0]
    centred = (Xd - Xd.mean(axis=0)).astype(gemm_dtype)
    sqnorms = np.einsum("ij,ij->i", centred, centred, dtype=np.float64)
    unit_roundoff = float(np.finfo(gemm_dtype).eps) / 2
    # sentinels: a slot the kernel did not fill is caught by _check_table
    out_idx = np.full((n_points, k), -1, np.int32)
    out_sq = np.full((n_points, k), np.nan)
    block = int(min(n_points, max(32, BRUTE_BLOCK_BYTES // (np.dtype(gemm_dtype).itemsize * n_points))))
    n_blocks = -(-n_points // block)

    def work(first, stop, buffer):
        for b in range(first, stop):
            start = b * block
            gram = buffer[: min(block, n_points - start)]
            np.matmul(centred[start:start + block], centred.T, out=gram)
            _knn.brute_block_topk(Xd, sqnorms, gram, start, k, unit_roundoff, out_idx, out_sq)

    # one single-threaded GEMM + selection per thread (both release the GIL), a block at a time
    with _blas_controller().limit(limits=1, user_api="blas"):
        _parallel.parallel_for(n_blocks, work, chunk=1, scratch=lambda: np.empty((block, n_points), gemm_dtype))
    return out_idx, out_sq


@lru_cache(maxsize=1)
def _blas_controller() -> ThreadpoolController:
    # inspecting the loaded BLAS libraries costs ~1.5 ms; do it once per process
    return ThreadpoolController()


def _kdtree_knn(Xd: np.ndarray, k: int):
    n_points = Xd.shape[0]
    tree = cKDTree(Xd)
    out_idx = np.full((n_points, k), -1, np.int32)
    out_sq = np.full((n_points, k), np.nan)
    pending = np.arange(n_points, dtype=np.int64)
    n_query = min(n_points, k + 3)
    while pending.size:
        dist, idx = tree.query(Xd[pending], k=n_query, workers=_parallel.get_num_threads())
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
    """NN-descent candidates (pynndescent), then the exact float64 top-k among them.

    Deterministic for a given random_state whatever the thread count: pynndescent's parallel NN-descent
    depends on how its Numba threads interleave (44% of its candidate rows, and 6% of the final graph's
    rows, differed between 1 and 2 threads), so it runs with n_jobs=1; the exact refinement is bit-identical for every thread count.
    Not fork-safe: pynndescent's kernels use Numba's parallel (OpenMP) threads, so a process that forks
    afterwards (a torch DataLoader with fork workers) may abort; the exact methods have no such limit."""
    try:
        from pynndescent import NNDescent
    except ImportError:
        raise ImportError(
            'method=\'approximate\' needs pynndescent: pip install ".[approximate]" (from a checkout of ricci_fast).'
        ) from None
    n_points = Xd.shape[0]
    n_neighbors = min(n_points, k + 1)
    index = NNDescent(Xd, n_neighbors=n_neighbors, metric="euclidean", random_state=random_state, n_jobs=1)
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


# --- k-scans and r-neighbourhood graphs (issue 12) ------------------------------------------------


def restrict_k(graph: Graph, k: int) -> Graph:
    """The k-NN graph for a smaller k, derived from a graph built by `knn_graph` at a larger k.

    The stored table lists each point's neighbours nearest first with ties by the lower index, so its
    first k columns are exactly the table a separate `knn_graph(X, k)` call finds (for exact search;
    an approximate table restricts to an approximate one).  The result goes through the same
    symmetrisation kernel, so it is identical to a separate call: a scan over k pays for one search.
    """
    if graph.knn_indices is None or graph.k is None:
        raise ValueError("graph: restrict_k needs a graph built by knn_graph (it keeps the neighbour table).")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= int(k) <= graph.k:
        raise ValueError(f"k must be an integer in [1, {graph.k}] (the graph's k), got {k!r}.")
    k = int(k)
    knn_idx = np.ascontiguousarray(graph.knn_indices[:, :k])
    indptr, indices = _csr.symmetrize_knn(knn_idx, graph.symmetrize == "mutual")
    distances = None if graph.knn_distances is None else np.ascontiguousarray(graph.knn_distances[:, :k])
    return Graph(
        indptr, indices, k=k, metric=graph.metric, symmetrize=graph.symmetrize, method=graph.method,
        knn_indices=knn_idx, knn_distances=distances, recall=graph.recall,
    )


#: Up to this many features radius_graph uses cKDTree.query_pairs; above it, blocked brute force.
RADIUS_KDTREE_MAX_DIMS = 8


def radius_graph(X, r: float, *, method: str = "auto", max_edges: int | None = 50_000_000) -> Graph:
    """The r-neighbourhood (epsilon) graph of the rows of X: an edge between every two distinct points at
    Euclidean distance <= r (as scikit-learn's radius_neighbors_graph; docs/definitions.md section 1).

    Exact: candidates from a KD-tree (at most RADIUS_KDTREE_MAX_DIMS features) or from blocked inner
    products (more features), widened by a rounding margin and then re-measured in float64, so the
    boundary test is sqrt(sum (x_i - y_i)^2) <= r exactly as scipy's cdist computes it.  No N x N array:
    memory is O(edges) plus one block of rows.  r is in the units of X; a graph with no edges or with
    most pairs connected usually means r is off the data's scale, which the warning says.
    max_edges guards against an r so large that the graph would not fit (None: no limit).
    Duplicate points are distinct points at distance 0 (always joined).
    """
    check_choice(method, "method", ("auto", "kdtree", "brute"))
    X = as_activation_array(X)
    if isinstance(r, bool) or not isinstance(r, (int, float, np.integer, np.floating)) or not np.isfinite(r) or r < 0:
        raise ValueError(f"r must be a finite number >= 0 (in the units of X), got {r!r}.")
    r = float(r)
    Xd = np.ascontiguousarray(X, dtype=np.float64)
    n_points = Xd.shape[0]
    if method == "auto":
        method = "kdtree" if Xd.shape[1] <= RADIUS_KDTREE_MAX_DIMS else "brute"
    # candidates within a slightly larger radius, so rounding in the search never loses a pair
    scale = float(np.abs(Xd).max()) if Xd.size else 0.0
    slack = r * (1 + 1e-9) + 1e-12 * max(scale, 1.0)
    if method == "kdtree":
        pairs = cKDTree(Xd).query_pairs(slack, output_type="ndarray").astype(np.int64)
        pairs = pairs.reshape(-1, 2)
        _check_edge_budget(pairs.shape[0], max_edges, r)
    else:
        pairs = _radius_brute_pairs(Xd, slack, max_edges, r)
    if pairs.size:
        diff = Xd[pairs[:, 0]] - Xd[pairs[:, 1]]
        keep = np.sqrt(np.einsum("ij,ij->i", diff, diff)) <= r
        pairs = pairs[keep]
    graph = Graph.from_edges(pairs, n_points)
    graph.method = method
    mean_degree = graph.indices.shape[0] / max(n_points, 1)
    if n_points > 1 and (graph.n_edges == 0 or mean_degree > 0.5 * (n_points - 1)):
        warnings.warn(
            f"radius_graph: r={r:g} gives mean degree {mean_degree:.1f} of a possible {n_points - 1}; r is in the "
            f"units of X (nearest-neighbour distances here are about {_typical_nn_distance(Xd):.3g}).",
            stacklevel=2,
        )
    return graph


def _check_edge_budget(n_pairs: int, max_edges, r: float) -> None:
    if max_edges is not None and n_pairs > max_edges:
        raise ValueError(
            f"r={r:g} connects more than max_edges={max_edges} pairs; lower r or raise max_edges."
        )


def _radius_brute_pairs(Xd: np.ndarray, slack: float, max_edges, r: float) -> np.ndarray:
    n_points = Xd.shape[0]
    centred = Xd - Xd.mean(axis=0)
    sqnorms = np.einsum("ij,ij->i", centred, centred)
    # |a - b|^2 from the Gram matrix loses about eps * (|a|^2 + |b|^2); widen the threshold by that much
    margin = 8 * np.finfo(np.float64).eps * (sqnorms.max() if n_points else 0.0)
    bound = slack * slack + margin
    block = int(min(max(n_points, 1), max(32, BRUTE_BLOCK_BYTES // (8 * max(n_points, 1)))))
    found = []
    total = 0
    for start in range(0, n_points, block):
        stop = min(n_points, start + block)
        d2 = sqnorms[start:stop, None] + sqnorms[None, :] - 2.0 * (centred[start:stop] @ centred.T)
        rows, cols = np.nonzero(d2 <= bound)
        rows = rows + start
        upper = cols > rows
        found.append(np.stack([rows[upper], cols[upper]], axis=1).astype(np.int64))
        total += int(np.count_nonzero(upper))
        _check_edge_budget(total, max_edges, r)
    return np.concatenate(found) if found else np.zeros((0, 2), np.int64)


def _typical_nn_distance(Xd: np.ndarray) -> float:
    sample = Xd[np.random.default_rng(0).choice(Xd.shape[0], size=min(200, Xd.shape[0]), replace=False)]
    dist, _ = cKDTree(Xd).query(sample, k=2)
    return float(np.median(dist[:, 1]))
