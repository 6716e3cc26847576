"""Exact k-nearest-neighbour selection kernels.

The candidate distances come from BLAS (``|x|^2 + |y|^2 - 2 x.y``), which is fast but rounds differently
with every BLAS build and thread count.  To keep the graph exact and deterministic we only use them to
*bound* the candidate set: every point whose approximate distance is within a rigorous rounding bound of
the k-th smallest is re-measured by direct differences in float64, and the final choice is made on those
exact values with ties broken by the lower index.  The same re-measurement is used for the KD-tree and
NN-descent candidates, so every method returns the same neighbours when it finds the same candidates.

The kernels are serial and nogil; the Python drivers run them over ranges of rows with
ricci_fast._parallel (no prange: see that module).  Each writes only its own rows.
"""

import numpy as np
from numba import njit

from ricci_fast._parallel import parallel_for
from ricci_fast.kernels._bits import as_kernel_array

_UNIT_ROUNDOFF = np.finfo(np.float64).eps / 2


@njit(cache=True, nogil=True)
def squared_distance_rows(A, a, B, b):
    """Squared distance of row a of A and row b of B by direct float64 differences, summed in feature
    order: the one exact measure of every search here and in kernels/knn_stream.py, so that in-memory
    and streamed searches compare identical values."""
    total = 0.0
    for d in range(A.shape[1]):
        diff = A[a, d] - B[b, d]
        total += diff * diff
    return total


@njit(cache=True, nogil=True)
def squared_distance(X, i, j):
    return squared_distance_rows(X, i, X, j)


@njit(cache=True, nogil=True)
def _precedes(d_a, j_a, d_b, j_b):
    return d_a < d_b or (d_a == d_b and j_a < j_b)


@njit(cache=True, nogil=True)
def _select_k_smallest(cand_d, cand_j, n_cand, k, out_j, out_d):
    """Insertion-select the k smallest (distance, index) pairs, sorted, into out_j / out_d.

    Returns how many were filled (fewer than k only if there were fewer candidates)."""
    filled = 0
    for c in range(n_cand):
        d = cand_d[c]
        j = cand_j[c]
        if filled == k and not _precedes(d, j, out_d[k - 1], out_j[k - 1]):
            continue
        pos = filled if filled < k else k - 1
        while pos > 0 and _precedes(d, j, out_d[pos - 1], out_j[pos - 1]):
            out_d[pos] = out_d[pos - 1]
            out_j[pos] = out_j[pos - 1]
            pos -= 1
        out_d[pos] = d
        out_j[pos] = j
        if filled < k:
            filled += 1
    return filled


@njit(cache=True, nogil=True)
def _heap_sift_down(heap, size):
    # max-heap of floats: the root is the largest of the k best approximate distances
    pos = 0
    value = heap[0]
    while True:
        child = 2 * pos + 1
        if child >= size:
            break
        if child + 1 < size and heap[child + 1] > heap[child]:
            child += 1
        if heap[child] <= value:
            break
        heap[pos] = heap[child]
        pos = child
    heap[pos] = value


@njit(cache=True, nogil=True)
def _kth_smallest_heap(values, k):
    heap = np.empty(k, np.float64)
    for t in range(k):
        heap[t] = np.inf
    top = np.inf  # heap[0], kept in a register
    for j in range(values.shape[0]):
        if values[j] < top:
            heap[0] = values[j]
            _heap_sift_down(heap, k)
            top = heap[0]
    return top


@njit(cache=True, nogil=True)
def _collect_at_most(keys, bound, idx):
    """Indices j with keys[j] <= bound, in order, into idx (length >= len(keys) + 1); returns the count.

    Branch-free (every index is stored, the count advances only on a hit): a branchy filter ran at
    ~1 ns per key here and dominated the whole search."""
    count = 0
    for j in range(keys.shape[0]):
        idx[count] = j
        count += keys[j] <= bound
    return count


