"""Exact k-nearest-neighbour search with the candidates streamed in row blocks.

For layers that are not in memory as one array (ricci_fast/knn_blocks.py): a block of query rows keeps
a running exact top-k, and each block of candidate rows updates it.  As in kernels/knn.py, BLAS inner
products of a centred low-precision copy only *bound* the candidate set; every candidate that could
precede the current k-th neighbour is re-measured by direct float64 differences, and the choice is made
on those exact values with ties broken by the lower index.  The result is therefore the same table,
bit for bit, as `knn_graph`'s brute-force and KD-tree searches, whatever the block sizes and order.
"""

import numpy as np
from numba import njit

from ricci_fast.kernels.knn import _precedes


@njit(cache=True, nogil=True)
def _squared_distance_rows(A, a, B, b):
    # the same summation order as kernels.knn.squared_distance, so the values are identical
    total = 0.0
    for d in range(A.shape[1]):
        diff = A[a, d] - B[b, d]
        total += diff * diff
    return total


@njit(cache=True, nogil=True)
def stream_update(Q, q_start, r_start, r_stop, C, c_start, sq_q, sq_c, gram, gram_row0, gamma, k, best_j, best_d,
                  n_filled):
    """Update the running top-k of query rows r_start..r_stop-1 (global ids q_start + r) with the
    candidate block C (global ids c_start + c).

    Q, C: float64 points (already scaled); sq_q, sq_c: float64 squared norms of the centred GEMM-dtype
    copies; gram[r - gram_row0, c]: their inner products, of unit roundoff folded into gamma (see
    kernels.knn.brute_block_topk).  best_j (int64) / best_d (float64) (rows, k): the exact neighbours
    so far, sorted by (distance, index); n_filled (rows,) how many are set.  A candidate is skipped only
    when its approximate distance minus twice the rounding bound exceeds the current k-th exact
    distance, so it cannot be a neighbour."""
    n_cand = C.shape[0]
    max_c = 0.0
    for c in range(n_cand):
        if sq_c[c] > max_c:
            max_c = sq_c[c]
    for r in range(r_start, r_stop):
        i = q_start + r
        g = r - gram_row0
        slack = 2.0 * gamma * (sq_q[r] + max_c)
        filled = n_filled[r]
        bound = np.inf
        if filled == k:
            bound = best_d[r, k - 1] + slack - sq_q[r]
        for c in range(n_cand):
            if sq_c[c] - 2.0 * gram[g, c] > bound:
                continue
            j = c_start + c
            if j == i:
                continue
            d = _squared_distance_rows(Q, r, C, c)
            if filled == k and not _precedes(d, j, best_d[r, k - 1], best_j[r, k - 1]):
                continue
            pos = filled if filled < k else k - 1
            while pos > 0 and _precedes(d, j, best_d[r, pos - 1], best_j[r, pos - 1]):
                best_d[r, pos] = best_d[r, pos - 1]
                best_j[r, pos] = best_j[r, pos - 1]
                pos -= 1
            best_d[r, pos] = d
            best_j[r, pos] = j
            if filled < k:
                filled += 1
            if filled == k:
                bound = best_d[r, k - 1] + slack - sq_q[r]
        n_filled[r] = filled
