"""Graphs from elsewhere and back: networkx, PyTorch Geometric edge_index, scipy matrices, edge lists,
edge tables; and the checks for edge lengths (Graph.weights, docs/definitions.md "Weighted graphs").

Every constructor builds the same canonical CSR (rows sorted, no self-loops, each undirected edge in both
directions) with the lengths aligned to it, so that one weight check covers every way in.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
import scipy.sparse as sp


def check_weights(weights, indptr: np.ndarray, indices: np.ndarray, name: str = "weights") -> np.ndarray:
    """Edge lengths as C-contiguous float64 aligned with indices: finite, > 0 and symmetric (the entry of
    i-j equals that of j-i).  Raises ValueError/TypeError naming the problem and the fix."""
    array = np.asarray(weights)
    if array.dtype == bool or array.dtype == object or np.iscomplexobj(array) or not (
        np.issubdtype(array.dtype, np.number)
    ):
        raise TypeError(f"{name}: expected real numeric edge lengths, got dtype {array.dtype}.")
    array = np.ascontiguousarray(array, dtype=np.float64).reshape(-1)
    if array.shape[0] != indices.shape[0]:
        raise ValueError(
            f"{name}: expected one length per CSR entry ({indices.shape[0]}, aligned with graph.indices), "
            f"got {array.shape[0]}."
        )
    if array.size:
        bad = ~np.isfinite(array)
        if bad.any():
            raise ValueError(f"{name}: {int(bad.sum())} edge lengths are NaN or inf; lengths must be finite.")
        if array.min() <= 0:
            raise ValueError(
                f"{name}: {int((array <= 0).sum())} edge lengths are <= 0 (smallest {array.min():g}); lengths "
                f"must be > 0 (drop zero-length edges or merge their end points)."
            )
        n = indptr.shape[0] - 1
        matrix = sp.csr_matrix((array, indices, indptr), shape=(n, n))
        if (matrix != matrix.T).nnz:
            raise ValueError(f"{name}: the length of i-j differs from that of j-i for some edges; give each "
                             f"undirected edge one length.")
    return array


def with_weights(graph, weights):
    """A copy of graph (same CSR, node ids kept) carrying `weights` (None: unweighted)."""
    from ricci_fast.graph import Graph

    if weights is not None:
        weights = check_weights(weights, graph.indptr, graph.indices)
    return Graph(
        graph.indptr, graph.indices, k=graph.k, metric=graph.metric, symmetrize=graph.symmetrize,
        method=graph.method, knn_indices=graph.knn_indices, knn_distances=graph.knn_distances,
        recall=graph.recall, weights=weights, node_ids=graph.node_ids,
    )


def _build(cls, n_nodes: int, u: np.ndarray, v: np.ndarray, w, node_ids=None, what: str = "edges"):
    """Canonical Graph from undirected pairs u-v (any order, duplicates allowed when they agree on w)."""
    u = np.asarray(u, dtype=np.int64).reshape(-1)
    v = np.asarray(v, dtype=np.int64).reshape(-1)
    if u.size and (min(u.min(), v.min()) < 0 or max(u.max(), v.max()) >= n_nodes):
        raise ValueError(f"{what}: node ids must lie in [0, {n_nodes - 1}].")
    loops = u == v
    if loops.any():
        raise ValueError(f"{what}: {int(loops.sum())} self-loops (first at node {int(u[loops][0])}); self-loops "
                         f"have no curvature: remove them first.")
    lo, hi = np.minimum(u, v), np.maximum(u, v)
    key = lo * n_nodes + hi
    order = np.argsort(key, kind="stable")
    key = key[order]
    first = np.ones(key.size, bool)
    first[1:] = key[1:] != key[:-1]
    if w is not None:
        w = np.asarray(w)
        if w.dtype == bool or w.dtype == object or not np.issubdtype(w.dtype, np.number) or np.iscomplexobj(w):
            raise TypeError(f"{what}: edge lengths must be real numbers, got dtype {w.dtype}.")
        w = np.asarray(w, dtype=np.float64).reshape(-1)
        if w.shape[0] != u.shape[0]:
            raise ValueError(f"{what}: got {u.shape[0]} edges but {w.shape[0]} edge lengths.")
        if not np.all(np.isfinite(w)):
            raise ValueError(f"{what}: {int((~np.isfinite(w)).sum())} edge lengths are NaN or inf; lengths must be "
                             f"finite.")
        w = w[order]
        group = np.cumsum(first) - 1
        if not np.array_equal(w, w[first][group]):
            raise ValueError(f"{what}: an edge is listed twice with different lengths (for example both "
                             f"directions of a directed graph); give each undirected edge one length.")
        w = w[first]
    key = key[first]
    lo, hi = key // n_nodes, key % n_nodes
    rows = np.concatenate([lo, hi])
    cols = np.concatenate([hi, lo])
    entry = np.lexsort((cols, rows))
    indptr = np.zeros(n_nodes + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=n_nodes), out=indptr[1:])
    indices = cols[entry]
    weights = None
    if w is not None:
        weights = check_weights(np.concatenate([w, w])[entry], indptr, indices, name=f"{what} lengths")
    return cls(indptr, indices, weights=weights, node_ids=node_ids)


def graph_from_edges(cls, edges, n_nodes, weights):
    edges = np.asarray(edges)
    if edges.size % 2:
        raise ValueError(f"edges: expected an (E, 2) array of node pairs, got shape {edges.shape}.")
    edges = edges.astype(np.int64).reshape(-1, 2)
    return _build(cls, int(n_nodes), edges[:, 0], edges[:, 1], weights, what="edges")


def graph_from_scipy(cls, matrix):
    matrix = sp.coo_matrix(matrix)
    if matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"matrix: an adjacency matrix must be square, got shape {matrix.shape}.")
    keep = matrix.data != 0
    rows, cols, data = matrix.row[keep], matrix.col[keep], matrix.data[keep]
    if np.any(rows == cols):
        raise ValueError("matrix: self-loops are not allowed; clear the diagonal (matrix.setdiag(0)).")
    n = matrix.shape[0]
    csr = sp.csr_matrix((data.astype(np.float64), (rows, cols)), shape=(n, n))
    if (csr != csr.T).nnz:
        raise ValueError("matrix: the weighted adjacency must be symmetric (an undirected graph with one length "
                         "per edge); symmetrise it, e.g. matrix.maximum(matrix.T).")
    return _build(cls, n, rows, cols, data, what="matrix")


def weighted_matrix(graph) -> sp.csr_matrix:
    n = graph.n_nodes
    data = np.ones(graph.indices.shape[0]) if graph.weights is None else graph.weights.copy()
    return sp.csr_matrix((data, graph.indices.copy(), graph.indptr.copy()), shape=(n, n))


def graph_from_networkx(cls, G, weight):
    try:
        import networkx as nx
    except ImportError:  # pragma: no cover - networkx is in the test extra
        raise ImportError("Graph.from_networkx needs networkx: pip install networkx.") from None
    if not isinstance(G, nx.Graph):
        raise TypeError(f"G: expected a networkx graph, got {type(G).__name__}.")
    if G.is_directed():
        raise ValueError("G: curvature here is defined on undirected graphs; pass G.to_undirected() "
                         "(it keeps one of the two lengths of an edge given both ways).")
    if G.is_multigraph():
        raise ValueError("G: multigraphs are not supported; collapse parallel edges first, e.g. nx.Graph(G).")
    n_loops = nx.number_of_selfloops(G)
    if n_loops:
        raise ValueError(f"G: {n_loops} self-loops; they have no curvature: remove them first with "
                         f"G.remove_edges_from(nx.selfloop_edges(G)).")
    ids = list(G.nodes())
    if not ids:
        raise ValueError("G: the graph has no nodes; curvature needs at least one node (and edges to be of use).")
    index = {node: i for i, node in enumerate(ids)}
    n = len(ids)
    m = G.number_of_edges()
    u = np.empty(m, np.int64)
    v = np.empty(m, np.int64)
    w = None
    if weight is not None:
        values = [data for _, _, data in G.edges(data=weight)]
        present = [x is not None for x in values]
        if all(present) and m:
            for x in values:
                if isinstance(x, bool) or not isinstance(x, numbers.Real):
                    raise TypeError(f"G: edge attribute {weight!r} must be a real number, got {x!r}.")
            w = np.array(values, dtype=np.float64)
        elif any(present):
            missing = next((a, b) for (a, b), p in zip(G.edges(), present) if not p)
            raise ValueError(
                f"G: {present.count(False)} of {m} edges lack the attribute {weight!r} (for example {missing}); "
                f"give every edge a length, or pass weight=None to ignore lengths."
            )
    for e, (a, b) in enumerate(G.edges()):
        u[e] = index[a]
        v[e] = index[b]
    node_ids = None if ids == list(range(n)) else tuple(ids)
    return _build(cls, n, u, v, w, node_ids=node_ids, what="G")


def node_labels(graph) -> np.ndarray:
    """The caller's node ids as an array (object dtype for non-integer ids)."""
    if graph.node_ids is None:
        return np.arange(graph.n_nodes)
    ids = graph.node_ids
    if all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in ids):
        return np.array(ids, dtype=np.int64)
    out = np.empty(len(ids), dtype=object)
    out[:] = list(ids)
    return out


