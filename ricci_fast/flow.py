"""Curvature against geodesic change across layers: the Ricci coefficients (SPEC section 4)."""

from __future__ import annotations

import dataclasses
import numbers
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ricci_fast._validation import (
    as_activation_array,
    as_activation_tensor,
    check_choice,
    check_k,
    check_same_points,
    is_device_tensor,
)
from ricci_fast.curvature import (
    LayerCurvature,
    check_curvature_options,
    curvature_of_graph,
    duplicate_note,
    warn_duplicates,
)
from ricci_fast.geodesics import run_bfs, sampled_geodesic_sum
from ricci_fast.graph import METHODS, METRICS, SYMMETRIZE, knn_graph, restrict_k
from ricci_fast.kernels import csr as _csr

#: Transitions the global coefficient needs (docs/definitions.md section 4: at least 4 layers).
MIN_TRANSITIONS = 3
#: What ricci_flow does with a layer whose k-NN graph is disconnected (docs/definitions.md section 4):
#: "raise" refuses before any curvature or BFS work, naming the layers, their component sizes and the
#: remedies; "nan" computes on the graphs as they are (global coefficient NaN, unreachable former
#: neighbours skipped); "join" (the default) adds the shortest edges that connect each graph.
DISCONNECTED = ("raise", "nan", "join")
#: k when none is given.
DEFAULT_K = 30


def pearson(a, b) -> float:
    """Pearson correlation of two equal-length 1-D series; NaN if either is constant or shorter than 2.

    Constancy is tested exactly (a value that differs anywhere is not constant), so a constant series
    never turns into a spurious +-1 through rounding of its mean.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.size < 2 or np.all(a == a[0]) or np.all(b == b[0]):
        return float("nan")
    da = a - a.mean()
    db = b - b.mean()
    return float(np.dot(da, db) / np.sqrt(np.dot(da, da) * np.dot(db, db)))


def _rowwise_pearson(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Pearson over columns for each row of (N, T) arrays, with the same NaN rules as `pearson`."""
    out = np.full(A.shape[0], np.nan)
    if A.shape[1] < 2:
        return out
    ok = np.isfinite(A).all(axis=1) & np.isfinite(B).all(axis=1)
    ok &= ~np.all(A == A[:, :1], axis=1) & ~np.all(B == B[:, :1], axis=1)
    da = A[ok] - A[ok].mean(axis=1, keepdims=True)
    db = B[ok] - B[ok].mean(axis=1, keepdims=True)
    out[ok] = np.einsum("ij,ij->i", da, db) / np.sqrt(np.einsum("ij,ij->i", da, da) * np.einsum("ij,ij->i", db, db))
    return out


