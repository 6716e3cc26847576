"""Curvature of graphs with edge lengths (Graph.weights; docs/definitions.md "Weighted graphs").

Weighted Ollivier-Ricci: kappa(x, y) = 1 - W1(mu_x, mu_y) / d(x, y), d the weighted shortest-path
length, mu_x = alpha on x and (1 - alpha) spread over the neighbours (uniformly, or as
GraphRicciCurvature does with weights base^(-w^exp_power): mass="grc").  Exact transport (float
successive shortest paths) or log-domain Sinkhorn with a feasible rounded plan.  Weighted Forman in
GraphRicciCurvature's "1d" and "augmented" forms.  An unweighted graph is treated as all lengths 1.
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ricci_fast._parallel import parallel_for
from ricci_fast._validation import check_choice, check_graph
from ricci_fast.graph import Graph
from ricci_fast.kernels import weighted_forman as _wforman
from ricci_fast.kernels import weighted_transport as _wt
from ricci_fast.networks import check_weights, twin_entries

MASSES = ("uniform", "grc")
SOLVERS = ("exact", "sinkhorn")
#: GraphRicciCurvature's guard: neighbour weights summing below this are spread uniformly, and an
#: edge whose end points are closer than this gets curvature 0 (with mass="grc").
GRC_EPSILON = 1e-7
#: Sinkhorn defaults for weighted graphs: final epsilon (relative to d(x, y), costs are divided by it),
#: tolerance on the L1 row-marginal error, iterations per epsilon step.
SINKHORN_EPSILON = 1e-2
SINKHORN_TOL = 1e-6
SINKHORN_MAX_ITER = 1000
#: Ground-cost entries (float64) held at once: the (deg x + 1) x (deg y + 1) matrices of one group of
#: edges, shared by all threads (64 MiB; allocated only as far as the largest group needs).  Larger
#: groups repeat fewer searches (a node is searched once per group it is a source of: on the N = 20,000
#: k-NN graph of bench/weighted.py 3.2 N searches with 16 MiB, 2.4 N with 32, 1.6 N with 64, 1.3 N with
#: 128); an edge whose matrix alone is larger is a group of its own.  edge_plan(graph, budget) sets it.
COST_BUDGET = 1 << 23


@dataclass(eq=False)
class WeightedOllivierRicci:
    """Weighted Ollivier-Ricci curvature of every edge (aligned with graph.indices) and how it was
    solved.  distance: d(x, y), the shortest-path length between the end points (<= the edge length).
    For solver="sinkhorn", error_bound[p] bounds kappa_exact - kappa (it is >= 0 because the rounded plan
    is feasible): (epsilon log(m n) + 2 marginal error x largest cost) in units of d(x, y)."""

    graph: Graph = field(repr=False)
    values: np.ndarray = field(repr=False)
    distance: np.ndarray = field(repr=False)
    alpha: float
    mass: str
    solver: str
    n_not_converged: int = 0
    max_marginal_error: float = 0.0
    epsilon: float | None = None
    converged: np.ndarray | None = field(default=None, repr=False)
    error_bound: np.ndarray | None = field(default=None, repr=False)

    @property
    def node_curvature(self) -> np.ndarray:
        """Mean curvature of the edges at each node (GraphRicciCurvature's node "ricciCurvature")."""
        from ricci_fast.kernels import csr as _csr

        return _csr.row_means(self.graph.indptr, self.values)

    def edge_table(self) -> pd.DataFrame:
        """One row per undirected edge: u, v (original node ids), weight, distance, curvature."""
        from ricci_fast.networks import edge_table

        frame = edge_table(self.graph, self.distance, name="distance")
        frame["curvature"] = edge_table(self.graph, self.values)["value"].to_numpy()
        return frame

    to_pandas = edge_table


def _lengths(graph: Graph) -> np.ndarray:
    if graph.weights is None:
        return np.ones(graph.indices.shape[0])
    return check_weights(graph.weights, graph.indptr, graph.indices, name="graph.weights")


def _alpha(alpha) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise TypeError(f"alpha must be a number in [0, 1], got {alpha!r}.")
    if not 0 <= float(alpha) <= 1:
        raise ValueError(f"alpha={alpha} is out of range: the idleness must satisfy 0 <= alpha <= 1.")
    return float(alpha)


def neighbour_masses(graph: Graph, alpha: float, mass: str = "uniform", base: float = math.e,
                     exp_power: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """(mass on each CSR entry's neighbour, mass kept at each node): mu_x as docs/definitions.md defines."""
    check_choice(mass, "mass", MASSES)
    lengths = _lengths(graph)
    degrees = graph.degrees
    rows = np.repeat(np.arange(graph.n_nodes), degrees)
    uniform = (1.0 - alpha) / np.maximum(degrees, 1)
    if mass == "uniform":
        nbr = uniform[rows]
    else:
        if not (isinstance(base, numbers.Real) and base > 0):
            raise ValueError(f"base must be a positive number, got {base!r}.")
        if not isinstance(exp_power, numbers.Real):
            raise TypeError(f"exp_power must be a number, got {exp_power!r}.")
        raw = np.power(float(base), -np.power(lengths, float(exp_power)))
        # bincount, not add.reduceat: reduceat fails when the last nodes are isolated (offset == length)
        sums = np.bincount(rows, weights=raw, minlength=graph.n_nodes)
        small = sums[rows] <= GRC_EPSILON
        with np.errstate(divide="ignore", invalid="ignore"):
            nbr = np.where(small, uniform[rows], (1.0 - alpha) * raw / sums[rows])
    self_mass = np.where(degrees > 0, alpha, 1.0)
    return np.ascontiguousarray(nbr, np.float64), np.ascontiguousarray(self_mass, np.float64)


@dataclass(frozen=True, eq=False)
class EdgePlan:
    """How weighted Ollivier-Ricci splits the edges of one topology into groups that share Dijkstra
    searches (kernels/weighted_transport.py): the owned CSR entries in a locality order, their owners,
    the group boundaries, each group's cost layout (a sources x targets table, or one matrix per edge:
    the smaller), the twin of every entry and the largest degree.  Depends on the edges only."""

    indptr: np.ndarray = field(repr=False)
    indices: np.ndarray = field(repr=False)
    entries: np.ndarray = field(repr=False)
    entry_row: np.ndarray = field(repr=False)
    group_ptr: np.ndarray = field(repr=False)
    #: per group, the number of targets of its sources x targets cost table, or 0 for per-edge matrices
    group_targets: np.ndarray = field(repr=False)
    twin: np.ndarray = field(repr=False)
    max_degree: int
    budget: int

    @property
    def n_groups(self) -> int:
        return self.group_ptr.shape[0] - 1

    @property
    def largest_group(self) -> int:
        """Edges in the largest group."""
        return int(np.diff(self.group_ptr).max()) if self.n_groups else 0

    def matches(self, graph: Graph) -> bool:
        """Whether graph has the edges this plan was made for (its lengths may differ)."""
        same = lambda a, b: a is b or (a.shape == b.shape and np.array_equal(a, b))  # noqa: E731
        return same(graph.indptr, self.indptr) and same(graph.indices, self.indices)


def edge_plan(graph: Graph, budget: int | None = None) -> EdgePlan:
    """The search groups of `graph`'s edges (topology only; the lengths may change afterwards).  budget:
    ground-cost entries held at once (default COST_BUDGET)."""
    check_graph(graph)
    budget = COST_BUDGET if budget is None else budget
    if isinstance(budget, bool) or not isinstance(budget, numbers.Integral) or budget < 1:
        raise ValueError(f"budget must be a positive integer (cost entries), got {budget!r}.")
    n_entries = graph.indices.shape[0]
    owned = n_entries // 2
    entries = np.empty(owned, np.int64)
    entry_row = np.empty(owned, np.int64)
    group_ptr = np.empty(owned + 1, np.int64)
    owners = np.ascontiguousarray(graph.bfs_order, np.int64)
    group_targets = np.zeros(owned + 1, np.int64)
    n_e, n_g = _wt.plan_groups(graph.indptr, graph.indices, owners, int(budget), entries, entry_row, group_ptr,
                               group_targets)
    if n_e != owned:  # every undirected edge has exactly one owner; anything else is a corrupted CSR
        raise ValueError(f"graph: {n_e} owned edges found for {owned} undirected edges; the CSR is not symmetric.")
    degrees = graph.degrees
    return EdgePlan(indptr=graph.indptr, indices=graph.indices, entries=entries, entry_row=entry_row,
                    group_ptr=group_ptr[:n_g + 1].copy(), group_targets=group_targets[:n_g].copy(),
                    twin=twin_entries(graph),
                    max_degree=int(degrees.max()) if degrees.size else 0, budget=int(budget))


#: Basis cells (int32) the discrete Ricci flow keeps for its warm starts at most (32 MiB); a graph that
#: needs more (sum over edges of deg x + deg y + 1: hubs of degree D owned by their D neighbours need
#: about D^2) is flowed with cold starts.
WARM_START_BUDGET = 1 << 23


def warm_start_cells(plan: EdgePlan) -> int:
    """Basis cells a `WarmStart(plan)` holds: deg x + deg y + 1 per edge."""
    degrees = np.diff(plan.indptr)
    return int(np.sum(degrees[plan.entry_row] + degrees[plan.indices[plan.entries]] + 1))


class WarmStart:
    """Each edge's optimal transport basis, kept between calls of `weighted_ollivier_ricci` on graphs with
    the edges of `plan` (the Ricci flow's steps): the next call's simplex starts from it where it is still
    feasible (docs/definitions.md "Weighted graphs"; the curvature is the same exact optimum either way).
    Memory: deg x + deg y + 1 int32 per edge (`warm_start_cells`)."""

    def __init__(self, plan: EdgePlan):
        if not isinstance(plan, EdgePlan):
            raise TypeError(f"plan must be an EdgePlan (edge_plan(graph)), got {type(plan).__name__}.")
        degrees = np.diff(plan.indptr)
        x = plan.entry_row
        y = plan.indices[plan.entries]
        sizes = degrees[x] + degrees[y] + 1
        self.plan = plan
        self.ptr = np.zeros(sizes.shape[0] + 1, np.int64)
        np.cumsum(sizes, out=self.ptr[1:])
        self.cells = np.zeros(int(self.ptr[-1]), np.int32)
        self.count = np.zeros(sizes.shape[0], np.int64)

    @property
    def n_kept(self) -> int:
        """Edges with a basis kept."""
        return int(np.count_nonzero(self.count))


_NO_BASIS = (np.zeros(1, np.int64), np.zeros(1, np.int32), np.zeros(1, np.int64))


def _solve_groups(graph, lengths, nbr_mass, self_mass, plan, code, epsilon, tol, max_iter, zero_below,
                  kappa, distance, errors, ok, bar, warm=None):
    """Group by group: index its sources (and, for a table group, its targets), one search per source
    writing its row of the group's costs (threads split the sources), then the transport problems
    (threads split the edges); every owned entry and its twin are filled."""
    if not plan.matches(graph):
        raise ValueError("plan: made for a graph with other edges; make it with edge_plan(graph) for this graph.")
    n = graph.n_nodes
    indptr, indices = graph.indptr, graph.indices
    smark = np.zeros(n, np.int64)
    omark = np.zeros(n, np.int64)
    slist = np.zeros(n, np.int64)
    spos = np.zeros(n, np.int64)
    tmark = np.zeros(n, np.int64)
    tpos = np.zeros(n, np.int64)
    ofirst = np.zeros(n, np.int64)
    olast = np.zeros(n, np.int64)
    eoff = np.zeros(plan.largest_group + 1, np.int64)
    costs = np.empty(0)
    bases = _NO_BASIS if warm is None else (warm.ptr, warm.cells, warm.count)

    def scratch():
        return (np.zeros(n, np.int64), np.zeros(n, np.int64), np.empty(n), np.empty(n, np.int32), np.empty(n),
                np.full(n, -1, np.int32), np.empty(n), np.empty(n, np.int32))

    for g in range(plan.n_groups):
        e0, e1 = int(plan.group_ptr[g]), int(plan.group_ptr[g + 1])
        n_s, n_t, cells = _wt.build_group(indptr, indices, plan.entries, plan.entry_row, e0, e1, g + 1,
                                          bool(plan.group_targets[g]), smark, slist, spos, omark, ofirst, olast, eoff,
                                          tmark, tpos)
        if costs.shape[0] < cells:
            costs = np.empty(cells)

        def search(s0, s1, state, stamp=g + 1, e0=e0, costs=costs, n_t=n_t):
            _wt.group_searches(indptr, indices, lengths, plan.twin, plan.entries, slist, omark, ofirst, olast, stamp,
                               e0, eoff, n_t, tpos, s0, s1, costs, *state)

        def transport(a0, a1, _state, e0=e0, costs=costs, n_t=n_t):
            _wt.group_transport(indptr, indices, nbr_mass, self_mass, plan.twin, plan.entries, plan.entry_row, e0,
                                eoff, n_t, spos, tpos, costs, a0, a1, code, epsilon, tol, max_iter, zero_below, plan.max_degree, kappa,
                                distance, errors, ok, *bases, warm is not None)

        parallel_for(n_s, search, scratch=scratch)
        parallel_for(e1 - e0, transport)
        if bar is not None:
            bar.update(e1 - e0)


def weighted_ollivier_ricci(
    graph: Graph,
    alpha: float = 0.0,
    *,
    mass: str = "uniform",
    base: float = math.e,
    exp_power: float = 2.0,
    solver: str = "exact",
    epsilon: float = SINKHORN_EPSILON,
    tol: float = SINKHORN_TOL,
    max_iter: int = SINKHORN_MAX_ITER,
    progress: bool = False,
    plan: EdgePlan | None = None,
    warm_start: WarmStart | None = None,
) -> WeightedOllivierRicci:
    """Ollivier-Ricci curvature of every edge of a graph with edge lengths (unweighted: all lengths 1).

    alpha: mass kept at the node.  mass: "uniform" ((1 - alpha) / deg on each neighbour) or "grc"
    (GraphRicciCurvature's default: neighbour v of x gets (1 - alpha) base^(-w_xv^exp_power), normalised;
    with alpha=0.5 this reproduces GRC's OllivierRicci(G) to rounding, and its rule that an edge with
    d(x, y) < 1e-7 has curvature 0).  solver: "exact" or "sinkhorn" (costs divided by d(x, y); epsilon
    scaling down to `epsilon`; the result stores a per-edge bound on kappa_exact - kappa).
    plan: `edge_plan(graph)` made once and passed again for graphs with the same edges and other lengths
    (the discrete Ricci flow does this); it depends on the topology only.
    warm_start: a `WarmStart(plan)` that keeps every edge's optimal simplex basis for the next call with
    other lengths on the same edges (solver="exact"; its plan is used when plan is None; the discrete
    Ricci flow passes one): the same exact curvature (to rounding), fewer simplex pivots.
    Memory: O(edges) plus O(N) scratch per thread and one cost block of at most COST_BUDGET entries.
    """
    check_graph(graph)
    check_choice(solver, "solver", SOLVERS)
    alpha = _alpha(alpha)
    if solver == "sinkhorn":
        if not epsilon > 0:
            raise ValueError(f"epsilon must be > 0, got {epsilon}.")
        if not tol > 0:
            raise ValueError(f"tol must be > 0, got {tol}.")
        if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) or max_iter < 1:
            raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}.")
    lengths = _lengths(graph)
    nbr_mass, self_mass = neighbour_masses(graph, alpha, mass, base, exp_power)
    if plan is None:
        plan = warm_start.plan if isinstance(warm_start, WarmStart) else edge_plan(graph)
    if warm_start is not None:
        if not isinstance(warm_start, WarmStart):
            raise TypeError(f"warm_start must be a WarmStart(plan), got {type(warm_start).__name__}.")
        if warm_start.plan is not plan:
            raise ValueError("warm_start: made for another plan; pass plan=warm_start.plan, or a WarmStart(plan) "
                             "of this call's plan.")
        if solver != "exact":
            raise ValueError("warm_start: only solver='exact' keeps simplex bases; drop warm_start for Sinkhorn.")
    n_entries = graph.indices.shape[0]
    kappa = np.empty(n_entries)
    distance = np.empty(n_entries)
    errors = np.zeros(n_entries)
    ok = np.ones(n_entries, np.int8)
    code = _wt.EXACT if solver == "exact" else _wt.SINKHORN
    zero_below = GRC_EPSILON if mass == "grc" else 0.0
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=graph.n_edges, desc="weighted Ollivier-Ricci", unit="edge")
    try:
        _solve_groups(graph, lengths, nbr_mass, self_mass, plan, code, float(epsilon), float(tol), int(max_iter),
                      zero_below, kappa, distance, errors, ok, bar, warm_start)
    finally:
        if bar is not None:
            bar.close()
    bound = None
    if solver == "sinkhorn":
        support = graph.degrees.astype(np.float64) + 1.0
        rows = np.repeat(np.arange(graph.n_nodes), graph.degrees)
        mn = support[rows] * support[graph.indices]
        # largest cost in units of d(x, y): at most (w_xu + d + w_yv) / d over the supports
        longest = np.zeros(graph.n_nodes)
        if n_entries:
            np.maximum.at(longest, rows, lengths)
        cmax = (longest[rows] + distance + longest[graph.indices]) / distance
        bound = float(epsilon) * np.log(mn) + 2.0 * errors * cmax
    n_bad = int(np.count_nonzero(ok == 0)) // 2
    result = WeightedOllivierRicci(
        graph=graph, values=kappa, distance=distance, alpha=alpha, mass=mass, solver=solver,
        n_not_converged=n_bad, max_marginal_error=float(errors.max()) if errors.size else 0.0,
        epsilon=None if solver == "exact" else float(epsilon), converged=ok.astype(bool), error_bound=bound,
    )
    if n_bad:
        warnings.warn(
            f"Sinkhorn did not reach tol={tol} on {n_bad} of {graph.n_edges} edges within max_iter={max_iter} "
            f"(largest marginal error {result.max_marginal_error:.2e}; error_bound holds it); raise max_iter or "
            f"use solver='exact'.",
            stacklevel=2,
        )
    return result


