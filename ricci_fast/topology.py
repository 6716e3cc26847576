"""Topology and intrinsic dimension of a layer, next to its curvature (pip install 'ricci_fast[topology]').

- Betti numbers by Naitzat, Zhitnikov and Lim's recipe ("Topology of deep neural networks", 2020): per
  class, duplicates dropped, the k-NN graph, hop distances, and the homology of the clique complex of
  "hop distance <= scale" (one fixed scale); or, as an option, of the Euclidean Vietoris-Rips complex at
  a radius tied to the k-NN radius.  ripser computes the persistence; it always gets a threshold, and a
  complex larger than `max_edges` is refused with a message (a noisy high-dimensional layer can make the
  clique complex explode).
- H0 persistence from the exact Euclidean minimum spanning tree (kernels/mst.py, O(n) memory): the
  lifespans sum L_0 and the persistent-homology dimension PHdim_0 (Magai 2023) from random subsamples.
- TwoNN (Facco et al. 2017) and MLE (Levina and Bickel 2004, MacKay-Ghahramani averaging) intrinsic
  dimension from the k-NN distances the graph already has.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ricci_fast._validation import as_activation_array, check_choice, check_k
from ricci_fast.graph import knn_graph
from ricci_fast.kernels import mst as _mst

#: Largest number of edges (pairs within the scale) handed to ripser before it is refused.
MAX_EDGES = 2_000_000


def _ripser():
    try:
        from ripser import ripser
    except ImportError:
        raise ImportError("topology needs ripser: pip install 'ricci_fast[topology]'.") from None
    return ripser


class TopologyTooLarge(RuntimeError):
    """The complex handed to ripser would exceed the size limit (see MAX_EDGES)."""


def _betti_at(diagrams, scale: float) -> list[int]:
    """Bars alive at `scale`: born at or before it, dying after it (or never)."""
    return [int(np.count_nonzero((d[:, 0] <= scale) & (d[:, 1] > scale))) for d in diagrams]


def hop_distance_matrix(graph, scale: int) -> sp.coo_matrix:
    """Sparse hop distances up to `scale` (pairs further apart are absent, i.e. infinite), without the
    diagonal.  O(n deg^scale) memory, never n x n."""
    A = graph.to_scipy().astype(bool).tocsr()
    n = graph.n_nodes
    eye = sp.identity(n, dtype=bool, format="csr")
    reached = (A + eye).astype(bool)
    dist = A.astype(np.float64)
    power = A
    for hops in range(2, int(scale) + 1):
        power = (power @ A).astype(bool)
        new = (power > reached).tocsr()  # reachable in `hops` steps, not fewer
        new.eliminate_zeros()
        dist = dist + new.astype(np.float64) * hops
        reached = (reached + new).astype(bool)
    return dist.tocoo()


def hop_betti(X, k: int = 14, scale: int = 2, maxdim: int = 1, max_edges: int = MAX_EDGES):
    """Betti numbers [b_0..b_maxdim] of the clique complex of "hop distance <= scale" in the k-NN graph
    of the distinct rows of X, with the persistence diagrams of the hop filtration."""
    X = np.unique(np.asarray(X, dtype=np.float64), axis=0)
    k = check_k(k, X.shape[0])
    graph = knn_graph(X, k)
    D = hop_distance_matrix(graph, scale)
    if D.nnz // 2 > max_edges:
        raise TopologyTooLarge(
            f"the hop-{scale} complex of {X.shape[0]} points has {D.nnz // 2} edges (limit {max_edges}); lower "
            f"k or scale, subsample, or raise max_edges."
        )
    # ripser needs the diagonal present in sparse input
    D = sp.coo_matrix((np.concatenate([D.data, np.zeros(X.shape[0])]),
                       (np.concatenate([D.row, np.arange(X.shape[0])]), np.concatenate([D.col, np.arange(X.shape[0])]))),
                      shape=D.shape)
    result = _ripser()(D, distance_matrix=True, maxdim=maxdim, thresh=float(scale))
    return _betti_at(result["dgms"], float(scale)), result["dgms"]


def _pairs_within(X, radius, block=2048):
    sq = np.einsum("ij,ij->i", X, X)
    count = 0
    for start in range(0, X.shape[0], block):
        D = sq[start:start + block, None] + sq[None, :] - 2 * X[start:start + block] @ X.T
        count += int(np.count_nonzero(D <= radius * radius))
    return (count - X.shape[0]) // 2


def euclidean_betti(X, k: int = 15, radius_factor: float = 2.0, maxdim: int = 1, max_edges: int = MAX_EDGES):
    """Betti numbers of the Euclidean Vietoris-Rips complex at radius_factor x the median distance to
    the k-th neighbour, with its persistence diagrams and the radius."""
    X = np.unique(np.asarray(X, dtype=np.float64), axis=0)
    k = check_k(k, X.shape[0])
    radius = radius_factor * float(np.median(knn_graph(X, k).knn_distances[:, -1]))
    edges = _pairs_within(X, radius)
    if edges > max_edges:
        raise TopologyTooLarge(
            f"the Vietoris-Rips complex of {X.shape[0]} points at radius {radius:.3g} has {edges} edges (limit "
            f"{max_edges}); lower radius_factor or k, subsample, or raise max_edges."
        )
    result = _ripser()(X, maxdim=maxdim, thresh=radius)
    return _betti_at(result["dgms"], radius), result["dgms"], radius


def _minmax(X):
    lo, hi = X.min(axis=0), X.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    return np.ascontiguousarray((X - lo) / span)


def mst_lengths(X) -> np.ndarray:
    """Edge lengths of the exact Euclidean minimum spanning tree: the deaths of the finite H0 bars."""
    X = np.ascontiguousarray(np.asarray(X, dtype=np.float64))
    if X.shape[0] < 2:
        return np.zeros(0)
    return _mst.euclidean_mst(X)[2]


def lifespans_sum(X, alpha: float = 1.0, minmax: bool = True) -> float:
    """Magai's L_0 = 1/2 sum over finite H0 bars of (death - birth)^alpha, on min-max scaled data."""
    X = np.asarray(X, dtype=np.float64)
    return 0.5 * float(np.sum(mst_lengths(_minmax(X) if minmax else X) ** alpha))


