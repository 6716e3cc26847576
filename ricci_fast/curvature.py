"""Edge and node curvature of a graph (SPEC section 2) and the per-layer summary `LayerCurvature`."""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ricci_fast._validation import (
    as_activation_array,
    as_activation_tensor,
    check_choice,
    check_edge_values,
    check_graph,
    is_device_tensor,
)
from ricci_fast.geodesics import geodesic_sums
from ricci_fast.graph import Graph, knn_graph
from ricci_fast.kernels import csr as _csr
from ricci_fast.kernels import forman as _forman

_COMBINATORIAL = {
    "forman": _forman.FORMAN,
    "augmented_forman": _forman.AUGMENTED_FORMAN,
    "approx_ollivier": _forman.APPROX_OLLIVIER,
    "lower_ricci": _forman.LOWER_RICCI,
    "jost_liu_lower": _forman.JOST_LIU_LOWER,
    "jost_liu_upper": _forman.JOST_LIU_UPPER,
}
#: Curvature kinds `edge_curvature` accepts.
CURVATURES = ("forman", "augmented_forman", "approx_ollivier", "ollivier", "balanced_forman", "lower_ricci",
              "jost_liu_lower", "jost_liu_upper")
_OLLIVIER_OPTIONS = {"alpha", "solver", "epsilon", "tol", "max_iter", "device", "batch_size", "mass", "base",
                     "exp_power"}
#: A layer with more duplicate rows than this share of its points gets a warning (see `duplicate_rows`).
DUPLICATE_WARNING_SHARE = 0.05


def _real(value, name: str, *, low=None, high=None, low_open=False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}.")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}.")
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{name}={value!r} is out of range: it must be {'>' if low_open else '>='} {low}.")
    if high is not None and value > high:
        raise ValueError(f"{name}={value!r} is out of range: it must be <= {high}.")
    return value


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}.")
    if int(value) < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def check_curvature_options(kind: str, options: dict) -> dict:
    """Refuse unknown or out-of-range curvature options before any work (names the option and the fix).

    Only kind="ollivier" takes options: alpha (real in [0, 1]), solver, epsilon and tol (real > 0),
    max_iter and batch_size (positive integers), device."""
    check_choice(kind, "curvature", CURVATURES)
    if kind != "ollivier":
        if options:
            raise TypeError(f"curvature={kind!r} takes no options, got {sorted(options)}.")
        return {}
    unknown = set(options) - _OLLIVIER_OPTIONS
    if unknown:
        raise TypeError(f"curvature='ollivier' got unknown options {sorted(unknown)}; it takes {sorted(_OLLIVIER_OPTIONS)}.")
    if "alpha" in options:
        _real(options["alpha"], "alpha", low=0.0, high=1.0)
    for name in ("epsilon", "tol"):
        if options.get(name) is not None:
            _real(options[name], name, low=0.0, low_open=True)
    for name in ("max_iter", "batch_size"):
        if options.get(name) is not None:
            _positive_int(options[name], name)
    if "mass" in options:
        check_choice(options["mass"], "mass", ("uniform", "grc"))
    for name in ("base", "exp_power"):
        if options.get(name) is not None:
            _real(options[name], name, low=0.0, low_open=True)
    if "solver" in options:
        from ricci_fast import ollivier

        check_choice(options["solver"], "solver", ollivier.SOLVERS)
    return dict(options)


def duplicate_rows(acts) -> tuple[int, int]:
    """(rows equal to an earlier row, all-zero rows) of a layer: O(N D) hashing plus a sort of N keys.

    -0.0 counts as 0.0 (equal distances).  Torch tensors are counted on their device; out-of-core
    layers (memmaps, zarr, dask: ricci_fast/_arrays.py) from 64-bit row hashes, a block at a time."""
    from ricci_fast import _arrays

    if _arrays.is_out_of_core(acts):
        source = _arrays.as_row_source(acts)
        hashes, zeros = _arrays.row_hashes_range(source, _arrays.scan(source).dtype, 0, len(source))
        return int(hashes.size - np.unique(hashes).size), zeros
    if type(acts).__module__.startswith("torch"):
        import torch

        tensor = acts.detach().reshape(acts.shape[0], -1) + 0.0
        unique = torch.unique(tensor, dim=0).shape[0]
        zeros = int((tensor == 0).all(dim=1).sum())
        return int(tensor.shape[0] - unique), zeros
    array = np.ascontiguousarray(np.asarray(acts).reshape(len(acts), -1)) + 0.0
    rows = np.ascontiguousarray(array).view(np.dtype((np.void, array.dtype.itemsize * array.shape[1]))).ravel()
    unique = np.unique(rows).size
    return int(array.shape[0] - unique), int(np.count_nonzero(~array.any(axis=1)))