FORMAN_METHODS = ("1d", "augmented")


def weighted_forman(graph: Graph, method: str = "augmented", node_weights=None) -> np.ndarray:
    """Weighted Forman-Ricci curvature of every CSR entry as GraphRicciCurvature's FormanRicci defines it
    (method "1d" or "augmented", its default; node weights default to 1, face weights are 1).  On an
    unweighted graph "1d" is 4 - deg x - deg y and "augmented" adds 3 x triangles."""
    check_graph(graph)
    check_choice(method, "method", FORMAN_METHODS)
    lengths = _lengths(graph)
    if node_weights is None:
        node_weights = np.ones(graph.n_nodes)
    node_weights = np.ascontiguousarray(node_weights, dtype=np.float64).reshape(-1)
    if node_weights.shape[0] != graph.n_nodes:
        raise ValueError(f"node_weights: expected one weight per node ({graph.n_nodes}), got {node_weights.shape[0]}.")
    if not np.all(np.isfinite(node_weights)) or (node_weights.size and node_weights.min() <= 0):
        raise ValueError("node_weights: node weights must be finite and > 0.")
    twin = twin_entries(graph)
    out = np.empty(graph.indices.shape[0])
    kind = _wforman.ONE_D if method == "1d" else _wforman.AUGMENTED

    def work(start, stop, _state):
        _wforman.weighted_forman_range(graph.indptr, graph.indices, lengths, node_weights, twin, kind, start, stop, out)

    parallel_for(graph.n_nodes, work)
    return out


