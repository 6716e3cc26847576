"""The discrete Ricci flow on edge weights (Ni, Lin, Luo and Gao 2019) and Ricci-flow community detection
(docs/definitions.md "The discrete Ricci flow on edge weights").

Not to be confused with `ricci_fast.ricci_flow`, which relates curvature to how geodesics change from
one network layer to the next: `discrete_ricci_flow` evolves the lengths of ONE graph,
w <- w - step * kappa * w, renormalised so that the lengths sum to the number of edges, as
GraphRicciCurvature's compute_ricci_flow does; `ricci_communities` then cuts the long edges at the
modularity drop, as its ricci_community does.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ricci_fast._validation import check_graph
from ricci_fast.graph import Graph
from ricci_fast.networks import edge_table, node_labels, with_weights
from ricci_fast import weighted as _weighted
from ricci_fast.weighted import WarmStart, edge_plan, warm_start_cells, weighted_ollivier_ricci


def _upper(graph: Graph) -> tuple[np.ndarray, np.ndarray]:
    rows = np.repeat(np.arange(graph.n_nodes, dtype=np.int64), graph.degrees)
    upper = graph.indices > rows
    return rows, upper


def _edge_keys(graph: Graph) -> np.ndarray:
    rows, upper = _upper(graph)
    return rows[upper] * graph.n_nodes + graph.indices[upper]


@dataclass(eq=False)
class DiscreteRicciFlow:
    """Result of `discrete_ricci_flow`.

    graph: the final graph, its weights the final Ricci-flow metric (fewer edges after surgery);
    curvature: the final Ollivier-Ricci curvature (aligned with graph.indices); initial_graph and
    original_curvature: before the flow.  weight_history / curvature_history: (steps + 1, E0) arrays over
    the undirected edges of initial_graph (in initial_graph.edges() order, NaN once surgery removed an
    edge), row 0 the start; None with keep_history=False.  curvature_range: max - min curvature after
    each step (the flow stops when it falls below delta)."""

    graph: Graph
    curvature: np.ndarray = field(repr=False)
    initial_graph: Graph = field(repr=False)
    original_curvature: np.ndarray = field(repr=False)
    iterations: int
    converged: bool
    curvature_range: np.ndarray = field(repr=False)
    weight_history: np.ndarray | None = field(default=None, repr=False)
    curvature_history: np.ndarray | None = field(default=None, repr=False)
    options: dict = field(default_factory=dict, repr=False)

    @property
    def weights(self) -> np.ndarray:
        """The final Ricci-flow metric, aligned with graph.indices."""
        return self.graph.weights

    def to_pandas(self) -> pd.DataFrame:
        """One row per edge of the final graph: u, v (original ids), weight, curvature, original_curvature."""
        frame = edge_table(self.graph, self.curvature, name="curvature")
        original = dict(zip(_edge_keys(self.initial_graph).tolist(),
                            self.original_curvature[_upper(self.initial_graph)[1]].tolist()))
        frame["original_curvature"] = [original[key] for key in _edge_keys(self.graph).tolist()]
        return frame

    edge_table = to_pandas

    def to_networkx(self, name: str = "ricciCurvature", weight: str = "weight"):
        """The final graph as networkx (original ids): the flow metric as `weight`, curvature as `name` on
        edges and nodes (node value = mean over its edges), the curvature before the flow as original_RC,
        as GraphRicciCurvature leaves its graph."""
        import networkx as nx

        G = self.graph.to_networkx(self.curvature, node_values=True, name=name, weight=weight)
        table = self.to_pandas()
        nx.set_edge_attributes(G, {(u, v): c for u, v, c in zip(table.u, table.v, table.original_curvature)},
                               "original_RC")
        return G

    def __repr__(self) -> str:
        return (f"DiscreteRicciFlow(n_nodes={self.graph.n_nodes}, n_edges={self.graph.n_edges}, "
                f"iterations={self.iterations}, converged={self.converged}, "
                f"curvature_range={self.curvature_range[-1] if self.curvature_range.size else float('nan'):.3g})")


def _check_positive(value, name: str, integer: bool = False):
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(f"{name} must be a {'integer' if integer else 'number'}, got {value!r}.")
    return value


def discrete_ricci_flow(
    graph: Graph,
    iterations: int = 10,
    step: float = 1.0,
    delta: float = 1e-4,
    *,
    alpha: float = 0.5,
    mass: str = "grc",
    base: float = math.e,
    exp_power: float = 2.0,
    solver: str = "exact",
    surgery: Callable[[Graph], Graph] | None = None,
    surgery_every: int = 100,
    keep_history: bool = True,
    progress: bool = False,
    **solver_options,
) -> DiscreteRicciFlow:
    """The discrete Ricci flow of Ni et al. (2019) on the edge lengths of `graph` (all 1 if unweighted).

    Each step: w <- w - step * kappa * w, then w <- w * E / sum(w) (E the number of edges), then the
    Ollivier-Ricci curvature kappa of the new lengths; stop after `iterations` steps or once
    max(kappa) - min(kappa) < delta.  Every `surgery_every` steps (not at step 0) surgery(graph) may
    return a graph with fewer edges (same nodes, weights kept).  The defaults are GraphRicciCurvature's
    (OllivierRicci(G).compute_ricci_flow(): alpha=0.5, its exp(-w^2) neighbour masses, iterations=10,
    step=1, delta=1e-4).  Curvature options (solver, epsilon, ...) go to `weighted_ollivier_ricci`.
    Unlike GRC, a disconnected graph is flowed whole (GRC keeps its largest component only).
    Each step's transport starts from the edge's optimal basis of the step before (`WarmStart`; exact
    solver, while the bases fit `ricci_fast.weighted.WARM_START_BUDGET` cells): same curvature to rounding.
    """
    check_graph(graph)
    _check_positive(iterations, "iterations", integer=True)
    if iterations < 0:
        raise ValueError(f"iterations must be >= 0, got {iterations}.")
    _check_positive(step, "step")
    if not step > 0:
        raise ValueError(f"step must be > 0, got {step}.")
    _check_positive(delta, "delta")
    _check_positive(surgery_every, "surgery_every", integer=True)
    if surgery_every < 1:
        raise ValueError(f"surgery_every must be >= 1, got {surgery_every}.")
    if surgery is not None and not callable(surgery):
        raise TypeError(f"surgery must be a function Graph -> Graph, got {type(surgery).__name__}.")
    if graph.n_edges == 0:
        raise ValueError("graph: no edges; the Ricci flow needs at least one edge.")
    for name in ("plan", "warm_start"):
        if name in solver_options:
            raise TypeError(f"{name}: discrete_ricci_flow makes its own (and new ones after surgery).")
    options = dict(alpha=alpha, mass=mass, base=base, exp_power=exp_power, solver=solver, **solver_options)
    plan = warm = None

    def curvature(g: Graph) -> np.ndarray:
        # the edges change only at surgery: plan the searches once per topology, not once per step, and
        # start each step's simplex from the edge's previous optimal basis
        nonlocal plan, warm
        if plan is None or not plan.matches(g):
            plan = edge_plan(g)
            small = warm_start_cells(plan) <= _weighted.WARM_START_BUDGET
            warm = WarmStart(plan) if solver == "exact" and small else None
        return weighted_ollivier_ricci(g, plan=plan, warm_start=warm, **options).values

    current = with_weights(graph, graph.weights if graph.weights is not None else np.ones(graph.indices.shape[0]))
    initial = current
    keys0 = _edge_keys(initial)
    kappa = curvature(current)
    original = kappa
    history_w, history_k = [], []

    def record(g: Graph, values: np.ndarray):
        if not keep_history:
            return
        _, upper = _upper(g)
        w_row = np.full(keys0.size, np.nan)
        k_row = np.full(keys0.size, np.nan)
        where = np.searchsorted(keys0, _edge_keys(g))
        w_row[where] = g.weights[upper]
        k_row[where] = values[upper]
        history_w.append(w_row)
        history_k.append(k_row)

    record(current, kappa)
    normalisation = float(current.n_edges)
    ranges = []
    converged = False
    steps = 0
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=iterations, desc="discrete Ricci flow", unit="step")
    try:
        for i in range(iterations):
            weights = current.weights - step * kappa * current.weights
            if weights.min() <= 0:
                raise ValueError(
                    f"step={step}: after {i} steps an edge with curvature {kappa[np.argmin(weights)]:.3g} would get "
                    f"length <= 0 (w - step * kappa * w); use a smaller step."
                )
            _, upper = _upper(current)
            weights = weights * (normalisation / weights[upper].sum())
            current = with_weights(current, weights)
            kappa = curvature(current)
            steps += 1
            ranges.append(float(kappa.max() - kappa.min()))
            record(current, kappa)
            if bar is not None:
                bar.update(1)
            if ranges[-1] < delta:
                converged = True
                break
            if surgery is not None and i != 0 and i % surgery_every == 0:
                cut = surgery(current)
                check_graph(cut, "surgery(graph)")
                if cut.n_nodes != current.n_nodes or cut.weights is None:
                    raise ValueError("surgery(graph) must return a Graph on the same nodes that carries weights.")
                if not np.isin(_edge_keys(cut), keys0).all():
                    raise ValueError("surgery(graph) may remove edges but not add new ones.")
                current = with_weights(cut, cut.weights)
                kappa = curvature(current)
                normalisation = float(current.n_edges)
    finally:
        if bar is not None:
            bar.close()
    return DiscreteRicciFlow(
        graph=current, curvature=kappa, initial_graph=initial, original_curvature=original, iterations=steps,
        converged=converged, curvature_range=np.array(ranges),
        weight_history=np.array(history_w) if keep_history else None,
        curvature_history=np.array(history_k) if keep_history else None, options=options,
    )


def cut_edges_above(cutoff: float) -> Callable[[Graph], Graph]:
    """A surgery for `discrete_ricci_flow`: remove the edges longer than cutoff (GRC's cut_graph_by_cutoff)."""
    def surgery(graph: Graph) -> Graph:
        return _cut(graph, cutoff)

    return surgery


def _cut(graph: Graph, cutoff: float) -> Graph:
    keep = graph.weights <= cutoff
    rows = np.repeat(np.arange(graph.n_nodes, dtype=np.int64), graph.degrees)
    n = graph.n_nodes
    matrix = sp.csr_matrix((graph.weights[keep], (rows[keep], graph.indices[keep])), shape=(n, n))
    matrix.sort_indices()
    return Graph(matrix.indptr, matrix.indices, weights=matrix.data.astype(np.float64), node_ids=graph.node_ids)


def _modularity_of_components(n: int, u: np.ndarray, v: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
    """Weighted modularity of the partition into connected components of the graph (u, v, w)."""
    matrix = sp.csr_matrix((np.ones(u.size), (u, v)), shape=(n, n))
    _, labels = connected_components(matrix, directed=False)
    total = w.sum()
    if total <= 0:
        return float("nan"), labels
    degree = np.bincount(labels[u], weights=w, minlength=n) + np.bincount(labels[v], weights=w, minlength=n)
    inside = np.bincount(labels[u], weights=w, minlength=n)  # every edge of a component lies inside it
    return float(np.sum(inside / total - (degree / (2.0 * total)) ** 2)), labels


@dataclass(eq=False)
class RicciCommunities:
    """Communities found by cutting the Ricci-flow metric (`ricci_communities`).

    labels: community of each node (0, 1, ... by first node); cutoff: the chosen length threshold (edges
    longer than it are cut); modularity: its weighted modularity; cutoffs / clusterings: every cut the
    modularity-drop rule proposed, from the largest cutoff to the chosen (smallest) one, as GRC's
    ricci_community_all_possible_clusterings lists them; flow: the DiscreteRicciFlow used."""

    graph: Graph = field(repr=False)
    labels: np.ndarray = field(repr=False)
    cutoff: float | None
    modularity: float
    n_communities: int
    cutoffs: np.ndarray = field(repr=False)
    clusterings: list = field(repr=False)
    flow: DiscreteRicciFlow | None = field(default=None, repr=False)

    def as_dict(self) -> dict:
        """{node id: community}, the form GRC's ricci_community returns."""
        return dict(zip(node_labels(self.graph).tolist(), self.labels.tolist()))

    def communities(self) -> list[set]:
        """The communities as sets of node ids."""
        ids = node_labels(self.graph)
        return [set(ids[self.labels == c].tolist()) for c in range(self.n_communities)]

    def to_pandas(self) -> pd.DataFrame:
        return pd.DataFrame({"node": node_labels(self.graph), "community": self.labels}).set_index("node")


def _first_seen(labels: np.ndarray) -> np.ndarray:
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(first.size, np.int64)
    rank[np.argsort(first)] = np.arange(first.size)
    return rank[inverse]


def ricci_communities(
    graph,
    *,
    iterations: int = 10,
    cutoff_step: float = 0.025,
    drop_threshold: float = 0.01,
    **flow_options,
) -> RicciCommunities:
    """Ricci-flow communities (Ni et al. 2019; GRC's ricci_community).

    graph: a Graph (the discrete Ricci flow runs first, `iterations` steps and `flow_options` as in
    `discrete_ricci_flow`) or a DiscreteRicciFlow already run.  For cutoffs from the longest edge down to
    1 in steps of cutoff_step, the edges longer than the cutoff are removed and the connected components
    scored by weighted modularity; a cutoff is proposed where the modularity drops by more than
    drop_threshold (relative) on the way up, and the smallest proposed cutoff is chosen.
    """
    if isinstance(graph, DiscreteRicciFlow):
        flow = graph
        if flow_options:
            raise TypeError(f"flow options {sorted(flow_options)} apply only when a Graph is passed.")
    else:
        flow = discrete_ricci_flow(graph, iterations, **flow_options)
    if not cutoff_step > 0:
        raise ValueError(f"cutoff_step must be > 0, got {cutoff_step}.")
    g = flow.graph
    rows, upper = _upper(g)
    u, v, w = rows[upper], g.indices[upper].astype(np.int64), g.weights[upper]
    n = g.n_nodes
    cutoff_range = np.arange(w.max(), 1, -cutoff_step)
    modularity = []
    for cutoff in cutoff_range:
        keep = w <= cutoff
        modularity.append(_modularity_of_components(n, u[keep], v[keep], w[keep])[0])
    good = []
    if modularity:
        last = modularity[-1]
        for i in range(len(modularity) - 1, 0, -1):
            now = modularity[i]
            if last > now > 1e-4 and abs(last - now) / last > drop_threshold:
                good.append(float(cutoff_range[i + 1]))
            last = now
    cutoffs = np.array(good[::-1])
    clusterings = []
    for cut in cutoffs:
        keep = w <= cut
        q, labels = _modularity_of_components(n, u[keep], v[keep], w[keep])
        clusterings.append((float(cut), _first_seen(labels), q))
    if clusterings:
        cutoff, labels, q = clusterings[-1]
    else:
        import warnings

        warnings.warn("ricci_communities: no modularity drop found (GRC raises 'No cutoff point found!'); every "
                      "connected component is one community. Run more flow iterations or lower drop_threshold.",
                      stacklevel=2)
        q, labels = _modularity_of_components(n, u, v, w)
        cutoff, labels = None, _first_seen(labels)
    return RicciCommunities(
        graph=g, labels=labels, cutoff=cutoff, modularity=q, n_communities=int(labels.max()) + 1 if n else 0,
        cutoffs=cutoffs, clusterings=[(c, lab) for c, lab, _ in clusterings], flow=flow,
    )
