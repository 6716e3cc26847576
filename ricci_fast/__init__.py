"""ricci_fast: exact, fast discrete Ricci curvature of neural-network layers and the Ricci-flow
coefficients that relate it to how geodesics change from layer to layer.

Definitions: docs/definitions.md.  The first call in a fresh environment compiles
the Numba kernels (about 20-40 s); they are cached on disk, so later processes start in about a second.
"""

from ricci_fast.curvature import (
    CURVATURES,
    LayerCurvature,
    curvature_gap,
    curvature_of_graph,
    edge_curvature,
    edge_triangles,
    layer_curvature,
    node_curvature,
    total_curvature,
)
from ricci_fast.flow import RicciFlow, pearson, ricci_flow
from ricci_fast.geodesics import (
    SampledGeodesicSum,
    former_neighbour_distances,
    geodesic_distance_matrix,
    geodesic_sums,
    sampled_geodesic_sum,
)
from ricci_fast.graph import Graph, knn_graph
from ricci_fast.ollivier import OllivierRicci, ollivier_ricci
from ricci_fast._parallel import get_num_threads, num_threads, set_num_threads
from ricci_fast.graph import radius_graph, restrict_k
from ricci_fast.stats import (
    bootstrap_correlation,
    early_stopping_epoch,
    modularity,
    normalized_cut,
    permutation_pvalue,
    pooled_coefficient,
    pooled_coefficient_interval,
    select_depth,
    subsample_interval,
)
from ricci_fast import protocols

__version__ = "0.1.0"

__all__ = [
    "CURVATURES",
    "Graph",
    "LayerCurvature",
    "OllivierRicci",
    "RicciFlow",
    "SampledGeodesicSum",
    "curvature_gap",
    "curvature_of_graph",
    "edge_curvature",
    "edge_triangles",
    "former_neighbour_distances",
    "geodesic_distance_matrix",
    "geodesic_sums",
    "knn_graph",
    "layer_curvature",
    "node_curvature",
    "ollivier_ricci",
    "pearson",
    "ricci_flow",
    "sampled_geodesic_sum",
    "layer_topology",
    "total_curvature",
    "get_num_threads",
    "num_threads",
    "set_num_threads",
    "bootstrap_correlation",
    "early_stopping_epoch",
    "modularity",
    "normalized_cut",
    "permutation_pvalue",
    "pooled_coefficient",
    "pooled_coefficient_interval",
    "protocols",
    "radius_graph",
    "restrict_k",
    "select_depth",
    "subsample_interval",
]


# Submodules that `rf.<name>` reaches without an explicit import; loaded on first use because some need
# optional packages (torch, dask, matplotlib, ripser) or are rarely used.
_LAZY_SUBMODULES = ("datasets", "demo", "distributed", "plotting", "callbacks", "torch", "warmup", "components",
                    "networks", "weighted", "discrete_flow", "topology")


def __getattr__(name):
    import importlib

    # topology needs the optional ripser: import it on first use
    if name in ("layer_topology", "LayerTopology", "flow_topology"):
        return getattr(importlib.import_module("ricci_fast.topology"), name)
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"ricci_fast.{name}")
    raise AttributeError(f"module 'ricci_fast' has no attribute {name!r}")

# graphs from elsewhere, weighted curvature and the discrete Ricci flow on edge weights (issue 13)
from ricci_fast.discrete_flow import (  # noqa: E402
    DiscreteRicciFlow,
    RicciCommunities,
    cut_edges_above,
    discrete_ricci_flow,
    ricci_communities,
)
from ricci_fast.networks import edge_table  # noqa: E402
from ricci_fast.weighted import (  # noqa: E402
    EdgePlan,
    WarmStart,
    WeightedOllivierRicci,
    edge_plan,
    weighted_forman,
    weighted_ollivier_ricci,
)

__all__ += [
    "DiscreteRicciFlow",
    "EdgePlan",
    "edge_plan",
    "RicciCommunities",
    "WarmStart",
    "WeightedOllivierRicci",
    "cut_edges_above",
    "discrete_ricci_flow",
    "edge_table",
    "ricci_communities",
    "weighted_forman",
    "weighted_ollivier_ricci",
]