@dataclass(eq=False)
class RicciFlow:
    """Curvature and geodesic change through L layers and the Ricci coefficients.

    Per layer (L,): total_curvature, geodesic_sum, n_components, n_joined_edges, layer_names.  Per
    transition l -> l+1 (L-1,): eta (g_{l+1} - g_l), layer_coefficients (rho_l), layer_points_skipped
    and transition_names ("a->b").  Per point: local_coefficients (N,), and node_curvature, node_eta
    ((L-1, N): S_l(x) and eta_l(x) for the transitions).
    A negative coefficient means Ricci-flow-like: positively curved regions contract, negatively curved
    ones expand (docs/definitions.md section 4).
    """

    layers: list[LayerCurvature] = field(repr=False)
    total_curvature: np.ndarray
    geodesic_sum: np.ndarray
    eta: np.ndarray
    global_coefficient: float
    layer_coefficients: np.ndarray
    layer_points_skipped: np.ndarray
    local_coefficients: np.ndarray = field(repr=False)
    node_curvature: np.ndarray = field(repr=False)
    node_eta: np.ndarray = field(repr=False)
    #: with geodesic_sources=M: standard errors of the sampled geodesic sums and of the global coefficient
    geodesic_sum_se: np.ndarray | None = field(default=None, repr=False)
    global_coefficient_se: float | None = None

    @property
    def n_layers(self) -> int:
        return len(self.layers)

    @property
    def n_points(self) -> int:
        return self.layers[0].n_points

    @property
    def layer_names(self) -> tuple[str, ...]:
        """The layers' names: the keys of a mapping, the LayerCurvature names, or "0", "1", ..."""
        return tuple(str(i) if layer.name is None else layer.name for i, layer in enumerate(self.layers))

    @property
    def transition_names(self) -> tuple[str, ...]:
        names = self.layer_names
        return tuple(f"{a}->{b}" for a, b in zip(names[:-1], names[1:]))

    @property
    def n_components(self) -> np.ndarray:
        """Components of each layer's k-NN graph before any joining."""
        return np.array([layer.n_components + layer.n_joined_edges for layer in self.layers])

    @property
    def n_joined_edges(self) -> np.ndarray:
        """Edges added per layer to connect its graph (disconnected="join"; 0 elsewhere)."""
        return np.array([layer.n_joined_edges for layer in self.layers], dtype=np.int64)

    @property
    def kind(self) -> str:
        return self.layers[0].kind

    def curvature_gap(self, labels, denominator: str = "authors") -> np.ndarray:
        """Hehl et al. (2025)'s curvature gap of every layer (see ricci_fast.curvature_gap)."""
        from ricci_fast.curvature import curvature_gap

        return np.array([curvature_gap(layer, labels, denominator) for layer in self.layers])

    @property
    def mean_local_coefficient(self) -> float:
        finite = self.local_coefficients[np.isfinite(self.local_coefficients)]
        return float(finite.mean()) if finite.size else float("nan")

    def to_pandas(self, level: str = "point") -> pd.DataFrame:
        """level="point": one row per point: local_coefficient, then per transition a->b the columns
        "node_curvature[a]" (S_a(x)) and "node_eta[a->b]" (eta(x)).  level="layer": one row per layer,
        indexed by layer name: totals, components, joined edges, and the transition that starts there."""
        check_choice(level, "level", ("point", "layer"))
        names = self.layer_names
        if level == "point":
            columns = {"local_coefficient": self.local_coefficients}
            for l, transition in enumerate(self.transition_names):
                columns[f"node_curvature[{names[l]}]"] = self.node_curvature[l]
                columns[f"node_eta[{transition}]"] = self.node_eta[l]
            frame = pd.DataFrame(columns)
            frame.index.name = "point"
            return frame
        pad = np.append
        frame = pd.DataFrame(
            {
                "total_curvature": self.total_curvature,
                "geodesic_sum": self.geodesic_sum,
                "n_components": self.n_components,
                "n_joined_edges": self.n_joined_edges,
                "transition": list(self.transition_names) + [None],
                "eta": pad(self.eta, np.nan),
                "layer_coefficient": pad(self.layer_coefficients, np.nan),
                "points_skipped": pad(self.layer_points_skipped, 0),
            },
            index=pd.Index(list(names), name="layer"),
        )
        return frame

    def __repr__(self) -> str:
        def fmt(values):
            return "[" + ", ".join(f"{v:.3f}" for v in values) + "]"

        estimated = ""
        if self.global_coefficient_se is not None:
            estimated = f" +- {self.global_coefficient_se:.4f} (geodesic sums sampled)"
        joined = ""
        if self.n_joined_edges.any():
            joined = f",\n  n_joined_edges={self.n_joined_edges.tolist()} (disconnected graphs joined)"
        finite = self.local_coefficients[np.isfinite(self.local_coefficients)]
        share = float(np.mean(finite < 0)) if finite.size else float("nan")
        return (
            f"RicciFlow(kind={self.kind!r}, n_layers={self.n_layers}, n_points={self.n_points},\n"
            f"  layers={list(self.layer_names)},\n"
            f"  global_coefficient={self.global_coefficient:.4f}{estimated},\n"
            f"  layer_coefficients={fmt(self.layer_coefficients)},\n"
            f"  mean_local_coefficient={self.mean_local_coefficient:.4f}, negative_local_share={share:.3f},\n"
            f"  total_curvature={fmt(self.total_curvature)},\n"
            f"  geodesic_sum={fmt(self.geodesic_sum)}{joined})"
        )

    def plot(self, path: str | None = None, **options):
        """Figure of this flow (ricci_fast.plotting.plot_flow: curvature, geodesic change, layer and local
        coefficients, and node curvature against expansion per transition); saved to path when given.
        Needs matplotlib (pip install ".[plot]"); returns the Figure."""
        from ricci_fast.plotting import plot_flow

        return plot_flow(self, path, **options)


    def permutation_pvalue(self, alternative: str = "less", **options) -> float:
        """Exact permutation p-value of the global coefficient over its transitions (one-sided against a
        negative, Ricci-flow-like coefficient by default; see ricci_fast.stats.permutation_pvalue)."""
        from ricci_fast.stats import permutation_pvalue

        return permutation_pvalue(self.total_curvature[:-1], self.eta, alternative, **options)