def duplicate_note(acts, label: str) -> str | None:
    """'label: 44 of 90 rows (48.9%) repeat another row, ...' when more than DUPLICATE_WARNING_SHARE of
    the rows are duplicates, else None."""
    n_dup, n_zero = duplicate_rows(acts)
    n = len(acts)
    if not n or n_dup <= DUPLICATE_WARNING_SHARE * n:
        return None
    zeros = f", {n_zero} of them all-zero (dead units)" if n_zero > 1 else ""
    return f"{label}: {n_dup} of {n} rows ({n_dup / n:.1%}) repeat another row{zeros}"


def warn_duplicates(notes, stacklevel: int = 3) -> None:
    """One warning for the layers with many duplicate rows (notes from `duplicate_note`)."""
    notes = [note for note in notes if note]
    if notes:
        warnings.warn(
            "; ".join(notes) + ". Duplicates are distinct points at distance 0, so which of them become "
            "neighbours follows the tie rule (lower index first): the graph depends on the order of the probe "
            "points (docs/definitions.md, section 4, 'Duplicate rows').",
            stacklevel=stacklevel,
        )


def edge_curvature(graph: Graph, kind: str = "forman", **options) -> np.ndarray:
    """Curvature of every edge, as float64 aligned with graph.indices (both directions of an edge carry
    the same value).

    kind:
      "forman"            4 - deg x - deg y
      "augmented_forman"  Forman + 3 x triangles
      "approx_ollivier"   Tian et al. (2023)'s triangle-based approximation of Ollivier-Ricci
      "ollivier"          Ollivier-Ricci, 1 - W1(mu_x, mu_y); options alpha (idleness, default 0),
                          solver ("exact" default, "sinkhorn", "sinkhorn_torch"), epsilon, tol,
                          max_iter, device, batch_size (see `ollivier_ricci`)
      "balanced_forman"   Topping et al. (2022), with its 4-cycle term
      "lower_ricci"       Park and Li (2024): 2/dx + 2/dy - 2 + 2T/max + T/min
      "jost_liu_lower"    Jost and Liu (2014)'s lower bound on Ollivier-Ricci curvature (alpha = 0)
      "jost_liu_upper"    the matching upper bound T / max(dx, dy)
    """
    check_choice(kind, "kind", CURVATURES)
    check_graph(graph)
    if getattr(graph, "weights", None) is not None:
        # a graph with edge lengths: weighted Forman / weighted Ollivier-Ricci (ricci_fast/weighted.py)
        from ricci_fast.weighted import weighted_edge_curvature

        return weighted_edge_curvature(graph, kind, **options)
    if kind == "ollivier":
        unknown = set(options) - _OLLIVIER_OPTIONS
        if unknown:
            raise TypeError(f"edge_curvature(kind='ollivier') got unknown options {sorted(unknown)}; "
                            f"it takes {sorted(_OLLIVIER_OPTIONS)}.")
        from ricci_fast.ollivier import ollivier_ricci


        return ollivier_ricci(graph, **options).values
    if options:
        raise TypeError(f"edge_curvature(kind={kind!r}) takes no options, got {sorted(options)}.")
    if kind == "forman":
        return _forman.combinatorial_curvature(graph.indptr, graph.indices, np.zeros(0, np.int32), _forman.FORMAN)
    triangles = _forman.edge_triangles(graph.indptr, graph.indices)
    if kind == "balanced_forman":
        return _forman.balanced_forman(graph.indptr, graph.indices, triangles)
    return _forman.combinatorial_curvature(graph.indptr, graph.indices, triangles, _COMBINATORIAL[kind])


def edge_triangles(graph: Graph) -> np.ndarray:
    """T(x, y), the number of common neighbours, for every CSR entry (int32 aligned with graph.indices)."""
    return _forman.edge_triangles(graph.indptr, graph.indices)


def node_curvature(graph: Graph, edge_values: np.ndarray) -> np.ndarray:
    """Scalar curvature S(x): the mean of the curvatures of the edges at x (NaN for an isolated node)."""
    return _csr.row_means(graph.indptr, check_edge_values(graph, edge_values))


def total_curvature(graph: Graph, edge_values: np.ndarray) -> float:
    """Sum of edge curvatures over undirected edges, each edge once."""
    return float(_csr.upper_triangle_sum(graph.indptr, graph.indices, check_edge_values(graph, edge_values)))


