"""Weighted Forman-Ricci curvature as GraphRicciCurvature defines it (edge lengths w, node weights W;
docs/definitions.md "Weighted graphs"), for every CSR entry; both directions get the value computed once
at the upper entry, so they are bit-identical."""

import numpy as np
from numba import njit

ONE_D = 0
AUGMENTED = 1


@njit(cache=True, nogil=True)
def weighted_forman_range(indptr, indices, weights, node_weights, twin, kind, start, stop, out):
    """Rows [start, stop): for x-y with x < y,
    1d:        w_e (W_x / w_e + W_y / w_e - sum_{v ~ x, v != y} W_x / sqrt(w_e w_xv) - (same at y))
    augmented: w_e (T w_e + W_x / w_e + W_y / w_e - the same sums over neighbours outside the T triangles)."""
    for x in range(start, stop):
        for p in range(indptr[x], indptr[x + 1]):
            y = indices[p]
            if y < x:
                continue
            w_e = weights[p]
            wx = node_weights[x]
            wy = node_weights[y]
            # merge walk over the two sorted neighbour lists: membership in the other list marks a face
            a = indptr[x]
            b = indptr[y]
            sum_x = 0.0
            sum_y = 0.0
            faces = 0
            while a < indptr[x + 1] or b < indptr[y + 1]:
                va = indices[a] if a < indptr[x + 1] else 2147483647
                vb = indices[b] if b < indptr[y + 1] else 2147483647
                if va == vb:
                    faces += 1
                    if kind == ONE_D:
                        sum_x += wx / np.sqrt(w_e * weights[a])
                        sum_y += wy / np.sqrt(w_e * weights[b])
                    a += 1
                    b += 1
                elif va < vb:
                    if va != y:
                        sum_x += wx / np.sqrt(w_e * weights[a])
                    a += 1
                else:
                    if vb != x:
                        sum_y += wy / np.sqrt(w_e * weights[b])
                    b += 1
            if kind == ONE_D:
                value = w_e * (wx / w_e + wy / w_e - (sum_x + sum_y))
            else:
                value = w_e * (faces * w_e + (wx / w_e + wy / w_e) - abs(0.0 - (sum_x + sum_y)))
            out[p] = value
            out[twin[p]] = value
    return 0