def ph_dimension(X, alpha: float = 1.0, n_min: int = 50, n_max: int | None = 2000, n_sizes: int = 8,
                 repeats: int = 5, seed=None, minmax: bool = True):
    """PHdim_0 (Magai 2023): E(n) = L_0 of random subsamples of n points, n geometric from n_min to
    n_max; the slope m of log E against log n gives dimension alpha / (1 - m).

    Returns (dimension, slope, R^2 of the fit)."""
    X = np.asarray(X, dtype=np.float64)
    X = _minmax(X) if minmax else X
    n = X.shape[0]
    n_max = n if n_max is None else min(n, n_max)
    if n_max < max(n_min, 4) * 2:
        raise ValueError(f"PHdim needs at least {2 * max(n_min, 4)} points (n_min={n_min}), got {n_max}.")
    rng = np.random.default_rng(seed)
    sizes = np.unique(np.geomspace(n_min, n_max, n_sizes).astype(int))
    means = []
    for size in sizes:
        totals = [np.sum(mst_lengths(X[rng.choice(n, size=size, replace=False)]) ** alpha) for _ in range(repeats)]
        means.append(np.mean(totals))
    logn, loge = np.log(sizes), np.log(means)
    slope, intercept = np.polyfit(logn, loge, 1)
    fitted = slope * logn + intercept
    r2 = 1.0 - np.sum((loge - fitted) ** 2) / np.sum((loge - loge.mean()) ** 2)
    return float(alpha / (1.0 - slope)), float(slope), float(r2)


