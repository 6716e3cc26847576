"""Exact k-nearest-neighbour search with the candidates streamed in row blocks.

For layers that are not in memory as one array (ricci_fast/knn_blocks.py): a block of query rows keeps
a running exact top-k, and each block of candidate rows updates it.  As in kernels/knn.py, BLAS inner
products of a centred low-precision copy only *bound* the candidate set; every candidate that could
precede the current k-th neighbour is re-measured by direct float64 differences (the shared
kernels.knn.squared_distance_rows), and the choice is made on those exact values with ties broken by
the lower index.  The result is therefore the same table, bit for bit, as `knn_graph`'s brute-force and
KD-tree searches, whatever the block sizes and order.
"""

import numpy as np
from numba import njit

from ricci_fast.kernels.knn import _kth_smallest_heap, _precedes, squared_distance_rows

#: Candidates screened together: one vectorised minimum over LANES approximate distances decides whether
#: any of them needs a look (almost never once the top-k has settled).
LANES = 16


@njit(cache=True, nogil=True)
def _insert(d, j, r, k, filled, best_j, best_d):
    """Insert (d, j), known to precede the current k-th entry (or the row not full), into row r of the
    sorted running top-k; returns the new fill count."""
    pos = filled if filled < k else k - 1
    while pos > 0 and _precedes(d, j, best_d[r, pos - 1], best_j[r, pos - 1]):
        best_d[r, pos] = best_d[r, pos - 1]
        best_j[r, pos] = best_j[r, pos - 1]
        pos -= 1
    best_d[r, pos] = d
    best_j[r, pos] = j
    return filled + 1 if filled < k else k


@njit(cache=True, nogil=True)
def _visit(Q, r, i, C, c_start, c, k, filled, best_j, best_d):
    j = c_start + c
    if j == i:
        return filled
    d = squared_distance_rows(Q, r, C, c)
    if filled == k and not _precedes(d, j, best_d[r, k - 1], best_j[r, k - 1]):
        return filled
    return _insert(d, j, r, k, filled, best_j, best_d)


@njit(cache=True, nogil=True)
def stream_update(Q, q_start, r_start, r_stop, C, c_start, sq_q, sq_c, gram, gram_row0, gamma, k, best_j, best_d,
                  n_filled, keys):
    """Update the running top-k of query rows r_start..r_stop-1 (global ids q_start + r) with the
    candidate block C (global ids c_start + c).

    Q, C: float64 points (already scaled); sq_q, sq_c: float64 squared norms of the centred GEMM-dtype
    copies; gram[r - gram_row0, c]: their inner products, of unit roundoff folded into gamma (see
    kernels.knn.brute_block_topk).  best_j (int64) / best_d (float64) (rows, k): the exact neighbours
    so far, sorted by (distance, index); n_filled (rows,) how many are set.  keys: float64 scratch of
    at least len(C).

    A candidate is skipped only when its approximate distance minus twice the rounding bound exceeds
    the current k-th exact distance, so it cannot be a neighbour.  A row not yet full takes its first
    bound from this block: its k-th smallest approximate distance plus twice the rounding bound is at
    least the block's k-th exact distance, which is at least the row's.  Screening LANES candidates
    by one minimum lets the compiler vectorise the pass that almost every candidate ends in."""
    n_cand = C.shape[0]
    max_c = 0.0
    for c in range(n_cand):
        if sq_c[c] > max_c:
            max_c = sq_c[c]
    n_full = n_cand - n_cand % LANES
    for r in range(r_start, r_stop):
        i = q_start + r
        g = r - gram_row0
        slack = 2.0 * gamma * (sq_q[r] + max_c)
        filled = n_filled[r]
        bound = np.inf
        if filled == k:
            bound = best_d[r, k - 1] + slack - sq_q[r]
        else:
            for c in range(n_cand):
                keys[c] = sq_c[c] - 2.0 * gram[g, c]
            own = i - c_start
            n_valid = n_cand
            if 0 <= own < n_cand:
                keys[own] = np.inf
                n_valid -= 1
            if n_valid >= k:
                bound = _kth_smallest_heap(keys[:n_cand], k) + 2.0 * slack
        for base in range(0, n_full, LANES):
            low = np.inf
            for t in range(LANES):
                v = sq_c[base + t] - 2.0 * gram[g, base + t]
                low = v if v < low else low
            if low > bound:
                continue
            for c in range(base, base + LANES):
                if sq_c[c] - 2.0 * gram[g, c] <= bound:
                    filled = _visit(Q, r, i, C, c_start, c, k, filled, best_j, best_d)
                    if filled == k:
                        bound = min(bound, best_d[r, k - 1] + slack - sq_q[r])
        for c in range(n_full, n_cand):
            if sq_c[c] - 2.0 * gram[g, c] <= bound:
                filled = _visit(Q, r, i, C, c_start, c, k, filled, best_j, best_d)
                if filled == k:
                    bound = min(bound, best_d[r, k - 1] + slack - sq_q[r])
        n_filled[r] = filled
