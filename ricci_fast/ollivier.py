"""Ollivier-Ricci curvature (SPEC section 2): exact per-edge optimal transport, or Sinkhorn.

kappa(x, y) = 1 - W1(mu_x, mu_y), mu_x = alpha at x and (1 - alpha)/deg x on each neighbour, the
ground cost being the hop distance in the same graph.  The exact solver (default) is a specialised
min-cost flow over word-parallel sets (kernels/bitset_transport.py, problems from
kernels/transport_problem.py); "sinkhorn" is log-domain entropic transport with epsilon scaling
(kernels/sinkhorn.py); "sinkhorn_torch" runs batched Sinkhorn with PyTorch, on a CUDA device when one is
available.  Loops run on ricci_fast._parallel's thread pool over serial nogil kernels; results are
bit-identical for every thread count.
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass, field

import numpy as np

from ricci_fast import _parallel
from ricci_fast._validation import check_choice, check_graph
from ricci_fast.graph import Graph
from ricci_fast.kernels import bitset_transport as _bitset
from ricci_fast.kernels import transport_solvers as _solvers
from ricci_fast.kernels import sinkhorn as _sinkhorn_kernels
from ricci_fast.kernels import transport_problem as _problem

SOLVERS = ("exact", "sinkhorn", "sinkhorn_torch")
#: Sinkhorn defaults: final epsilon, tolerance on the L1 marginal error, iterations per epsilon step.
SINKHORN_EPSILON = 0.01
SINKHORN_TOL = 1e-6
SINKHORN_MAX_ITER = 5000
#: The stated accuracy: on every edge whose Sinkhorn run converged (L1 marginal error < tol),
#: |kappa_sinkhorn - kappa_exact| <= tol with the default epsilon (measured in bench/ollivier.py; the
#: tests hold it).  Edges that did not converge are flagged (OllivierRicci.converged) and counted.
SINKHORN_KAPPA_TOL = SINKHORN_TOL


@dataclass(eq=False)
class OllivierRicci:
    """Ollivier-Ricci curvature of every edge (aligned with graph.indices) and how it was solved.

    n_not_converged counts undirected edges whose Sinkhorn iterations stopped at max_iter before the
    marginal error reached tol (always 0 for the exact solver), and `converged` flags each CSR entry;
    max_marginal_error is the largest final L1 marginal error; max_degree is the graph's largest degree
    (hubs: the exact solver's cost per edge grows with it)."""

    values: np.ndarray = field(repr=False)
    alpha: float
    solver: str
    n_not_converged: int = 0
    max_marginal_error: float = 0.0
    epsilon: float | None = None
    converged: np.ndarray | None = field(default=None, repr=False)
    max_degree: int = 0


def _check_alpha(alpha) -> float:
    if isinstance(alpha, (bool, np.bool_)) or not isinstance(alpha, numbers.Real):
        raise TypeError(f"alpha must be a real number in [0, 1] (the idleness), got {alpha!r} of type "
                        f"{type(alpha).__name__}.")
    value = float(alpha)
    if not 0.0 <= value <= 1.0:  # NaN fails too
        raise ValueError(f"alpha={alpha!r} is out of range: the idleness must satisfy 0 <= alpha <= 1.")
    return value


def _check_positive_real(value, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive real number, got {value!r} of type {type(value).__name__}.")
    out = float(value)
    if not (np.isfinite(out) and out > 0):
        raise ValueError(f"{name} must be > 0 and finite, got {value!r}.")
    return out


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive integer, got {value!r} of type {type(value).__name__}.")
    if int(value) < 1:
        raise ValueError(f"{name} must be >= 1, got {value!r}.")
    return int(value)


def _check_device(device):
    if device is None or isinstance(device, str):
        return device
    if type(device).__module__.startswith("torch") and type(device).__name__ == "device":
        return device
    raise TypeError(f"device must be None, a string such as 'cpu' or 'cuda:0', or a torch.device; got {device!r}.")


def _mib(n_bytes) -> str:
    return f"{n_bytes / 2**20:,.1f} MiB"


def _allocate(shape, dtype, what, fill=None):
    try:
        if fill is None:
            return np.zeros(shape, dtype)
        return np.full(shape, fill, dtype)
    except MemoryError:
        raise MemoryError(f"could not allocate {_mib(int(np.prod(shape)) * np.dtype(dtype).itemsize)} for {what}") \
            from None


class _ExactScratch:
    """Per-thread work arrays of the exact kernel; grown (between kernel calls) when an edge asks."""

    def __init__(self, n_nodes, max_deg, n_words):
        n_loop = min(max_deg + 1, 64 * n_words)
        sizes = _bitset.scratch_sizes(n_words, n_loop)
        self.n_nodes = n_nodes
        self.closed = _allocate(n_nodes * n_words, np.uint64, "closed-neighbourhood masks")
        self.within2 = _allocate(n_nodes * n_words, np.uint64, "two-hop masks")
        self.w2_owner = _allocate(n_nodes, np.int64, "two-hop mask owners", fill=-1)
        self.cm = _allocate(sizes["cm"], np.uint64, "cost masks")
        self.mk = _allocate(sizes["mk"], np.uint64, "solver masks")
        self.bint = _allocate(sizes["bint"], np.int64, "solver arrays")
        self.bflt = _allocate(sizes["bflt"], np.float64, "solver arrays")
        self.lint = _allocate(sizes["lint"], np.int64, "solver arrays")
        self.lflt = _allocate(sizes["lflt"], np.float64, "solver arrays")
        arena = 4 * (max_deg + 1) + 1024
        self.a_src = _allocate(arena, np.int64, "flow arena")
        self.a_amt = _allocate(arena, np.float64, "flow arena")
        self.a_next = _allocate(arena, np.int64, "flow arena")
        self.e_src = _allocate(max_deg + 2, np.int64, "edge problem")
        self.e_sup = _allocate(max_deg + 2, np.float64, "edge problem")
        self.e_snk = _allocate(max_deg + 2, np.int64, "edge problem")
        self.e_dem = _allocate(max_deg + 2, np.float64, "edge problem")
        self.slot = _allocate(n_nodes, np.int64, "twin slots", fill=-1)
        self.memo_owner = _allocate(n_nodes, np.int64, "twin values", fill=-1)
        self.memo_value = _allocate(n_nodes, np.float64, "twin values")
        self.need = np.zeros(_bitset.NEED_LEN, np.int64)
        self.word = (np.zeros((64, 64)), np.zeros((4, 64)), np.zeros(5 * 64 + 130, np.int64),
                     np.zeros(4 * 64 + 16 + 2 * 130 + 8, np.uint64))

    def grow(self):
        need = self.need
        grow = lambda have, want: max(int(want), int(have * 1.5))  # noqa: E731
        if need[_bitset.NEED_CLOSED] > self.closed.shape[0]:
            size = grow(self.closed.shape[0], need[_bitset.NEED_CLOSED])
            self.closed = self.within2 = None
            self.closed = _allocate(size, np.uint64, "closed-neighbourhood masks")
            self.within2 = _allocate(size, np.uint64, "two-hop masks")
            self.w2_owner[:] = -1
        for name, key, dtype in (("cm", _bitset.NEED_CM, np.uint64), ("mk", _bitset.NEED_MK, np.uint64),
                                 ("bint", _bitset.NEED_BINT, np.int64), ("bflt", _bitset.NEED_BFLT, np.float64),
                                 ("lint", _bitset.NEED_LINT, np.int64), ("lflt", _bitset.NEED_LFLT, np.float64)):
            have = getattr(self, name)
            if need[key] > have.shape[0]:
                setattr(self, name, None)
                setattr(self, name, _allocate(grow(have.shape[0], need[key]), dtype, "solver arrays"))
        if need[_bitset.NEED_ARENA] > self.a_src.shape[0]:
            size = int(need[_bitset.NEED_ARENA])
            self.a_src = self.a_amt = self.a_next = None
            self.a_src = _allocate(size, np.int64, "flow arena")
            self.a_amt = _allocate(size, np.float64, "flow arena")
            self.a_next = _allocate(size, np.int64, "flow arena")


#: Closed neighbourhoods of up to 64 * this many nodes get per-node shared masks (2 x N x this many words
#: of scratch per thread); larger hubs are solved edge by edge with masks over the smaller side.  On
#: graphs small enough, the limit rises until the masks take EXACT_MASK_BYTES per thread: per-edge masks
#: cost a pass over every loop node's neighbours per edge, which dominated hubs of degree > 2047 (the
#: dead rows of a ReLU layer at N = 3000 make hubs of degree 2645).
EXACT_MAX_WORDS = 32
EXACT_MASK_BYTES = 64 << 20


def _max_words(n_nodes):
    return max(EXACT_MAX_WORDS, EXACT_MASK_BYTES // (16 * max(n_nodes, 1)))


def _where(graph, x, y) -> str:
    deg = graph.degrees
    if y < 0:
        return f"node {x} (degree {deg[x]})"
    return f"edge ({x}, {y}) (degrees {deg[x]} and {deg[y]})"


def _check_filled(values, graph, what):
    bad = np.isnan(values)
    if bad.any():
        raise RuntimeError(f"{what}: internal error, {int(bad.sum())} of {values.size} curvature values were not "
                           f"computed; please report this with the graph.")
    if values.size and (values.min() < -2 - 1e-9 or values.max() > 1 + 1e-9):
        raise RuntimeError(f"{what}: internal error, curvature outside [-2, 1] (min {values.min()}, max "
                           f"{values.max()}); please report this with the graph.")


def _rows_equal(indptr, indices, a, b):
    """For node pairs of equal degree: are rows a[i] and b[i] of the CSR identical?"""
    deg = indptr[a + 1] - indptr[a]
    pair = np.repeat(np.arange(a.size), deg)
    offset = np.arange(pair.size) - np.repeat(np.cumsum(deg) - deg, deg)
    same = indices[indptr[a][pair] + offset] == indices[indptr[b][pair] + offset]
    return np.bincount(pair[~same], minlength=a.size) == 0


def twin_classes(graph):
    """Classes of twins: nodes with the same open neighbourhood (N(u) = N(v)) or the same closed one
    (N[u] = N[v]).  Twins are at the same hop distance from every other node, so in one edge's transport
    problem they are interchangeable and the exact solver merges them (duplicate rows, such as the dead
    units of a ReLU layer, give thousands).  Returns (class of each node: its smallest member, whether
    any class has two members).  Hashes find the candidates; every merge is checked row against row."""
    n = graph.n_nodes
    indptr = graph.indptr.astype(np.int64)
    indices = graph.indices.astype(np.int64)
    deg = np.diff(indptr)
    twin = np.arange(n, dtype=np.int64)
    if n < 2 or indices.size == 0:
        return twin, False
    rnd = np.random.default_rng(0x7E1A).integers(0, 2**63, size=n, dtype=np.int64).astype(np.uint64)
    starts = indptr[:-1][deg > 0]
    open_hash = np.zeros(n, np.uint64)
    open_hash[deg > 0] = np.add.reduceat(rnd[indices], starts)
    # No node has both an open and a closed twin (N(u) = N(v) makes u, v non-adjacent, and a closed twin w
    # of u would be adjacent to v, putting v in N[w] = N[u]), so the two passes never touch the same node.
    for closed in (False, True):
        key = open_hash + rnd if closed else open_hash
        order = np.lexsort((np.arange(n), key, deg))
        k, d = key[order], deg[order]
        first = np.ones(n, bool)
        first[1:] = (k[1:] != k[:-1]) | (d[1:] != d[:-1])
        lead = order[np.maximum.accumulate(np.where(first, np.arange(n), 0))]
        cand = np.flatnonzero((lead != order) & (d > 0))
        if cand.size == 0:
            continue
        u, r = order[cand], lead[cand]
        if closed:
            # compare the closed rows (each node inserted into its own row, sorted)
            nodes = np.concatenate([u, r])
            lens = deg[nodes] + 1
            own = np.repeat(np.arange(nodes.size), lens)
            pos = np.arange(own.size) - np.repeat(np.cumsum(lens) - lens, lens)
            at = np.minimum(indptr[nodes][own] + pos, indices.size - 1)
            vals = np.where(pos < deg[nodes][own], indices[at], nodes[own])
            vals = vals[np.lexsort((vals, own))]
            half = vals.size // 2
            ok = np.bincount(own[:half][vals[:half] != vals[half:]], minlength=u.size) == 0
        else:
            ok = _rows_equal(indptr, indices, u, r)
        twin[u[ok]] = r[ok]
    return twin, bool((twin != np.arange(n)).any())


def owned_edge_counts(graph, nodes_per_chunk: int = 1 << 16) -> np.ndarray:
    """Edges each node owns in the exact solver (an edge is solved by its end point of larger degree, the
    smaller index on a tie; the range kernels apply the same rule), as int64 per node.  Counted a node
    range at a time: over the whole CSR at once the int64 temporaries were 1.2 GB at N = 1,000,000."""
    deg = graph.degrees.astype(np.int64)
    n_owned = np.zeros(graph.n_nodes, np.int64)
    for a in range(0, graph.n_nodes, nodes_per_chunk):
        b = min(graph.n_nodes, a + nodes_per_chunk)
        rows = np.repeat(np.arange(a, b, dtype=np.int64), deg[a:b])
        cols = graph.indices[graph.indptr[a]:graph.indptr[b]]
        deg_rows, deg_cols = deg[rows], deg[cols]
        owned = (deg_rows > deg_cols) | ((deg_rows == deg_cols) & (rows < cols))
        n_owned[a:b] = np.bincount(rows[owned] - a, minlength=b - a)
    return n_owned


def _exact(graph, alpha, max_words=None, owners=None, n_threads=None):
    """Exact values of the edges owned by `owners` (node ids, default all: every edge), NaN elsewhere.
    The cluster path (ricci_fast.distributed_layer) gives each task a subset of the owners; an edge's value
    does not depend on which other owners run beside it, so the parts put together are the local result."""
    indptr, indices = graph.indptr, graph.indices
    n_nodes = graph.n_nodes
    max_words = _max_words(n_nodes) if max_words is None else max_words
    deg = graph.degrees.astype(np.int64)
    out = np.full(indices.shape[0], np.nan)
    if indices.shape[0] == 0:
        return out
    max_deg = int(deg.max())
    n_owned = owned_edge_counts(graph)
    if owners is None:
        owners = np.flatnonzero(n_owned)
    else:
        owners = np.unique(np.asarray(owners, dtype=np.int64))
        owners = owners[n_owned[owners] > 0]
        if owners.size == 0:
            return out
    words = (deg[owners] + 64) // 64
    # one kernel per kind of owner (per-edge masks for the largest hubs, per-owner masks, one machine word),
    # so that a graph compiles only the kinds it has; within a kind the heaviest first (work ~ owned edges x
    # words x degree), so that no thread is left with a hub at the end
    kind = np.where(words > max_words, 0, np.where(words > 1, 1, 2))
    work = n_owned[owners] * words * (deg[owners] + 1)
    order = np.lexsort((-work, kind))
    owners = owners[order].astype(np.int64)
    kind = kind[order]
    bounds = [0, int(np.searchsorted(kind, 1)), int(np.searchsorted(kind, 2)), owners.shape[0]]
    words = words[order]
    n_words = int(min(max_words, words[words <= max_words].max() if (words <= max_words).any() else 1))
    # twins are merged only in the multi-word kernels (one-word problems are small anyway)
    try:
        twin, has_twins = twin_classes(graph) if bounds[2] > 0 else (np.zeros(0, np.int64), False)
    except MemoryError:
        raise MemoryError(f"exact Ollivier-Ricci: the twin-node search over {n_nodes} nodes ran out of memory "
                          f"(it needs about {_mib(48 * (indices.shape[0] + n_nodes))}); use more memory.") from None

    def scratch():
        try:
            return _ExactScratch(n_nodes, max_deg, n_words)
        except MemoryError as exc:
            raise MemoryError(f"exact Ollivier-Ricci: per-thread scratch for a graph of {n_nodes} nodes and "
                              f"max degree {max_deg}: {exc}; use fewer threads (ricci_fast.num_threads) or "
                              f"more memory.") from None

    # each solver compiled once and passed in (kernels/transport_solvers.py), only if the graph needs it
    word_solve = _solvers.word_solver() if bounds[3] > bounds[2] else None
    bitset_solve = _solvers.bitset_solver() if bounds[2] > 0 else None

    def run_kind(k, t, stop, s):
        if k == 2:
            return _bitset.word_owner_range(indptr, indices, alpha, owners, t, stop, out, s.closed, s.within2,
                                            s.w2_owner, *s.word, word_solve)
        if k == 1:
            return _bitset.owner_range(indptr, indices, alpha, owners, t, stop, out, s.closed, s.within2, s.w2_owner,
                                       s.cm, s.mk, s.bint, s.bflt, s.lint, s.lflt, s.a_src, s.a_amt, s.a_next, s.e_src,
                                       s.e_snk, s.e_dem, twin, s.slot, s.memo_owner, s.memo_value, has_twins, s.need,
                                       bitset_solve)
        return _bitset.edge_range(indptr, indices, alpha, owners, t, stop, out, s.closed, s.cm, s.mk, s.bint, s.bflt,
                                  s.lint, s.lflt, s.a_src, s.a_amt, s.a_next, s.e_src, s.e_sup, s.e_snk, s.e_dem,
                                  twin, s.slot, s.memo_owner, s.memo_value, has_twins, s.need, bitset_solve)

    def work_range(start, stop, s):
        for k in range(3):
            t = max(start, bounds[k])
            end = min(stop, bounds[k + 1])
            while t < end:
                s.need[:] = 0
                r = run_kind(k, t, end, s)
                if r == end:
                    break
                if r < 0:
                    x = owners[-1 - r]
                    raise RuntimeError(f"exact Ollivier-Ricci: internal error in the transport solver at "
                                       f"{_where(graph, x, -1)}; please report this with the graph.")
                x, y = int(owners[r]), int(s.need[_bitset.NEED_Y])
                try:
                    s.grow()
                except MemoryError as exc:
                    raise MemoryError(f"exact Ollivier-Ricci: the transport problem of {_where(graph, x, y)} needs "
                                      f"more scratch: {exc}; use fewer threads (ricci_fast.num_threads) or more "
                                      f"memory.") from None
                t = r

    n_threads = _parallel.get_num_threads() if n_threads is None else n_threads
    chunk = max(1, owners.shape[0] // (64 * n_threads))
    _parallel.parallel_for(owners.shape[0], work_range, n_threads=n_threads, chunk=chunk, scratch=scratch)
    return out


def _sinkhorn(graph, alpha, epsilon, tol, max_iter):
    indptr, indices = graph.indptr, graph.indices
    n_nodes = graph.n_nodes
    nnz = indices.shape[0]
    out = np.full(nnz, np.nan)
    converged = np.zeros(nnz, np.int8)
    errors = np.full(nnz, np.nan)
    if nnz == 0:
        return out, converged, np.zeros(0)
    max_deg = int(graph.degrees.max())
    edge_x, edge_y, pos, mirror = _problem.upper_entries(indptr, indices)

    class S:
        def __init__(self):
            side = max_deg + 2
            self.closed = _allocate(n_nodes, np.uint64, "closed-neighbourhood masks")
            self.c1 = _allocate(side, np.uint64, "cost masks")
            self.c2 = _allocate(side, np.uint64, "cost masks")
            self.cost = _allocate(min(side * side, 1 << 20), np.int8, "cost matrix")
            self.vec = [_allocate(side, dt, "edge problem") for dt in (np.int64, np.float64, np.int64, np.float64)]
            self.fg = [_allocate(side, np.float64, "Sinkhorn potentials") for _ in range(5)]
            self.need = np.zeros(_sinkhorn_kernels.NEED_LEN, np.int64)

    def work_range(start, stop, s):
        t = start
        while t < stop:
            s.need[:] = 0
            r = _sinkhorn_kernels.sinkhorn_range(indptr, indices, alpha, edge_x, edge_y, pos, mirror, t, stop, epsilon,
                                                 tol, max_iter, out, converged, errors, s.closed, s.c1, s.c2, s.cost,
                                                 *s.vec, *s.fg, s.need)
            if r == stop:
                return
            x, y = int(edge_x[r]), int(edge_y[r])
            try:
                if s.need[_sinkhorn_kernels.NEED_CLOSED] > s.closed.shape[0]:
                    s.closed = None
                    s.closed = _allocate(int(s.need[_sinkhorn_kernels.NEED_CLOSED]), np.uint64,
                                         "closed-neighbourhood masks")
                if s.need[_sinkhorn_kernels.NEED_MASKS] > s.c1.shape[0]:
                    s.c1 = s.c2 = None
                    s.c1 = _allocate(int(s.need[_sinkhorn_kernels.NEED_MASKS]), np.uint64, "cost masks")
                    s.c2 = _allocate(int(s.need[_sinkhorn_kernels.NEED_MASKS]), np.uint64, "cost masks")
                if s.need[_sinkhorn_kernels.NEED_COST] > s.cost.shape[0]:
                    s.cost = None
                    s.cost = _allocate(int(s.need[_sinkhorn_kernels.NEED_COST]), np.int8, "the dense cost matrix")
            except MemoryError as exc:
                raise MemoryError(f"Sinkhorn Ollivier-Ricci: the transport problem of {_where(graph, x, y)} needs "
                                  f"more scratch: {exc}; use solver='exact' (its scratch is 64x smaller), fewer "
                                  f"threads or more memory.") from None
            t = r

    _parallel.parallel_for(edge_x.shape[0], work_range, scratch=S)
    return out, converged, errors


def ollivier_ricci(
    graph: Graph,
    alpha: float = 0.0,
    *,
    solver: str = "exact",
    epsilon: float = SINKHORN_EPSILON,
    tol: float = SINKHORN_TOL,
    max_iter: int = SINKHORN_MAX_ITER,
    device=None,
    batch_size: int = 4096,
    mass: str = "uniform",
    base: float = math.e,
    exp_power: float = 2.0,
) -> OllivierRicci:
    """Ollivier-Ricci curvature of every edge of `graph`, with diagnostics (docs/definitions.md section 2).

    kappa(x, y) = 1 - W1(mu_x, mu_y) with mu_x = alpha at x and (1 - alpha)/deg x on each neighbour of x
    (the mass alpha stays at x, as in GraphRicciCurvature), ground cost the hop distance.

    alpha: the idleness, any real number in [0, 1] (0, the field's reference choice, or e.g. 0.5; numpy
    scalars are fine; at alpha = 1 both measures are point masses one hop apart and kappa = 0).
    solver: "exact" (primal-dual min-cost flow over word-parallel sets, exact to rounding, fast at any
    degree), "sinkhorn" (Numba, log-domain, epsilon scaling from 1 down to `epsilon`, stopping when the L1
    marginal error is below `tol` or after `max_iter` iterations per step) or "sinkhorn_torch" (the same
    iterations batched over up to `batch_size` edges on `device`, default CUDA if available, else CPU).
    Memory: O(edges) plus per-thread scratch of O(N) words (O(N * max degree / 64) bits up to degree 2047, or while that stays within 64 MiB)
    and, per edge, O(#sinks * #sources / 64) words for its transport problem after shared mass cancels
    (linear in the hub's degree for an edge from a hub to an ordinary node).  When memory runs out the
    error is a MemoryError naming the edge; no value is ever returned uncomputed.

    A graph that carries edge lengths (Graph.weights) gets weighted Ollivier-Ricci curvature instead
    (ricci_fast.weighted.weighted_ollivier_ricci, docs/definitions.md section 8: weighted shortest-path
    ground cost, solver "exact" or "sinkhorn"); mass="grc" with base and exp_power gives neighbours the
    masses base^(-length^exp_power) of GraphRicciCurvature (GRC's defaults: alpha=0.5, mass="grc").  On
    an unweighted graph every length is 1, so mass="grc" equals the uniform masses.
    """
    check_graph(graph)
    check_choice(mass, "mass", ("uniform", "grc"))
    if graph.weights is not None:
        from ricci_fast.weighted import weighted_ollivier_ricci

        if solver == "sinkhorn_torch":
            raise ValueError("solver='sinkhorn_torch' is for unweighted graphs; on a weighted graph use "
                             "solver='exact' (default) or 'sinkhorn'.")
        return weighted_ollivier_ricci(graph, alpha, mass=mass, base=base, exp_power=exp_power, solver=solver,
                                       epsilon=epsilon, tol=tol, max_iter=max_iter)
    check_choice(solver, "solver", SOLVERS)
    alpha_value = _check_alpha(alpha)
    epsilon = _check_positive_real(epsilon, "epsilon")
    tol = _check_positive_real(tol, "tol")
    max_iter = _check_positive_int(max_iter, "max_iter")
    batch_size = _check_positive_int(batch_size, "batch_size")
    device = _check_device(device)
    if solver == "sinkhorn_torch":
        from ricci_fast._torch_sinkhorn import ollivier_sinkhorn_torch

        values, converged, errors = ollivier_sinkhorn_torch(
            graph, alpha_value, epsilon=epsilon, tol=tol, max_iter=max_iter, device=device, batch_size=batch_size
        )
    elif solver == "exact":
        values = _exact(graph, alpha_value)
        converged = np.ones(values.shape[0], np.int8)
        errors = np.zeros(values.shape[0])
    else:
        values, converged, errors = _sinkhorn(graph, alpha_value, epsilon, tol, max_iter)
    _check_filled(values, graph, f"Ollivier-Ricci ({solver})")
    n_bad = int(np.count_nonzero(converged == 0)) // 2
    result = OllivierRicci(
        values=values,
        alpha=alpha_value,
        solver=solver,
        n_not_converged=n_bad,
        max_marginal_error=float(errors.max()) if errors.size else 0.0,
        epsilon=None if solver == "exact" else float(epsilon),
        converged=converged.astype(bool),
        max_degree=int(graph.degrees.max()) if graph.n_nodes else 0,
    )
    if n_bad:
        warnings.warn(
            f"Sinkhorn did not reach tol={tol} on {n_bad} of {graph.n_edges} edges within max_iter={max_iter} "
            f"(largest marginal error {result.max_marginal_error:.2e}); raise max_iter or use solver='exact'.",
            stacklevel=2,
        )
    return result
