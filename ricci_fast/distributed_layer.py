"""One big layer across a Dask cluster: every stage of `ricci_flow` split over the workers
(docs/distributed.md; pip install ".[dask]").

- `knn_graph(X, k, client)`: the exact k-NN search by row blocks.  Each task takes a range of query
  rows, reads them and streams every block of candidate rows from the store itself (a memmap's file,
  a zarr store, the chunks of a persisted dask array; an in-memory array is scattered once), and
  returns its rows of the neighbour table; the same Graph as `ricci_fast.knn_graph`, bit for bit.
- `edge_curvature(graph, kind, client)`: the Forman family by node ranges, exact Ollivier-Ricci by
  ranges of transport owners; the graph is scattered once.  The same values as the local code.
- `bfs(graph, client, ...)`: full or sampled geodesic sums and the former-neighbour distances to
  another layer's graph, the BFS sources split across the workers.
- `ricci_flow(layers, k, client)`: all of it, layer by layer; a RicciFlow identical to the local one.

Above the local code: it imports ricci_fast's local modules and nothing local imports it.
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
from dask.distributed import as_completed

from ricci_fast import _arrays, _parallel
from ricci_fast.graph import Graph


def _task(function):
    """Run a cluster task's kernels on one thread: the cluster's parallelism is its tasks (a worker with t
    threads runs t of them at once), and a task that also started a thread per core would oversubscribe
    the worker's cores (Dask bounds BLAS and OpenMP in its workers, not our kernel threads)."""
    import functools

    @functools.wraps(function)
    def one_thread(*args, **kwargs):
        with _parallel.num_threads(1):
            return function(*args, **kwargs)

    return one_thread

#: Tasks per worker for the k-NN search, BFS and curvature (more: better balance, more per-task cost).
TASKS_PER_WORKER = 4


def _client_or_local(client):
    # imported when called: ricci_fast.distributed re-exports this module's functions, so a worker that
    # unpickles a task from here must not need ricci_fast.distributed to be fully imported first
    from ricci_fast.distributed import _client_or_local as client_or_local

    return client_or_local(client)


def _n_workers(client) -> int:
    return max(1, len(client.scheduler_info()["workers"]))


# ---------------------------------------------------------------------------------------------------------
# where the workers read a layer from


class _Layer:
    """A layer as the workers see it: `source` (picklable: a RowSource description, or a future of a
    scattered array), plus whatever must stay alive on the driver while tasks read it.

    A dask array travels as its graph and each task computes the rows it reads (synchronously, in the
    worker): small for graphs that read a store (da.from_zarr, da.from_npy_stack, from_array of a
    memmap); a dask array made from an in-memory numpy array carries it with every task, so pass such
    an array itself (it is then scattered once)."""

    def __init__(self, X, client, name: str):
        self.keep = None
        if _arrays.is_dask_array(X) and X.ndim > 2:
            X = X.reshape(X.shape[0], -1)
        if _arrays.is_out_of_core(X) and not (isinstance(X, np.memmap) and _arrays._memmap_spec(X) is None):
            self.source = _arrays.RowSource(X, name=name)
            self.shape = self.source.shape
        else:
            from ricci_fast._validation import as_activation_array

            array = as_activation_array(X, name=name)  # in memory already: checked once, sent once
            self.shape = array.shape
            self.keep = client.scatter(array, broadcast=True, hash=False)
            self.source = self.keep


def _open(source) -> _arrays.RowSource:
    return source if isinstance(source, _arrays.RowSource) else _arrays.RowSource(source)