def _named_layers(layers) -> tuple[list[str], list]:
    """(names, items) from a Mapping (keys, in order) or a sequence (LayerCurvature names when every
    item has one, else "0", "1", ...)."""
    if isinstance(layers, Mapping):
        keys = list(layers.keys())
        names = [str(key) for key in keys]
        items = [layers[key] for key in keys]
    elif isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
        raise TypeError(
            f"layers: expected a list of activations or LayerCurvature objects, or a dict of name -> "
            f"activations (as capture_activations returns), got {type(layers).__name__}."
        )
    elif type(layers).__module__.startswith(("numpy", "torch")):
        raise TypeError(
            f"layers: got one {type(layers).__name__}; pass a list (or dict) of per-layer activations, "
            f"e.g. [X, h1, h2, h3]."
        )
    else:
        items = list(layers)
        own = [getattr(item, "name", None) for item in items]
        if items and all(isinstance(item, LayerCurvature) for item in items) and all(own) \
                and len(set(own)) == len(own):
            names = list(own)
        else:
            names = [str(i) for i in range(len(items))]
    empty = [repr(key) for key, name in zip(layers if isinstance(layers, Mapping) else names, names) if not name]
    if empty:
        raise ValueError(f"layers: layer names must be non-empty strings, got {', '.join(empty)}.")
    if len(set(names)) != len(names):
        seen, repeated = set(), []
        for name in names:
            if name in seen:
                repeated.append(name)
            seen.add(name)
        raise ValueError(f"layers: layer names must be unique (as strings); repeated: {sorted(set(repeated))}.")
    return names, items


def _check_seed(seed):
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or int(seed) < 0:
        raise TypeError(f"seed must be None or a non-negative integer, got {seed!r}.")
    return int(seed)


def _check_geodesic_sources(value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"geodesic_sources must be None or a positive integer (BFS sources), got {value!r}.")
    if int(value) < 1:
        raise ValueError(f"geodesic_sources must be a positive integer (BFS sources), got {value!r}.")
    return int(value)


def _check_flag(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}.")
    return bool(value)


def check_flow_options(*, k=None, curvature=None, disconnected="join", metric=None, symmetrize=None, method=None,
                       progress=True, geodesic_sources=None, seed=None, curvature_options=None) -> dict:
    """Validate ricci_flow's options without data (RicciFlowMonitor calls it when it is made); returns
    them with defaults filled in.  k is checked against the number of points later."""
    check_choice(disconnected, "disconnected", DISCONNECTED)
    if k is not None and (isinstance(k, bool) or not isinstance(k, numbers.Integral)):
        raise TypeError(f"k must be an integer, got {k!r}.")
    if k is not None and int(k) < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}.")
    curvature = "forman" if curvature is None else curvature
    options = check_curvature_options(curvature, dict(curvature_options or {}))
    return {
        "k": DEFAULT_K if k is None else int(k),
        "curvature": curvature,
        "disconnected": disconnected,
        "metric": check_choice("euclidean" if metric is None else metric, "metric", METRICS),
        "symmetrize": check_choice("union" if symmetrize is None else symmetrize, "symmetrize", SYMMETRIZE),
        "method": check_choice("auto" if method is None else method, "method", METHODS),
        "progress": _check_flag(progress, "progress"),
        "geodesic_sources": _check_geodesic_sources(geodesic_sources),
        "seed": _check_seed(seed),
        "curvature_options": options,
    }


