"""Compressed sparse row (CSR) building blocks: symmetrisation, relabelling, per-node reductions.

Symmetrisation and relabelling are numpy / scipy (compiled already, as fast here, and nothing for Numba
to compile on a first call).  The kernel (row_means_range) is a serial nogil function over a range of
rows [start, stop) that writes only its own rows; row_means drives it with ricci_fast._parallel (no
prange: see that module).  Each kernel has one type signature (int64 indptr, int32 indices, float64
values), so it compiles once.
"""

import numpy as np
import scipy.sparse as sp
from numba import njit

from ricci_fast._parallel import parallel_for
from ricci_fast.kernels._bits import as_kernel_array


def _indptr_of(lengths):
    indptr = np.zeros(lengths.shape[0] + 1, np.int64)
    np.cumsum(lengths, out=indptr[1:])
    return indptr


def symmetrize_knn(knn, mutual):
    """Undirected CSR (int64 indptr, sorted int32 indices, no self-loops) from an (N, k) neighbour table
    (distinct neighbours per row, none the row itself).  union: edge i-j if j is among i's neighbours or
    i among j's; mutual: both.

    scipy's compiled COO -> CSR conversion (a counting sort, then a sort per row) does this as fast as a
    Numba kernel here and needs no compilation on a first call."""
    knn = np.ascontiguousarray(knn)
    n_points, k = knn.shape
    if n_points == 0:
        return np.zeros(1, np.int64), np.zeros(0, np.int32)
    heads = np.repeat(np.arange(n_points, dtype=np.int32), k)
    tails = knn.ravel().astype(np.int32, copy=False)
    # every arc in both directions; an edge chosen from both ends is stored twice and counted 2 (int8)
    matrix = sp.csr_matrix(
        (np.ones(2 * heads.size, np.int8), (np.concatenate([heads, tails]), np.concatenate([tails, heads]))),
        shape=(n_points, n_points),
    )
    matrix.sum_duplicates()
    indptr = matrix.indptr.astype(np.int64)
    indices = matrix.indices.astype(np.int32, copy=False)
    if not mutual:
        return indptr, indices
    keep = matrix.data == 2
    kept_before = np.zeros(indices.shape[0] + 1, np.int64)
    np.cumsum(keep, out=kept_before[1:])
    return kept_before[indptr], indices[keep]


def relabel(indptr, indices, order, rank):
    """The same graph with node order[p] renamed p (rank is the inverse of order), rows sorted.

    Also returns, for each new entry, its position in the original indices array, so values computed
    on the relabelled graph can be written back.  Gathers in numpy, sorts rows with scipy's compiled
    per-row sort (nothing to compile on a first call).
    """
    order = np.asarray(order, dtype=np.int64)
    rank = np.asarray(rank, dtype=np.int64)
    n_points = order.shape[0]
    lengths = np.diff(indptr)[order]
    new_indptr = _indptr_of(lengths)
    origin = np.repeat(indptr[:-1][order] - new_indptr[:-1], lengths) + np.arange(new_indptr[-1], dtype=np.int64)
    matrix = sp.csr_matrix((origin, rank[indices[origin]].astype(np.int32), new_indptr), shape=(n_points, n_points))
    matrix.has_sorted_indices = False
    matrix.sort_indices()
    return new_indptr, matrix.indices.astype(np.int32, copy=False), matrix.data


@njit(cache=True, nogil=True)
def row_means_range(indptr, values, start, stop, out):
    """Mean of each row's values (NaN for an empty row), summed in CSR order."""
    for i in range(start, stop):
        first = indptr[i]
        last = indptr[i + 1]
        if last == first:
            out[i] = np.nan
            continue
        total = 0.0
        for p in range(first, last):
            total += values[p]
        out[i] = total / (last - first)


def row_means(indptr, values, n_threads=None):
    """Mean of each row's values (NaN for an empty row)."""
    indptr = as_kernel_array(indptr, np.int64)
    values = as_kernel_array(values, np.float64)
    n_rows = indptr.shape[0] - 1
    out = np.empty(max(n_rows, 0), np.float64)
    parallel_for(n_rows, lambda a, b, _: row_means_range(indptr, values, a, b, out), n_threads=n_threads,
                 min_chunk=4096)
    return out


@njit(cache=True, nogil=True)
def _upper_triangle_sum(indptr, indices, values):
    """Sum of values over undirected edges, each counted once (the entry with i < j), in CSR order."""
    total = 0.0
    n_rows = indptr.shape[0] - 1
    for i in range(n_rows):
        for p in range(indptr[i], indptr[i + 1]):
            if indices[p] > i:
                total += values[p]
    return total


def upper_triangle_sum(indptr, indices, values):
    """Sum of values over undirected edges, each counted once (the entry with i < j), in CSR order."""
    return _upper_triangle_sum(as_kernel_array(indptr, np.int64), as_kernel_array(indices, np.int32),
                               as_kernel_array(values, np.float64))
