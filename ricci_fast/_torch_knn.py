"""Exact k-NN on a torch device (the GPU when the activations already live there).

The same method as the CPU kernel (kernels/knn.py): float32 inner products in blocks, a rigorous bound
on their rounding to choose every candidate that could be among the k nearest, exact float64
re-measurement of the candidates by direct differences, summed feature by feature in the kernel's order
(so both paths compute bit-identical distances), and the choice by (distance, index).  Only the (N, k)
neighbour table and its distances travel to the host.
"""

from __future__ import annotations

import numpy as np


def _power_of_two_factors(exponents: np.ndarray):
    """Two float64 factors per exponent whose product is 2^exponent, each representable (2^e alone
    overflows for e > 1023 and is 0 for e < -1074); multiplying by them is exact."""
    first = exponents // 2
    return np.ldexp(1.0, first), np.ldexp(1.0, exponents - first)


def torch_knn(X, k: int, metric: str = "euclidean", block_bytes: int = 64 * 2**20):
    """(N, k) int32 neighbour indices, float64 squared distances and the exponent e of the points they
    were measured on, X / 2^e (Euclidean on unit rows for cosine, e = 0), of a 2-D floating tensor X,
    computed on X's device.

    As on the CPU (graph._prepare_points), the search runs on X scaled by a power of two so that its
    largest magnitude lies in [0.5, 1): exact, and immune to float32 overflow and underflow at any
    scale."""
    import torch

    Xd = X.to(torch.float64)
    if metric == "cosine":
        row_max = Xd.abs().amax(dim=1)
        zero = torch.nonzero(row_max == 0).flatten()
        if zero.numel():
            raise ValueError(
                f"X: metric='cosine' is undefined for all-zero rows ({zero.numel()} such rows, first at index "
                f"{int(zero[0])}); drop them or use metric='euclidean'."
            )
        exponents = np.frexp(row_max.to("cpu").numpy())[1]
        for factors in _power_of_two_factors(-exponents):
            Xd = Xd * torch.as_tensor(factors, device=Xd.device)[:, None]
        Xd = Xd / torch.linalg.vector_norm(Xd, dim=1)[:, None]
        exponent = 0
    else:
        max_abs = float(Xd.abs().max()) if Xd.numel() else 0.0
        exponent = int(np.frexp(max_abs)[1]) if max_abs > 0 else 0
        for factor in _power_of_two_factors(np.array([-exponent])):
            Xd = Xd * float(factor[0])
    n, dim = Xd.shape
    centred = (Xd - Xd.mean(dim=0)).to(torch.float32)
    sq = (centred.to(torch.float64) ** 2).sum(dim=1)
    gamma = 2.0 * (2.0 * dim + 32.0) * (np.finfo(np.float32).eps / 2)
    max_norm = sq.max()
    block = int(max(1, min(n, block_bytes // (8 * n))))
    # sentinels: an unfilled slot is caught by graph._check_table
    out_idx = np.full((n, k), -1, np.int32)
    out_sq = np.full((n, k), np.nan)
    rows_all = torch.arange(n, device=X.device)
    for start in range(0, n, block):
        stop = min(n, start + block)
        rows = rows_all[start:stop]
        keys = sq[None, :] - 2.0 * (centred[start:stop] @ centred.T).to(torch.float64)
        keys[torch.arange(stop - start, device=X.device), rows] = float("inf")
        kth = torch.kthvalue(keys, k, dim=1).values
        threshold = kth + 2.0 * gamma * (sq[start:stop] + max_norm)
        width = int((keys <= threshold[:, None]).sum(dim=1).max())
        cand = torch.topk(keys, width, dim=1, largest=False).indices
        # exact squared distances of the candidates, in chunks of rows to bound memory
        exact = torch.empty(cand.shape, dtype=torch.float64, device=X.device)
        chunk = max(1, block_bytes // (8 * width * dim))
        for r in range(0, stop - start, chunk):
            diff = Xd[start + r:start + r + chunk, None, :] - Xd[cand[r:r + chunk]]
            # summed one feature at a time, in order, with separately rounded products: the same float64
            # operations as the CPU kernel, so ties (equal distances) are broken identically at any scale;
            # a vectorised .sum() groups terms by position and can split exact ties in the last bit
            total = torch.square(diff[:, :, 0])
            for d in range(1, dim):
                total += torch.square(diff[:, :, d])
            exact[r:r + chunk] = total
        # order by (distance, index): sort by index, then a stable sort by distance
        by_index, perm = torch.sort(cand, dim=1)
        exact = torch.gather(exact, 1, perm)
        exact, order = torch.sort(exact, dim=1, stable=True)
        chosen = torch.gather(by_index, 1, order)
        out_idx[start:stop] = chosen[:, :k].to("cpu").numpy()
        out_sq[start:stop] = exact[:, :k].to("cpu").numpy()
    return out_idx, out_sq, exponent