def _check_given_layers(items, names, k, curvature, metric, symmetrize, method, curvature_options):
    """LayerCurvature objects carry their k, kind, metric, symmetrisation and options: an option that
    says otherwise is refused rather than ignored."""
    kinds = {layer.kind for layer in items}
    if len(kinds) > 1:
        raise ValueError(f"layers: LayerCurvature objects of different curvature kinds {sorted(kinds)}.")
    check_same_points([layer.n_points for layer in items])
    conflicts = []
    if curvature is not None and curvature != items[0].kind:
        conflicts.append(f"curvature={curvature!r} (the layers hold {items[0].kind!r})")
    for option, value in (("k", k), ("metric", metric), ("symmetrize", symmetrize)):
        if value is None:
            continue
        built = {getattr(layer.graph, option) for layer in items}
        if built != {value}:
            shown = ", ".join(repr(b) for b in sorted(built, key=str))
            conflicts.append(f"{option}={value!r} (the layers' graphs were built with {option} {shown})")
    if method is not None:
        conflicts.append(f"method={method!r} (the layers' graphs are already built)")
    if curvature_options:
        differ = [layer_name for layer_name, layer in zip(names, items) if layer.options != curvature_options]
        if differ:
            conflicts.append(f"curvature options {curvature_options} (layers {differ} were computed with others)")
    if conflicts:
        raise ValueError(
            "layers: the LayerCurvature objects given fix these options, which conflict with "
            + "; ".join(conflicts)
            + ". Omit the options, or pass the activations instead to recompute."
        )


def _disconnected_message(broken, symmetrize, caller="ricci_flow") -> str:
    """Error text for disconnected layers: names, component sizes, and only remedies that would help.

    broken: (name, graph, activations or None) per disconnected layer."""
    from ricci_fast.components import connecting_k, describe_components

    detail = "; ".join(f"layer {name!r}: {describe_components(graph)}" for name, graph, _ in broken)
    remedies = []
    needed = []
    for name, graph, acts in broken:
        if acts is None or graph.k is None:
            needed = None
            break
        try:
            k_needed = connecting_k(graph, acts)
        except (TypeError, ValueError):
            k_needed = None
        if k_needed is None:
            needed = None
            break
        needed.append(k_needed)
    if needed:
        remedies.append(f"k={max(needed)} connects {'it' if len(broken) == 1 else 'them'} (a smaller k may too)")
    else:
        remedies.append("a larger k")
    if symmetrize == "mutual":
        remedies.append("symmetrize='union' (keeps an edge if either point chose the other)")
    remedies.append("disconnected='join' (add the shortest edges between components; docs/definitions.md section 4)")
    if caller == "ricci_flow":
        remedies.append("disconnected='nan' (global coefficient NaN, unreachable former neighbours skipped)")
    what = "the k-NN graph is disconnected" if len(broken) == 1 else "the k-NN graphs are disconnected"
    return (
        f"{what} ({detail}), so geodesic sums are infinite and the global Ricci coefficient is undefined. "
        f"Remedies: {'; '.join(remedies)}."
    )


def _in_memory(acts):
    """A layer as one array, for the steps that need all its points at once (joining components)."""
    from ricci_fast import _arrays

    return _arrays.materialise(acts) if isinstance(acts, _arrays.RowSource) else acts


def _out_of_memory(name, graph, stage, exc):
    degree = int(graph.degrees.max()) if graph.n_nodes else 0
    return MemoryError(
        f"layer {name!r}: out of memory while computing {stage} (N={graph.n_nodes}, {graph.n_edges} edges, "
        f"max degree {degree}): {exc}. Lower k, use fewer probe points, or a cheaper curvature."
    )


