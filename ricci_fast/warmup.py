"""Compile (or load from the on-disk cache) every Numba kernel once, on tiny inputs.

The first call of each kernel in a fresh environment compiles it (seconds); later processes load the cache
from __pycache__ (or NUMBA_CACHE_DIR) in milliseconds.  `warmup()` pays that cost up front, for a CI image,
a container build or each worker of a cluster: the cache is keyed by CPU model, so run it once per kind of
node (`ricci-fast warmup` on the command line).
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
import time
import warnings

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

    def ollivier_sinkhorn_torch():
        # only the problem extraction is Numba; torch itself compiles nothing, so a small graph and few
        # iterations suffice (torch on the CPU is slow at this: 4 s for the 96-point graph)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # stopping short of tol after 20 iterations
            rf.ollivier_ricci(rf.knn_graph(narrow[:24], 4), solver="sinkhorn_torch", device="cpu", max_iter=20)

    def flow():
        # four layers: the global coefficient needs three transitions (else a NaN and its warning)
        layers = [wide, np.tanh(wide @ rng.normal(size=(12, 12))), np.tanh(wide @ rng.normal(size=(12, 6))), narrow]
        rf.ricci_flow(layers, 8, progress=False)

    def joined_flow():
        # two far apart clusters: disconnected="join" (the default) searches the shortest edges between
        # them, directly in few dimensions and from BLAS blocks in many; "raise" ranks them to suggest a k
        split = np.concatenate([narrow[:48], narrow[48:] + 100.0])
        split_wide = np.concatenate([split, np.tanh(wide)], axis=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the join's own notice; the stage is about compiling
            rf.ricci_flow([split, split_wide, split[:, :2], split ** 2], 8, progress=False)
        try:
            rf.ricci_flow([split, split_wide, split[:, :2], split ** 2], 8, disconnected="raise", progress=False)
        except ValueError:
            pass

    def graph_checks():
        graph = state["graph"]
        rf.Graph(graph.indptr.copy(), graph.indices.copy())  # a user's CSR is checked in a kernel

    def knn_out_of_core():
        with tempfile.TemporaryDirectory(prefix="ricci_fast_warmup_") as folder:
            rows = np.lib.format.open_memmap(os.path.join(folder, "layer.npy"), mode="w+", dtype=np.float32,
                                             shape=wide.shape)
            rows[:] = wide
            rows.flush()
            rf.knn_graph(np.load(os.path.join(folder, "layer.npy"), mmap_mode="r"), 8)
            del rows

    def weighted():
        lengths = rf.knn_graph(wide, 8, method="brute", weighted=True)
        state["weighted"] = lengths
        rf.weighted_forman(lengths)
        rf.weighted_ollivier_ricci(lengths, 0.5, mass="grc")

    def weighted_sinkhorn():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a tiny input may stop short of tol; the stage is about compiling
            rf.weighted_ollivier_ricci(state["weighted"], 0.5, mass="grc", solver="sinkhorn", max_iter=50)

    def discrete_flow():
        rf.discrete_ricci_flow(state["weighted"], iterations=2)
        rf.ricci_communities(state["weighted"], iterations=2)

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
        ("Ricci flow (layers joined)", joined_flow),
        ("Euclidean MST", mst),
        ("Graph from a CSR (checked)", graph_checks),
        ("knn (out of core, memmap)", knn_out_of_core),
        ("weighted Forman, Ollivier-Ricci", weighted),
        ("weighted Ollivier-Ricci (Sinkhorn)", weighted_sinkhorn),
        ("discrete Ricci flow, communities", discrete_flow),
    ]
    if importlib.util.find_spec("torch") is not None:
        stages.insert(stages.index(("Ollivier-Ricci (Sinkhorn)", ollivier_sinkhorn)) + 1,
                      ("Ollivier-Ricci (Sinkhorn, torch)", ollivier_sinkhorn_torch))
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
            print(f"{name:34s} {times[name]:7.2f} s", flush=True)
    times["total"] = time.perf_counter() - start
    if progress:
        print(f"{'total':34s} {times['total']:7.2f} s", flush=True)
    return times
