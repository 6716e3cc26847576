"""Compile (or load from the on-disk cache) every Numba kernel once, on tiny inputs.

The first call of each kernel in a fresh environment compiles it (seconds); later processes load the cache
from __pycache__ (or NUMBA_CACHE_DIR) in milliseconds.  `warmup()` pays that cost up front, for a CI image,
a container build or each worker of a cluster: the cache is keyed by CPU model, so run it once per kind of
node (`ricci-fast warmup` on the command line).
"""

from __future__ import annotations

import time

import numpy as np


def _stages(include_approximate: bool):
    """(name, callable) pairs, each calling one public path on a tiny input, in the order a user meets
    them (a Forman layer first)."""
    import ricci_fast as rf

    rng = np.random.default_rng(0)
    # a 3-D manifold in 12 dimensions: connected at k = 8, with triangles and 4-cycles
    wide = np.tanh(rng.normal(size=(96, 3)) @ rng.normal(size=(3, 12)))
    narrow = rng.normal(size=(96, 3))
    state = {}

    def knn_brute():
        state["graph"] = rf.knn_graph(wide, 8, method="brute")

    def knn_kdtree():
        state["narrow"] = rf.knn_graph(narrow, 8, method="kdtree")

    def forman_layer():
        rf.layer_curvature(wide, 8, curvature="forman")

    def combinatorial():
        for kind in ("augmented_forman", "approx_ollivier", "lower_ricci", "jost_liu_lower", "jost_liu_upper"):
            rf.edge_curvature(state["graph"], kind)

    def balanced_forman():
        rf.edge_curvature(state["graph"], "balanced_forman")

    def geodesics():
        rf.geodesic_sums(state["graph"])
        rf.former_neighbour_distances(state["graph"], state["narrow"])
        rf.sampled_geodesic_sum(state["graph"], 64, seed=0)

    def ollivier_exact():
        rf.ollivier_ricci(state["graph"])

    def ollivier_hubs():
        # the exact solver has one kernel per kind of owner (degree < 64, per-owner masks, per-edge masks
        # for hubs of degree >= 2048), each compiled when a graph first has such a node: a hub of degree
        # 80 with twin leaves reaches the second, and max_words=1 sends it to the third
        from ricci_fast.ollivier import _exact

        leaves = np.arange(1, 81)
        edges = np.concatenate([np.stack([np.zeros(80, np.int64), leaves], 1),
                                np.stack([leaves[:-1:2], leaves[1::2]], 1), [[1, 81], [81, 82]]])
        hub = rf.Graph.from_edges(edges, 83)
        rf.ollivier_ricci(hub)
        _exact(hub, 0.0, max_words=1)

    def ollivier_sinkhorn():
        rf.ollivier_ricci(state["graph"], solver="sinkhorn")

    def flow():
        layers = [wide, np.tanh(wide @ rng.normal(size=(12, 12))), narrow]
        rf.ricci_flow(layers, 8, progress=False)

    def mst():
        from ricci_fast.kernels import mst as _mst

        _mst.euclidean_mst(np.ascontiguousarray(wide[:32]))

    stages = [
        ("knn (brute force)", knn_brute),
        ("knn (KD-tree)", knn_kdtree),
        ("Forman layer", forman_layer),
        ("combinatorial curvatures", combinatorial),
        ("balanced Forman", balanced_forman),
        ("geodesics", geodesics),
        ("Ollivier-Ricci (exact)", ollivier_exact),
        ("Ollivier-Ricci (exact, hubs)", ollivier_hubs),
        ("Ollivier-Ricci (Sinkhorn)", ollivier_sinkhorn),
        ("Ricci flow", flow),
        ("Euclidean MST", mst),
    ]
    if include_approximate:
        def knn_approximate():
            rf.knn_graph(rng.normal(size=(300, 12)), 8, method="approximate")

        stages.append(("knn (NN-descent, pynndescent)", knn_approximate))
    return stages


def warmup(progress: bool = True, *, include_approximate: bool = False) -> dict:
    """Compile or load every kernel once; returns {stage name: seconds}, plus "total".

    Each stage calls a public function on a tiny input, so it compiles exactly what that path needs.
    progress: print one line per stage.  include_approximate: also warm up pynndescent's NN-descent
    (tens of seconds, and its functions are not cached across processes, so this helps only the
    current one).
    """
    times: dict[str, float] = {}
    start = time.perf_counter()
    for name, run in _stages(include_approximate):
        t0 = time.perf_counter()
        run()
        times[name] = time.perf_counter() - t0
        if progress:
            print(f"{name:32s} {times[name]:7.2f} s", flush=True)
    times["total"] = time.perf_counter() - start
    if progress:
        print(f"{'total':32s} {times['total']:7.2f} s", flush=True)
    return times