def ricci_flow(
    layers,
    k: int | None = None,
    *,
    curvature: str | None = None,
    disconnected: str = "join",
    metric: str | None = None,
    symmetrize: str | None = None,
    method: str | None = None,
    progress: bool = True,
    geodesic_sources: int | None = None,
    seed=None,
    **curvature_options,
) -> RicciFlow:
    """The Ricci coefficients of a network from its layers' activations (docs/definitions.md section 4).

    layers: a dict of name -> activations (the ordered dict `capture_activations` returns, or any
    Mapping; order kept, names in `RicciFlow.layer_names`), or a list ((N, ...) numpy arrays or torch
    tensors, the same N points in the same order at every layer; named "0", "1", ...), or a list or
    dict of LayerCurvature objects.  k (default 30), curvature (default "forman"), metric ("euclidean"),
    symmetrize ("union") and method ("auto") build each layer's graph; LayerCurvature objects carry
    their own, and an option that conflicts with them is refused.
    disconnected (one of DISCONNECTED): every layer's graph is built and checked before any curvature
    or BFS work.  "join" (default) connects a disconnected graph by the shortest edges between its
    components (a minimum spanning tree over components; RicciFlow.n_joined_edges says how many, and a
    warning names the layers); "raise" refuses, naming the layers, their component sizes and the
    remedies; "nan" keeps the graphs: the global coefficient is NaN (with a warning) and per-layer and
    local coefficients skip points with an unreachable former neighbour.
    progress: a tqdm bar over the layers.
    geodesic_sources=M: estimate each layer's geodesic sum from M random BFS sources (unbiased, with a
    standard error; see sampled_geodesic_sum) instead of all N (M >= N means all); seed (a non-negative
    integer) fixes the sources.  The global coefficient then carries an uncertainty
    (global_coefficient_se, from 2000 normal resamples of the sums); layer and local coefficients stay
    exact.  Layers with more than a few percent duplicate rows get a warning (the graph then depends on
    the order of the probe points).  Running out of memory raises a MemoryError naming the layer.
    k as a list (k=[20, 50, 125]): a dict {k: RicciFlow}, one neighbour search per layer at the largest
    k (see ricci_fast.stats.k_scan); identical to separate calls.
    """
    if isinstance(k, (list, tuple, range, np.ndarray)):
        from ricci_fast.stats import k_scan

        return k_scan(layers, k, curvature=curvature, metric=metric, symmetrize=symmetrize, method=method,
                      progress=progress, disconnected=disconnected, geodesic_sources=geodesic_sources, seed=seed,
                      **curvature_options)
    if "client" in curvature_options:
        # the cluster code sits above this module (tests/test_layout.py): point there instead of importing it
        raise TypeError("ricci_flow runs on this machine; for every stage of every layer on a Dask cluster call "
                        "`from ricci_fast import distributed; distributed.ricci_flow(layers, k, client=client)` "
                        "(the same options and result).")
    # k_scan's neighbour tables at its largest k, one per layer: each flow of the scan restricts them
    knn_tables = curvature_options.pop("_knn_tables", None)
    names, items = _named_layers(layers)
    if len(items) < 2:
        raise ValueError(f"layers: a flow needs at least 2 layers (4 for the global coefficient), got {len(items)}.")
    given = [isinstance(layer, LayerCurvature) for layer in items]
    if any(given) and not all(given):
        raise TypeError("layers: pass either all activations or all LayerCurvature objects, not a mix.")
    from_objects = all(given)
    options = check_flow_options(
        k=None if from_objects else k, curvature=None if from_objects else curvature, disconnected=disconnected,
        metric=None if from_objects else metric, symmetrize=None if from_objects else symmetrize,
        method=None if from_objects else method, progress=progress, geodesic_sources=geodesic_sources, seed=seed,
        curvature_options=None if from_objects else curvature_options,
    )
    n_layers = len(items)
    # one step per graph and one per curvature + geodesics
    bar = tqdm(total=n_layers if from_objects else 2 * n_layers, desc="ricci_flow", unit="step",
               disable=not options["progress"])
    try:
        # 1. every layer's graph (the k-NN search), nothing more
        if from_objects:
            _check_given_layers(items, names, k, curvature, metric, symmetrize, method, curvature_options)
            graphs = [layer.graph for layer in items]
            arrays = [None] * n_layers
            symmetrize_used = items[0].graph.symmetrize
        else:
            # activations on a GPU stay there for the k-NN search (only the neighbour table comes back)
            from ricci_fast import _arrays

            # memmaps, zarr and dask arrays stay where they are: knn_graph reads them in row blocks
            arrays = [
                as_activation_tensor(acts, layer=repr(name)) if is_device_tensor(acts)
                else _arrays.as_row_source(acts, layer=repr(name)) if _arrays.is_out_of_core(acts)
                else as_activation_array(acts, layer=repr(name))
                for name, acts in zip(names, items)
            ]
            check_same_points([a.shape[0] for a in arrays])
            for name, a in zip(names, arrays):
                check_k(options["k"], a.shape[0], layer=repr(name))
            graphs = []
            for name, a in zip(names, arrays):
                try:
                    if knn_tables is not None:
                        table = knn_tables[len(graphs)]
                        graphs.append(restrict_k(table, options["k"]) if options["k"] < table.k else table)
                    else:
                        graphs.append(knn_graph(a, options["k"], metric=options["metric"],
                                                symmetrize=options["symmetrize"], method=options["method"]))
                except MemoryError as exc:
                    raise MemoryError(f"layer {name!r}: out of memory in the k-NN search: {exc}") from exc
                bar.update()
            warn_duplicates([duplicate_note(a, f"layer {name!r}") for name, a in zip(names, arrays)])
            symmetrize_used = options["symmetrize"]

        # 2. connectivity, before any curvature or BFS
        broken = [i for i, graph in enumerate(graphs) if graph.n_components > 1]
        joined = [None] * n_layers
        if broken and disconnected == "raise":
            raise ValueError(_disconnected_message([(names[i], graphs[i], _in_memory(arrays[i])) for i in broken],
                                                   symmetrize_used))
        if broken and disconnected == "join":
            if from_objects:
                raise ValueError(
                    "the k-NN graphs of layers "
                    + ", ".join(f"{names[i]!r} ({graphs[i].n_components} components)" for i in broken)
                    + " are disconnected, and joining them needs their activations: pass the activations, "
                    "build the layers with layer_curvature(X, disconnected='join'), or pass disconnected='nan'."
                )
            from ricci_fast.components import describe_components, join_components

            notes = []
            for i in broken:
                before = describe_components(graphs[i])
                try:
                    graphs[i], edges, lengths = join_components(graphs[i], _in_memory(arrays[i]))
                except MemoryError as exc:
                    raise _out_of_memory(names[i], graphs[i], "the joining edges", exc) from exc
                joined[i] = (edges, lengths)
                notes.append(f"{names[i]!r} ({before}: {len(edges)} edge{'s' if len(edges) != 1 else ''} added, "
                             f"longest {lengths.max():.4g})")
            warnings.warn(
                "disconnected k-NN graphs joined by their shortest edges between components (disconnected='join', "
                "docs/definitions.md section 4): layer " + "; layer ".join(notes)
                + ". Pass disconnected='raise' to refuse, or a larger k.",
                stacklevel=2,
            )

        # 3. curvature and geodesics
        computed: list[LayerCurvature] = []
        former_dist: list[np.ndarray] = []
        sampled = []
        for i in range(n_layers):
            name, graph = names[i], graphs[i]
            if from_objects:
                layer = dataclasses.replace(items[i], name=name)
            else:
                try:
                    layer = curvature_of_graph(graph, options["curvature"], geodesics=False, name=name,
                                               **options["curvature_options"])
                except MemoryError as exc:
                    raise _out_of_memory(name, graph, f"{options['curvature']} curvature", exc) from exc
                if joined[i] is not None:
                    layer.joined_edges, layer.joined_lengths = joined[i]
                elif disconnected == "join":
                    layer.joined_edges = np.zeros((0, 2), np.int64)
                    layer.joined_lengths = np.zeros(0, np.float64)
            previous = computed[-1].graph if i > 0 else None
            try:
                if options["geodesic_sources"] is not None:
                    seed_i = None if options["seed"] is None else options["seed"] + i
                    sampled.append(sampled_geodesic_sum(graph, min(options["geodesic_sources"], layer.n_points),
                                                        seed=seed_i))
                    if previous is not None:
                        _, dist = run_bfs(graph, sums=False, targets=previous)
                        former_dist.append(np.where(dist < 0, np.inf, dist.astype(np.float64)))
                else:
                    want_sums = layer.node_geodesic_sums is None
                    if want_sums or previous is not None:
                        sums, dist = run_bfs(graph, sums=want_sums, targets=previous)
                        if want_sums:
                            # set on the copy, so a LayerCurvature the caller passed in is left as it was
                            layer.node_geodesic_sums = (
                                sums.astype(np.float64) if layer.n_components == 1 else np.full(layer.n_points, np.inf)
                            )
                        if dist is not None:
                            former_dist.append(np.where(dist < 0, np.inf, dist.astype(np.float64)))
            except MemoryError as exc:
                raise _out_of_memory(name, graph, "geodesics (BFS)", exc) from exc
            computed.append(layer)
            bar.update()
    finally:
        bar.close()
    return _coefficients(computed, former_dist, disconnected, sampled or None)