def twonn_dimension(knn_distances) -> float:
    """TwoNN maximum-likelihood estimate N / sum log(r2 / r1) from each point's two nearest distances
    (points with r1 = 0, duplicates, are left out)."""
    r = np.asarray(knn_distances, dtype=np.float64)
    if r.ndim != 2 or r.shape[1] < 2:
        raise ValueError("TwoNN needs at least the 2 nearest-neighbour distances per point (k >= 2).")
    ok = r[:, 0] > 0
    mu = r[ok, 1] / r[ok, 0]
    return float(mu.size / np.sum(np.log(mu)))


def mle_dimension(knn_distances) -> float:
    """Levina-Bickel MLE with MacKay-Ghahramani averaging over points, from the k nearest distances."""
    r = np.asarray(knn_distances, dtype=np.float64)
    k = r.shape[1]
    if k < 3:
        raise ValueError("the MLE dimension needs k >= 3 neighbour distances per point.")
    ok = r[:, 0] > 0
    logs = np.log(r[ok, -1][:, None] / r[ok, :-1])
    return float(1.0 / np.mean(logs.sum(axis=1) / (k - 1)))


@dataclass(eq=False)
class LayerTopology:
    """Per class (the key "all" without labels): Betti numbers [b_0..b_maxdim], omega (their sum),
    persistence diagrams, lifespans sum L_0, PHdim_0 with its fit, TwoNN and MLE intrinsic dimension."""

    betti: dict
    ph_dimension: dict
    intrinsic_dimension: dict
    mle_dimension: dict = field(default_factory=dict)
    lifespans: dict = field(default_factory=dict)
    ph_fit: dict = field(default_factory=dict, repr=False)
    diagrams: dict = field(default_factory=dict, repr=False)
    notes: dict = field(default_factory=dict)
    method: str = "hop"

    @property
    def omega(self) -> dict:
        return {key: (int(sum(b)) if b is not None else None) for key, b in self.betti.items()}

    def to_pandas(self) -> pd.DataFrame:
        rows = []
        for key in self.betti:
            row = {"class": key}
            betti = self.betti[key]
            if betti is not None:
                row.update({f"betti_{q}": b for q, b in enumerate(betti)})
                row["omega"] = int(sum(betti))
            row.update(
                ph_dimension=self.ph_dimension.get(key, np.nan),
                twonn_dimension=self.intrinsic_dimension.get(key, np.nan),
                mle_dimension=self.mle_dimension.get(key, np.nan),
                lifespans_sum_0=self.lifespans.get(key, np.nan),
                note=self.notes.get(key, ""),
            )
            rows.append(row)
        return pd.DataFrame(rows).set_index("class")