def _ranges(n: int, n_tasks: int, multiple: int = 1) -> list[tuple[int, int]]:
    step = max(multiple, -(-(-(-n // n_tasks)) // multiple) * multiple)
    return [(a, min(n, a + step)) for a in range(0, n, step)]


def _gather_in_order(client, futures, progress: bool, desc: str, unit: str = "task", weights=None, consume=None):
    """The futures' results in submission order; or, with consume, consume(i, result) called as each
    arrives and nothing kept (the driver then holds one task's result at a time, not all of them)."""
    from tqdm.auto import tqdm

    index = {f.key: i for i, f in enumerate(futures)}
    results = [None] * len(futures)
    with tqdm(total=len(futures) if weights is None else int(sum(weights)), desc=desc, unit=unit,
              disable=not progress) as bar:
        for future, result in as_completed(futures, with_results=True):
            i = index[future.key]
            future.release()
            if consume is None:
                results[i] = result
            else:
                consume(i, result)
            del result
            bar.update(1 if weights is None else weights[i])
    return None if consume is not None else results


# ---------------------------------------------------------------------------------------------------------
# graphs on the workers


def _for_workers(graph: Graph | None) -> Graph | None:
    """The graph as the workers need it: the same structure arrays (and weights, and the cached BFS order
    if the driver computed it), without the k-NN table, which no cluster stage reads and which is most
    of a k-NN graph's bytes (N k x 12 bytes against N k x ~6 for the CSR at k = 30)."""
    if graph is None or (graph.knn_indices is None and graph.knn_distances is None):
        return graph
    slim = Graph._trusted(graph.indptr, graph.indices, k=graph.k, metric=graph.metric, symmetrize=graph.symmetrize,
                          method=graph.method, recall=graph.recall, weights=graph.weights, node_ids=graph.node_ids)
    for name in Graph._DERIVED:
        if name in graph.__dict__:
            slim.__dict__[name] = graph.__dict__[name]
    return slim


#: Graphs already on the workers, per client: (weak reference to the driver's graph, client, future).
#: Graphs are immutable (read-only arrays, re-checked if replaced), so one scatter serves every later
#: stage on the same graph object; an entry goes when its graph is collected or its client closes.
_SCATTERED: dict[int, tuple] = {}
#: At most this many graphs are kept on the workers for reuse (a flow needs two at a time).
SCATTER_CACHE = 4


def _scatter_graphs(client, graphs: list) -> list:
    """Futures of the graphs broadcast to every worker (None stays None), reusing earlier broadcasts."""
    import weakref

    out = []
    for graph in graphs:
        if graph is None:
            out.append(None)
            continue
        # a Graph's structure can be reassigned (graph.weights = ..., checked): the entry holds the arrays
        # it was sent with, and only the very same arrays reuse it
        structure = tuple(getattr(graph, name) for name in Graph._STRUCTURE)
        entry = _SCATTERED.get(id(graph))
        if entry is not None and entry[0]() is graph and entry[1] is client and entry[2].status == "finished" \
                and client.status == "running" and all(a is b for a, b in zip(entry[3], structure)):
            out.append(entry[2])
            continue
        future = client.scatter(_for_workers(graph), broadcast=True, hash=False)
        key = id(graph)
        _SCATTERED[key] = (weakref.ref(graph, lambda _, key=key: _SCATTERED.pop(key, None)), client, future,
                           structure)
        while len(_SCATTERED) > SCATTER_CACHE:
            _SCATTERED.pop(next(iter(_SCATTERED)))
        out.append(future)
    return out


# ---------------------------------------------------------------------------------------------------------
# the exact k-NN search


@_task
def _integer_part(source, start, stop):
    return _arrays.largest_integer(_open(source), start, stop)


@_task
def _scan_part(source, dtype, start, stop):
    return _arrays.scan_range(_open(source), dtype, start, stop)


@_task
def _knn_part(source, stats, k, metric, start, stop):
    from ricci_fast.knn_blocks import knn_rows

    return knn_rows(_open(source), stats, k, metric, start, stop)


@_task
def _whole_part(source, stats, k, metric, symmetrize, method, check_recall, random_state, weighted):
    from ricci_fast.graph import knn_graph

    return knn_graph(_arrays.materialise(_open(source), stats), k, metric=metric, symmetrize=symmetrize,
                     method=method, check_recall=check_recall, random_state=random_state, backend="numpy",
                     weighted=weighted)


def scan_layer(layer: _Layer, client, n_tasks: int) -> _arrays.LayerStats:
    """The checks of as_activation_array and the layer statistics, the rows split across the workers."""
    source = layer.source
    probe = source if isinstance(source, _arrays.RowSource) else None
    n = layer.shape[0]
    ranges = _ranges(n, n_tasks)
    largest = 0
    if probe is not None and _arrays.needs_integer_pass(probe):
        largest = max(client.gather([client.submit(_integer_part, source, a, b, pure=False) for a, b in ranges]))
    dtype = _arrays.working_dtype(probe.dtype, largest, probe.name) if probe is not None else \
        np.dtype(client.submit(lambda x: x.dtype, source).result())
    parts = client.gather([client.submit(_scan_part, source, dtype, a, b, pure=False) for a, b in ranges])
    shape_source = probe if probe is not None else _arrays.RowSource(np.empty((1, layer.shape[1]), dtype))
    stats = _arrays.combine(shape_source, dtype, parts)
    return dataclasses.replace(stats, n_points=n, mean=stats.mean * shape_source.shape[0] / n)


def _one_worker(method: str, n: int, dims: int) -> bool:
    """Whether `method` searches the layer whole on one worker (a KD-tree or NN-descent) rather than by
    row blocks across all of them: the rules of ricci_fast.knn_graph."""
    from ricci_fast import graph as _graph

    approximate = method == "approximate" or (method == "auto" and dims > _graph.KDTREE_MAX_DIMS
                                              and n > _graph.APPROXIMATE_ABOVE)
    return method == "kdtree" or approximate or (method in ("auto", "exact") and dims <= _graph.KDTREE_MAX_DIMS)


def _check_knn_options(metric, symmetrize, method, rows_per_task, check_recall):
    from ricci_fast import graph as _graph
    from ricci_fast._validation import check_choice, check_integer

    check_choice(metric, "metric", _graph.METRICS)
    check_choice(symmetrize, "symmetrize", _graph.SYMMETRIZE)
    check_choice(method, "method", _graph.METHODS)
    if check_recall is not None and not isinstance(check_recall, (bool, np.bool_)):
        check_integer(check_recall, "check_recall", minimum=1)
    if check_recall is not None and method not in ("approximate", "auto"):
        # the same warning as the local call (a worker's own warning would not reach the caller)
        warnings.warn("check_recall only applies to method='approximate'; exact search has recall 1.", stacklevel=3)
    if rows_per_task is not None:
        rows_per_task = check_integer(rows_per_task, "rows_per_task", minimum=1)
    return rows_per_task


def _exact_by_blocks(layer: _Layer, active, stats, k, metric, symmetrize, weighted, rows_per_task, progress) -> Graph:
    from ricci_fast import graph as _graph
    from ricci_fast.knn_blocks import exponent_of, query_block_rows

    n, dims = layer.shape
    n_tasks = TASKS_PER_WORKER * _n_workers(active)
    exponent = exponent_of(stats, metric)
    step = rows_per_task or min(query_block_rows(n, dims), -(-n // n_tasks))
    ranges = [(a, min(n, a + step)) for a in range(0, n, step)]
    futures = [active.submit(_knn_part, layer.source, stats, k, metric, a, b, pure=False) for a, b in ranges]
    knn_idx = np.empty((n, k), np.int32)
    knn_sq = np.empty((n, k), np.float64)

    def place(i, part):
        a, b = ranges[i]
        knn_idx[a:b], knn_sq[a:b] = part

    _gather_in_order(active, futures, progress, "k-NN (cluster)", "row", [b - a for a, b in ranges], consume=place)
    return _graph._finish_graph(knn_idx, knn_sq, exponent, k, metric, symmetrize, "brute", None, weighted)


def knn_graph(X, k: int = 30, client=None, *, metric: str = "euclidean", symmetrize: str = "union",
              method: str = "exact", check_recall=None, random_state=0, weighted: bool = False,
              rows_per_task: int | None = None, progress: bool = True, _layer: _Layer | None = None) -> Graph:
    """ricci_fast.knn_graph of X on a Dask cluster (a LocalCluster of this machine if client is None).

    X: an np.memmap (or .npy opened with mmap_mode="r"), a zarr array, a dask array, any array-like with
    row slicing, or an in-memory array (scattered to the workers once).  method "exact" / "brute" (the
    default here) / "auto": exact search by row blocks, each task reading its query rows and streaming the
    candidate rows from the store: bit-identical to knn_graph(np.asarray(X), k).  With at most
    KDTREE_MAX_DIMS features ("auto"/"exact"/"kdtree"), or method="approximate", one worker reads the
    layer and runs the local search (a KD-tree, or NN-descent with its recall check): the same Graph as
    the local call with the same random_state.  Several such layers: `knn_graphs` runs them at once.
    rows_per_task: query rows per task (default: N / (TASKS_PER_WORKER x workers), at most what fits
    64 MB of float64 rows).  Each task reads the whole layer once, so fewer, larger tasks read less.
    """
    return knn_graphs([X], k, client, metric=metric, symmetrize=symmetrize, method=method, check_recall=check_recall,
                      random_state=random_state, weighted=weighted, rows_per_task=rows_per_task, progress=progress,
                      _layers=None if _layer is None else [_layer])[0]


def knn_graphs(layers, k: int = 30, client=None, *, metric: str = "euclidean", symmetrize: str = "union",
               method: str = "exact", check_recall=None, random_state=0, weighted: bool = False,
               rows_per_task: int | None = None, progress: bool = True, timings: list | None = None,
               _layers: list | None = None) -> list[Graph]:
    """`knn_graph` of each of several layers (a list of the same kinds of X), in order.  Layers searched
    by row blocks use every worker, one layer after another; layers searched whole on one worker (a
    KD-tree, NN-descent: method="approximate") are all submitted at once, so W workers search W of them
    at the same time (two layers on two workers: half the wall time of one after the other).
    timings: a list that receives each layer's wall seconds; layers searched at the same time share the
    batch's wall time equally (so the entries add up to the wall time)."""
    import time

    from ricci_fast._validation import check_k

    rows_per_task = _check_knn_options(metric, symmetrize, method, rows_per_task, check_recall)
    if _layers is None and not isinstance(layers, (list, tuple)):
        raise TypeError(f"layers: a list of layers (arrays, memmaps, zarr or dask arrays), got "
                        f"{type(layers).__name__}; for one layer use distributed.knn_graph(X, ...), for a dict "
                        f"pass list(layers.values()).")
    n_layers = len(layers) if _layers is None else len(_layers)
    graphs: list = [None] * n_layers
    seconds = [0.0] * n_layers
    with _client_or_local(client) as active:
        views = _layers if _layers is not None else [_Layer(X, active, "X" if len(layers) == 1 else f"layers[{i}]")
                                                     for i, X in enumerate(layers)]
        n_tasks = TASKS_PER_WORKER * _n_workers(active)
        pending = []
        for i, layer in enumerate(views):
            start = time.perf_counter()
            n, dims = layer.shape
            k_i = check_k(k, n)
            stats = scan_layer(layer, active, n_tasks)
            if _one_worker(method, n, dims):
                pending.append((i, active.submit(_whole_part, layer.source, stats, k_i, metric, symmetrize, method,
                                                 check_recall, random_state, weighted, pure=False)))
            else:
                graphs[i] = _exact_by_blocks(layer, active, stats, k_i, metric, symmetrize, weighted, rows_per_task,
                                             progress)
            seconds[i] = time.perf_counter() - start
        if pending:
            start = time.perf_counter()
            for (i, _), graph in zip(pending, _gather_in_order(active, [f for _, f in pending], progress,
                                                               "k-NN, one worker per layer (cluster)", "layer")):
                graphs[i] = graph
            share = (time.perf_counter() - start) / len(pending)
            for i, _ in pending:
                seconds[i] += share
    if timings is not None:
        timings.extend(seconds)
    return graphs


# ---------------------------------------------------------------------------------------------------------
# curvature by edge chunks


@_task
def _combinatorial_part(graph: Graph, kind: str, start: int, stop: int) -> np.ndarray:
    """Curvature of the CSR entries of rows start..stop-1, computed as the local edge_curvature does."""
    from ricci_fast.curvature import _COMBINATORIAL
    from ricci_fast.kernels import forman as _forman

    indptr, indices = graph.indptr, graph.indices
    lo, hi = int(indptr[start]), int(indptr[stop])
    triangles = np.zeros(indices.shape[0] if kind != "forman" else 0, np.int32)
    if kind != "forman":
        _forman.edge_triangles_range(indptr, indices, start, stop, triangles)
    if kind in ("forman", "augmented_forman"):
        # the local code's numpy expression, element by element: the same bits
        degrees = np.diff(indptr)
        rows = np.repeat(degrees[start:stop].astype(np.float64), degrees[start:stop])
        out = (4.0 - rows) - degrees[indices[lo:hi]].astype(np.float64)
        if kind == "augmented_forman":
            out += 3.0 * triangles[lo:hi]
        return out
    out = np.empty(indices.shape[0], np.float64)
    if kind == "balanced_forman":
        n = graph.n_nodes
        _forman.balanced_forman_range(indptr, indices, triangles, start, stop, np.zeros(n, np.int64),
                                      np.zeros(n, np.int64), 0, out)
    else:
        _forman.combinatorial_curvature_range(indptr, indices, triangles, _COMBINATORIAL[kind], start, stop, out)
    return out[lo:hi]


def _ollivier_owners(graph: Graph, nodes_per_chunk: int = 1 << 16) -> np.ndarray:
    # the transport owners, heaviest first (work ~ owned edges x words x degree), so that a round robin
    # over them gives every task its share of hubs
    from ricci_fast.ollivier import owned_edge_counts

    deg = graph.degrees.astype(np.int64)
    n_owned = owned_edge_counts(graph, nodes_per_chunk)
    owners = np.flatnonzero(n_owned)
    work = n_owned[owners] * (deg[owners] // 64 + 1) * (deg[owners] + 1)
    return owners[np.argsort(-work, kind="stable")].astype(np.int64)


@_task
def _ollivier_part(graph: Graph, alpha: float, owners: np.ndarray):
    """Exact Ollivier-Ricci of the edges of the given owners (ricci_fast.ollivier._exact restricted to
    them, one thread per task: the cluster supplies the parallelism), as (CSR positions, values): the
    same kernels, so the same bits as the local call."""
    from ricci_fast import ollivier as _ollivier

    out = _ollivier._exact(graph, alpha, owners=owners, n_threads=1)
    positions = np.flatnonzero(~np.isnan(out))
    return positions, out[positions]


def edge_curvature(graph: Graph, kind: str = "forman", client=None, *, progress: bool = False,
                   _shared=None, **options) -> np.ndarray:
    """ricci_fast.edge_curvature(graph, kind, **options) with the work split across the workers: the
    Forman family by ranges of nodes, exact Ollivier-Ricci (solver="exact", the default) by ranges of
    transport owners.  The same float64 values, aligned with graph.indices.  Other Ollivier-Ricci solvers
    and weighted graphs run on one worker through the local code."""
    from ricci_fast._validation import check_choice, check_graph
    from ricci_fast.curvature import CURVATURES, check_curvature_options
    from ricci_fast.curvature import edge_curvature as local_edge_curvature

    check_choice(kind, "kind", CURVATURES)
    check_graph(graph)
    options = check_curvature_options(kind, dict(options))
    with _client_or_local(client) as active:
        shared = _shared if _shared is not None else _scatter_graphs(active, [graph])[0]
        n_tasks = TASKS_PER_WORKER * _n_workers(active)
        exact_ollivier = kind == "ollivier" and options.get("solver", "exact") == "exact" and \
            set(options) <= {"alpha", "solver"} and graph.weights is None
        if graph.weights is not None or (kind == "ollivier" and not exact_ollivier):
            return active.submit(local_edge_curvature, shared, kind, pure=False, **options).result()
        if kind == "ollivier":
            from ricci_fast.ollivier import _check_alpha

            alpha = _check_alpha(options.get("alpha", 0.0))
            owners = _ollivier_owners(graph)
            out = np.full(graph.indices.shape[0], np.nan)
            if owners.size:
                # round robin over the heaviest-first order: every task gets its share of hubs
                futures = [active.submit(_ollivier_part, shared, alpha, owners[t::n_tasks], pure=False)
                           for t in range(min(n_tasks, owners.size))]
                def place(_, part):
                    out[part[0]] = part[1]

                _gather_in_order(active, futures, progress, "Ollivier-Ricci (cluster)", consume=place)
            if np.isnan(out).any():
                raise RuntimeError("exact Ollivier-Ricci on the cluster left edges uncomputed; please report it.")
            return out
        ranges = _node_ranges(graph, n_tasks)
        futures = [active.submit(_combinatorial_part, shared, kind, a, b, pure=False) for a, b in ranges]
        parts = _gather_in_order(active, futures, progress, f"{kind} (cluster)")
    return np.concatenate(parts) if parts else np.zeros(0)


def _node_ranges(graph: Graph, n_tasks: int) -> list[tuple[int, int]]:
    """Consecutive node ranges with about the same number of CSR entries each."""
    n = graph.n_nodes
    cuts = np.searchsorted(graph.indptr, np.linspace(0, graph.indptr[-1], n_tasks + 1)[1:-1], side="left")
    bounds = np.unique(np.concatenate([[0], cuts, [n]]))
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]


# ---------------------------------------------------------------------------------------------------------
# geodesics: sums (all sources or a sample) and former-neighbour distances


@_task
def _bfs_part(graph: Graph, targets: Graph | None, sources: np.ndarray, want_sums: bool):
    """One task of `bfs`: (partial node sums or None, group totals, target distances of the sources' rows
    in `targets`, concatenated in source order)."""
    from ricci_fast.geodesics import _bfs_with_groups

    sums, dist, groups = _bfs_with_groups(graph, want_sums, targets, "auto", sources, False)
    rows = None
    if targets is not None:
        starts, stops = targets.indptr[sources], targets.indptr[sources + 1]
        rows = np.concatenate([dist[a:b] for a, b in zip(starts, stops)]) if sources.size else np.zeros(0, np.int64)
        rows = rows.astype(np.int32)
    return sums, groups[: -(-sources.size // 64)], rows


def bfs(graph: Graph, client=None, *, sums: bool = True, targets: Graph | None = None, sources=None,
        progress: bool = False, _shared=None):
    """ricci_fast.geodesics.run_bfs on the cluster: the sources (all nodes, in the graph's reverse
    Cuthill-McKee order, or the given ones in the given order) split into contiguous ranges of whole
    BFS batches, one task each.  Returns (node sums int64 or None, group totals of 64 consecutive
    sources, distances in `graph` along each CSR entry of `targets` as int32, -1 where unreachable, or
    None).  When no sums are wanted each BFS batch stops as soon as it has found all its targets."""
    from ricci_fast.kernels import bfs as _bfs

    n = graph.n_nodes
    order = graph.bfs_order if sources is None else np.asarray(sources, dtype=np.int64)
    with _client_or_local(client) as active:
        shared = _shared if _shared is not None else _scatter_graphs(active, [graph, targets])
        n_tasks = TASKS_PER_WORKER * _n_workers(active)
        ranges = _ranges(order.size, n_tasks, _bfs.WORDS * _bfs.WORD_BITS)
        futures = [active.submit(_bfs_part, shared[0], shared[1], order[a:b], sums, pure=False) for a, b in ranges]
        total = np.zeros(n, np.int64) if sums else None
        # int32 hop counts (< N): half the driver memory of int64 for one value per CSR entry of targets
        dist = np.full(targets.indices.shape[0], -1, np.int32) if targets is not None else None
        group_parts = [None] * len(ranges)

        def place(i, part):
            # folded in as each task finishes: the driver never holds all tasks' distance rows at once
            group_parts[i] = part[1]
            if total is not None:
                total[:] += part[0]
            if dist is not None:
                src = order[ranges[i][0]:ranges[i][1]]
                lengths = targets.indptr[src + 1] - targets.indptr[src]
                positions = (np.repeat(targets.indptr[src] - np.cumsum(lengths) + lengths, lengths)
                             + np.arange(lengths.sum()))
                dist[positions] = part[2]

        _gather_in_order(active, futures, progress, "geodesics (cluster)", "source", [b - a for a, b in ranges],
                         consume=place)
    groups = np.concatenate(group_parts) if group_parts else np.zeros(0, np.int64)
    return total, groups, dist


def former_neighbour_distances(graph: Graph, former: Graph, client=None, *, progress: bool = False) -> np.ndarray:
    """ricci_fast.geodesics.former_neighbour_distances on the cluster (the same values): the hop distance
    in `graph` between the ends of every edge of `former`, inf where unreachable."""
    _, _, dist = bfs(graph, client, sums=False, targets=former, progress=progress)
    out = dist.astype(np.float64)
    out[dist < 0] = np.inf
    return out


def sampled_geodesic_sum(graph: Graph, sources: int, client=None, *, seed=None, progress: bool = False):
    """ricci_fast.sampled_geodesic_sum with the sampled BFS sources split across the workers: the same
    sources for the same seed and the same estimate and standard error."""
    from ricci_fast._validation import check_graph
    from ricci_fast.geodesics import SampledGeodesicSum, sample_sources, sampled_estimate

    check_graph(graph)
    chosen, shuffled = sample_sources(graph.n_nodes, sources, seed)
    if graph.n_components > 1:
        return SampledGeodesicSum(float("inf"), 0.0, chosen.size, graph.n_nodes, chosen)
    # sums=True: without targets, a BFS that wants no sums has nothing to do
    _, groups, _ = bfs(graph, client, sums=True, sources=shuffled, progress=progress)
    return sampled_estimate(groups, chosen, graph.n_nodes)


# ---------------------------------------------------------------------------------------------------------
# the whole flow


def ricci_flow(layers, k: int | None = None, client=None, *, curvature: str | None = None, disconnected: str = "join",
               metric: str | None = None, symmetrize: str | None = None, method: str | None = None,
               progress: bool = True, geodesic_sources: int | None = None, seed=None, timings: dict | None = None,
               **curvature_options):
    """ricci_fast.ricci_flow with every stage of every layer split across the workers of `client` (a
    LocalCluster of this machine if None): the checks and statistics of each layer, the exact k-NN
    search (each task reading its rows from the store: memmaps, zarr or dask arrays are never loaded
    whole on the driver), the curvature, the geodesic sums (all sources, or geodesic_sources=M sampled)
    and the former-neighbour distances.  The same options and the same RicciFlow as the local call, to
    the bit (tests/test_distributed_layer.py).  timings: a dict that receives the wall seconds of each
    stage per layer ({"knn": [...], "curvature": [...], "geodesics": [...]}), for bench/million.py.

    What still runs on the driver: O(N k) bookkeeping (symmetrising the neighbour table, node means,
    the coefficients), and, only for a disconnected graph with disconnected="join", reading that layer
    to join its components (as the local code does)."""
    import time

    from tqdm.auto import tqdm

    from ricci_fast import flow as _flow
    from ricci_fast._validation import check_k, check_same_points
    from ricci_fast.curvature import LayerCurvature, node_curvature, total_curvature, warn_duplicates

    if isinstance(k, (list, tuple, range, np.ndarray)):
        raise TypeError("k: the cluster flow takes one k; run it once per k (or use ricci_fast.stats.k_scan locally).")
    names, items = _flow._named_layers(layers)
    if len(items) < 2:
        raise ValueError(f"layers: a flow needs at least 2 layers (4 for the global coefficient), got {len(items)}.")
    if any(isinstance(item, LayerCurvature) for item in items):
        raise TypeError("layers: the cluster flow takes activations (arrays, memmaps, zarr or dask arrays); "
                        "for LayerCurvature objects use ricci_fast.ricci_flow.")
    options = _flow.check_flow_options(k=k, curvature=curvature, disconnected=disconnected, metric=metric,
                                       symmetrize=symmetrize, method=method, progress=progress,
                                       geodesic_sources=geodesic_sources, seed=seed,
                                       curvature_options=curvature_options)
    timings = {} if timings is None else timings
    for stage in ("scan_knn", "curvature", "geodesics"):
        timings.setdefault(stage, [])
    n_layers = len(items)
    with _client_or_local(client) as active:
        views = [_Layer(acts, active, f"layer {name!r}") for name, acts in zip(names, items)]
        check_same_points([v.shape[0] for v in views])
        for name, v in zip(names, views):
            check_k(options["k"], v.shape[0], layer=repr(name))
        bar = tqdm(total=2 * n_layers, desc="ricci_flow (cluster)", unit="step", disable=not options["progress"])
        try:
            # layers searched whole on one worker each (KD-tree, NN-descent) run at the same time
            graphs = knn_graphs(None, options["k"], active, metric=options["metric"],
                                symmetrize=options["symmetrize"], method=options["method"], progress=False,
                                timings=timings["scan_knn"], _layers=views)
            bar.update(n_layers)
            warn_duplicates([_duplicate_note(v, active, f"layer {name!r}") for name, v in zip(names, views)])
            broken = [i for i, graph in enumerate(graphs) if graph.n_components > 1]
            joined = [None] * n_layers
            if broken and disconnected == "raise":
                arrays = [_arrays.materialise(_arrays.RowSource(items[i], name=names[i])) if i in broken else None
                          for i in range(n_layers)]
                raise ValueError(_flow._disconnected_message([(names[i], graphs[i], arrays[i]) for i in broken],
                                                             options["symmetrize"]))
            if broken and disconnected == "join":
                from ricci_fast.components import describe_components, join_components

                notes = []
                for i in broken:
                    before = describe_components(graphs[i])
                    X = _local_array(items[i], names[i])
                    graphs[i], edges, lengths = join_components(graphs[i], X)
                    del X
                    joined[i] = (edges, lengths)
                    notes.append(f"{names[i]!r} ({before}: {len(edges)} edge{'s' if len(edges) != 1 else ''} added, "
                                 f"longest {lengths.max():.4g})")
                warnings.warn(
                    "disconnected k-NN graphs joined by their shortest edges between components (disconnected='join', "
                    "docs/definitions.md section 4): layer " + "; layer ".join(notes)
                    + ". Pass disconnected='raise' to refuse, or a larger k.", stacklevel=2)
            views = None  # the stores are no longer read

            computed, former_dist, sampled = [], [], []
            for i in range(n_layers):
                name, graph = names[i], graphs[i]
                previous = computed[-1].graph if i > 0 else None
                start = time.perf_counter()
                shared = _scatter_graphs(active, [graph, previous])
                values = edge_curvature(graph, options["curvature"], active, _shared=shared[0],
                                        **options["curvature_options"])
                layer = LayerCurvature(graph=graph, kind=options["curvature"], edge_curvature=values,
                                       node_curvature=node_curvature(graph, values),
                                       total_curvature=total_curvature(graph, values), node_geodesic_sums=None,
                                       options=dict(options["curvature_options"]), name=name)
                if joined[i] is not None:
                    layer.joined_edges, layer.joined_lengths = joined[i]
                elif disconnected == "join":
                    layer.joined_edges = np.zeros((0, 2), np.int64)
                    layer.joined_lengths = np.zeros(0, np.float64)
                timings["curvature"].append(time.perf_counter() - start)
                start = time.perf_counter()
                if options["geodesic_sources"] is not None:
                    seed_i = None if options["seed"] is None else options["seed"] + i
                    sampled.append(sampled_geodesic_sum(graph, min(options["geodesic_sources"], layer.n_points),
                                                        active, seed=seed_i))
                    if previous is not None:
                        _, _, dist = bfs(graph, active, sums=False, targets=previous, _shared=shared)
                        former_dist.append(np.where(dist < 0, np.inf, dist.astype(np.float64)))
                else:
                    sums, _, dist = bfs(graph, active, sums=True, targets=previous, _shared=shared)
                    layer.node_geodesic_sums = (sums.astype(np.float64) if layer.n_components == 1
                                                else np.full(layer.n_points, np.inf))
                    if dist is not None:
                        former_dist.append(np.where(dist < 0, np.inf, dist.astype(np.float64)))
                timings["geodesics"].append(time.perf_counter() - start)
                del shared
                computed.append(layer)
                bar.update()
        finally:
            bar.close()
    return _flow._coefficients(computed, former_dist, disconnected, sampled or None)


def _local_array(X, name) -> np.ndarray:
    if _arrays.is_out_of_core(X):
        return _arrays.materialise(_arrays.RowSource(X, name=f"layer {name!r}"))
    from ricci_fast._validation import as_activation_array

    return as_activation_array(X, layer=repr(name))


@_task
def _hash_part(source, dtype, start, stop):
    return _arrays.row_hashes_range(_open(source), dtype, start, stop)


def _duplicate_note(layer: _Layer, client, label: str) -> str | None:
    """curvature.duplicate_note from 64-bit row hashes computed on the workers (N x 8 bytes come back)."""
    from ricci_fast.curvature import DUPLICATE_WARNING_SHARE

    source = layer.source
    dtype = source.dtype if isinstance(source, _arrays.RowSource) else None
    ranges = _ranges(layer.shape[0], TASKS_PER_WORKER * _n_workers(client))
    parts = client.gather([client.submit(_hash_part, source, dtype, a, b, pure=False) for a, b in ranges])
    hashes = np.concatenate([p[0] for p in parts])
    n_zero = int(sum(p[1] for p in parts))
    n = hashes.size
    n_dup = n - np.unique(hashes).size
    if not n or n_dup <= DUPLICATE_WARNING_SHARE * n:
        return None
    zeros = f", {n_zero} of them all-zero (dead units)" if n_zero > 1 else ""
    return f"{label}: {n_dup} of {n} rows ({n_dup / n:.1%}) repeat another row{zeros}"