def _coefficients(layers: list[LayerCurvature], former_dist: list[np.ndarray], disconnected: str,
                  sampled=None) -> RicciFlow:
    n_layers = len(layers)
    names = [str(i) if layer.name is None else layer.name for i, layer in enumerate(layers)]
    total = np.array([layer.total_curvature for layer in layers], dtype=np.float64)
    if sampled is None:
        g = np.array([layer.geodesic_sum for layer in layers], dtype=np.float64)
        g_se = None
    else:
        g = np.array([e.estimate for e in sampled], dtype=np.float64)
        g_se = np.array([e.standard_error for e in sampled], dtype=np.float64)
    components = [layer.n_components for layer in layers]

    # local expansion eta_l(x): mean hop distance in layer l+1 to x's layer-l neighbours, minus 1;
    # NaN (undefined, skipped) where a former neighbour is unreachable or x had no neighbours
    node_eta = np.empty((n_layers - 1, layers[0].n_points))
    for l in range(n_layers - 1):
        node_eta[l] = _csr.row_means(layers[l].graph.indptr, former_dist[l]) - 1.0
    node_eta[~np.isfinite(node_eta)] = np.nan
    node_curv = np.stack([layers[l].node_curvature for l in range(n_layers - 1)])

    layer_coef = np.full(n_layers - 1, np.nan)
    skipped = np.zeros(n_layers - 1, dtype=np.int64)
    for l in range(n_layers - 1):
        valid = np.isfinite(node_eta[l]) & np.isfinite(node_curv[l])
        skipped[l] = int(node_eta[l].size - np.count_nonzero(valid))
        layer_coef[l] = pearson(node_curv[l][valid], node_eta[l][valid])
    local = _rowwise_pearson(node_curv.T, node_eta.T)
    if n_layers - 1 < 2:
        warnings.warn(
            f"local coefficients need at least 2 transitions (3 layers); got {n_layers - 1}, so they are NaN.",
            stacklevel=3,
        )

    infinite = [i for i in range(n_layers) if not np.isfinite(g[i])]
    with np.errstate(invalid="ignore"):  # inf - inf for two disconnected layers; handled below
        eta = np.diff(g)
    if infinite:
        # reached only with disconnected="nan": "raise" refused and "join" connected before any work
        detail = ", ".join(f"layer {names[i]!r} ({components[i]} components)" for i in infinite)
        warnings.warn(
            f"global coefficient is NaN: {detail} disconnected (infinite geodesic sum); "
            f"disconnected='join' connects such graphs by their shortest edges.",
            stacklevel=3,
        )
        eta = np.where(np.isfinite(eta), eta, np.nan)
        global_coef = float("nan")
    elif n_layers - 1 < MIN_TRANSITIONS:
        warnings.warn(
            f"the global Ricci coefficient needs at least {MIN_TRANSITIONS} transitions ({MIN_TRANSITIONS + 1} "
            f"layers); got {n_layers - 1}, so it is NaN.",
            stacklevel=3,
        )
        global_coef = float("nan")
    else:
        global_coef = pearson(total[:-1], eta)
        if np.isnan(global_coef):
            warnings.warn("global coefficient is NaN: total curvature or geodesic change is constant across layers.", stacklevel=3)
    global_se = None
    if g_se is not None:
        global_se = float("nan")
        if np.isfinite(global_coef) and np.all(np.isfinite(g_se)):
            draws = np.random.default_rng(0).normal(g, g_se, size=(2000, n_layers))
            values = np.array([pearson(total[:-1], np.diff(d)) for d in draws])
            global_se = float(np.nanstd(values))
    return RicciFlow(
        layers=layers,
        total_curvature=total,
        geodesic_sum=g,
        eta=eta,
        global_coefficient=global_coef,
        layer_coefficients=layer_coef,
        layer_points_skipped=skipped,
        local_coefficients=local,
        node_curvature=node_curv,
        node_eta=node_eta,
        geodesic_sum_se=g_se,
        global_coefficient_se=global_se,
    )
