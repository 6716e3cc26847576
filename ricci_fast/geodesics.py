"""Hop-count geodesics on a graph (SPEC section 3), without an N x N matrix.

All of it runs on one kernel, a bit-parallel multi-source BFS (kernels/bfs.py) over the graph relabelled
in reverse Cuthill-McKee order; it returns per-node geodesic sums and, for a second "targets" graph on the
same nodes, the hop distance of each of its edges measured in this graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.sparse.csgraph import shortest_path
from tqdm.auto import tqdm

from ricci_fast._validation import check_graph
from ricci_fast.graph import Graph
from ricci_fast.kernels import bfs as _bfs
from ricci_fast.kernels import csr as _csr

_DIRECTIONS = {"auto": _bfs.AUTO, "top_down": _bfs.TOP_DOWN, "bottom_up": _bfs.BOTTOM_UP}


def _relabelled(graph: Graph):
    order = graph.bfs_order
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size, dtype=np.int64)
    indptr, indices, _ = _csr.relabel(graph.indptr, graph.indices, order, rank)
    return order, rank, indptr, indices


def run_bfs(graph: Graph, *, sums: bool = True, targets: Graph | None = None, direction: str = "auto",
            sources=None, progress: bool = False):
    """One multi-source BFS over `graph` from every node (or from `sources`, original node ids).

    Returns (node sums as int64 in original node order, or None: at node v, the sum of d(s, v) over
    the sources s that reach v; hop distances in `graph` along each CSR entry of `targets` as int64
    aligned with targets.indices, -1 where unreachable, or None).  progress: a tqdm bar over the
    sources, advanced as each batch of WORDS x 64 sources finishes.  Threads: see ricci_fast._parallel.
    """
    node_sums, target_dist, _ = _bfs_with_groups(graph, sums, targets, direction, sources, progress)
    return node_sums, target_dist


def _bfs_with_groups(graph, sums, targets, direction, sources, progress):
    check_graph(graph)
    if targets is not None and check_graph(targets, "targets").n_nodes != graph.n_nodes:
        raise ValueError(
            f"targets: the graphs must share their nodes ({targets.n_nodes} vs {graph.n_nodes} nodes)."
        )
    order, rank, indptr, indices = _relabelled(graph)
    if targets is None:
        t_indptr = np.zeros(graph.n_nodes + 1, np.int64)
        t_indices = np.zeros(0, np.int32)
        origin = np.zeros(0, np.int64)
    else:
        t_indptr, t_indices, origin = _csr.relabel(targets.indptr, targets.indices, order, rank)
    if sources is None:
        relabelled_sources = np.arange(graph.n_nodes, dtype=np.int64)
    else:
        relabelled_sources = rank[np.asarray(sources, dtype=np.int64)]
    with tqdm(total=relabelled_sources.size, desc="geodesics", unit="source", disable=not progress) as bar:
        # tqdm's update takes its own lock, so the BFS threads may report as they finish batches
        raw_sums, raw_dist, groups = _bfs.multi_source_bfs(
            indptr, indices, relabelled_sources, sums, t_indptr, t_indices, _DIRECTIONS[direction],
            on_batches=bar.update if progress else None,
        )
    node_sums = None
    if sums:
        node_sums = np.empty(graph.n_nodes, np.int64)
        node_sums[order] = raw_sums
    target_dist = None
    if targets is not None:
        target_dist = np.empty(targets.indices.shape[0], np.int64)
        target_dist[origin] = raw_dist
    return node_sums, target_dist, groups


def geodesic_sums(graph: Graph, *, progress: bool = False) -> np.ndarray:
    """G(x) = sum over all nodes y of the hop distance d(x, y), as float64 (inf where x cannot reach
    every node, i.e. everywhere when the graph is disconnected).

    On a Dask cluster: ricci_fast.distributed.geodesic_sums(graph, client), the same numbers.  For a
    sampled estimate of the layer sum from a few sources, see `sampled_geodesic_sum`."""
    if check_graph(graph).n_components > 1:
        return np.full(graph.n_nodes, np.inf)
    node_sums, _ = run_bfs(graph, sums=True, progress=progress)
    return node_sums.astype(np.float64)


@dataclass(frozen=True)
class SampledGeodesicSum:
    """An unbiased estimate of the layer geodesic sum g = sum over x of G(x) / 2 from n_sources source
    nodes drawn uniformly without replacement, and its standard error (from the spread of the sums of
    groups of 64 sources, with the finite-population correction; 0 when every node is a source)."""

    estimate: float
    standard_error: float
    n_sources: int
    n_nodes: int
    sources: np.ndarray = field(repr=False)


def sampled_geodesic_sum(graph: Graph, sources: int, *, seed=None) -> SampledGeodesicSum:
    """Estimate g from `sources` random BFS sources: g_hat = N / (2 M) * sum over sampled s of G(s).

    Unbiased for any M; the standard error shrinks like 1/sqrt(M).  inf (with error 0) for a
    disconnected graph.  M >= 128 is needed for an error bar (two groups of 64); below it the error is
    NaN."""
    check_graph(graph)
    chosen, shuffled = sample_sources(graph.n_nodes, sources, seed)
    if graph.n_components > 1:
        return SampledGeodesicSum(float("inf"), 0.0, chosen.size, graph.n_nodes, chosen)
    _, _, groups = _bfs_with_groups(graph, True, None, "auto", shuffled, False)
    return sampled_estimate(groups, chosen, graph.n_nodes)


def sample_sources(n: int, sources, seed) -> tuple[np.ndarray, np.ndarray]:
    """(the sorted sample of BFS sources, the same in the random order the BFS takes them): the draws of
    `sampled_geodesic_sum`, shared with ricci_fast.distributed so both use the same sources."""
    if isinstance(sources, bool) or int(sources) != sources or not 1 <= int(sources) <= n:
        raise ValueError(f"sources must be an integer in [1, N = {n}], got {sources!r}.")
    m = int(sources)
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(n, size=m, replace=False))
    # a random order makes every group of 64 consecutive sources a simple random sample
    return chosen, rng.permutation(chosen)


def sampled_estimate(groups: np.ndarray, chosen: np.ndarray, n: int) -> SampledGeodesicSum:
    """The estimate and its standard error from the per-64-source group totals of the shuffled sources."""
    m = chosen.size
    total = float(groups.sum())
    estimate = n / (2.0 * m) * total
    sizes = np.array([min(64, m - 64 * g) for g in range(-(-m // 64))], dtype=np.float64)
    group_totals = groups[: sizes.size].astype(np.float64)
    if m == n:
        se = 0.0
    elif sizes.size < 2:
        se = float("nan")
    else:
        means = group_totals / sizes
        grand = total / m
        # each group mean has variance sigma^2 / size: estimate the per-source variance sigma^2
        sigma2 = float(np.sum(sizes * (means - grand) ** 2) / (sizes.size - 1))
        se = n / 2.0 * np.sqrt(sigma2 / m * (1.0 - m / n))
    return SampledGeodesicSum(estimate, float(se), m, n, chosen)


def former_neighbour_distances(graph: Graph, former: Graph) -> np.ndarray:
    """Hop distance in `graph` between the two ends of every edge of `former` (another graph on the same
    nodes, e.g. the previous layer's), aligned with former.indices; inf where unreachable."""
    _, dist = run_bfs(graph, sums=False, targets=former)
    out = dist.astype(np.float64)
    out[dist < 0] = np.inf
    return out


def geodesic_distance_matrix(graph: Graph) -> np.ndarray:
    """The dense N x N hop-distance matrix (inf between components).  This is the one function that
    allocates N^2 floats: 8 N^2 bytes (800 MB at N = 10,000); everything else avoids it."""
    check_graph(graph)
    return shortest_path(graph.to_scipy(), method="D", unweighted=True, directed=False)
