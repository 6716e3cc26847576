"""Exact k-NN search over a layer read in row blocks (memmaps, zarr, dask arrays: ricci_fast/_arrays.py).

`knn_graph` sends out-of-core layers here.  Query rows are taken a block at a time; for each, every
block of candidate rows is read from the store and folded into a running exact top-k
(kernels/knn_stream.py), so memory is O(block x N_features + N k), never the whole layer.  The points
are scaled by the same power of two as in-memory search (from a max-abs pass over the blocks) and
compared in float64 with ties by the lower index: the graph is the one `knn_graph` gives for the same
array in memory, bit for bit.  `knn_rows` is one query range, the unit of work that
ricci_fast.distributed hands to each Dask task.
"""

from __future__ import annotations

import numpy as np

from ricci_fast import _arrays, _parallel
from ricci_fast._validation import check_choice, check_integer, check_k
from ricci_fast.kernels import knn_stream as _stream

#: Bytes of float64 query rows one pass over the candidates serves (more: fewer passes over the store).
QUERY_BLOCK_BYTES = 64 * 2**20
#: Bytes of float64 candidate rows read at a time.
CANDIDATE_BLOCK_BYTES = 16 * 2**20
#: Candidate columns of one inner-product tile: a read block is searched a tile at a time so that the
#: tile, its candidates and its query rows stay in a core's cache (4096 x 64 rows, 1 MiB of float32
#: products, measured fastest at D = 64 here; 16384 x 64 was 1.2x slower).
GEMM_TILE_COLUMNS = 4096
#: Bytes of one inner-product tile (query sub-block x candidate tile).
GRAM_BLOCK_BYTES = 2**20


