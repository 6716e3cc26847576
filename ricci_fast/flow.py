"""Curvature against geodesic change across layers: the Ricci coefficients (SPEC section 4)."""

from __future__ import annotations

import dataclasses
import warnings
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
from ricci_fast.curvature import CURVATURES, LayerCurvature, curvature_of_graph
from ricci_fast.geodesics import run_bfs, sampled_geodesic_sum
from ricci_fast.graph import knn_graph
from ricci_fast.kernels import csr as _csr

#: Transitions the global coefficient needs (SPEC 4: at least 4 layers).
MIN_TRANSITIONS = 3


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

    Per layer (L,): total_curvature, geodesic_sum, n_components.  Per transition l -> l+1 (L-1,): eta
    (g_{l+1} - g_l), layer_coefficients (rho_l) and layer_points_skipped.  Per point: local_coefficients
    (N,), and node_curvature, node_eta ((L-1, N): S_l(x) and eta_l(x) for the transitions).
    A negative coefficient means Ricci-flow-like: positively curved regions contract, negatively curved
    ones expand.
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
    def n_components(self) -> np.ndarray:
        return np.array([layer.n_components for layer in self.layers])

    @property
    def kind(self) -> str:
        return self.layers[0].kind

    def curvature_gap(self, labels) -> np.ndarray:
        """Hehl et al. (2025)'s curvature gap of every layer (see ricci_fast.curvature_gap)."""
        from ricci_fast.curvature import curvature_gap

        return np.array([curvature_gap(layer, labels) for layer in self.layers])

    @property
    def mean_local_coefficient(self) -> float:
        finite = self.local_coefficients[np.isfinite(self.local_coefficients)]
        return float(finite.mean()) if finite.size else float("nan")

    def to_pandas(self, level: str = "point") -> pd.DataFrame:
        """level="point": one row per point (local coefficient, then S_l and eta_l per transition);
        level="layer": one row per layer (totals, components, and the transition that starts there)."""
        check_choice(level, "level", ("point", "layer"))
        if level == "point":
            columns = {"local_coefficient": self.local_coefficients}
            for l in range(self.n_layers - 1):
                columns[f"node_curvature_{l}"] = self.node_curvature[l]
                columns[f"node_eta_{l}"] = self.node_eta[l]
            frame = pd.DataFrame(columns)
            frame.index.name = "point"
            return frame
        pad = np.append
        frame = pd.DataFrame(
            {
                "total_curvature": self.total_curvature,
                "geodesic_sum": self.geodesic_sum,
                "n_components": self.n_components,
                "eta": pad(self.eta, np.nan),
                "layer_coefficient": pad(self.layer_coefficients, np.nan),
                "points_skipped": pad(self.layer_points_skipped, 0),
            }
        )
        frame.index.name = "layer"
        return frame

    def __repr__(self) -> str:
        def fmt(values):
            return "[" + ", ".join(f"{v:.3f}" for v in values) + "]"

        estimated = ""
        if self.global_coefficient_se is not None:
            estimated = f" +- {self.global_coefficient_se:.4f} (geodesic sums sampled)"
        return (
            f"RicciFlow(kind={self.kind!r}, n_layers={self.n_layers}, n_points={self.n_points},\n"
            f"  global_coefficient={self.global_coefficient:.4f}{estimated},\n"
            f"  layer_coefficients={fmt(self.layer_coefficients)},\n"
            f"  mean_local_coefficient={self.mean_local_coefficient:.4f}, "
            f"negative_local_share={np.mean(self.local_coefficients[np.isfinite(self.local_coefficients)] < 0):.3f},\n"
            f"  total_curvature={fmt(self.total_curvature)},\n"
            f"  geodesic_sum={fmt(self.geodesic_sum)})"
        )

    def permutation_pvalue(self, alternative: str = "less", **options) -> float:
        """Exact permutation p-value of the global coefficient over its transitions (one-sided against a
        negative, Ricci-flow-like coefficient by default; see ricci_fast.stats.permutation_pvalue)."""
        from ricci_fast.stats import permutation_pvalue

        return permutation_pvalue(self.total_curvature[:-1], self.eta, alternative, **options)