def twin_entries(graph) -> np.ndarray:
    """For each CSR entry p (edge i-j) the position of its twin entry j-i."""
    n = graph.n_nodes
    rows = np.repeat(np.arange(n, dtype=np.int64), graph.degrees)
    keys = rows * n + graph.indices  # ascending: rows sorted, columns sorted within a row
    return np.searchsorted(keys, graph.indices.astype(np.int64) * n + rows)


def _upper(graph):
    rows = np.repeat(np.arange(graph.n_nodes, dtype=np.int64), graph.degrees)
    upper = graph.indices > rows
    return rows, upper


def per_entry(graph, values, name: str = "values") -> np.ndarray | None:
    """Values aligned with graph.indices from a per-entry array, a per-undirected-edge array (in
    graph.edges() order) or a result object (OllivierRicci, LayerCurvature, DiscreteRicciFlow, ...)."""
    if values is None:
        return None
    for attribute in ("edge_curvature", "curvature", "values"):
        inner = getattr(values, attribute, None)
        if isinstance(inner, np.ndarray) and not isinstance(values, np.ndarray):
            values = inner
            break
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    n_entries = graph.indices.shape[0]
    if array.shape[0] == n_entries:
        return array
    if array.shape[0] == graph.n_edges:
        rows, upper = _upper(graph)
        out = np.empty(n_entries)
        out[upper] = array
        lower = ~upper
        out[lower] = out[twin_entries(graph)[lower]]
        return out
    raise ValueError(
        f"{name}: expected one value per CSR entry ({n_entries}) or per undirected edge ({graph.n_edges}), "
        f"got {array.shape[0]}."
    )


