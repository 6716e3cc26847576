"""Statistics for claims about Ricci flows (docs/definitions.md section 4; issue 12).

- `pooled_coefficient(flows)`: Baptista et al. (2024)'s statistic, one Pearson correlation over all
  transitions of all (well-trained) networks of an architecture.
- `permutation_pvalue(curvature, eta)`: exact permutation p-value of a global coefficient over its few
  transitions (`RicciFlow.permutation_pvalue()` calls it).
- `subsample_interval(layers, k)`: an interval for a flow statistic from probe subsets drawn WITHOUT
  replacement (resampling with replacement duplicates points, and duplicates are distance-0 neighbours
  that the k-NN tie rule turns into artefacts).
- `bootstrap_correlation(x, y)`: a bootstrap over networks for, e.g., corr(coefficient, accuracy).
- `k_scan(layers, ks)`: one flow per k from one neighbour search per layer (`ricci_flow(layers, k=[...])`).
- Hehl, von Renesse and Weber (2025)'s tools: `early_stopping_epoch` and `select_depth`, and the
  community measures of their code, `modularity` and `normalized_cut` of the class partition.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ricci_fast.flow import RicciFlow, pearson

ALTERNATIVES = ("less", "greater", "two-sided")
#: Up to this many transitions, permutation_pvalue enumerates every permutation (8! = 40,320).
EXACT_MAX_TRANSITIONS = 8
# permutations whose statistic equals the observed one up to rounding count as "at least as extreme"
_TIE_TOL = 1e-12


# --- pooled coefficient -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PooledCoefficient:
    """One Pearson correlation over the (total curvature of layer l, g_{l+1} - g_l) pairs of all kept
    flows.  `float(result)` is the coefficient.  pvalue is the usual t-test of a Pearson correlation
    (as R's cor.test that Baptista et al. use); transitions of one network are not independent, so
    read it as descriptive."""

    coefficient: float
    n_flows: int
    n_transitions: int
    n_skipped: int
    pvalue: float
    kept: tuple = field(default=(), repr=False)

    def __float__(self) -> float:
        return float(self.coefficient)


def pooled_coefficient(flows, accuracies=None, threshold: float | None = None) -> PooledCoefficient:
    """Baptista et al. (2024)'s pooled global Ricci coefficient of a set of networks.

    flows: RicciFlow objects (a list, or a dict whose values are flows).  With accuracies (one per flow)
    and threshold, only networks with accuracy > threshold are kept (their code: test accuracy > 0.98,
    anthbapt/Ricci-NN fMNIST_kNN_RCoef_eval.r).  Flows with an infinite or NaN geodesic change are
    skipped and counted (their code drops networks with infinite geodesics).  The statistic is one
    Pearson correlation of total curvature at layer l with g_{l+1} - g_l over all transitions of all
    kept networks; NaN (with a warning) if fewer than 3 transitions remain.
    """
    flows = list(flows.values()) if isinstance(flows, Mapping) else list(flows)
    for i, flow in enumerate(flows):
        if not isinstance(flow, RicciFlow):
            raise TypeError(f"flows[{i}]: expected a RicciFlow, got {type(flow).__name__}.")
    if accuracies is not None:
        accuracies = np.asarray(accuracies, dtype=np.float64)
        if accuracies.shape != (len(flows),):
            raise ValueError(f"accuracies: expected one per flow ({len(flows)}), got shape {accuracies.shape}.")
    if threshold is not None and accuracies is None:
        raise ValueError("threshold needs accuracies (one per flow).")
    kept, skipped = [], 0
    xs, ys = [], []
    for i, flow in enumerate(flows):
        if threshold is not None and not accuracies[i] > threshold:
            continue
        x = np.asarray(flow.total_curvature[:-1], dtype=np.float64)
        y = np.asarray(flow.eta, dtype=np.float64)
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            skipped += 1
            continue
        kept.append(i)
        xs.append(x)
        ys.append(y)
    x = np.concatenate(xs) if xs else np.zeros(0)
    y = np.concatenate(ys) if ys else np.zeros(0)
    if x.size < 3:
        warnings.warn(f"pooled_coefficient: {x.size} transitions from {len(kept)} flows; need at least 3.", stacklevel=2)
        rho, p = float("nan"), float("nan")
    else:
        rho = pearson(x, y)
        p = _pearson_t_pvalue(rho, x.size)
    return PooledCoefficient(rho, len(kept), int(x.size), skipped, p, tuple(kept))


def pooled_coefficient_interval(flows, accuracies=None, threshold: float | None = None, *,
                                n_resamples: int = 2000, level: float = 0.95, seed=0) -> Interval:
    """The pooled coefficient with a percentile bootstrap interval over networks: the kept networks
    (as pooled_coefficient selects them) are resampled with replacement and their transitions pooled
    again.  A network's transitions stay together, so the interval respects that they are not
    independent."""
    level = _check_level(level)
    flows = list(flows.values()) if isinstance(flows, Mapping) else list(flows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pooled = pooled_coefficient(flows, accuracies, threshold)
    kept = [flows[i] for i in pooled.kept]
    if len(kept) < 2:
        return Interval(pooled.coefficient, float("nan"), float("nan"), level, 0, "bootstrap over networks", np.zeros(0))
    xs = [np.asarray(f.total_curvature[:-1], np.float64) for f in kept]
    ys = [np.asarray(f.eta, np.float64) for f in kept]
    rng = np.random.default_rng(seed)
    values = np.empty(int(n_resamples))
    for r in range(int(n_resamples)):
        pick = rng.integers(0, len(kept), size=len(kept))
        values[r] = pearson(np.concatenate([xs[i] for i in pick]), np.concatenate([ys[i] for i in pick]))
    low, high = _percentiles(values, level)
    return Interval(pooled.coefficient, low, high, level, int(n_resamples), "bootstrap over networks", values)


def _pearson_t_pvalue(rho: float, n: int) -> float:
    if not np.isfinite(rho) or n < 3:
        return float("nan")
    from scipy import stats

    if abs(rho) >= 1.0:
        return 0.0
    t = rho * math.sqrt((n - 2) / (1.0 - rho * rho))
    return float(2.0 * stats.t.sf(abs(t), n - 2))


# --- permutation p-value ------------------------------------------------------------------------------


def permutation_pvalue(curvature, eta, alternative: str = "less", *, n_resamples: int = 100_000,
                       seed=0) -> float:
    """Permutation p-value of the Pearson correlation of two short series (a global coefficient: total
    curvature at layers 0..L-2 against the geodesic changes eta_0..eta_{L-2}).

    Null hypothesis: curvature carries no information on which transition expands, so every assignment
    of the eta values to the transitions is equally likely.  alternative="less" (default): one-sided,
    against a negative (Ricci-flow-like) coefficient; p = share of permutations whose coefficient is <=
    the observed one.  "greater": share >=; "two-sided": share with |coefficient| >= |observed|.
    The observed permutation is one of them, so p >= 1/T!.  Up to EXACT_MAX_TRANSITIONS transitions
    every permutation is enumerated (exact); beyond, n_resamples random permutations give (1 + hits) /
    (1 + n_resamples).  NaN if the coefficient is undefined.  With T transitions no p-value is below
    1/T!: a global coefficient over the minimum of 3 transitions (4 layers) has p >= 1/6, over 4
    transitions p >= 1/24, so a short network can never show significance on its own; pool networks
    (`pooled_coefficient`) for that.
    """
    from ricci_fast._validation import check_choice

    check_choice(alternative, "alternative", ALTERNATIVES)
    x = np.asarray(curvature, dtype=np.float64).ravel()
    y = np.asarray(eta, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"curvature and eta must have the same length, got {x.size} and {y.size}.")
    if x.size < 2 or not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        return float("nan")
    observed = pearson(x, y)
    if not np.isfinite(observed):
        return float("nan")
    n = x.size
    dx = x - x.mean()
    dy = y - y.mean()
    denom = math.sqrt(float(dx @ dx) * float(dy @ dy))
    if n <= EXACT_MAX_TRANSITIONS:
        perms = np.array(list(itertools.permutations(range(n))), dtype=np.int64)
        exact = True
    else:
        if isinstance(n_resamples, bool) or int(n_resamples) < 1:
            raise ValueError(f"n_resamples must be a positive integer, got {n_resamples!r}.")
        rng = np.random.default_rng(seed)
        perms = np.argsort(rng.random((int(n_resamples), n)), axis=1)
        exact = False
    values = (dy[perms] @ dx) / denom
    tol = _TIE_TOL * max(1.0, abs(observed))
    if alternative == "less":
        hits = np.count_nonzero(values <= observed + tol)
    elif alternative == "greater":
        hits = np.count_nonzero(values >= observed - tol)
    else:
        hits = np.count_nonzero(np.abs(values) >= abs(observed) - tol)
    if exact:
        return float(hits / perms.shape[0])
    return float((1 + hits) / (1 + perms.shape[0]))


# --- intervals ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """A point estimate with a percentile interval from resamples (values: the resampled statistics)."""

    estimate: float
    low: float
    high: float
    level: float
    n_resamples: int
    method: str
    values: np.ndarray = field(repr=False)

    def __str__(self) -> str:
        return f"{self.estimate:+.3f} [{self.low:+.3f}, {self.high:+.3f}]"


def _percentiles(values: np.ndarray, level: float) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan"), float("nan")
    alpha = (1.0 - level) / 2.0
    return float(np.quantile(finite, alpha)), float(np.quantile(finite, 1.0 - alpha))


def _check_level(level) -> float:
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), e.g. 0.95, got {level!r}.")
    return float(level)


def subsample_indices(n_points: int, size: int, n_resamples: int, seed=0) -> np.ndarray:
    """(n_resamples, size) probe-point indices, each row `size` distinct points in increasing order
    (drawn without replacement, so no point ever appears twice in a subset)."""
    if not 2 <= size <= n_points:
        raise ValueError(f"subset size must lie in [2, {n_points}], got {size}.")
    rng = np.random.default_rng(seed)
    return np.sort(np.argsort(rng.random((n_resamples, n_points)), axis=1)[:, :size], axis=1)


_STATISTICS = {
    "global": lambda flow: flow.global_coefficient,
    "mean_local": lambda flow: flow.mean_local_coefficient,
    "negative_local_share": lambda flow: float(np.mean(
        flow.local_coefficients[np.isfinite(flow.local_coefficients)] < 0)),
}


def subsample_interval(layers, k: int = 30, *, statistic="global", fraction: float = 0.8,
                       n_resamples: int = 100, level: float = 0.95, seed=0, scale_k: bool = True,
                       progress: bool = False, **flow_options) -> Interval:
    """An interval for a flow statistic from probe subsets drawn without replacement (subsampling).

    Each resample keeps the same round(fraction * N) distinct probe points in every layer and recomputes
    the flow; the interval is the percentile interval of the resampled statistics.  It shows how much
    the statistic depends on which probe points were drawn.  scale_k (default): the subsets use
    k' = round(k * fraction), so the neighbourhood holds the same share k/N of the points (at a fixed
    k a smaller probe set sees a coarser scale, which shifts the coefficients: on a trained network
    the mean local coefficient moved by more than the spread between subsets).  Never with
    replacement: a duplicated point is its copy's nearest neighbour at distance 0, which the k-NN tie
    rule turns into an artefact.
    statistic: "global", "mean_local", "negative_local_share", or a function of a RicciFlow.
    flow_options go to ricci_flow (curvature, disconnected, ...); disconnected resamples give NaN,
    which the interval leaves out (their count is n_resamples minus the finite values).
    """
    from ricci_fast.flow import ricci_flow

    level = _check_level(level)
    func = _STATISTICS.get(statistic) if isinstance(statistic, str) else statistic
    if func is None or not callable(func):
        raise ValueError(f"statistic must be one of {sorted(_STATISTICS)} or a function of a RicciFlow, got {statistic!r}.")
    names = None
    if isinstance(layers, Mapping):
        names = list(layers)
        layers = [layers[name] for name in names]
    layers = [np.asarray(layer) if not hasattr(layer, "detach") else layer.detach().cpu().numpy() for layer in layers]
    n_points = layers[0].shape[0]
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must lie in (0, 1], got {fraction!r}.")
    if isinstance(n_resamples, bool) or int(n_resamples) < 1:
        raise ValueError(f"n_resamples must be a positive integer, got {n_resamples!r}.")
    size = int(round(fraction * n_points))
    flow_options.setdefault("disconnected", "nan")
    flow_options["progress"] = False

    def run(rows):
        chosen = [layer[rows] for layer in layers]
        k_used = max(1, int(round(k * rows.size / n_points))) if scale_k else k
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            flow = ricci_flow(dict(zip(names, chosen)) if names else chosen, k_used, **flow_options)
        return float(func(flow))

    estimate = run(np.arange(n_points))
    subsets = subsample_indices(n_points, size, int(n_resamples), seed)
    from tqdm.auto import tqdm

    values = np.array([run(rows) for rows in tqdm(subsets, desc="subsample", disable=not progress)])
    low, high = _percentiles(values, level)
    k_sub = max(1, int(round(k * size / n_points))) if scale_k else k
    return Interval(estimate, low, high, level, int(n_resamples),
                    f"subsample without replacement, m={size} of {n_points}, k={k_sub}", values)


def bootstrap_correlation(x, y, *, n_resamples: int = 2000, level: float = 0.95, seed=0) -> Interval:
    """Pearson correlation of x and y (e.g. each network's coefficient and its accuracy) with a
    percentile bootstrap interval over networks: networks, not probe points, are resampled with
    replacement (a repeated network is a legitimate draw; nothing is rebuilt from it).  Pairs with a
    NaN are left out first.  Resamples in which x or y is constant give NaN and are left out."""
    level = _check_level(level)
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same length, got {x.size} and {y.size}.")
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    estimate = pearson(x, y) if x.size >= 3 else float("nan")
    if x.size < 3:
        return Interval(estimate, float("nan"), float("nan"), level, 0, "bootstrap over networks", np.zeros(0))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(int(n_resamples), x.size))
    values = _rowwise_corr(x[idx], y[idx])
    low, high = _percentiles(values, level)
    return Interval(estimate, low, high, level, int(n_resamples), "bootstrap over networks", values)


def _rowwise_corr(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    da = A - A.mean(axis=1, keepdims=True)
    db = B - B.mean(axis=1, keepdims=True)
    num = np.einsum("ij,ij->i", da, db)
    den = np.sqrt(np.einsum("ij,ij->i", da, da) * np.einsum("ij,ij->i", db, db))
    constant = np.all(A == A[:, :1], axis=1) | np.all(B == B[:, :1], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den
    out[constant] = np.nan
    return out


# --- k-scan --------------------------------------------------------------------------------------------


def k_scan(layers, ks, *, curvature: str | None = None, metric: str | None = None, symmetrize: str | None = None,
           method: str | None = None, progress: bool = True, **flow_options) -> dict:
    """One RicciFlow per k, keyed by k (`ricci_flow(layers, k=[...])` lands here).

    Each layer's neighbour table is searched once, at the largest k; every smaller k takes the first
    k columns of that table (same tie rule) through the same symmetrisation (`graph.restrict_k`), and
    then the same path as ricci_flow (connectivity policy, curvature, geodesics), so each flow is
    identical to a separate ricci_flow(layers, k) call for exact search, at little more than one
    search's cost.  flow_options (disconnected, geodesic_sources, seed, curvature options) go to every
    flow.
    """
    from tqdm.auto import tqdm

    from ricci_fast._validation import as_activation_array, as_activation_tensor, check_k, check_same_points, is_device_tensor
    from ricci_fast.curvature import LayerCurvature
    from ricci_fast.flow import _named_layers, ricci_flow
    from ricci_fast.graph import knn_graph

    ks = list(ks)
    if not ks:
        raise ValueError("k: an empty list of k values; pass e.g. k=[20, 50, 125].")
    for value in ks:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"k: every k must be an integer, got {value!r}.")
    if len(set(int(v) for v in ks)) != len(ks):
        raise ValueError(f"k: duplicate values in {ks}.")
    names, items = _named_layers(layers)
    if any(isinstance(layer, LayerCurvature) for layer in items):
        raise TypeError("k as a list needs activations (a LayerCurvature already has its k).")
    arrays = [as_activation_tensor(a, layer=repr(n)) if is_device_tensor(a) else as_activation_array(a, layer=repr(n))
              for n, a in zip(names, items)]
    check_same_points([a.shape[0] for a in arrays])
    for name, a in zip(names, arrays):
        for value in ks:
            check_k(int(value), a.shape[0], layer=repr(name))
    k_max = max(int(v) for v in ks)
    tables = [knn_graph(a, k_max, metric=metric or "euclidean", symmetrize=symmetrize or "union", method=method or "auto")
              for a in tqdm(arrays, desc="k-NN tables", unit="layer", disable=not progress)]
    named = dict(zip(names, arrays))
    out = {}
    for value in tqdm(sorted(int(v) for v in ks), desc="k-scan", unit="k", disable=not progress):
        out[value] = ricci_flow(named, value, curvature=curvature, metric=metric, symmetrize=symmetrize, method=method,
                                progress=False, _knn_tables=tables, **flow_options)
    return {int(v): out[int(v)] for v in ks}


# --- Hehl et al. (2025): early stopping and depth ----------------------------------------------------------
#
# The paper's sections 4.3 (overfitting) and 4.4 (layer Ricci coefficients and depth) could not be read
# from here (only the abstract, which names "a geometry-informed early-stopping heuristic and a criterion
# for selecting network depth").  Both rules below are reconstructed from the authors' code and the
# figures stored in its notebooks (Weber-GeoML/Ricci-Flow_Feature-Geometry, README: "Section 4.3:
# overfitting.ipynb", "Section 4.4: layer_ricci_coefficients.ipynb"); docs/definitions.md section 7 says
# what was read.

#: Default tolerance of the depth rule: layer coefficients within this of the most negative one count as
#: doing the same Ricci-flow-like work (read off their figures, see effective_depth).
DEPTH_TOLERANCE = 0.1


def early_stopping_epoch(history, column: str = "mean_local_coefficient", *, patience: int = 2,
                         min_delta: float = 0.0):
    """Geometry-informed early stopping (Hehl, von Renesse and Weber 2025, arXiv 2509.22362, section 4.3;
    reconstructed from their experiments/overfitting.ipynb, see docs/definitions.md section 7).

    Their notebook records the mean (nanmean over probe points) local Ricci evolution coefficient of the
    network every 10 epochs (approximate Ollivier-Ricci, k = 50, the test points as probe, layers input +
    hidden + sigmoid output).  In every stored figure (MNIST 1/7 and 6/9, Fashion-MNIST shoes and
    apparel, CIFAR 0/1) it falls while test accuracy climbs, reaches its minimum when test accuracy
    reaches its plateau, and then stays flat or rises again (Fashion-MNIST apparel: -0.85 at epoch 50,
    -0.53 at 70; CIFAR: minimum at 50, -0.43 at 200).  The heuristic: the epoch with the lowest mean local
    coefficient is the one to stop at (restore), decided once `patience` later records have not lowered
    it by more than min_delta.  The rule fires only after the coefficient has fallen below its first
    record: an untrained network's coefficient is noise about 0 and often rises in the first epochs
    before it falls (digits 3/8, 4 layers: -0.06, +0.13, +0.10, ... then down), and stopping at the
    untrained state would be no heuristic at all.

    history: a RicciFlowMonitor.history DataFrame (index: epoch), a pandas Series, or a mapping
    epoch -> value; column: the history column (default the mean local coefficient).  Returns the best
    epoch once the rule has fired, else None (keep training).  NaN records (disconnected layers) are
    skipped; rows without a flow (flow_computed False) are NaN there and skipped too.
    """
    if isinstance(patience, bool) or not isinstance(patience, (int, np.integer)) or int(patience) < 1:
        raise ValueError(f"patience must be a positive integer, got {patience!r}.")
    if isinstance(min_delta, bool) or not isinstance(min_delta, (int, float, np.integer, np.floating)) \
            or not np.isfinite(min_delta) or min_delta < 0:
        raise ValueError(f"min_delta must be a finite number >= 0, got {min_delta!r}.")
    if isinstance(history, pd.DataFrame) and history.empty:
        return None  # a monitor before its first step: nothing recorded yet
    series = _as_series(history, column)
    first, best_epoch, best_value, waited = None, None, np.inf, 0
    for epoch, value in series.items():
        if not np.isfinite(value):
            continue
        if first is None:
            first = epoch
        if value < best_value - min_delta:
            best_epoch, best_value, waited = epoch, value, 0
        elif best_epoch != first:
            waited += 1
            if waited >= int(patience):
                return best_epoch
    return None


def _as_series(history, column) -> pd.Series:
    if isinstance(history, pd.DataFrame):
        if column not in history.columns:
            raise ValueError(f"history: no column {column!r}; it has {list(history.columns)}.")
        series = history[column]
    elif isinstance(history, pd.Series):
        series = history
    elif isinstance(history, Mapping):
        series = pd.Series(dict(history), dtype=np.float64)
    else:
        raise TypeError(f"history: expected a DataFrame (RicciFlowMonitor.history), Series or dict, got {type(history).__name__}.")
    try:
        series = series.astype(np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"history: the values of {column!r} must be real numbers.") from None
    if not series.index.is_unique:
        raise ValueError("history: an epoch appears twice; pass one record per epoch.")
    return series.sort_index()


def _check_tolerance(tolerance) -> float:
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float, np.integer, np.floating)) \
            or not np.isfinite(tolerance) or tolerance < 0:
        raise ValueError(f"tolerance must be a finite number >= 0 (e.g. {DEPTH_TOLERANCE}), got {tolerance!r}.")
    return float(tolerance)


def _curve(value, what) -> np.ndarray:
    """One network's layer coefficients, or the mean of several networks' (their notebook averages the
    networks of a depth transition by transition)."""
    if isinstance(value, RicciFlow):
        return np.asarray(value.layer_coefficients, dtype=np.float64)
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, RicciFlow) for v in value):
        value = [v.layer_coefficients for v in value]
    kinds = "a RicciFlow, an array over transitions, or a list of either for several networks"
    if value is None or isinstance(value, (str, bytes, bool, int, float, np.generic, Mapping)):
        raise TypeError(f"{what}: expected layer coefficients ({kinds}), got {type(value).__name__}.")
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        lengths = {len(v) for v in value if hasattr(v, "__len__")} if isinstance(value, (list, tuple)) else set()
        if len(lengths) > 1:
            raise ValueError(f"{what}: the networks' coefficient arrays have different lengths {sorted(lengths)}; "
                             f"average networks of one depth only.") from None
        raise TypeError(f"{what}: expected layer coefficients ({kinds}), got {type(value).__name__}.") from None
    if array.ndim == 2:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a transition NaN in every network stays NaN
            array = np.nanmean(array, axis=0)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{what}: expected a non-empty 1-D array over transitions (or 2-D: networks x "
                         f"transitions), got shape {array.shape}.")
    return array


def effective_depth(layer_coefficients, tolerance: float = DEPTH_TOLERANCE) -> int:
    """How many leading transitions do the network's Ricci-flow-like work (Hehl et al. 2025, section
    4.4; reconstructed from experiments/layer_ricci_coefficient.ipynb, see docs/definitions.md section 7).

    Their figures (layer Ricci coefficients of trained networks of depth 6-18, averaged over 50 networks
    per depth) show the same shape on every data set: the coefficients fall to a deep minimum within the
    first transitions (Syn-I: transition 6, about -0.6; MNIST 1/7: 4-5; Fashion-MNIST shoes: 9-11), and
    from there climb steadily towards 0 in every deeper network; the extra layers of a deeper network
    only add that climb.  The effective depth is the number of transitions up to the last one whose
    coefficient lies within `tolerance` of the most negative one: the network does Ricci-flow-like work
    as long as its layer coefficients stay near their minimum, however the climb after it wiggles (their
    averages wiggle by up to 0.05 there; Syn-I's second dip at transition 6 lies 0.07 above its first at
    2, and both belong to the work).  All transitions if the last one is (near) the lowest: the network
    may need more depth.  NaN coefficients are skipped; 0 if none is finite.

    layer_coefficients: a RicciFlow (its layer_coefficients), an array over transitions, or several
    networks' (2-D, or a list of flows), averaged per transition.
    """
    tolerance = _check_tolerance(tolerance)
    values = _curve(layer_coefficients, "layer_coefficients")
    where = np.flatnonzero(np.isfinite(values))
    if where.size == 0:
        return 0
    v = values[where]
    bottom = np.flatnonzero(v <= v.min() + tolerance)[-1]
    return int(where[bottom] + 1)


def select_depth(layer_coefficients, tolerance: float = DEPTH_TOLERANCE) -> int:
    """Depth-selection criterion of Hehl et al. (2025), section 4.4 (reconstructed from
    experiments/layer_ricci_coefficient.ipynb; docs/definitions.md section 7): the shallowest network
    that still holds every transition the deepest network uses for Ricci-flow-like work.

    layer_coefficients: a mapping depth -> layer coefficients of the networks of that depth (a RicciFlow,
    an array over transitions, or several networks' as a 2-D array or list of flows, averaged per
    transition as in their notebook); depths are the keys (e.g. hidden layers, as their DNN(depth=)).
    The deepest network has the most room to show where its coefficients turn to climb towards 0: its
    `effective_depth` m is the number of transitions that matter, and the answer is the smallest depth
    whose networks have at least m transitions.  If the deepest network's last transition is still
    within tolerance of its lowest coefficient, the answer is the deepest depth, with a warning (the grid
    may be too shallow).
    One network (not a mapping): its effective_depth.
    """
    tolerance = _check_tolerance(tolerance)
    if not isinstance(layer_coefficients, Mapping):
        return effective_depth(layer_coefficients, tolerance)
    if not layer_coefficients:
        raise ValueError("layer_coefficients: an empty mapping; pass {depth: layer coefficients, ...}.")
    curves = {}
    for depth, value in layer_coefficients.items():
        if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or int(depth) < 1:
            raise TypeError(f"layer_coefficients: depths (the keys) must be positive integers, got {depth!r}.")
        curves[int(depth)] = _curve(value, f"layer_coefficients[{depth}]")
    deepest = max(curves)
    needed = effective_depth(curves[deepest], tolerance)
    if needed == 0:
        raise ValueError(f"layer_coefficients[{deepest}]: no finite layer coefficient in the deepest network.")
    if needed == curves[deepest].size:
        warnings.warn(f"select_depth: the deepest network (depth {deepest}) is still at its lowest layer coefficient "
                      f"(within tolerance {tolerance}) at its last transition; deeper networks may do more "
                      f"Ricci-flow-like work.",
                      stacklevel=2)
    return min(depth for depth, curve in curves.items() if curve.size >= needed)


# --- community measures of Hehl et al.'s code (community_structure.py) ----------------------------------------


def _partition(graph, labels):
    labels = np.asarray(labels)
    if labels.shape != (graph.n_nodes,):
        raise ValueError(f"labels: expected one label per node, shape ({graph.n_nodes},), got {labels.shape}.")
    _, codes = np.unique(labels, return_inverse=True)
    rows = np.repeat(np.arange(graph.n_nodes), graph.degrees)
    same = codes[rows] == codes[graph.indices]
    return codes, rows, same


def modularity(graph, labels) -> float:
    """Newman's modularity of the partition of the graph's nodes by label (resolution 1):
    Q = sum_c [ L_c / m - (d_c / 2m)^2 ], L_c the edges inside class c, d_c its degree sum, m the edges;
    as networkx.community.modularity, which Hehl et al.'s community_structure.py calls.  NaN for a
    graph without edges."""
    codes, rows, same = _partition(graph, labels)
    m = graph.n_edges
    if m == 0:
        return float("nan")
    n_classes = codes.max() + 1
    inside = np.bincount(codes[rows[same]], minlength=n_classes) / 2.0
    degree = np.bincount(codes, weights=graph.degrees, minlength=n_classes)
    return float(np.sum(inside / m - (degree / (2.0 * m)) ** 2))


def normalized_cut(graph, labels) -> float:
    """Normalised cut of the class partition, as Hehl et al.'s community_structure.py computes it:
    0.5 * sum_c cut(c, rest) / vol(c) (for two classes 0.5 * cut(S, T) * (1/vol S + 1/vol T), i.e.
    half of networkx's normalized_cut_size).  0: classes are disconnected from each other; NaN if a
    class has no edges at all (volume 0)."""
    codes, rows, same = _partition(graph, labels)
    n_classes = codes.max() + 1
    volume = np.bincount(codes, weights=graph.degrees, minlength=n_classes)
    cut = np.bincount(codes[rows[~same]], minlength=n_classes).astype(np.float64)
    if np.any(volume == 0):
        return float("nan")
    return float(0.5 * np.sum(cut / volume))


def community_measures(flow: RicciFlow, labels) -> pd.DataFrame:
    """Per layer: modularity, normalised cut and curvature gap of the class partition on the layer's
    graph (Hehl et al. 2025, section 4.2: class separability emerges as community structure)."""
    from ricci_fast.curvature import curvature_gap

    rows = []
    names = getattr(flow, "layer_names", None) or tuple(str(i) for i in range(flow.n_layers))
    for name, layer in zip(names, flow.layers):
        rows.append({"layer": name, "modularity": modularity(layer.graph, labels),
                     "normalized_cut": normalized_cut(layer.graph, labels),
                     "curvature_gap": curvature_gap(layer, labels)})
    return pd.DataFrame(rows).set_index("layer")


__all__ = [
    "DEPTH_TOLERANCE",
    "EXACT_MAX_TRANSITIONS",
    "Interval",
    "PooledCoefficient",
    "bootstrap_correlation",
    "community_measures",
    "early_stopping_epoch",
    "effective_depth",
    "k_scan",
    "modularity",
    "normalized_cut",
    "permutation_pvalue",
    "pooled_coefficient",
    "pooled_coefficient_interval",
    "select_depth",
    "subsample_indices",
    "subsample_interval",
]
