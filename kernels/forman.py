"""Combinatorial edge curvatures: triangles per edge, Forman, augmented Forman, Tian et al.'s approximate
Ollivier-Ricci, Park and Li's lower Ricci curvature, the Jost-Liu bounds on Ollivier-Ricci curvature,
and Topping et al.'s balanced Forman curvature.  Values are written for both directions of every edge
(CSR entry p of row i is edge i-indices[p]); both directions are computed by the same symmetric
formula, in (min degree, max degree) order, so they are bit-identical.

The kernels (names ending in _range) are serial nogil functions over a range of nodes [start, stop) that
write only the CSR entries of those rows; the functions without the suffix drive them with
ricci_fast._parallel (no prange: see that module)."""

import numpy as np
from numba import njit

from ricci_fast._parallel import parallel_for
from ricci_fast.kernels._bits import as_kernel_array

FORMAN = 0
AUGMENTED_FORMAN = 1
APPROX_OLLIVIER = 2
LOWER_RICCI = 3
JOST_LIU_LOWER = 4
JOST_LIU_UPPER = 5


@njit(cache=True, nogil=True)
def common_neighbours(indices, start_a, stop_a, start_b, stop_b):
    """Size of the intersection of two sorted index runs."""
    count = 0
    a = start_a
    b = start_b
    while a < stop_a and b < stop_b:
        va = indices[a]
        vb = indices[b]
        if va == vb:
            count += 1
            a += 1
            b += 1
        elif va < vb:
            a += 1
        else:
            b += 1
    return count


@njit(cache=True, nogil=True)
def edge_triangles_range(indptr, indices, start, stop, triangles):
    """T(i, j) for every CSR entry of rows start..stop-1: the number of common neighbours of its ends."""
    for i in range(start, stop):
        for p in range(indptr[i], indptr[i + 1]):
            j = indices[p]
            triangles[p] = common_neighbours(indices, indptr[i], indptr[i + 1], indptr[j], indptr[j + 1])


def edge_triangles(indptr, indices, n_threads=None):
    """T(i, j) for every CSR entry (int32): the number of common neighbours of its two end points."""
    indptr = as_kernel_array(indptr, np.int64)
    indices = as_kernel_array(indices, np.int32)
    triangles = np.empty(indices.shape[0], np.int32)
    parallel_for(indptr.shape[0] - 1, lambda a, b, _: edge_triangles_range(indptr, indices, a, b, triangles),
                 n_threads=n_threads, min_chunk=2048)
    return triangles


@njit(cache=True, nogil=True)
def jost_liu_lower_value(deg_x, deg_y, triangles):
    # Jost and Liu (2014), Theorem 3: a lower bound on Ollivier-Ricci curvature (alpha = 0); the
    # degrees are summed in (min, max) order so that both directions of an edge round identically
    d_max = float(max(deg_x, deg_y))
    d_min = float(min(deg_x, deg_y))
    t = float(triangles)
    base = 1.0 - 1.0 / d_min - 1.0 / d_max
    return -max(0.0, base - t / d_min) - max(0.0, base - t / d_max) + t / d_max


@njit(cache=True, nogil=True)
def approx_ollivier_value(deg_x, deg_y, triangles):
    # Tian et al. (2023): the mean of the Jost-Liu lower bound and the upper bound T / max(deg)
    return 0.5 * (jost_liu_lower_value(deg_x, deg_y, triangles) + float(triangles) / max(deg_x, deg_y))


@njit(cache=True, nogil=True)
def lower_ricci_value(deg_x, deg_y, triangles):
    # Park and Li (2024): 2/dx + 2/dy - 2 + 2T/max + T/min
    d_max = float(max(deg_x, deg_y))
    d_min = float(min(deg_x, deg_y))
    t = float(triangles)
    return 2.0 / d_min + 2.0 / d_max - 2.0 + 2.0 * t / d_max + t / d_min


@njit(cache=True, nogil=True)
def combinatorial_curvature_range(indptr, indices, triangles, kind, start, stop, out):
    """Forman, augmented Forman, approximate Ollivier-Ricci, lower Ricci or a Jost-Liu bound of every
    CSR entry of rows start..stop-1 (triangles may be empty for Forman)."""
    for i in range(start, stop):
        deg_i = indptr[i + 1] - indptr[i]
        for p in range(indptr[i], indptr[i + 1]):
            j = indices[p]
            deg_j = indptr[j + 1] - indptr[j]
            if kind == FORMAN:
                out[p] = 4.0 - deg_i - deg_j
            elif kind == AUGMENTED_FORMAN:
                out[p] = 4.0 - deg_i - deg_j + 3.0 * triangles[p]
            elif kind == APPROX_OLLIVIER:
                out[p] = approx_ollivier_value(deg_i, deg_j, triangles[p])
            elif kind == LOWER_RICCI:
                out[p] = lower_ricci_value(deg_i, deg_j, triangles[p])
            elif kind == JOST_LIU_LOWER:
                out[p] = jost_liu_lower_value(deg_i, deg_j, triangles[p])
            else:
                out[p] = float(triangles[p]) / max(deg_i, deg_j)