def edge_table(graph, values=None, name: str = "value") -> pd.DataFrame:
    """One row per undirected edge (u < v by position, in graph.edges() order): u, v as the caller's node
    ids, weight when the graph carries lengths, and `name` from values."""
    from ricci_fast.graph import Graph

    if not isinstance(graph, Graph):
        inner = getattr(graph, "graph", None)
        if isinstance(inner, Graph):  # a result object passed alone
            graph, values = inner, graph if values is None else values
        else:
            raise TypeError(f"graph: expected a ricci_fast.Graph, got {type(graph).__name__}.")
    rows, upper = _upper(graph)
    labels = node_labels(graph)
    frame = pd.DataFrame({"u": labels[rows[upper]], "v": labels[graph.indices[upper].astype(np.int64)]})
    if graph.weights is not None:
        frame["weight"] = graph.weights[upper]
    entries = per_entry(graph, values)
    if entries is not None:
        frame[name] = entries[upper]
    return frame


def graph_to_networkx(graph, edge_values=None, node_values=None, name: str = "curvature", weight: str = "weight"):
    import networkx as nx

    G = nx.Graph()
    labels = node_labels(graph).tolist()
    G.add_nodes_from(labels)
    rows, upper = _upper(graph)
    us = [labels[i] for i in rows[upper]]
    vs = [labels[j] for j in graph.indices[upper]]
    entries = per_entry(graph, edge_values, "edge_values")
    attrs = [{} for _ in us]
    if graph.weights is not None:
        for a, x in zip(attrs, graph.weights[upper].tolist()):
            a[weight] = x
    if entries is not None:
        for a, x in zip(attrs, entries[upper].tolist()):
            a[name] = x
    G.add_edges_from((a, b, d) for a, b, d in zip(us, vs, attrs))
    if node_values is not None:
        if node_values is True:
            if entries is None:
                raise ValueError("node_values=True takes the mean of edge_values at each node; pass edge_values.")
            from ricci_fast.kernels import csr as _csr

            node_values = _csr.row_means(graph.indptr, np.ascontiguousarray(entries))
        node_values = np.asarray(getattr(node_values, "node_curvature", node_values), dtype=np.float64).reshape(-1)
        if node_values.shape[0] != graph.n_nodes:
            raise ValueError(f"node_values: expected one value per node ({graph.n_nodes}), got {node_values.shape[0]}.")
        nx.set_node_attributes(G, dict(zip(labels, node_values.tolist())), name)
    return G