@dataclass(eq=False)
class LayerCurvature:
    """Curvature and geodesics of one layer's k-NN graph.

    edge_curvature is aligned with graph.indices; node_curvature and node_geodesic_sums have one entry
    per point.  node_geodesic_sums and geodesic_sum are None when computed with geodesics=False, and
    inf when the graph is disconnected.  name: the layer's name in a flow (None outside one).
    joined_edges: with disconnected="join", the (E, 2) int64 edges i < j that were added to connect the
    k-NN graph (already part of `graph`), and joined_lengths their lengths; None when nothing was asked
    to be joined (docs/definitions.md section 4).
    """

    graph: Graph
    kind: str
    edge_curvature: np.ndarray = field(repr=False)
    node_curvature: np.ndarray = field(repr=False)
    total_curvature: float
    node_geodesic_sums: np.ndarray | None = field(default=None, repr=False)
    options: dict = field(default_factory=dict, repr=False)
    name: str | None = None
    joined_edges: np.ndarray | None = field(default=None, repr=False)
    joined_lengths: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_points(self) -> int:
        return self.graph.n_nodes

    @property
    def n_components(self) -> int:
        return self.graph.n_components

    @property
    def n_joined_edges(self) -> int:
        """Edges added to connect the k-NN graph (0 when it was connected or not joined)."""
        return 0 if self.joined_edges is None else int(len(self.joined_edges))

    @property
    def geodesic_sum(self) -> float | None:
        """g = (sum over x of G(x)) / 2: every unordered pair's hop distance once."""
        if self.node_geodesic_sums is None:
            return None
        return float(self.node_geodesic_sums.sum() / 2.0)

    def curvature_matrix(self) -> sp.csr_matrix:
        """Edge curvatures as a symmetric scipy.sparse CSR matrix (explicit zeros kept as stored entries)."""
        n = self.graph.n_nodes
        return sp.csr_matrix((self.edge_curvature.copy(), self.graph.indices, self.graph.indptr), shape=(n, n))

    def to_pandas(self) -> pd.DataFrame:
        """One row per point: degree, node curvature, geodesic sum and connected component."""
        frame = pd.DataFrame(
            {
                "point": np.arange(self.n_points),
                "degree": self.graph.degrees,
                "node_curvature": self.node_curvature,
                "component": self.graph.component_labels,
            }
        )
        if self.node_geodesic_sums is not None:
            frame.insert(3, "node_geodesic_sum", self.node_geodesic_sums)
        return frame.set_index("point")

    def __repr__(self) -> str:
        g = "not computed" if self.geodesic_sum is None else f"{self.geodesic_sum:.6g}"
        name = "" if self.name is None else f"name={self.name!r}, "
        joined = f", n_joined_edges={self.n_joined_edges}" if self.n_joined_edges else ""
        return (
            f"LayerCurvature({name}kind={self.kind!r}, n_points={self.n_points}, n_edges={self.graph.n_edges}, "
            f"total_curvature={self.total_curvature:.6g}, geodesic_sum={g}, n_components={self.n_components}{joined})"
        )

    def plot(self, path: str | None = None, **options):
        """Figure of this layer (ricci_fast.plotting.plot_layer: edge and node curvature, curvature against
        geodesic sum, and with points=(N, 2) positions the graph coloured by curvature); saved to path
        when given.  Needs matplotlib (pip install ".[plot]"); returns the Figure."""
        from ricci_fast.plotting import plot_layer

        return plot_layer(self, path, **options)


def _check_name(name):
    if name is not None and (not isinstance(name, str) or not name):
        raise TypeError(f"name must be a non-empty string or None, got {name!r}.")
    return name


def curvature_of_graph(graph: Graph, curvature: str = "forman", *, geodesics: bool = True, name: str | None = None,
                       **options) -> LayerCurvature:
    """A LayerCurvature for a graph you already have (see `layer_curvature` for activations)."""
    if not isinstance(geodesics, (bool, np.bool_)):
        raise TypeError(f"geodesics must be True or False, got {geodesics!r}.")
    _check_name(name)
    values = edge_curvature(graph, curvature, **options)
    sums = geodesic_sums(graph) if geodesics else None
    return LayerCurvature(
        graph=graph,
        kind=curvature,
        edge_curvature=values,
        node_curvature=node_curvature(graph, values),
        total_curvature=total_curvature(graph, values),
        node_geodesic_sums=sums,
        options=dict(options),
        name=name,
    )


