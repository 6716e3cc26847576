"""Edge and node curvature of a graph (SPEC section 2) and the per-layer summary `LayerCurvature`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numba
import numpy as np
import pandas as pd
import scipy.sparse as sp

from ricci_fast._validation import check_choice, check_graph
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
_OLLIVIER_OPTIONS = {"alpha", "solver", "epsilon", "tol", "max_iter", "device", "batch_size"}


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
        return _forman.balanced_forman(graph.indptr, graph.indices, triangles, numba.get_num_threads())
    return _forman.combinatorial_curvature(graph.indptr, graph.indices, triangles, _COMBINATORIAL[kind])


def edge_triangles(graph: Graph) -> np.ndarray:
    """T(x, y), the number of common neighbours, for every CSR entry (int32 aligned with graph.indices)."""
    return _forman.edge_triangles(graph.indptr, graph.indices)


def node_curvature(graph: Graph, edge_values: np.ndarray) -> np.ndarray:
    """Scalar curvature S(x): the mean of the curvatures of the edges at x (NaN for an isolated node)."""
    return _csr.row_means(graph.indptr, np.ascontiguousarray(edge_values, dtype=np.float64))


def total_curvature(graph: Graph, edge_values: np.ndarray) -> float:
    """Sum of edge curvatures over undirected edges, each edge once."""
    return float(_csr.upper_triangle_sum(graph.indptr, graph.indices, np.ascontiguousarray(edge_values, np.float64)))


@dataclass(eq=False)
class LayerCurvature:
    """Curvature and geodesics of one layer's k-NN graph.

    edge_curvature is aligned with graph.indices; node_curvature and node_geodesic_sums have one entry
    per point.  node_geodesic_sums and geodesic_sum are None when computed with geodesics=False, and
    inf when the graph is disconnected.
    """

    graph: Graph
    kind: str
    edge_curvature: np.ndarray = field(repr=False)
    node_curvature: np.ndarray = field(repr=False)
    total_curvature: float
    node_geodesic_sums: np.ndarray | None = field(default=None, repr=False)
    options: dict = field(default_factory=dict, repr=False)

    @property
    def n_points(self) -> int:
        return self.graph.n_nodes

    @property
    def n_components(self) -> int:
        return self.graph.n_components

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
        return (
            f"LayerCurvature(kind={self.kind!r}, n_points={self.n_points}, n_edges={self.graph.n_edges}, "
            f"total_curvature={self.total_curvature:.6g}, geodesic_sum={g}, n_components={self.n_components})"
        )


def curvature_of_graph(graph: Graph, curvature: str = "forman", *, geodesics: bool = True, **options) -> LayerCurvature:
    """A LayerCurvature for a graph you already have (see `layer_curvature` for activations)."""
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
    **curvature_options,
) -> LayerCurvature:
    """Curvature (and, by default, geodesic sums) of one layer's activations.

    acts: (N, ...) numpy array or torch tensor (any device; detached and copied to the host once).
    The k-NN graph follows SPEC section 1 (see `knn_graph` for metric, symmetrize and method); curvature
    is one of `CURVATURES`.  Set geodesics=False to skip the all-sources BFS when only curvature is needed.
    """
    check_choice(curvature, "curvature", CURVATURES)
    graph = knn_graph(acts, k, metric=metric, symmetrize=symmetrize, method=method)
    return curvature_of_graph(graph, curvature, geodesics=geodesics, **curvature_options)


def curvature_gap(layer: LayerCurvature, labels) -> float:
    """Hehl et al. (2025)'s curvature gap: mean curvature of within-class edges minus that of
    between-class edges, divided by their pooled standard deviation (NaN if either group is empty or
    the pooled deviation is 0).  Positive: classes are more tightly knit than the links between them."""
    labels = np.asarray(labels)
    if labels.shape != (layer.n_points,):
        raise ValueError(f"labels: expected one label per point, shape ({layer.n_points},), got {labels.shape}.")
    graph = layer.graph
    rows = np.repeat(np.arange(graph.n_nodes), graph.degrees)
    upper = graph.indices > rows
    values = layer.edge_curvature[upper]
    same = labels[rows[upper]] == labels[graph.indices[upper]]
    within, between = values[same], values[~same]
    if within.size < 2 or between.size < 2:
        return float("nan")
    pooled = np.sqrt(((within.size - 1) * within.var(ddof=1) + (between.size - 1) * between.var(ddof=1))
                     / (within.size + between.size - 2))
    if pooled == 0:
        return float("nan")
    return float((within.mean() - between.mean()) / pooled)