def _as_numpy(array, name: str):
    if type(array).__module__.startswith("torch"):
        array = array.detach().cpu().numpy()
    return np.asarray(array)


def graph_from_edge_index(cls, edge_index, num_nodes=None, edge_weight=None):
    index = _as_numpy(edge_index, "edge_index")
    if index.ndim != 2 or index.shape[0] != 2:
        raise ValueError(f"edge_index: expected shape (2, E) (PyTorch Geometric layout), got {index.shape}.")
    if index.size and not np.issubdtype(index.dtype, np.integer):
        raise TypeError(f"edge_index: expected integer node ids, got dtype {index.dtype}.")
    index = index.astype(np.int64)
    if num_nodes is None:
        if not index.size:
            raise ValueError("edge_index: no edges, so the number of nodes is unknown; pass num_nodes=N.")
        num_nodes = int(index.max()) + 1
    if isinstance(num_nodes, bool) or not isinstance(num_nodes, numbers.Integral) or num_nodes < 1:
        raise ValueError(f"num_nodes must be a positive integer (a graph needs at least one node), got "
                         f"{num_nodes!r}.")
    weight = None if edge_weight is None else _as_numpy(edge_weight, "edge_weight").reshape(-1)
    return _build(cls, int(num_nodes), index[0], index[1], weight, what="edge_index")


def graph_to_edge_index(graph, as_torch: bool = False):
    rows = np.repeat(np.arange(graph.n_nodes, dtype=np.int64), graph.degrees)
    out = np.stack([rows, graph.indices.astype(np.int64)])
    if as_torch:
        import torch

        return torch.from_numpy(out)
    return out


def knn_edge_lengths(indptr, indices, knn_idx, distances) -> np.ndarray:
    """The k-NN distance of every CSR entry i-j (from whichever end chose the other)."""
    n, k = knn_idx.shape
    src = np.repeat(np.arange(n, dtype=np.int64), k)
    keys = src * n + knn_idx.reshape(-1).astype(np.int64)
    dist = np.asarray(distances, dtype=np.float64).reshape(-1)
    order = np.argsort(keys)
    keys, dist = keys[order], dist[order]
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    cols = indices.astype(np.int64)
    out = np.full(indices.shape[0], -np.inf)
    for query in (rows * n + cols, cols * n + rows):
        pos = np.minimum(np.searchsorted(keys, query), max(keys.size - 1, 0))
        hit = keys[pos] == query if keys.size else np.zeros(query.size, bool)
        out = np.where(hit, np.maximum(out, dist[pos] if keys.size else out), out)
    if out.size and out.min() <= 0:
        raise ValueError(
            f"X: weighted=True needs positive edge lengths, but {int((out <= 0).sum() // 2)} edges join points at "
            f"distance 0 (duplicate points); drop duplicates (np.unique(X, axis=0)) or use weighted=False."
        )
    return out