def layer_curvature(
    acts,
    k: int = 30,
    *,
    curvature: str = "forman",
    geodesics: bool = True,
    metric: str = "euclidean",
    symmetrize: str = "union",
    method: str = "auto",
    disconnected: str | None = None,
    name: str | None = None,
    **curvature_options,
) -> LayerCurvature:
    """Curvature (and, by default, geodesic sums) of one layer's activations.

    acts: (N, ...) numpy array or torch tensor (any device; detached and copied to the host once).
    The k-NN graph follows docs/definitions.md section 1 (see `knn_graph` for metric, symmetrize and
    method); curvature is one of `CURVATURES`.  Set geodesics=False to skip the all-sources BFS when
    only curvature is needed.
    disconnected: None (default) keeps a disconnected graph as it is (its geodesic sums are inf);
    "raise" refuses it with its component sizes and remedies; "join" connects it by the shortest edges
    between its components first (joined_edges; docs/definitions.md section 4); "nan" is None here.
    A warning says when more than DUPLICATE_WARNING_SHARE of the rows are duplicates.
    """
    from ricci_fast.flow import DISCONNECTED, _disconnected_message

    check_curvature_options(curvature, curvature_options)
    if disconnected is not None:
        check_choice(disconnected, "disconnected", DISCONNECTED + (None,))
    _check_name(name)
    if not isinstance(geodesics, (bool, np.bool_)):
        raise TypeError(f"geodesics must be True or False, got {geodesics!r}.")
    label = "acts" if name is None else f"layer {name!r}"
    # checked here so that a bad input is named as the user passed it (acts, or the layer's name), not as
    # knn_graph's X; GPU tensors stay on their device and out-of-core arrays are not read, as in ricci_flow
    from ricci_fast import _arrays

    where = {"name": "acts"} if name is None else {"layer": repr(name)}
    acts = (as_activation_tensor(acts, **where) if is_device_tensor(acts)
            else _arrays.as_row_source(acts, **where) if _arrays.is_out_of_core(acts)
            else as_activation_array(acts, **where))
    graph = knn_graph(acts, k, metric=metric, symmetrize=symmetrize, method=method)
    warn_duplicates([duplicate_note(acts, label)])
    edges = lengths = None
    if graph.n_components > 1 and disconnected == "raise":
        raise ValueError(_disconnected_message([(name or "acts", graph, acts)], symmetrize, "layer_curvature"))
    if disconnected == "join":
        from ricci_fast.components import join_components

        graph, edges, lengths = join_components(graph, acts)
    layer = curvature_of_graph(graph, curvature, geodesics=geodesics, name=name, **curvature_options)
    layer.joined_edges, layer.joined_lengths = edges, lengths
    return layer


#: Denominators of `curvature_gap`.
GAP_DENOMINATORS = ("authors", "pooled")


def curvature_gap(layer: LayerCurvature, labels, denominator: str = "authors") -> float:
    """Hehl et al. (2025)'s curvature gap: (mean curvature of within-class edges - mean of between-class
    edges) / denominator, every undirected edge once (docs/definitions.md section 4).

    denominator="authors" (default; their community_structure.py): sqrt((sigma_w^2 + sigma_b^2) / 2)
    with population standard deviations (numpy's std, ddof=0), so both groups weigh the same whatever
    their sizes.  "pooled": the size-weighted pooled standard deviation
    sqrt(((n_w - 1) s_w^2 + (n_b - 1) s_b^2) / (n_w + n_b - 2)) (Cohen's d), which the majority group
    (usually the within-class edges) dominates.  NaN when either group is empty (or has fewer than 2
    edges for "pooled") or the denominator is 0.

    What the sign means depends on the curvature kind.  Kinds with a triangle or transport term
    (ollivier, approx_ollivier, augmented_forman, balanced_forman, lower_ricci, jost_liu_lower/upper,
    the kinds Hehl et al. use): edges inside a community are more positively curved than the bridges
    between communities, so a positive gap means the classes form communities of the graph.  Plain
    "forman" (4 - deg x - deg y) sees only degrees: its gap says whether within-class edges join
    higher-degree points than the between-class edges do (negative: they do, as inside dense classes),
    not whether classes are communities, and it is often negative for well-separated classes (e.g.
    noisy concentric circles at k = 10); read it as a degree contrast.
    """
    check_choice(denominator, "denominator", GAP_DENOMINATORS)
    labels = np.asarray(labels)
    if labels.shape != (layer.n_points,):
        raise ValueError(f"labels: expected one label per point, shape ({layer.n_points},), got {labels.shape}.")
    graph = layer.graph
    rows = np.repeat(np.arange(graph.n_nodes), graph.degrees)
    upper = graph.indices > rows
    values = layer.edge_curvature[upper]
    same = labels[rows[upper]] == labels[graph.indices[upper]]
    within, between = values[same], values[~same]
    if denominator == "authors":
        if within.size == 0 or between.size == 0:
            return float("nan")
        scale = np.sqrt(0.5 * (within.var() + between.var()))
    else:
        if within.size < 2 or between.size < 2:
            return float("nan")
        scale = np.sqrt(((within.size - 1) * within.var(ddof=1) + (between.size - 1) * between.var(ddof=1))
                        / (within.size + between.size - 2))
    if scale == 0:
        return float("nan")
    return float((within.mean() - between.mean()) / scale)