@njit(cache=True, nogil=True)
def _row_topk(X, sqnorms, gram_row, i, k, slack, keys, idx, values, sample, best_j, best_d, out_idx_row,
              out_sqdist_row):
    """Exact k nearest other points of point i, given one row of BLAS inner products.

    The approximate key sqnorms[j] - 2 gram_row[j] orders points like the squared distance (the
    constant sqnorms[i] is dropped).  slack bounds the rounding error of a key, so every point whose key
    is within 2 slack of the k-th smallest could be a true neighbour: those are re-measured exactly.

    To find the k-th smallest key without a heap over all N keys (its sift branches mispredict), a
    strided sample of ~8k keys gives a pivot that ~4k keys fall below; one branch-free pass collects
    them, and only they go through the heap.  If the pivot is too low, all keys do.
    Scratch: keys, values (N), idx (N + 1), sample (>= 16 k + 1), best_j, best_d (k); allocated once
    per block (a first call then also compiles fewer allocations).
    """
    n_points = gram_row.shape[0]
    for j in range(n_points):  # a branch-free loop the compiler vectorises
        keys[j] = sqnorms[j] - 2.0 * gram_row[j]
    keys[i] = np.inf
    if n_points > 16 * k:
        step = n_points // (8 * k)
        n_sample = (n_points + step - 1) // step
        for t in range(n_sample):
            sample[t] = keys[t * step]
        rank = min(n_sample, 4 * (k * n_sample + n_points - 1) // n_points + 4)
        pivot = _kth_smallest_heap(sample[:n_sample], rank)
    else:
        pivot = np.inf
    n_below = _collect_at_most(keys, pivot, idx)
    if n_below < k:
        pivot = np.inf
        n_below = _collect_at_most(keys, pivot, idx)
    for c in range(n_below):
        values[c] = keys[idx[c]]
    threshold = _kth_smallest_heap(values[:n_below], k) + 2.0 * slack
    if threshold > pivot:
        # the rounding slack reaches past the pivot: the candidates must come from all keys
        n_below = _collect_at_most(keys, threshold, idx)
    n_cand = 0
    for c in range(n_below):
        if keys[idx[c]] <= threshold:
            idx[n_cand] = idx[c]
            n_cand += 1
    for c in range(n_cand):
        values[c] = squared_distance(X, i, idx[c])
    # sentinels, so a row with fewer than k candidates is caught by the caller, never left as allocated
    best_j[:] = -1
    best_d[:] = np.nan
    # np.int64: without it Numba also compiles a specialisation for the literal n_cand = 0
    _select_k_smallest(values, idx, np.int64(n_cand), k, best_j, best_d)
    for t in range(k):
        out_idx_row[t] = best_j[t]
        out_sqdist_row[t] = best_d[t]


@njit(cache=True, nogil=True)
def brute_block_topk(X, sqnorms, gram, row_start, k, unit_roundoff, out_idx, out_sqdist):
    """Exact k nearest other points for rows row_start .. row_start + len(gram) - 1.

    gram[r, j] is the BLAS inner product (float32 or float64, whose unit roundoff is given) of rows
    row_start + r and j of a centred copy of X; sqnorms are that copy's squared norms in float64.
    Results, sorted by exact float64 squared distance and then index, go to out_idx / out_sqdist.

    Serial and nogil: the caller runs one block per Python thread, each with its own single-threaded
    GEMM.  Alternating a multi-threaded BLAS call with a parallel Numba loop made both spin against
    each other (1.4x slower here).
    """
    n_rows = gram.shape[0]
    n_points = gram.shape[1]
    n_dims = X.shape[1]
    max_norm = 0.0
    for j in range(sqnorms.shape[0]):
        if sqnorms[j] > max_norm:
            max_norm = sqnorms[j]
    # |rounding of a key| <= gamma (|x_i|^2 + |x_j|^2), counting the dot product, the cast of the centred
    # data to the GEMM dtype and the subtraction, with a factor of two to spare
    gamma = 2.0 * (2.0 * n_dims + 32.0) * unit_roundoff
    keys = np.empty(n_points, np.float64)
    values = np.empty(n_points, np.float64)
    sample = np.empty(16 * k + 1, np.float64)
    idx = np.empty(n_points + 1, np.int64)
    best_j = np.empty(k, np.int64)
    best_d = np.empty(k, np.float64)
    for r in range(n_rows):
        i = row_start + r
        _row_topk(X, sqnorms, gram[r], i, k, gamma * (sqnorms[i] + max_norm), keys, idx, values, sample, best_j,
                  best_d, out_idx[i], out_sqdist[i])


@njit(cache=True, nogil=True)
def refine_candidates_range(X, rows, candidates, k, start, stop, out_idx, out_sqdist):
    """Exact k nearest other points of point rows[r] among candidates[r] (entries < 0 are padding), for
    r in start..stop-1.  The caller guarantees that every point at distance <= the true k-th distance
    is a candidate.  Rows with fewer than k candidates are padded with index -1 and distance inf."""
    n_cand_max = candidates.shape[1]
    cand_j = np.empty(n_cand_max, np.int64)
    cand_d = np.empty(n_cand_max, np.float64)
    best_j = np.empty(k, np.int64)
    best_d = np.empty(k, np.float64)
    for r in range(start, stop):
        i = rows[r]
        n_cand = 0
        for c in range(n_cand_max):
            j = candidates[r, c]
            if j < 0 or j == i:
                continue
            cand_j[n_cand] = j
            cand_d[n_cand] = squared_distance(X, i, j)
            n_cand += 1
        filled = _select_k_smallest(cand_d, cand_j, np.int64(n_cand), k, best_j, best_d)
        for t in range(k):
            out_idx[i, t] = best_j[t] if t < filled else -1
            out_sqdist[i, t] = best_d[t] if t < filled else np.inf


def refine_candidates(X, rows, candidates, k, out_idx, out_sqdist, n_threads=None):
    """refine_candidates_range over all rows (X float64, rows and candidates int64, out_idx int32,
    out_sqdist float64, all C-contiguous), in parallel."""
    X = as_kernel_array(X, np.float64)
    rows = as_kernel_array(rows, np.int64)
    candidates = as_kernel_array(candidates, np.int64)
    k = int(k)
    parallel_for(rows.shape[0],
                 lambda a, b, _: refine_candidates_range(X, rows, candidates, k, a, b, out_idx, out_sqdist),
                 n_threads=n_threads, min_chunk=1024)


@njit(cache=True, nogil=True)
def rows_exact_topk_range(X, rows, k, start, stop, out_idx, out_sqdist):
    """Exact k nearest other points of rows[r], r in start..stop-1, by a full scan; result row r."""
    n_points = X.shape[0]
    cand_j = np.empty(n_points, np.int64)
    cand_d = np.empty(n_points, np.float64)
    best_j = np.empty(k, np.int64)
    best_d = np.empty(k, np.float64)
    for r in range(start, stop):
        i = rows[r]
        n_cand = 0
        for j in range(n_points):
            if j == i:
                continue
            cand_j[n_cand] = j
            cand_d[n_cand] = squared_distance(X, i, j)
            n_cand += 1
        _select_k_smallest(cand_d, cand_j, np.int64(n_cand), k, best_j, best_d)
        for t in range(k):
            out_idx[r, t] = best_j[t]
            out_sqdist[r, t] = best_d[t]


def rows_exact_topk(X, rows, k, out_idx, out_sqdist, n_threads=None):
    """Exact k nearest other points of the given rows by a full scan (for recall checks), in parallel."""
    X = as_kernel_array(X, np.float64)
    rows = as_kernel_array(rows, np.int64)
    k = int(k)
    parallel_for(rows.shape[0], lambda a, b, _: rows_exact_topk_range(X, rows, k, a, b, out_idx, out_sqdist),
                 n_threads=n_threads, min_chunk=8)