def layer_topology(acts, labels=None, *, maxdim: int = 1, k: int = 14, scale: int = 2, method: str = "hop",
                   radius_factor: float = 2.0, ph_dim: bool = True, ph_kwargs: dict | None = None,
                   max_edges: int = MAX_EDGES, on_limit: str = "warn", seed=0) -> LayerTopology:
    """Betti numbers, PHdim_0 and intrinsic dimension of one layer, per class.

    method "hop" (default): Naitzat et al.'s recipe with k neighbours (their choices: 14 for 2-D data,
    35 for 3-D) and the clique complex of hop distance <= scale; "euclidean": Vietoris-Rips at
    radius_factor x the median k-th-neighbour distance.  Duplicate points are dropped per class first.
    on_limit: "warn" turns a complex over max_edges into None Betti numbers with a warning and a note;
    "raise" raises TopologyTooLarge.
    """
    check_choice(method, "method", ("hop", "euclidean"))
    check_choice(on_limit, "on_limit", ("warn", "raise"))
    X = as_activation_array(acts).astype(np.float64)
    if labels is None:
        groups = {"all": X}
    else:
        labels = np.asarray(labels)
        if labels.shape != (X.shape[0],):
            raise ValueError(f"labels: expected one label per point, shape ({X.shape[0]},), got {labels.shape}.")
        groups = {label.item() if hasattr(label, "item") else label: X[labels == label] for label in np.unique(labels)}
    out = LayerTopology(betti={}, ph_dimension={}, intrinsic_dimension={}, method=method)
    for key, points in groups.items():
        distinct = np.unique(points, axis=0)
        if distinct.shape[0] < k + 1:
            raise ValueError(
                f"class {key!r} has {distinct.shape[0]} distinct points, too few for k={k} (need at least k + 1); "
                f"lower k or pass more points."
            )
        try:
            if method == "hop":
                betti, diagrams = hop_betti(distinct, k, scale, maxdim, max_edges)
            else:
                betti, diagrams, _ = euclidean_betti(distinct, k, radius_factor, maxdim, max_edges)
            out.betti[key] = betti
            out.diagrams[key] = diagrams
        except TopologyTooLarge as exc:
            if on_limit == "raise":
                raise
            warnings.warn(f"class {key!r}: {exc}", stacklevel=2)
            out.betti[key] = None
            out.notes[key] = str(exc)
        graph = knn_graph(distinct, min(k, distinct.shape[0] - 1))
        out.intrinsic_dimension[key] = twonn_dimension(graph.knn_distances)
        out.mle_dimension[key] = mle_dimension(graph.knn_distances) if graph.knn_distances.shape[1] >= 3 else np.nan
        out.lifespans[key] = lifespans_sum(distinct)
        if ph_dim and distinct.shape[0] >= 100:
            options = {"n_min": 25, "n_max": 2000, "seed": seed, **(ph_kwargs or {})}
            dim, slope, r2 = ph_dimension(distinct, **options)
            out.ph_dimension[key] = dim
            out.ph_fit[key] = {"slope": slope, "r2": r2}
    return out


def calibrate(X, target_betti, *, ks=range(5, 41), scales=(1, 2, 3), maxdim: int | None = None, max_edges=MAX_EDGES):
    """Search k (and the scale) on a reference layer until the hop Betti numbers equal target_betti, as
    Naitzat et al. did on their input layers.  Returns (k, scale) of the first match, smallest scale
    first, then smallest k; raises ValueError if none matches."""
    target = list(target_betti)
    maxdim = len(target) - 1 if maxdim is None else maxdim
    tried = []
    for scale in scales:
        for k in ks:
            try:
                betti, _ = hop_betti(X, k, scale, maxdim, max_edges)
            except (TopologyTooLarge, ValueError):
                continue
            tried.append((k, scale, betti))
            if betti[: len(target)] == target:
                return k, scale
    raise ValueError(f"no k in {list(ks)[:3]}.. and scale in {list(scales)} gives Betti numbers {target}; "
                     f"last tried: {tried[-3:]}")


def flow_topology(layers, labels=None, **options) -> pd.DataFrame:
    """layer_topology of every layer in one table (index: layer, class).  layers: a sequence (layer
    0, 1, ...) or a mapping of name to activations in layer order, as ricci_flow takes (the names index
    the table)."""
    from collections.abc import Mapping

    if isinstance(layers, Mapping):
        named = list(layers.items())
        for name, _ in named:
            if not isinstance(name, str):
                raise TypeError(f"layers: names must be strings, got {name!r} ({type(name).__name__}).")
    elif isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
        raise TypeError(f"layers: give a list of arrays or a dict of name -> array, got {type(layers).__name__}.")
    else:
        named = list(enumerate(layers))
    if not named:
        raise ValueError("layers: no layers given.")
    frames = []
    for l, acts in named:
        frame = layer_topology(acts, labels, **options).to_pandas()
        frame.insert(0, "layer", l)
        frames.append(frame.reset_index())
    return pd.concat(frames, ignore_index=True).set_index(["layer", "class"])