def query_block_rows(n_points: int, n_features: int) -> int:
    return int(max(256, min(n_points, QUERY_BLOCK_BYTES // (8 * n_features))))


def candidate_block_rows(n_points: int, n_features: int) -> int:
    return int(max(256, min(n_points, 16384, CANDIDATE_BLOCK_BYTES // (8 * n_features))))


def exponent_of(stats: _arrays.LayerStats, metric: str) -> int:
    from ricci_fast.graph import _power_of_two_exponent

    if metric == "cosine":
        if stats.n_zero_rows:
            raise ValueError(
                f"X: metric='cosine' is undefined for all-zero rows ({stats.n_zero_rows} such rows, first at index "
                f"{stats.first_zero_row}); drop them or use metric='euclidean'."
            )
        return 0
    return _power_of_two_exponent(stats.max_abs)


def prepare_block(block: np.ndarray, metric: str, exponent: int) -> np.ndarray:
    """Rows as the in-memory search sees them (graph._prepare_points, row by row): float64 / 2^e, or
    for cosine each row scaled by its own power of two and normalised."""
    Xd = np.array(block, dtype=np.float64, order="C", copy=True)
    if metric == "cosine":
        row_max = np.abs(Xd).max(axis=1)
        Xd = np.ldexp(Xd, -np.frexp(row_max)[1][:, None])
        return np.ascontiguousarray(Xd / np.linalg.norm(Xd, axis=1)[:, None])
    if exponent:
        np.ldexp(Xd, -exponent, out=Xd)
    return Xd


def _centre(stats: _arrays.LayerStats, metric: str, exponent: int) -> np.ndarray:
    # centring only sharpens the rounding bound; the exact re-measurement decides, so any centre is right
    if metric == "cosine":
        return np.zeros(stats.n_features)
    return np.ldexp(stats.mean, -exponent)


def knn_rows(source, stats: _arrays.LayerStats, k: int, metric: str, start: int, stop: int, *,
             gemm_dtype=np.float32, n_threads: int | None = None, candidate_rows: int | None = None,
             on_block=None):
    """Exact k nearest other points of rows start..stop-1 among all rows of `source`.

    Returns (int32 (rows, k) neighbour ids, float64 (rows, k) squared distances of the scaled points),
    sorted by (distance, index), as kernels/knn.py's tables.  on_block(n_rows) is called after each
    candidate block (for progress)."""
    from ricci_fast.graph import _blas_controller

    source = _arrays.as_row_source(source)
    n, dims = source.shape
    exponent = exponent_of(stats, metric)
    centre = _centre(stats, metric, exponent)
    start, stop = int(start), int(stop)
    Q = prepare_block(_arrays.convert_block(source.read(start, stop), stats.dtype, source.name, start), metric,
                      exponent)
    n_query = Q.shape[0]
    centred_q = (Q - centre).astype(gemm_dtype)
    sq_q = np.einsum("ij,ij->i", centred_q, centred_q, dtype=np.float64)
    best_j = np.full((n_query, k), -1, np.int64)
    best_d = np.full((n_query, k), np.nan)
    n_filled = np.zeros(n_query, np.int64)
    gamma = (2.0 * dims + 32.0) * float(np.finfo(gemm_dtype).eps) / 2
    cand = candidate_rows or candidate_block_rows(n, dims)
    tile = int(min(cand, GEMM_TILE_COLUMNS))
    sub = int(max(16, min(n_query, GRAM_BLOCK_BYTES // (np.dtype(gemm_dtype).itemsize * tile))))
    n_sub = -(-n_query // sub)
    blocks = list(range(0, n, cand))
    # the query's own block first: on data stored in any spatial order its neighbours tighten the bound early
    first = min(start // cand, len(blocks) - 1)
    blocks = blocks[first:] + blocks[:first]
    with _blas_controller().limit(limits=1, user_api="blas"):
        for c_start in blocks:
            C = prepare_block(_arrays.convert_block(source.read(c_start, c_start + cand), stats.dtype, source.name,
                                                    c_start), metric, exponent)
            centred_c = (C - centre).astype(gemm_dtype)
            sq_c = np.einsum("ij,ij->i", centred_c, centred_c, dtype=np.float64)

            n_c = C.shape[0]

            def work(first_sub, stop_sub, scratch):
                flat, keys = scratch
                for s in range(first_sub, stop_sub):
                    a, b = s * sub, min(n_query, (s + 1) * sub)
                    for t0 in range(0, n_c, tile):
                        t1 = min(n_c, t0 + tile)
                        # a C-contiguous view of the scratch whatever the tile's shape: one kernel specialisation
                        gram = flat[: (b - a) * (t1 - t0)].reshape(b - a, t1 - t0)
                        np.matmul(centred_q[a:b], centred_c[t0:t1].T, out=gram)
                        _stream.stream_update(Q, start, a, b, C[t0:t1], c_start + t0, sq_q, sq_c[t0:t1], gram, a,
                                              gamma, k, best_j, best_d, n_filled, keys)

            _parallel.parallel_for(n_sub, work, n_threads=n_threads, chunk=1,
                                   scratch=lambda: (np.empty(sub * tile, gemm_dtype), np.empty(tile, np.float64)))
            if on_block is not None:
                on_block(C.shape[0])
    return best_j.astype(np.int32), best_d


def knn_graph_blocks(X, k: int = 30, *, metric: str = "euclidean", symmetrize: str = "union", method: str = "auto",
                     check_recall=None, random_state=0, weighted: bool = False, progress: bool = False):
    """knn_graph for an out-of-core layer (see the module docstring); the same Graph as in memory.

    The exact brute-force search streams the blocks.  The KD-tree (at most KDTREE_MAX_DIMS features:
    8 N D bytes, small) and NN-descent (method="approximate", or "auto" above APPROXIMATE_ABOVE points)
    need all points in memory: the layer is read once into a checked array and searched as usual."""
    from ricci_fast import graph as _graph

    check_choice(metric, "metric", _graph.METRICS)
    check_choice(symmetrize, "symmetrize", _graph.SYMMETRIZE)
    check_choice(method, "method", _graph.METHODS)
    source = _arrays.as_row_source(X, name="X")
    stats = _arrays.scan(source)
    n, dims = source.shape
    k = check_k(k, n)
    approximate = method == "approximate" or (method == "auto" and dims > _graph.KDTREE_MAX_DIMS
                                              and n > _graph.APPROXIMATE_ABOVE)
    if method == "kdtree" or approximate or (method in ("auto", "exact") and dims <= _graph.KDTREE_MAX_DIMS):
        return _graph.knn_graph(_arrays.materialise(source, stats), k, metric=metric, symmetrize=symmetrize,
                                method=method, check_recall=check_recall, random_state=random_state,
                                backend="numpy", weighted=weighted)
    from tqdm.auto import tqdm

    exponent = exponent_of(stats, metric)
    knn_idx = np.empty((n, k), np.int32)
    knn_sq = np.empty((n, k), np.float64)
    step = query_block_rows(n, dims)
    with tqdm(total=(-(-n // step)) * n, desc="k-NN (blocks)", unit="row", disable=not progress) as bar:
        for start in range(0, n, step):
            stop = min(n, start + step)
            knn_idx[start:stop], knn_sq[start:stop] = knn_rows(source, stats, k, metric, start, stop,
                                                               on_block=bar.update if progress else None)
    return _graph._finish_graph(knn_idx, knn_sq, exponent, k, metric, symmetrize, "brute", None, weighted)


def check_block_rows(value, name: str = "block_rows") -> int | None:
    return None if value is None else check_integer(value, name, minimum=1)