#: edge_curvature kinds defined on weighted graphs, and the options each takes
WEIGHTED_KINDS = {
    "forman": set(),
    "augmented_forman": set(),
    "ollivier": {"alpha", "mass", "base", "exp_power", "solver", "epsilon", "tol", "max_iter", "progress"},
}


def weighted_edge_curvature(graph: Graph, kind: str = "forman", **options) -> np.ndarray:
    """edge_curvature for a Graph that carries weights: "forman" is GRC's weighted 1d Forman,
    "augmented_forman" its augmented form, "ollivier" weighted Ollivier-Ricci (options of
    `weighted_ollivier_ricci`).  The other kinds have no weighted definition: they raise and name the fix."""
    if kind not in WEIGHTED_KINDS:
        raise ValueError(
            f"kind={kind!r} is defined for unweighted graphs, but this graph carries edge weights; use "
            f"graph.unweighted() to ignore them, or one of {sorted(WEIGHTED_KINDS)}."
        )
    unknown = set(options) - WEIGHTED_KINDS[kind]
    if unknown:
        raise TypeError(f"edge_curvature(kind={kind!r}) on a weighted graph got unknown options {sorted(unknown)}; "
                        f"it takes {sorted(WEIGHTED_KINDS[kind])}.")
    if kind == "ollivier":
        return weighted_ollivier_ricci(graph, **options).values
    return weighted_forman(graph, "1d" if kind == "forman" else "augmented")
