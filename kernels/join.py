"""Kernels for joining the connected components of a k-NN graph by their shortest edges.

One Boruvka round asks, for every point, for its nearest point in another component.  Distances are
exact float64 sums of squared differences in coordinate order (the same arithmetic as the k-NN
re-measurement in knn.py), ties go to the lower index, and no N x N array is held: each row is a scan.
"""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def nearest_other_component(X, labels, start, stop, out_j, out_d2):
    """For rows i in [start, stop): the nearest j with labels[j] != labels[i] (ties: lower j) and its
    squared distance; -1 and inf when every point shares i's label."""
    n, dims = X.shape
    for i in range(start, stop):
        li = labels[i]
        best_j = -1
        best = np.inf
        for j in range(n):
            if labels[j] == li:
                continue
            total = 0.0
            for t in range(dims):
                diff = X[i, t] - X[j, t]
                total += diff * diff
                if total > best:  # partial sums only grow: j cannot win
                    break
            if total < best:  # strict, so an equal distance keeps the lower j seen first
                best = total
                best_j = j
        out_j[i] = best_j
        out_d2[i] = best


@njit(cache=True, nogil=True)
def rank_of(X, i, j):
    """1 + the number of points m != i that come before j in i's neighbour order (squared distance,
    then index): j is among i's k nearest exactly when rank_of(X, i, j) <= k."""
    n, dims = X.shape
    target = 0.0
    for t in range(dims):
        diff = X[i, t] - X[j, t]
        target += diff * diff
    rank = 1
    for m in range(n):
        if m == i or m == j:
            continue
        total = 0.0
        for t in range(dims):
            diff = X[i, t] - X[m, t]
            total += diff * diff
            if total > target:
                break
        if total < target or (total == target and m < j):
            rank += 1
    return rank


@njit(cache=True, nogil=True)
def block_nearest_other(X, sqnorms, gram, row_start, labels, coef, max_sq, out_j, out_d2):
    """nearest_other_component for rows row_start .. row_start + len(gram) - 1, from a block of BLAS
    inner products of the centred points (gram[r, j] ~ c_i . c_j, sqnorms = |c|^2).

    The BLAS values only bound the candidates: every j whose approximate squared distance lies within
    twice the rounding bound coef * (|c_i|^2 + max_sq) of the smallest is re-measured exactly on X, so
    the answer equals the direct scan's, ties to the lower j."""
    n = X.shape[0]
    dims = X.shape[1]
    for r in range(gram.shape[0]):
        i = row_start + r
        li = labels[i]
        lowest = np.inf
        for j in range(n):
            if labels[j] != li:
                approx = sqnorms[i] + sqnorms[j] - 2.0 * gram[r, j]
                if approx < lowest:
                    lowest = approx
        if lowest == np.inf:
            out_j[i] = -1
            out_d2[i] = np.inf
            continue
        threshold = lowest + 2.0 * coef * (sqnorms[i] + max_sq)
        best = np.inf
        best_j = -1
        for j in range(n):
            if labels[j] == li or sqnorms[i] + sqnorms[j] - 2.0 * gram[r, j] > threshold:
                continue
            total = 0.0
            for t in range(dims):
                diff = X[i, t] - X[j, t]
                total += diff * diff
            if total < best:
                best = total
                best_j = j
        out_j[i] = best_j
        out_d2[i] = best
