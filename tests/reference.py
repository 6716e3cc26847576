"""Slow, obviously-right implementations of SPEC.md, written without any of ricci_fast's code.

They hold dense N x N matrices and loop in Python: use them on small inputs only.  bench/compare.py also
uses `reference_flow_published_style` as the stand-in for the field's published pipeline.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import shortest_path


def knn_lists(X: np.ndarray, k: int, metric: str = "euclidean") -> list[list[int]]:
    """Each point's k nearest other points: exact float64 distances, ties by lower index."""
    X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    if metric == "cosine":
        X = X / np.linalg.norm(X, axis=1, keepdims=True)
    out = []
    for i in range(len(X)):
        d2 = ((X - X[i]) ** 2).sum(axis=1)
        order = [j for j in np.lexsort((np.arange(len(X)), d2)) if j != i]
        out.append(order[:k])
    return out


def knn_nx_graph(X, k: int, metric: str = "euclidean", symmetrize: str = "union") -> nx.Graph:
    lists = knn_lists(X, k, metric)
    graph = nx.Graph()
    graph.add_nodes_from(range(len(lists)))
    for i, neighbours in enumerate(lists):
        for j in neighbours:
            if symmetrize == "union" or i in lists[j]:
                graph.add_edge(i, int(j))
    return graph


def to_nx(graph) -> nx.Graph:
    """A ricci_fast.Graph as networkx, through its scipy matrix (one independent path)."""
    return nx.from_scipy_sparse_array(graph.to_scipy())


def edge_values(graph: nx.Graph, kind: str) -> dict[tuple[int, int], float]:
    """SPEC section 2 per undirected edge, keyed (min, max)."""
    values = {}
    for x, y in graph.edges():
        dx, dy = graph.degree(x), graph.degree(y)
        t = len(set(graph[x]) & set(graph[y]))
        if kind == "forman":
            value = 4 - dx - dy
        elif kind == "augmented_forman":
            value = 4 - dx - dy + 3 * t
        elif kind == "approx_ollivier":
            m, n = max(dx, dy), min(dx, dy)
            value = 0.5 * t / m - 0.5 * (
                max(0.0, 1 - 1 / dx - 1 / dy - t / n) + max(0.0, 1 - 1 / dx - 1 / dy - t / m) - t / m
            )
        else:
            raise ValueError(kind)
        values[(min(x, y), max(x, y))] = float(value)
    return values


def node_scalar_curvature(graph: nx.Graph, values: dict) -> np.ndarray:
    out = np.full(graph.number_of_nodes(), np.nan)
    for x in graph.nodes():
        incident = [values[(min(x, y), max(x, y))] for y in graph[x]]
        if incident:
            out[x] = sum(incident) / len(incident)
    return out


def hop_matrix(graph: nx.Graph) -> np.ndarray:
    """Dense all-pairs hop distances (inf between components) by scipy's unweighted shortest paths."""
    adjacency = nx.to_scipy_sparse_array(graph, nodelist=range(graph.number_of_nodes()), format="csr")
    return shortest_path(sp.csr_matrix(adjacency), unweighted=True, directed=False)


def corr(a, b) -> float:
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    if len(a) < 2 or len(set(a.tolist())) == 1 or len(set(b.tolist())) == 1:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def flow(layers, k: int, kind: str = "forman", symmetrize: str = "union") -> dict:
    """SPEC section 4 from dense hop matrices and per-point loops."""
    graphs = [knn_nx_graph(X, k, symmetrize=symmetrize) for X in layers]
    return flow_from_graphs(graphs, kind)


def flow_from_graphs(graphs: list[nx.Graph], kind: str = "forman") -> dict:
    n = graphs[0].number_of_nodes()
    values = [edge_values(g, kind) for g in graphs]
    totals = np.array([sum(v.values()) for v in values])
    hops = [hop_matrix(g) for g in graphs]
    g_sums = np.array([h.sum() / 2 for h in hops])
    node_sums = [h.sum(axis=1) for h in hops]
    S = np.array([node_scalar_curvature(graphs[l], values[l]) for l in range(len(graphs) - 1)])
    eta_nodes = np.full((len(graphs) - 1, n), np.nan)
    for l in range(len(graphs) - 1):
        for x in range(n):
            nbrs = list(graphs[l][x])
            d = [hops[l + 1][x, y] for y in nbrs]
            if nbrs and np.all(np.isfinite(d)):
                eta_nodes[l, x] = np.mean(d) - 1
    layer_coef = []
    for l in range(len(graphs) - 1):
        ok = np.isfinite(eta_nodes[l]) & np.isfinite(S[l])
        layer_coef.append(corr(S[l][ok], eta_nodes[l][ok]))
    local = np.array(
        [
            corr(S[:, x], eta_nodes[:, x]) if np.all(np.isfinite(eta_nodes[:, x])) and np.all(np.isfinite(S[:, x])) else np.nan
            for x in range(n)
        ]
    )
    with np.errstate(invalid="ignore"):  # inf - inf between two disconnected layers
        eta = np.diff(g_sums)
    glob = corr(totals[:-1], eta) if len(graphs) >= 4 and np.all(np.isfinite(g_sums)) else float("nan")
    return {
        "total_curvature": totals,
        "geodesic_sum": g_sums,
        "node_geodesic_sums": node_sums,
        "eta": eta,
        "global_coefficient": glob,
        "layer_coefficients": np.array(layer_coef),
        "local_coefficients": local,
        "node_curvature": S,
        "node_eta": eta_nodes,
    }