def ricci_flow(
    layers,
    k: int = 30,
    *,
    curvature: str = "forman",
    disconnected: str = "raise",
    metric: str = "euclidean",
    symmetrize: str = "union",
    method: str = "auto",
    progress: bool = True,
    geodesic_sources: int | None = None,
    seed=None,
    **curvature_options,
) -> RicciFlow:
    """The Ricci coefficients of a network from its layers' activations (SPEC section 4).

    layers: a list of activations ((N, ...) numpy arrays or torch tensors, the same N points in the same
    order at every layer) or of LayerCurvature objects (then k, curvature, metric, symmetrize and method
    are theirs).  disconnected="raise" (default) refuses a global coefficient from an infinite geodesic
    sum and names the disconnected layers; "nan" returns NaN for it instead, with a warning.  Per-layer
    and local coefficients skip points with an unreachable former neighbour in either case.
    progress: a tqdm bar over the layers.
    geodesic_sources=M: estimate each layer's geodesic sum from M random BFS sources (unbiased, with a
    standard error; see sampled_geodesic_sum) instead of all N, for graphs where all sources would take
    hours.  The global coefficient is then computed from the estimates and carries an uncertainty
    (global_coefficient_se, from 2000 normal resamples of the sums); the layer and local coefficients stay
    exact (distances between former neighbours come from a BFS that stops once they are found).
    k as a list (k=[20, 50, 125]): a dict {k: RicciFlow}, one neighbour search per layer at the largest
    k (see ricci_fast.stats.k_scan); identical to separate calls.
    """
    if isinstance(k, (list, tuple, range, np.ndarray)):
        from ricci_fast.stats import k_scan

        return k_scan(layers, k, curvature=curvature, metric=metric, symmetrize=symmetrize, method=method,
                      progress=progress, disconnected=disconnected, geodesic_sources=geodesic_sources, seed=seed,
                      **curvature_options)
    check_choice(disconnected, "disconnected", ("raise", "nan"))
    layers = list(layers)
    if len(layers) < 2:
        raise ValueError(f"layers: a flow needs at least 2 layers (4 for the global coefficient), got {len(layers)}.")
    given = [isinstance(layer, LayerCurvature) for layer in layers]
    if any(given) and not all(given):
        raise TypeError("layers: pass either all activations or all LayerCurvature objects, not a mix.")
    if all(given):
        kinds = {layer.kind for layer in layers}
        if len(kinds) > 1:
            raise ValueError(f"layers: LayerCurvature objects of different curvature kinds {sorted(kinds)}.")
        check_same_points([layer.n_points for layer in layers])
    else:
        check_choice(curvature, "curvature", CURVATURES)
        # activations on a GPU stay there for the k-NN search (only the neighbour table comes back)
        arrays = [
            as_activation_tensor(acts, layer=i) if is_device_tensor(acts) else as_activation_array(acts, layer=i)
            for i, acts in enumerate(layers)
        ]
        check_same_points([a.shape[0] for a in arrays])
        for i, a in enumerate(arrays):
            check_k(k, a.shape[0], layer=i)

    if geodesic_sources is not None and (isinstance(geodesic_sources, bool) or int(geodesic_sources) < 1):
        raise ValueError(f"geodesic_sources must be a positive integer, got {geodesic_sources!r}.")
    n_layers = len(layers)
    computed: list[LayerCurvature] = []
    former_dist: list[np.ndarray] = []
    sampled = []
    bar = tqdm(total=n_layers, desc="ricci_flow", unit="layer", disable=not progress)
    try:
        for i in range(n_layers):
            if given[i]:
                layer = layers[i]
            else:
                graph = knn_graph(arrays[i], k, metric=metric, symmetrize=symmetrize, method=method)
                layer = curvature_of_graph(graph, curvature, geodesics=False, **curvature_options)
            previous = computed[-1].graph if i > 0 else None
            if geodesic_sources is not None:
                estimate = sampled_geodesic_sum(layer.graph, min(int(geodesic_sources), layer.n_points),
                                                seed=None if seed is None else seed + i)
                sampled.append(estimate)
                if previous is not None:
                    _, dist = run_bfs(layer.graph, sums=False, targets=previous)
                    former_dist.append(np.where(dist < 0, np.inf, dist.astype(np.float64)))
                computed.append(layer)
                bar.update()
                continue
            want_sums = layer.node_geodesic_sums is None
            if want_sums or previous is not None:
                sums, dist = run_bfs(layer.graph, sums=want_sums, targets=previous)
                if want_sums:
                    # a copy, so a LayerCurvature the caller passed in is left as it was
                    layer = dataclasses.replace(
                        layer,
                        node_geodesic_sums=(
                            sums.astype(np.float64) if layer.n_components == 1 else np.full(layer.n_points, np.inf)
                        ),
                    )
                if dist is not None:
                    former_dist.append(np.where(dist < 0, np.inf, dist.astype(np.float64)))
            computed.append(layer)
            bar.update()
    finally:
        bar.close()
    return _coefficients(computed, former_dist, disconnected, sampled or None)


def _coefficients(layers: list[LayerCurvature], former_dist: list[np.ndarray], disconnected: str,
                  sampled=None) -> RicciFlow:
    n_layers = len(layers)
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
        detail = ", ".join(f"layer {i} ({components[i]} components)" for i in infinite)
        if disconnected == "raise":
            raise ValueError(
                f"the k-NN graphs of {detail} are disconnected, so their geodesic sums are infinite and the "
                f"global Ricci coefficient is undefined; raise k, use symmetrize='union', or pass "
                f"disconnected='nan' to get NaN for it (per-layer and local coefficients skip unreachable pairs)."
            )
        warnings.warn(f"global coefficient is NaN: {detail} disconnected (infinite geodesic sum).", stacklevel=3)
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
