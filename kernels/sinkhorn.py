"""Log-domain Sinkhorn with epsilon scaling on one Ollivier-Ricci edge problem (docs/definitions.md).

Entropic transport is slower than the exact solver here and biased by epsilon; it is offered for
comparison and for entropic-OT workflows.  Scratch per problem: a dense int8 cost matrix of
#sources x #sinks (the problem after cancelling shared mass) and O(degree) vectors; the range kernel
never allocates and stops with a request when a problem needs more.
"""

import numpy as np
from numba import njit

from ricci_fast.kernels.transport_problem import dense_costs, edge_problem

# layout of `need`: item, y, closed words, mask words, cost bytes
NEED_ITEM, NEED_Y, NEED_CLOSED, NEED_MASKS, NEED_COST = range(5)
NEED_LEN = 5


@njit(cache=True, nogil=True)
def _sinkhorn(supply, n_src, demand, n_snk, cost, mass, epsilon, tol, max_iter, f, g, logk, la, lb):
    """Log-domain Sinkhorn with epsilon scaling on the normalised problem (masses / mass).

    Returns (transport cost of the final plan, in units of the normalised problem; converged flag;
    final marginal error)."""
    log_a = la[:n_src]
    log_b = lb[:n_snk]
    for i in range(n_src):
        log_a[i] = np.log(supply[i] / mass)
        f[i] = 0.0
    for j in range(n_snk):
        log_b[j] = np.log(demand[j] / mass)
        g[j] = 0.0
    eps = 1.0 if epsilon < 1.0 else epsilon
    err = np.inf
    while True:
        for it in range(max_iter):
            for i in range(n_src):
                top = -np.inf
                for j in range(n_snk):
                    logk[j] = (g[j] - cost[i, j]) / eps
                    if logk[j] > top:
                        top = logk[j]
                acc = 0.0
                for j in range(n_snk):
                    acc += np.exp(logk[j] - top)
                f[i] = eps * (log_a[i] - top - np.log(acc))
            for j in range(n_snk):
                top = -np.inf
                for i in range(n_src):
                    v = (f[i] - cost[i, j]) / eps
                    if v > top:
                        top = v
                acc = 0.0
                for i in range(n_src):
                    acc += np.exp((f[i] - cost[i, j]) / eps - top)
                g[j] = eps * (log_b[j] - top - np.log(acc))
            if it % 5 == 4 or it == max_iter - 1:
                # after the g-update the column marginals are exact; the rows carry the error
                err = 0.0
                for i in range(n_src):
                    row = 0.0
                    for j in range(n_snk):
                        row += np.exp((f[i] + g[j] - cost[i, j]) / eps)
                    err += abs(row - np.exp(log_a[i]))
                # intermediate epsilons only need a warm start for the next
                if err < (tol if eps <= epsilon else max(tol, 1e-4)):
                    break
        if eps <= epsilon:
            break
        eps = max(epsilon, eps * 0.5)
    total = 0.0
    for i in range(n_src):
        for j in range(n_snk):
            total += np.exp((f[i] + g[j] - cost[i, j]) / eps) * cost[i, j]
    return total, err < tol, err


@njit(cache=True, nogil=True)
def sinkhorn_range(indptr, indices, alpha, edge_x, edge_y, pos, mirror, start, stop, epsilon, tol, max_iter, out,
                   converged, errors, closed, c1, c2, cost_flat, e_src, e_sup, e_snk, e_dem, f, g, logk, la, lb, need):
    """Sinkhorn curvature of edges start..stop-1 of (edge_x, edge_y) into out/converged/errors at pos and
    mirror.  Returns stop, or the edge index whose scratch is too small (need filled)."""
    n_nodes = indptr.shape[0] - 1
    for e in range(start, stop):
        x = edge_x[e]
        y = edge_y[e]
        n_src, n_snk, scale = edge_problem(indptr, indices, x, y, alpha, e_src, e_sup, e_snk, e_dem)
        ok = 1
        err = 0.0
        if n_src == 0:
            value = 1.0
        else:
            n_words = (n_src + 63) // 64
            fits = True
            if n_nodes * n_words > closed.shape[0]:
                need[NEED_CLOSED] = max(need[NEED_CLOSED], n_nodes * n_words)
                fits = False
            if n_snk * n_words > c1.shape[0]:
                need[NEED_MASKS] = max(need[NEED_MASKS], n_snk * n_words)
                fits = False
            if n_src * n_snk > cost_flat.shape[0]:
                need[NEED_COST] = max(need[NEED_COST], n_src * n_snk)
                fits = False
            if not fits:
                need[NEED_ITEM] = e
                need[NEED_Y] = y
                return e
            cost = cost_flat[:n_src * n_snk].reshape((n_src, n_snk))
            dense_costs(indptr, indices, e_src, n_src, e_snk, n_snk, closed, c1, c2, cost)
            mass = 0.0
            for i in range(n_src):
                mass += e_sup[i]
            w, conv, err = _sinkhorn(e_sup, n_src, e_dem, n_snk, cost, mass, epsilon, tol, max_iter, f, g, logk, la, lb)
            value = 1.0 - w * (mass / scale)
            ok = 1 if conv else 0
        out[pos[e]] = value
        out[mirror[e]] = value
        converged[pos[e]] = ok
        converged[mirror[e]] = ok
        errors[pos[e]] = err
        errors[mirror[e]] = err
    return stop