def combinatorial_curvature(indptr, indices, triangles, kind, n_threads=None):
    """Forman, augmented Forman, approximate Ollivier-Ricci, lower Ricci or a Jost-Liu bound of every
    CSR entry, as float64 (triangles: int32, may be empty for Forman)."""
    kind = int(kind)
    indptr = as_kernel_array(indptr, np.int64)
    indices = as_kernel_array(indices, np.int32)
    triangles = as_kernel_array(triangles, np.int32)
    if kind == FORMAN or kind == AUGMENTED_FORMAN:
        # integer arithmetic, exact in float64 and in the kernel's order: numpy gives the same bits, and a
        # Forman layer then compiles no curvature kernel at all
        degrees = np.diff(indptr)
        out = (4.0 - np.repeat(degrees.astype(np.float64), degrees)) - degrees[indices].astype(np.float64)
        if kind == AUGMENTED_FORMAN:
            out += 3.0 * triangles
        return out
    out = np.empty(indices.shape[0], np.float64)
    parallel_for(indptr.shape[0] - 1,
                 lambda a, b, _: combinatorial_curvature_range(indptr, indices, triangles, kind, a, b, out),
                 n_threads=n_threads, min_chunk=2048)
    return out


@njit(cache=True, nogil=True)
def _squares_at(indptr, indices, i, j, in_i, in_j, stamp):
    """(#squares based at i on edge i-j, largest number of such 4-cycles through one neighbour k).

    A neighbour k of i counts if k != j, k is not adjacent to j, and some w != i adjacent to both k and
    j is not adjacent to i (a 4-cycle i-k-w-j without diagonals).  in_i / in_j hold `stamp` for the
    neighbours of i / j."""
    count = 0
    most = 0
    for q in range(indptr[i], indptr[i + 1]):
        k = indices[q]
        if k == j or in_j[k] == stamp:
            continue
        through = 0
        for r in range(indptr[k], indptr[k + 1]):
            w = indices[r]
            if w != i and in_j[w] == stamp and in_i[w] != stamp:
                through += 1
        if through > 0:
            count += 1
            if through > most:
                most = through
    return count, most


@njit(cache=True, nogil=True)
def balanced_forman_range(indptr, indices, triangles, start, stop, in_i, in_j, stamp, out):
    """Balanced Forman curvature (Topping et al., ICLR 2022, Definition 1) of every CSR entry of rows
    start..stop-1: 2/d_i + 2/d_j - 2 + 2T/max + T/min + (sq_i + sq_j) / (gamma_max max(d_i, d_j)), and 0
    when min(d_i, d_j) = 1; the 4-cycle term is 0 when there are no such cycles.

    in_i, in_j: per-thread int64 marks (N), valid below `stamp`, the last stamp used; returns the new one."""
    for i in range(start, stop):
        deg_i = indptr[i + 1] - indptr[i]
        for p in range(indptr[i], indptr[i + 1]):
            j = indices[p]
            deg_j = indptr[j + 1] - indptr[j]
            d_max = float(max(deg_i, deg_j))
            d_min = float(min(deg_i, deg_j))
            if d_min == 1.0:
                out[p] = 0.0
                continue
            stamp += 1
            for q in range(indptr[i], indptr[i + 1]):
                in_i[indices[q]] = stamp
            for q in range(indptr[j], indptr[j + 1]):
                in_j[indices[q]] = stamp
            sq_i, most_i = _squares_at(indptr, indices, i, j, in_i, in_j, stamp)
            sq_j, most_j = _squares_at(indptr, indices, j, i, in_j, in_i, stamp)
            t = float(triangles[p])
            value = 2.0 / d_min + 2.0 / d_max - 2.0 + 2.0 * t / d_max + t / d_min
            gamma = max(most_i, most_j)
            if gamma > 0:
                value += (sq_i + sq_j) / (gamma * d_max)
            out[p] = value
    return stamp


def balanced_forman(indptr, indices, triangles, n_threads=None):
    """Balanced Forman curvature of every CSR entry, as float64 (see balanced_forman_range)."""
    indptr = as_kernel_array(indptr, np.int64)
    indices = as_kernel_array(indices, np.int32)
    triangles = as_kernel_array(triangles, np.int32)
    n_nodes = indptr.shape[0] - 1
    out = np.empty(indices.shape[0], np.float64)

    def scratch():
        return [np.zeros(n_nodes, np.int64), np.zeros(n_nodes, np.int64), 0]

    def work(a, b, state):
        state[2] = balanced_forman_range(indptr, indices, triangles, a, b, state[0], state[1], state[2], out)

    parallel_for(n_nodes, work, n_threads=n_threads, scratch=scratch, min_chunk=64)
    return out