def reference_flow_published_style(layers, k: int) -> dict:
    """The pipeline as the field's published Python code runs it, with SPEC.md's definitions instead of
    its bugs: a scikit-learn k-NN graph, networkx for degrees and the dense adjacency matrix, scipy's
    all-pairs Dijkstra on that matrix, and Python loops over points for the local quantities.  Used as
    the speed and memory baseline in bench/compare.py."""
    from sklearn.neighbors import kneighbors_graph

    totals, g_sums, S, hops, adjs = [], [], [], [], []
    for X in layers:
        A = kneighbors_graph(X, k, mode="connectivity", include_self=False)
        G = nx.from_scipy_sparse_array(A.maximum(A.T))
        deg = np.array([G.degree(i) for i in G.nodes])
        adj = nx.to_numpy_array(G)
        F = (4 - deg[:, None] - deg[None, :]) * adj
        totals.append(F.sum() / 2)
        S.append(F.sum(axis=1) / deg)
        D = shortest_path(adj, method="D", directed=False)
        hops.append(D)
        g_sums.append(D.sum() / 2)
        adjs.append(adj)
    n = len(layers[0])
    eta_nodes = np.zeros((len(layers) - 1, n))
    for l in range(len(layers) - 1):
        for x in range(n):
            nbrs = np.flatnonzero(adjs[l][x])
            eta_nodes[l, x] = hops[l + 1][x, nbrs].mean() - 1
    layer_coef = [corr(S[l], eta_nodes[l]) for l in range(len(layers) - 1)]
    local = [corr([S[l][x] for l in range(len(layers) - 1)], eta_nodes[:, x]) for x in range(n)]
    glob = corr(totals[:-1], np.diff(g_sums))
    return {"global_coefficient": glob, "layer_coefficients": np.array(layer_coef), "local_coefficients": np.array(local)}


def ollivier_pot(graph: nx.Graph, x: int, y: int, alpha: float, hops: np.ndarray) -> float:
    """1 - W1(mu_x, mu_y) by POT's exact network simplex on the hop-distance costs."""
    import ot

    def measure(v):
        nbrs = list(graph[v])
        m = {u: (1 - alpha) / len(nbrs) for u in nbrs}
        m[v] = m.get(v, 0.0) + alpha
        return {u: w for u, w in m.items() if w > 0}

    mx, my = measure(x), measure(y)
    s, t = sorted(mx), sorted(my)
    return 1.0 - float(ot.emd2(np.array([mx[u] for u in s]), np.array([my[v] for v in t]), hops[np.ix_(s, t)]))


def balanced_forman_loops(graph: nx.Graph, i: int, j: int) -> float:
    """Topping et al. (2022), Definition 1, with plain set operations."""
    di, dj = graph.degree(i), graph.degree(j)
    if min(di, dj) == 1:
        return 0.0
    Si, Sj = set(graph[i]), set(graph[j])
    tri = len(Si & Sj)

    def squares(a, b, Sa, Sb):
        counts = {}
        for k in Sa:
            if k == b or k in Sb:
                continue
            ws = {w for w in graph[k] if w in Sb and w not in Sa and w != a}
            if ws:
                counts[k] = len(ws)
        return counts

    qi, qj = squares(i, j, Si, Sj), squares(j, i, Sj, Si)
    gamma = max(list(qi.values()) + list(qj.values()) + [0])
    value = 2 / di + 2 / dj - 2 + 2 * tri / max(di, dj) + tri / min(di, dj)
    if gamma > 0:
        value += (len(qi) + len(qj)) / (gamma * max(di, dj))
    return value


def joining_edges(X, graph: nx.Graph, metric: str = "euclidean") -> list[tuple[int, int]]:
    """The shortest edges that connect `graph` (docs/definitions.md section 4, disconnected="join"),
    the slow way: for every pair of components the closest pair of points from scipy's dense cdist
    (ties by the lower pair (i, j), i < j), then Kruskal's algorithm over the components on those pairs,
    ordered by (squared distance, i, j)."""
    from scipy.spatial.distance import cdist

    X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    if metric == "cosine":
        X = X / np.linalg.norm(X, axis=1, keepdims=True)
    components = [sorted(c) for c in nx.connected_components(graph)]
    candidates = []
    for a in range(len(components)):
        for b in range(a + 1, len(components)):
            A, B = components[a], components[b]
            D = cdist(X[A], X[B], "sqeuclidean")
            best = None
            for p, i in enumerate(A):
                for q, j in enumerate(B):
                    key = (D[p, q], min(i, j), max(i, j))
                    if best is None or key < best:
                        best = key
            candidates.append((best, a, b))
    parent = list(range(len(components)))

    def root(c):
        while parent[c] != c:
            c = parent[c]
        return c

    chosen = []
    for (d2, i, j), a, b in sorted(candidates):
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[ra] = rb
            chosen.append((i, j))
    return chosen


