"""Batched log-domain Sinkhorn for Ollivier-Ricci curvature with PyTorch (a GPU when there is one).

The per-edge problems are extracted on the CPU by the Numba kernel (padded to the largest closed
neighbourhood), then `batch_size` of them iterate at once on the device.  Same schedule and stopping
rule as the Numba Sinkhorn: epsilon halves from 1 to `epsilon`, each step stops when every problem's
L1 row-marginal error is below its tolerance (or after max_iter iterations).
"""

from __future__ import annotations

import numpy as np

from ricci_fast.kernels import transport_problem as _problem

#: Padded cells (edges x sources x sinks) per batch: bounds the device memory of one batch (several
#: float64 tensors of this size) whatever the degrees, e.g. of a hub of degree 3,000.
MAX_BATCH_CELLS = 1 << 23


def _torch():
    try:
        import torch
    except ImportError:
        raise ImportError("solver='sinkhorn_torch' needs PyTorch: pip install 'ricci_fast[torch]'.") from None
    return torch


def _batches(n_src, n_snk, batch_size, max_cells):
    """Consecutive runs of edges (sorted by problem size) whose padded size stays within max_cells."""
    order = np.lexsort((n_snk, n_src))
    start = 0
    while start < order.shape[0]:
        stop = start
        side_s = side_t = 1
        while stop < order.shape[0] and stop - start < batch_size:
            e = order[stop]
            s_new, t_new = max(side_s, int(n_src[e])), max(side_t, int(n_snk[e]))
            if stop > start and (stop + 1 - start) * s_new * t_new > max_cells:
                break
            side_s, side_t = s_new, t_new
            stop += 1
        yield order[start:stop], side_s, side_t
        start = stop


def ollivier_sinkhorn_torch(graph, alpha, *, epsilon, tol, max_iter, device=None, batch_size=4096,
                            max_cells=MAX_BATCH_CELLS):
    torch = _torch()
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise ValueError(f"device={device!r} is not a torch device ({exc}); use e.g. 'cpu' or 'cuda:0'.") from None
    indptr, indices = graph.indptr, graph.indices
    edge_x, edge_y, pos, mirror = _problem.upper_entries(indptr, indices)
    n_edges = edge_x.shape[0]
    nnz = indices.shape[0]
    out = np.full(nnz, np.nan)
    conv = np.zeros(nnz, np.int8)
    errs = np.full(nnz, np.nan)
    if n_edges == 0:
        return out, conv, np.zeros(nnz)
    side = int(graph.degrees.max()) + 2
    vec = [np.empty(side, dt) for dt in (np.int64, np.float64, np.int64, np.float64)]
    n_src = np.zeros(n_edges, np.int64)
    n_snk = np.zeros(n_edges, np.int64)
    _problem.edge_problem_sizes(indptr, indices, edge_x, edge_y, alpha, n_src, n_snk, *vec)
    kappa = np.full(n_edges, np.nan)
    converged = np.zeros(n_edges, np.int8)
    errors = np.full(n_edges, np.nan)
    for rows, side_s, side_t in _batches(n_src, n_snk, batch_size, max_cells):
        n_words = (side_s + 63) // 64
        try:
            closed = np.zeros(graph.n_nodes * n_words, np.uint64)
            c1 = np.zeros(side_t * n_words, np.uint64)
            c2 = np.zeros(side_t * n_words, np.uint64)
            cost = np.zeros((side_s, side_t), np.int8)
            a = np.empty((rows.shape[0], side_s))
            b = np.empty((rows.shape[0], side_t))
            costs = np.empty((rows.shape[0], side_s, side_t), np.int8)
            moved = np.empty(rows.shape[0])
        except MemoryError:
            e = rows[0]
            raise MemoryError(f"sinkhorn_torch: no memory for a batch of {rows.shape[0]} problems of up to {side_s} x "
                              f"{side_t} (edge ({edge_x[e]}, {edge_y[e]})); use solver='exact'.") from None
        bad = _problem.extract_problems(indptr, indices, edge_x[rows], edge_y[rows], alpha, side_s, side_t, closed, c1,
                                        c2, *vec, cost, a, b, costs, moved)
        if bad:
            raise RuntimeError("sinkhorn_torch: internal error, a problem did not fit its padding.")
        active = moved > 0
        kappa[rows[~active]] = 1.0
        converged[rows[~active]] = 1
        errors[rows[~active]] = 0.0
        if not active.any():
            continue
        w, ok, err = _solve_batch(torch, a[active], b[active], costs[active], epsilon, tol, max_iter, device)
        sel = rows[active]
        kappa[sel] = 1.0 - w * moved[active]
        converged[sel] = ok
        errors[sel] = err
    out[pos] = kappa
    out[mirror] = kappa
    conv[pos] = converged
    conv[mirror] = converged
    errs[pos] = errors
    errs[mirror] = errors
    return out, conv, errs


def _solve_batch(torch, a, b, costs, epsilon, tol, max_iter, device):
    dtype = torch.float64
    A = torch.as_tensor(a, dtype=dtype, device=device)
    B = torch.as_tensor(b, dtype=dtype, device=device)
    C = torch.as_tensor(costs, dtype=dtype, device=device)
    mask_a = A > 0
    mask_b = B > 0
    neg_inf = torch.tensor(-float("inf"), dtype=dtype, device=device)
    log_a = torch.where(mask_a, torch.log(torch.where(mask_a, A, torch.ones_like(A))), neg_inf)
    log_b = torch.where(mask_b, torch.log(torch.where(mask_b, B, torch.ones_like(B))), neg_inf)
    f = torch.where(mask_a, torch.zeros_like(A), neg_inf)
    g = torch.where(mask_b, torch.zeros_like(B), neg_inf)
    eps = max(1.0, epsilon)
    err = torch.full((A.shape[0],), float("inf"), dtype=dtype, device=device)
    while True:
        final = eps <= epsilon
        stage_tol = tol if final else max(tol, 1e-4)
        for it in range(max_iter):
            f = torch.where(mask_a, eps * (log_a - torch.logsumexp((g[:, None, :] - C) / eps, dim=2)), neg_inf)
            g = torch.where(mask_b, eps * (log_b - torch.logsumexp((f[:, :, None] - C) / eps, dim=1)), neg_inf)
            if it % 5 == 4 or it == max_iter - 1:
                plan = torch.exp((f[:, :, None] + g[:, None, :] - C) / eps)
                err = (plan.sum(dim=2) - A).abs().sum(dim=1)
                if bool((err < stage_tol).all()):
                    break
        if final:
            break
        eps = max(epsilon, eps * 0.5)
    plan = torch.exp((f[:, :, None] + g[:, None, :] - C) / eps)
    w = (plan * C).sum(dim=(1, 2))
    return w.cpu().numpy(), (err < tol).cpu().numpy().astype(np.int8), err.cpu().numpy()