def joined_knn_nx_graph(X, k: int, metric: str = "euclidean", symmetrize: str = "union"):
    """The k-NN graph with `joining_edges` added, and those edges."""
    graph = knn_nx_graph(X, k, metric, symmetrize)
    edges = joining_edges(X, graph, metric)
    graph.add_edges_from(edges)
    return graph, edges


def curvature_gap_authors(adjacency, curvatures, labels) -> float:
    """Hehl, von Renesse and Weber's curvature gap as their community_structure.py computes it: edges
    (i, j), i < j, from the nonzero pattern of the adjacency matrix, the curvature looked up in a dense
    matrix, population standard deviations (np.std), denominator sqrt((sigma_within^2 + sigma_between^2) / 2)."""
    A = sp.csr_matrix(adjacency)
    C = np.asarray(curvatures.todense() if sp.issparse(curvatures) else curvatures)
    within, between = [], []
    rows, cols = A.nonzero()
    for i, j in zip(rows, cols):
        if i < j:
            (within if labels[i] == labels[j] else between).append(C[i, j])
    return float((np.mean(within) - np.mean(between)) / np.sqrt(0.5 * (np.std(within) ** 2 + np.std(between) ** 2)))

def weighted_ollivier_pot(graph: nx.Graph, alpha: float, mass: str = "uniform", weight: str = "weight") -> dict:
    """Weighted Ollivier-Ricci 1 - W1 / d(x, y) per edge keyed (x, y) as graph.edges() gives it: networkx
    Dijkstra for the ground cost, POT's network simplex for W1, plain loops for the masses ("grc":
    exp(-w^2) neighbour weights, uniform when they sum to <= 1e-7; an edge with d < 1e-7 gets 0)."""
    import math

    import ot

    def measure(v):
        nbrs = list(graph[v])
        if mass == "uniform":
            raw = [1.0] * len(nbrs)
        else:
            raw = [math.exp(-graph[v][u][weight] ** 2) for u in nbrs]
        total = sum(raw)
        if total <= 1e-7:
            raw, total = [1.0] * len(nbrs), float(len(nbrs))
        m = {u: (1 - alpha) * r / total for u, r in zip(nbrs, raw)}
        m[v] = alpha
        return m

    out = {}
    for x, y in graph.edges():
        mx, my = measure(x), measure(y)
        s, t = list(mx), list(my)
        lengths = {u: nx.single_source_dijkstra_path_length(graph, u, weight=weight) for u in s}
        cost = np.array([[lengths[u][v] for v in t] for u in s])
        d = lengths[x][y]
        if mass == "grc" and d < 1e-7:
            out[(x, y)] = 0.0
            continue
        w1 = ot.emd2(np.array([mx[u] for u in s]), np.array([my[v] for v in t]), cost, numItermax=10**7)
        out[(x, y)] = 1.0 - float(w1) / d
    return out


def weighted_forman_loops(graph: nx.Graph, method: str, weight: str = "weight") -> dict:
    """Weighted Forman-Ricci curvature (GraphRicciCurvature's formulas, node weights 1) with set operations."""
    import math

    out = {}
    for x, y in graph.edges():
        we = graph[x][y][weight]
        nx_, ny_ = set(graph[x]) - {y}, set(graph[y]) - {x}
        faces = nx_ & ny_ if method == "augmented" else set()
        sx = sum(1.0 / math.sqrt(we * graph[x][v][weight]) for v in nx_ - faces)
        sy = sum(1.0 / math.sqrt(we * graph[y][v][weight]) for v in ny_ - faces)
        out[(x, y)] = we * (len(faces) * we + 2.0 / we - (sx + sy))
    return out


def discrete_ricci_flow_loops(graph: nx.Graph, iterations: int, step: float = 1.0, alpha: float = 0.5) -> nx.Graph:
    """Ni et al.'s flow written out: w <- w - step kappa w, rescale to sum E, recompute kappa."""
    G = graph.copy()
    kappa = weighted_ollivier_pot(G, alpha, "grc")
    for _ in range(iterations):
        for (x, y), k in kappa.items():
            G[x][y]["weight"] -= step * k * G[x][y]["weight"]
        total = sum(d["weight"] for _, _, d in G.edges(data=True))
        for _, _, d in G.edges(data=True):
            d["weight"] *= G.number_of_edges() / total
        kappa = weighted_ollivier_pot(G, alpha, "grc")
    return G
