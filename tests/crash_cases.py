"""Adversarial inputs for every public entry point, run by tests/test_crash.py in subprocesses.

Each case is a function that either returns (the input was accepted, and the case may check the answer
with assert) or raises.  What it must do is declared beside it:
  OK             must return;
  REFUSE(regex)  must raise ValueError or TypeError whose message matches regex (naming the argument);
  EITHER(regex)  may return, or refuse as above.
Run as a script, `python crash_cases.py GROUP [NAME ...]` runs the cases of a group in order and prints
"START name" before and "RESULT {json}" after each, flushed, so that a case that kills the process by a
signal is known by the last START without a RESULT.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
import traceback
from contextlib import redirect_stderr, redirect_stdout

import numpy as np

CASES: dict[str, tuple[str, tuple, object]] = {}


def OK():
    return ("ok", None)


def REFUSE(pattern):
    return ("refuse", pattern)


def EITHER(pattern):
    return ("either", pattern)


def case(group, expect, name=None):
    def register(fn):
        CASES[name or fn.__name__] = (group, expect, fn)
        return fn

    return register


def rf():
    import ricci_fast

    return ricci_fast


def all_entry_points(graph, *, previous=None):
    """Every function that reads a graph's arrays, on one graph; returns the Forman values."""
    m = rf()
    out = {}
    for kind in m.CURVATURES:
        out[kind] = m.edge_curvature(graph, kind)
        assert out[kind].shape == graph.indices.shape
    m.ollivier_ricci(graph, 0.5)
    m.ollivier_ricci(graph, 0.0, solver="sinkhorn", max_iter=50)
    m.curvature_of_graph(graph, "forman")
    m.edge_triangles(graph)
    m.node_curvature(graph, out["forman"])
    m.total_curvature(graph, out["forman"])
    m.geodesic_sums(graph)
    m.sampled_geodesic_sum(graph, 1, seed=0)
    m.former_neighbour_distances(graph, graph if previous is None else previous)
    m.geodesic_distance_matrix(graph)
    graph.to_scipy(), graph.edges(), graph.n_components, repr(graph)
    return out["forman"]


def forman_reference(graph):
    deg = np.diff(graph.indptr)
    rows = np.repeat(np.arange(graph.n_nodes), deg)
    return 4.0 - deg[rows] - deg[graph.indices]


# ---------------------------------------------------------------------------------------------------
# Graphs built by hand: every structural defect is refused at construction, naming the array and where

GRAPH_DEFECTS = {
    "out_of_range": (([0, 1, 2], [1, 7]), r"indices: node id 7 at entry 1 \(row 1\) is out of range"),
    "negative": (([0, 1, 2], [1, -1]), r"indices: node id -1 .* out of range"),
    "indptr_past_end": (([0, 1, 5], [1, 0]), r"indptr: must end at len\(indices\) = 2"),
    "indptr_short": (([0, 1, 1], [1, 0]), r"indptr: must end at len\(indices\)"),
    "indptr_decreasing": (([0, 2, 1, 2], [1, 2]), r"indptr: must be non-decreasing.*row 1"),
    "indptr_not_from_zero": (([1, 2, 3], [1, 0]), r"indptr: must start at 0"),
    "unsorted": (([0, 2, 3, 4], [2, 1, 0, 0]), r"indices: row 0 .* sorted"),
    "duplicate": (([0, 2, 4], [1, 1, 0, 0]), r"indices: row 0 has neighbour 1 twice"),
    "asymmetric": (([0, 1, 1], [1]), r"indices: row 0 .* row 1 does not list 0.*undirected"),
    "self_loop": (([0, 1, 2], [0, 1]), r"indices: row 0 has a self-loop"),
    "float_fraction": (([0, 1.5, 2], [1, 0]), r"indptr: expected integers.*1\.5"),
    "bool_indices": (([0, 1, 2], [True, False]), r"indices: expected integers.*bool"),
    "object_indices": (([0, 1, 2], np.array([1, 0], dtype=object)), r"indices: expected an integer array"),
    "str_indices": (([0, 1, 2], np.array(["1", "0"])), r"indices: expected an integer array"),
    "nan_indices": (([0, 1, 2], [1.0, np.nan]), r"indices: expected integers"),
    "two_d_indptr": (([[0, 1, 2]], [1, 0]), r"indptr: expected a 1-D array"),
    "zero_d_indptr": ((np.int64(0), []), r"indptr: expected a 1-D array"),
    "empty_indptr": (([], []), r"indptr: a graph needs at least one node"),
    "huge_index": (([0, 1, 2], [1, 2**40]), r"indices: node id 1099511627776 .* out of range"),
    "float_past_int32": (([0, 1, 2], [1.0, 2.0**32]), r"indices: node id 4294967296 .* out of range"),
    "uint64_huge": (([0, 1, 2], np.array([1, 2**64 - 1], np.uint64)), r"indices: .*out of range"),
    "complex_indptr": ((np.array([0, 1, 2], complex), [1, 0]), r"indptr: expected an integer array"),
    "ragged": (([0, [1], 2], [1, 0]), r"indptr: "),
}


def _graph_defect(args):
    def run():
        rf().Graph(*args)

    return run


for _name, (_args, _pattern) in GRAPH_DEFECTS.items():
    CASES[f"graph_{_name}"] = ("graph", REFUSE(_pattern), _graph_defect(_args))


@case("graph", OK())
def graph_integral_floats_and_lists():
    g = rf().Graph(np.array([0.0, 1.0, 2.0]), [1, 0])
    assert g.indptr.dtype == np.int64 and g.indices.dtype == np.int32 and g.n_edges == 1


@case("graph", OK())
def graph_valid_edge_cases_every_entry_point():
    m = rf()
    graphs = [
        m.Graph([0, 0], []),                                    # N = 1
        m.Graph([0, 1, 2], [1, 0]),                             # N = 2, one edge
        m.Graph(np.zeros(6, np.int64), np.zeros(0, np.int32)),  # 5 isolated nodes
        m.Graph.from_edges([(0, 1), (2, 3)], 4),                # two components
        m.Graph.from_edges([(0, j) for j in range(1, 40)], 40),  # a star (hub of degree 39)
        m.Graph.from_edges([(i, j) for i in range(12) for j in range(i + 1, 12)], 12),  # a clique
    ]
    for g in graphs:
        np.testing.assert_array_equal(all_entry_points(g), forman_reference(g))


@case("graph", OK())
def graph_caller_arrays_not_shared():
    indptr = np.array([0, 1, 2], np.int64)
    indices = np.array([1, 0], np.int32)
    g = rf().Graph(indptr, indices)
    indices[0] = 5  # the caller's array stays theirs and writable; the graph kept a checked copy
    assert indptr.flags.writeable and g.indices[0] == 1


@case("graph", REFUSE(r"read-only"))
def graph_inplace_edit_refused():
    g = rf().knn_graph(np.random.default_rng(0).normal(size=(20, 3)), 3)
    g.indices[0] = 10**6


@case("graph", REFUSE(r"read-only"))
def graph_inplace_edit_of_indptr_refused():
    g = rf().Graph.from_edges([(0, 1)], 2)
    g.indptr[-1] = 99


@case("graph", REFUSE(r"Graph\.indices: .*out of range"))
def graph_assign_bad_indices():
    g = rf().Graph.from_edges([(0, 1), (1, 2)], 3)
    g.indices = np.array([1, 0, 9, 1])


@case("graph", REFUSE(r"indices: .*out of range"))
def graph_bypassed_setattr_checked_at_kernel():
    g = rf().Graph.from_edges([(0, 1), (1, 2)], 3)
    object.__setattr__(g, "indices", np.array([1, 0, 2**20, 1], np.int32))
    rf().edge_curvature(g, "augmented_forman")


@case("graph", REFUSE(r"indptr: must end at len\(indices\)"))
def graph_setflags_bypass_checked_at_kernel():
    g = rf().Graph.from_edges([(0, 1), (1, 2)], 3)
    object.__setattr__(g, "indptr", g.indptr.copy())
    g.indptr[-1] = 10**6
    rf().geodesic_sums(g)


@case("graph", REFUSE(r"indices: .*out of range"))
def graph_mutated_inside_layer_curvature():
    m = rf()
    X = np.random.default_rng(1).normal(size=(30, 4))
    layers = [m.layer_curvature(X * (i + 1), 4) for i in range(4)]
    bad = layers[2].graph.indices.copy()
    bad[3] = 10**5
    object.__setattr__(layers[2].graph, "indices", bad)
    m.ricci_flow(layers, progress=False)


@case("graph", OK())
def graph_pickle_round_trip():
    import pickle

    g = rf().knn_graph(np.random.default_rng(2).normal(size=(30, 4)), 4)
    h = pickle.loads(pickle.dumps(g))
    np.testing.assert_array_equal(rf().edge_curvature(h), rf().edge_curvature(g))
    assert not h.indices.flags.writeable


@case("graph", OK())
def graph_fuzz_hypothesis():
    """Random CSR arrays, valid and corrupted: each is refused or, when accepted, computed correctly."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    m = rf()

    @st.composite
    def csr(draw):
        n = draw(st.integers(1, 7))
        edges = draw(st.sets(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=12))
        A = np.zeros((n, n), bool)
        for a, b in edges:
            if a != b:
                A[a, b] = A[b, a] = True
        indptr = np.concatenate([[0], np.cumsum(A.sum(axis=1))]).astype(np.int64)
        indices = np.nonzero(A)[1].astype(np.int64)
        corruption = draw(st.sampled_from(["none", "index", "indptr", "swap", "drop", "self"]))
        if corruption == "index" and indices.size:
            indices[draw(st.integers(0, indices.size - 1))] = draw(st.integers(-3, n + 3))
        elif corruption == "indptr":
            indptr[draw(st.integers(0, n))] = draw(st.integers(-2, indices.size + 3))
        elif corruption == "swap" and indices.size >= 2:
            p = draw(st.integers(0, indices.size - 2))
            indices[[p, p + 1]] = indices[[p + 1, p]]
        elif corruption == "drop" and indices.size:
            indices = indices[:-1]
        elif corruption == "self" and indices.size:
            row = int(np.searchsorted(indptr, 0, side="right")) - 1
            indices[indptr[max(row, 0)]] = max(row, 0)
        return indptr, indices

    accepted = 0

    @settings(max_examples=150, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(csr())
    def check(arrays):
        nonlocal accepted
        try:
            g = m.Graph(*arrays)
        except (ValueError, TypeError) as exc:
            assert str(exc).startswith(("indptr:", "indices:")), str(exc)
            return
        accepted += 1
        A = g.to_scipy().toarray()
        assert (A == A.T).all() and not A.diagonal().any()
        np.testing.assert_array_equal(all_entry_points(g), forman_reference(g))

    check()
    assert accepted > 10, accepted


@case("graph", OK())
def graph_fuzz_random_garbage():
    """Arrays of random integers (almost never a valid graph): refused or valid, never a crash."""
    m = rf()
    rng = np.random.default_rng(7)
    for _ in range(300):
        n = int(rng.integers(1, 6))
        indptr = np.sort(rng.integers(-1, 8, size=n + 1)) if rng.random() < 0.8 else rng.integers(-2, 9, n + 1)
        indices = rng.integers(-2, n + 2, size=max(int(indptr[-1]) + int(rng.integers(-1, 2)), 0))
        try:
            g = m.Graph(indptr, indices)
        except (ValueError, TypeError):
            continue
        all_entry_points(g)


# from_scipy / from_edges

def _broken_csr():
    import scipy.sparse as sp

    A = sp.csr_matrix(np.array([[0, 1], [1, 0]]))
    A.indices[0] = 50  # scipy does not look inside its arrays after construction
    return A


FROM_SCIPY = {
    "asymmetric": (lambda: np.array([[0, 1], [0, 0]]), r"matrix: the graph must be undirected"),
    "self_loop": (lambda: np.eye(3), r"matrix: self-loops"),
    "not_square": (lambda: np.zeros((2, 3)), r"matrix: .*square"),
    "broken_structure": (_broken_csr, r"matrix: invalid sparse structure"),
    "nan": (lambda: np.array([[0, np.nan], [np.nan, 0]]), r"matrix: NaN"),
    "complex": (lambda: np.array([[0, 1j], [1j, 0]]), r"matrix: expected a real"),
    "empty": (lambda: np.zeros((0, 0)), r"matrix: a graph needs at least one node"),
    "string": (lambda: "adjacency.npz", r"matrix: expected a scipy.sparse"),
    "one_d": (lambda: np.zeros(4), r"matrix: .*2-D"),
    "object": (lambda: np.array([[0, None], [None, 0]]), r"matrix: expected a real"),
}


def _from_scipy(make):
    def run():
        rf().Graph.from_scipy(make())

    return run


for _name, (_make, _pattern) in FROM_SCIPY.items():
    CASES[f"from_scipy_{_name}"] = ("graph", REFUSE(_pattern), _from_scipy(_make))


@case("graph", OK())
def from_scipy_valid_weighted_and_csc():
    import scipy.sparse as sp

    W = np.array([[0, 2.5, 0], [2.5, 0, -1], [0, -1, 0]])
    for matrix in (W, sp.csr_matrix(W), sp.csc_matrix(W), sp.coo_matrix(W), W.astype(bool)):
        g = rf().Graph.from_scipy(matrix)
        assert g.n_edges == 2 and g.degrees.tolist() == [1, 2, 1]


FROM_EDGES = {
    "out_of_range": (([(0, 5)], 3), r"edges: node ids must lie in \[0, 2\]"),
    "negative": (([(0, -1)], 3), r"edges: node ids"),
    "self_loop": (([(1, 1)], 3), r"edges: self-loops"),
    "fraction": (([(0, 1.5)], 3), r"edges: expected integers"),
    "bad_shape": (([(0, 1, 2)], 3), r"edges: expected pairs"),
    "ragged": (([(0, 1), (2,)], 3), r"edges: "),
    "n_nodes_zero": (([], 0), r"n_nodes=0 is out of range"),
    "n_nodes_float": (([(0, 1)], 2.5), r"n_nodes must be an integer"),
    "n_nodes_bool": (([(0, 1)], True), r"n_nodes must be an integer"),
    "n_nodes_huge": (([(0, 1)], 2**40), r"n_nodes=.* out of range"),
    "strings": ((np.array([["0", "1"]]), 2), r"edges: expected an integer array"),
}


def _from_edges(args):
    def run():
        rf().Graph.from_edges(*args)

    return run


for _name, (_args, _pattern) in FROM_EDGES.items():
    CASES[f"from_edges_{_name}"] = ("graph", REFUSE(_pattern), _from_edges(_args))


@case("graph", OK())
def from_edges_numpy_scalars_and_empty():
    g = rf().Graph.from_edges(np.array([[0, 1], [1, 0], [1, 2]], np.uint8), np.int64(4))
    assert g.n_edges == 2 and g.n_nodes == 4
    assert rf().Graph.from_edges([], 3).n_edges == 0


GRAPH_VALUES = {
    "node_curvature_short": (lambda m, g: m.node_curvature(g, np.zeros(2)), r"edge_values"),
    "total_curvature_long": (lambda m, g: m.total_curvature(g, np.zeros(10**4)), r"edge_values"),
    "curvature_gap_labels": (lambda m, g: m.curvature_gap(m.curvature_of_graph(g), np.zeros(2)), r"labels"),
    "former_other_size": (lambda m, g: m.former_neighbour_distances(g, m.Graph.from_edges([(0, 1)], 2)),
                          r"targets|former"),
    "not_a_graph": (lambda m, g: m.edge_curvature(g.to_scipy()), r"graph: expected a ricci_fast.Graph"),
    "kind_bogus": (lambda m, g: m.edge_curvature(g, "ricci"), r"kind='ricci' is not supported"),
    "sources_zero": (lambda m, g: m.sampled_geodesic_sum(g, 0), r"sources"),
    "sources_fraction": (lambda m, g: m.sampled_geodesic_sum(g, 1.5), r"sources"),
    "sources_past_n": (lambda m, g: m.sampled_geodesic_sum(g, 10**6), r"sources"),
    "sources_bool": (lambda m, g: m.sampled_geodesic_sum(g, True), r"sources"),
    "sources_string": (lambda m, g: m.sampled_geodesic_sum(g, "5"), r"sources"),
}


def _graph_values(fn):
    def run():
        m = rf()
        fn(m, m.Graph.from_edges([(0, 1), (1, 2), (2, 3), (3, 0), (0, 2)], 5))

    return run


for _name, (_fn, _pattern) in GRAPH_VALUES.items():
    CASES[f"values_{_name}"] = ("graph", REFUSE(_pattern), _graph_values(_fn))


# ---------------------------------------------------------------------------------------------------
# Activations: magnitudes, dtypes, shapes, k

X_NAME = r"\b(X|acts|layer \d+|layer '[^']+')"


def _points(n=40, d=6, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d))


def _same_graph_at_scales(X, k, scales, **kw):
    m = rf()
    base = m.knn_graph(X, k, **kw)
    for c in scales:
        g = m.knn_graph(X * c, k, **kw)
        np.testing.assert_array_equal(g.knn_indices, base.knn_indices, err_msg=f"scale {c}")
        np.testing.assert_allclose(g.knn_distances / c, base.knn_distances, rtol=1e-12)
    return base


@case("knn", OK())
def knn_sign_patterns_1e25():
    X = np.sign(np.random.default_rng(3).normal(size=(120, 40)))
    _same_graph_at_scales(X, 10, [1e25, 1e100, 1e300, 1e-30, 1e-300], method="brute")
    _same_graph_at_scales(X[:, :5], 10, [1e25, 1e160, 1e300, 1e-300], method="kdtree")


@case("knn", OK())
def knn_every_method_and_metric_at_extreme_scales():
    X = _points(60, 7)
    for method in ("brute", "kdtree"):
        for metric in ("euclidean", "sqeuclidean", "cosine"):
            m = rf()
            base = m.knn_graph(X, 5, method=method, metric=metric)
            for c in (1e-310, 1e-300, 1e-30, 1e20, 1e160, 1e300, 1.7e308 / np.abs(X).max()):
                g = m.knn_graph(X * c, 5, method=method, metric=metric)
                np.testing.assert_array_equal(g.knn_indices, base.knn_indices, err_msg=f"{method} {metric} {c}")


@case("knn", OK())
def knn_subnormal_points():
    X = np.random.default_rng(4).integers(-20, 20, size=(50, 4)).astype(np.float64)
    base = rf().knn_graph(X, 6)
    tiny = rf().knn_graph(X * 5e-324, 6)  # every coordinate a multiple of the smallest subnormal
    np.testing.assert_array_equal(tiny.knn_indices, base.knn_indices)


@case("knn", OK())
def knn_dead_relu_zero_rows():
    rng = np.random.default_rng(5)
    X = np.maximum(rng.normal(size=(60, 8)) - 1.5, 0)
    X[:40] = 0
    layer = rf().layer_curvature(X, 5)
    assert np.isfinite(layer.edge_curvature).all()
    rf().ollivier_ricci(layer.graph)


@case("knn", OK())
def knn_all_points_identical():
    g = rf().knn_graph(np.full((25, 3), 7.0), 4)
    np.testing.assert_array_equal(g.knn_indices[0], [1, 2, 3, 4])


@case("knn", OK())
def knn_two_points():
    g = rf().knn_graph(np.array([[0.0], [1e300]]), 1)
    assert g.n_edges == 1 and g.knn_distances[0, 0] == 1e300


@case("knn", OK())
def knn_huge_values_near_float64_max():
    X = np.array([[1.7e308, 0.0], [1.6e308, 0.0], [-1.7e308, 0.0], [0.0, 1e308]])
    g = rf().knn_graph(X, 1)
    assert g.knn_indices[:, 0].tolist() == [1, 0, 3, 1]
    np.testing.assert_allclose(g.knn_distances[:2, 0], 1e307, rtol=1e-12)
    # distances past float64's largest value are inf in the caller's units
    assert np.isinf(rf().knn_graph(X, 2).knn_distances[0, 1])


@case("knn", OK())
def knn_integer_pixels_and_wide_ints():
    m = rf()
    rng = np.random.default_rng(6)
    pixels = rng.integers(0, 256, size=(50, 64))
    ref = m.knn_graph(pixels.astype(np.float64), 5)
    for dtype in (np.uint8, np.int16, np.int32, np.int64, np.uint64):
        np.testing.assert_array_equal(m.knn_graph(pixels.astype(dtype), 5).knn_indices, ref.knn_indices)
    base = rng.integers(0, 4, size=(30, 3))
    for offset in (2**25, 2**40, 2**52):
        X = base + offset
        X[1] = X[0] + np.array([1, 0, 0])  # rows 0 and 1 differ by one unit far above float32's range
        g = m.knn_graph(X.astype(np.int64), 3)
        d01 = g.knn_distances[0][list(g.knn_indices[0]).index(1)] if 1 in g.knn_indices[0] else None
        assert d01 is None or d01 == 1.0
        assert np.all(g.knn_distances[0] == np.sort(np.linalg.norm((X - X[0])[1:].astype(float), axis=1))[:3])


@case("knn", REFUSE(r"X: integer values up to .* exceed 2\^53"))
def knn_int64_beyond_2_53():
    X = np.array([[2**60, 1], [2**60 + 1, 1], [0, 0]], np.int64)
    rf().knn_graph(X, 1)


@case("knn", REFUSE(r"X: integer values up to .* exceed 2\^53"))
def knn_uint64_beyond_2_53():
    rf().knn_graph(np.array([[2**64 - 1], [0], [5]], np.uint64), 1)


@case("knn", OK())
def knn_long_double_and_float16():
    m = rf()
    X = _points(40, 5)
    np.testing.assert_array_equal(m.knn_graph(X.astype(np.longdouble), 4).knn_indices, m.knn_graph(X, 4).knn_indices)
    half = X.astype(np.float16)
    np.testing.assert_array_equal(m.knn_graph(half, 4).knn_indices, m.knn_graph(half.astype(np.float64), 4).knn_indices)
    bits = X > 0
    np.testing.assert_array_equal(m.knn_graph(bits, 4).knn_indices, m.knn_graph(bits.astype(float), 4).knn_indices)


@case("knn", EITHER(r"X: converting long double to float64 would merge"))
def knn_long_double_merging_rows():
    if np.finfo(np.longdouble).nmant <= 52:
        return  # long double is float64 on this platform: nothing to merge
    X = np.array([[1.0], [1.0], [2.0]], np.longdouble)
    X[1, 0] += np.finfo(np.longdouble).eps
    rf().knn_graph(X, 1)


DTYPES = {
    "object": np.array([[1, "a"], [2, 3]], dtype=object),
    "object_ragged": [[1.0, 2.0], [1.0]],
    "complex": np.ones((4, 2), complex),
    "datetime": np.array([["2020-01-01"], ["2021-01-01"], ["2022-01-01"]], dtype="datetime64[D]"),
    "timedelta": np.arange(6, dtype="timedelta64[s]").reshape(3, 2),
    "str": np.array([["1", "2"], ["3", "4"], ["5", "6"]]),
    "bytes": np.array([[b"1"], [b"2"], [b"3"]]),
    "void": np.zeros((3, 2), dtype=[("a", "f8"), ("b", "i4")]),
}


def _knn_dtype(X, entry):
    def run():
        m = rf()
        if entry == "knn":
            m.knn_graph(X, 1)
        elif entry == "layer":
            m.layer_curvature(X, 1)
        else:
            m.ricci_flow([X, X, X, X], 1, progress=False)

    return run


for _name, _X in DTYPES.items():
    for _entry in ("knn", "layer", "flow"):
        CASES[f"{_entry}_dtype_{_name}"] = ("knn", REFUSE(X_NAME), _knn_dtype(_X, _entry))


BAD_ARRAYS = {
    "nan": (np.array([[0.0, np.nan], [1, 2], [3, 4]]), 1, r"1 of 6 entries are NaN or infinite"),
    "inf": (np.array([[0.0, np.inf], [1, 2], [3, -np.inf]]), 1, r"2 of 6 entries"),
    "empty_rows": (np.zeros((0, 3)), 1, r"no points"),
    "empty_features": (np.zeros((3, 0)), 1, r"no features"),
    "zero_d": (np.float64(3.0), 1, r"scalar"),
    "one_d": (np.zeros(5), 1, r"1-D array"),
    "one_point": (np.zeros((1, 3)), 1, r"at least 2 points"),
    # ricci_flow checks k's sign before the data (k=0 "must be a positive integer"), knn_graph against N
    "k_zero": (np.zeros((5, 2)), 0, r"k=0 is out of range|k must be a positive integer, got 0"),
    "k_negative": (np.zeros((5, 2)), -3, r"k=-3 is out of range|k must be a positive integer, got -3"),
    "k_equals_n": (np.zeros((5, 2)), 5, r"k=5 is out of range .* N - 1 = 4"),
    "k_huge": (np.zeros((5, 2)), 2**63 - 1, r"k=.* out of range"),
    "k_float": (np.zeros((5, 2)), 2.0, r"k must be an integer"),
    "k_bool": (np.zeros((5, 2)), True, r"k must be an integer"),
    "k_string": (np.zeros((5, 2)), "3", r"k must be an integer"),
    # k=None is ricci_flow's default (30), out of range for 5 points; knn_graph needs an integer
    "k_none": (np.zeros((5, 2)), None, r"k must be an integer|k=30 is out of range"),
    "k_nan": (np.zeros((5, 2)), float("nan"), r"k must be an integer"),
}


def _bad_array(X, k, entry):
    def run():
        m = rf()
        if entry == "knn":
            m.knn_graph(X, k)
        elif entry == "layer":
            m.layer_curvature(X, k)
        else:
            m.ricci_flow([X, X, X, X], k, progress=False)

    return run


for _name, (_X, _k, _pattern) in BAD_ARRAYS.items():
    for _entry in ("knn", "layer", "flow"):
        CASES[f"{_entry}_{_name}"] = ("knn", REFUSE(_pattern), _bad_array(_X, _k, _entry))


@case("knn", OK())
def knn_k_bounds_and_numpy_scalars():
    m = rf()
    X = _points(6, 2)
    assert m.knn_graph(X, np.int64(5)).k == 5 and m.knn_graph(X, np.int8(1)).k == 1
    assert m.knn_graph(X[:2], 1).n_edges == 1
    m.layer_curvature(X[:2], 1)


@case("knn", REFUSE(r"metric='cosine' is undefined for all-zero rows"))
def knn_cosine_zero_row():
    X = _points(10, 3)
    X[4] = 0
    rf().knn_graph(X, 2, metric="cosine")


KNN_OPTIONS = {
    "metric": ({"metric": "manhattan"}, r"metric='manhattan' is not supported"),
    "symmetrize": ({"symmetrize": "both"}, r"symmetrize='both'"),
    "method": ({"method": "fast"}, r"method='fast'"),
    "backend": ({"backend": "jax"}, r"backend='jax'"),
    "check_recall": ({"method": "approximate", "check_recall": -5}, r"check_recall"),
    "metric_list": ({"metric": ["euclidean"]}, r"metric="),
}


def _knn_option(options):
    def run():
        rf().knn_graph(_points(20, 3), 3, **options)

    return run


for _name, (_options, _pattern) in KNN_OPTIONS.items():
    CASES[f"knn_option_{_name}"] = ("knn", REFUSE(_pattern), _knn_option(_options))


@case("knn", OK())
def knn_torch_backend_immune_to_scale():
    try:
        import torch
    except ImportError:
        return
    m = rf()
    X = np.sign(np.random.default_rng(8).normal(size=(80, 30)))
    base = m.knn_graph(X, 6, backend="numpy")
    for c in (1e25, 1e-30, 1e160, 1e300, 1e-300):
        for metric in ("euclidean", "cosine"):
            t = m.knn_graph(torch.tensor(X * c), 6, backend="torch", metric=metric)
            ref = m.knn_graph(X, 6, backend="numpy", metric=metric)
            np.testing.assert_array_equal(t.knn_indices, ref.knn_indices, err_msg=f"{c} {metric}")
    t = m.knn_graph(torch.tensor(X * 1e25, dtype=torch.float32), 6, backend="torch")
    np.testing.assert_array_equal(t.knn_indices, base.knn_indices)
    ints = torch.tensor(np.random.default_rng(9).integers(0, 4, (40, 3)) + 2**40)
    np.testing.assert_array_equal(m.knn_graph(ints, 4, backend="torch").knn_indices,
                                  m.knn_graph(ints.numpy(), 4).knn_indices)


TORCH_BAD = {
    "nan": (lambda torch: torch.tensor([[0.0, float("nan")], [1, 2], [3, 4]]), r"NaN or infinite"),
    "complex": (lambda torch: torch.ones(4, 2, dtype=torch.complex64), r"complex"),
    "one_d": (lambda torch: torch.zeros(5), r"shape \(N, D\)"),
    "empty": (lambda torch: torch.zeros(0, 3), r"no points"),
    "int64_beyond_2_53": (lambda torch: torch.tensor([[2**60], [0], [1]]), r"exceed 2\^53"),
}


def _torch_bad(make, backend):
    def run():
        try:
            import torch
        except ImportError:
            raise ValueError("X: torch is not installed (case skipped)") from None
        rf().knn_graph(make(torch), 1, backend=backend)

    return run


for _name, (_make, _pattern) in TORCH_BAD.items():
    for _backend in ("torch", "numpy"):
        CASES[f"torch_{_backend}_{_name}"] = ("knn", REFUSE(_pattern), _torch_bad(_make, _backend))


# ---------------------------------------------------------------------------------------------------
# Flows and options

@case("options", REFUSE(r"layers must hold the same probe points.*layer 2 has 30"))
def flow_mismatched_layers():
    rf().ricci_flow([_points(40), _points(40), _points(30), _points(40)], 3, progress=False)


@case("options", REFUSE(r"layers: a flow needs at least 2 layers"))
def flow_one_layer():
    rf().ricci_flow([_points(40)], 3, progress=False)


@case("options", REFUSE(r"layers"))
def flow_no_layers():
    rf().ricci_flow([], 3, progress=False)


@case("options", REFUSE(r"layer '?1'?: .*NaN"))
def flow_nan_in_one_layer():
    bad = _points(40)
    bad[3, 2] = np.nan
    rf().ricci_flow([_points(40), bad, _points(40), _points(40)], 3, progress=False)


@case("options", REFUSE(r"layers: .*LayerCurvature"))
def flow_mixed_layers():
    X = _points(40)
    rf().ricci_flow([rf().layer_curvature(X, 3), X, X, X], 3, progress=False)


@case("options", REFUSE(r"layers must hold the same probe points"))
def flow_layer_curvatures_of_different_sizes():
    m = rf()
    rf().ricci_flow([m.layer_curvature(_points(40), 3), m.layer_curvature(_points(30), 3)], progress=False)


@case("options", REFUSE(r"\b(k|curvature|metric)\b"))
def flow_layer_curvatures_with_conflicting_options():
    """issue 10: options that conflict with the given layers are refused (h5 fixes this in flow.py)."""
    m = rf()
    layers = [m.layer_curvature(_points(40, seed=i), 3) for i in range(4)]
    m.ricci_flow(layers, k=10, curvature="ollivier", metric="cosine", progress=False)


@case("options", REFUSE(r"geodesic_sources"))
def flow_geodesic_sources_fraction():
    """issue 10: geodesic_sources=1.5 is refused (h5 fixes this in flow.py)."""
    X = _points(40)
    rf().ricci_flow([X, X * 2, X * 3, X * 4], 3, geodesic_sources=1.5, progress=False)


@case("options", REFUSE(r"geodesic_sources"))
def flow_geodesic_sources_zero():
    X = _points(40)
    rf().ricci_flow([X, X * 2, X * 3, X * 4], 3, geodesic_sources=0, progress=False)


@case("options", REFUSE(r"geodesic_sources"))
def flow_geodesic_sources_string():
    X = _points(40)
    rf().ricci_flow([X, X * 2, X * 3, X * 4], 3, geodesic_sources="all", progress=False)


@case("options", REFUSE(r"disconnected='sometimes'"))
def flow_disconnected_option():
    X = _points(40)
    rf().ricci_flow([X, X, X, X], 3, disconnected="sometimes", progress=False)


@case("options", REFUSE(r"curvature='ricci'"))
def flow_curvature_bogus():
    X = _points(40)
    rf().ricci_flow([X, X, X, X], 3, curvature="ricci", progress=False)


@case("options", REFUSE(r"curvature='ricci'"))
def layer_curvature_bogus():
    rf().layer_curvature(_points(40), 3, curvature="ricci")


@case("options", OK())
def flow_huge_and_tiny_layers():
    m = rf()
    rng = np.random.default_rng(10)
    layers = [rng.normal(size=(60, 5))]
    for _ in range(4):
        layers.append(np.maximum(layers[-1] @ rng.normal(size=(layers[-1].shape[1], 8)), 0))
    ref = m.ricci_flow(layers, 5, progress=False, disconnected="nan")
    scaled = [layer * c for layer, c in zip(layers, (1e25, 1e-30, 1e160, 1e-300, 1e300))]
    flow = m.ricci_flow(scaled, 5, progress=False, disconnected="nan")
    np.testing.assert_array_equal(flow.total_curvature, ref.total_curvature)
    np.testing.assert_array_equal(flow.geodesic_sum, ref.geodesic_sum)


def _small_graph():
    return rf().knn_graph(_points(30, 4), 4)


OLLIVIER = {
    "alpha_above_one": ({"alpha": 1.5}, r"alpha"),
    "alpha_negative": ({"alpha": -0.1}, r"alpha"),
    "alpha_nan": ({"alpha": float("nan")}, r"alpha"),
    "alpha_string": ({"alpha": "0.5"}, r"alpha"),
    "alpha_bool": ({"alpha": True}, r"alpha"),
    "alpha_complex": ({"alpha": 0.5 + 0j}, r"alpha"),
    "solver_bogus": ({"solver": "emd"}, r"solver='emd'"),
    "sinkhorn_max_iter_zero": ({"solver": "sinkhorn", "max_iter": 0}, r"max_iter"),
    "sinkhorn_max_iter_fraction": ({"solver": "sinkhorn", "max_iter": 2.5}, r"max_iter"),
    "sinkhorn_epsilon_negative": ({"solver": "sinkhorn", "epsilon": -1.0}, r"epsilon"),
    "sinkhorn_epsilon_nan": ({"solver": "sinkhorn", "epsilon": float("nan")}, r"epsilon"),
    "sinkhorn_tol_nan": ({"solver": "sinkhorn", "tol": float("nan")}, r"tol"),
    "sinkhorn_tol_string": ({"solver": "sinkhorn", "tol": "small"}, r"tol"),
    # issue 10, fixed by h3 in ollivier.py / _torch_sinkhorn.py:
    "sinkhorn_torch_batch_size_negative": ({"solver": "sinkhorn_torch", "batch_size": -5}, r"batch_size"),
    "sinkhorn_torch_batch_size_fraction": ({"solver": "sinkhorn_torch", "batch_size": 2.5}, r"batch_size"),
}


def _ollivier(options):
    def run():
        rf().ollivier_ricci(_small_graph(), **options)

    return run


for _name, (_options, _pattern) in OLLIVIER.items():
    CASES[f"ollivier_{_name}"] = ("options", REFUSE(_pattern), _ollivier(_options))


@case("options", OK())
def ollivier_alpha_numpy_float32():
    """issue 10: alpha=np.float32(0.5) works (h3 fixes this in ollivier.py)."""
    g = _small_graph()
    np.testing.assert_allclose(rf().ollivier_ricci(g, np.float32(0.5)).values, rf().ollivier_ricci(g, 0.5).values)
    np.testing.assert_allclose(rf().edge_curvature(g, "ollivier", alpha=np.float64(0.25)),
                               rf().ollivier_ricci(g, 0.25).values)


@case("options", OK())
def ollivier_solvers_on_a_hub():
    m = rf()
    X = np.zeros((60, 3))
    X[45:] = np.random.default_rng(11).normal(size=(15, 3))
    g = m.knn_graph(X, 4)
    exact = m.ollivier_ricci(g).values
    assert np.isfinite(exact).all() and exact.min() >= -2 - 1e-12 and exact.max() <= 1 + 1e-12
    sink = m.ollivier_ricci(g, solver="sinkhorn", max_iter=200)
    assert np.isfinite(sink.values).all()


@case("options", REFUSE(r"edge_curvature\(kind='forman'\) takes no options"))
def edge_curvature_options_for_forman():
    rf().edge_curvature(_small_graph(), "forman", alpha=0.5)


@case("options", REFUSE(r"unknown options"))
def edge_curvature_unknown_ollivier_option():
    rf().edge_curvature(_small_graph(), "ollivier", idleness=0.5)


# ---------------------------------------------------------------------------------------------------
# The command line on bad files (in-process main(), which is what the console script runs)

def _cli(argv_tail, make_file=None, expect_code=2):
    def run():
        from ricci_fast.cli import main

        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "net.npz")
            if make_file is not None:
                make_file(path)
            argv = [a.replace("{path}", path).replace("{tmp}", tmp) for a in argv_tail]
            err, out = io.StringIO(), io.StringIO()
            try:
                with redirect_stderr(err), redirect_stdout(out):
                    code = main(argv)
            except SystemExit as exc:
                code = exc.code
            message = err.getvalue() + (code if isinstance(code, str) else "")
            if code not in (0, None):
                # a refusal: a one-line message naming the problem, no traceback
                assert "Traceback" not in message, message
                raise ValueError(f"exit {code}: {message.strip()}")

    return run


def _npz(*layers, **named):
    def make(path):
        np.savez(path, *layers, **named)

    return make


def _write(data: bytes):
    def make(path):
        with open(path, "wb") as f:
            f.write(data)

    return make


def _truncated(path):
    np.savez(path, _points(30), _points(30))
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])


def _object_npz(path):
    np.savez(path, np.array([[1, "a"]], dtype=object), _points(3))


def _pickle_npy_dir(path):
    folder = os.path.join(os.path.dirname(path), "layers")
    os.mkdir(folder)
    np.save(os.path.join(folder, "a.npy"), np.array([{"a": 1}], dtype=object), allow_pickle=True)


_LAYERS4 = [_points(30, seed=i) for i in range(4)]
CLI = {
    "missing_file": (["flow", "{tmp}/missing.npz", "--no-progress"], None, r"no such file"),
    "not_a_zip": (["flow", "{path}", "--no-progress"], _write(b"this is not an npz\n"), r"ricci-fast|npz|file"),
    "truncated_zip": (["flow", "{path}", "--no-progress"], _truncated, r"ricci-fast|npz|file|zip"),
    "empty_npz": (["flow", "{path}", "--no-progress"], _npz(), r"layers"),
    "one_layer": (["flow", "{path}", "--no-progress"], _npz(_points(30)), r"at least 2"),
    "nan_layer": (["flow", "{path}", "-k", "3", "--no-progress"], _npz(_LAYERS4[0], np.full((30, 2), np.nan)),
                  r"layer '?(arr_)?1'?: .*NaN"),
    "mismatched": (["flow", "{path}", "-k", "3", "--no-progress"], _npz(_points(30), _points(20)),
                   r"same probe points"),
    "object_layer": (["flow", "{path}", "--no-progress"], _object_npz, r"ricci-fast|pickle|object"),
    "string_layer": (["flow", "{path}", "-k", "1", "--no-progress"],
                     _npz(np.array([["a", "b"], ["c", "d"]]), np.array([["a", "b"], ["c", "d"]])), r"layer '?(arr_)?0'?: .*str"),
    "datetime_layer": (["flow", "{path}", "-k", "1", "--no-progress"],
                       _npz(np.arange(6).astype("datetime64[D]").reshape(3, 2), _points(3)), r"layer '?(arr_)?0'?: .*datetime"),
    "one_d_layer": (["flow", "{path}", "-k", "1", "--no-progress"], _npz(np.zeros(5), np.zeros(5)), r"1-D"),
    "k_zero": (["flow", "{path}", "-k", "0", "--no-progress"], _npz(*_LAYERS4), r"k=0 is out of range|k must be a positive integer, got 0"),
    "k_too_big": (["flow", "{path}", "-k", "30", "--no-progress"], _npz(*_LAYERS4), r"k=30 is out of range"),
    "alpha_out_of_range": (["flow", "{path}", "-k", "3", "--curvature", "ollivier", "--alpha", "2",
                            "--no-progress"], _npz(*_LAYERS4), r"alpha"),
    "pickle_dir": (["flow", "{tmp}/layers", "--no-progress"], _pickle_npy_dir, r"ricci-fast|pickle|object"),
    "empty_dir": (["flow", "{tmp}", "--no-progress"], None, r"no \.npy files"),
}

for _name, (_argv, _make, _pattern) in CLI.items():
    CASES[f"cli_{_name}"] = ("cli", REFUSE(_pattern), _cli(_argv, _make))


@case("cli", OK())
def cli_valid_run():
    _cli(["flow", "{path}", "-k", "4", "--no-progress"], _npz(*_LAYERS4))()


# ---------------------------------------------------------------------------------------------------

def run_group(group: str, names: list[str] | None = None) -> None:
    import warnings

    warnings.simplefilter("ignore")
    selected = [n for n, (g, _, _) in CASES.items() if g == group and (not names or n in names)]
    for name in selected:
        print(f"START {name}", flush=True)
        _, _, fn = CASES[name]
        try:
            fn()
            result = {"case": name, "outcome": "ok"}
        except BaseException as exc:  # noqa: BLE001 - every outcome is reported to the parent
            result = {
                "case": name, "outcome": "raised", "type": type(exc).__name__, "message": str(exc)[:2000],
                "traceback": traceback.format_exc()[-3000:],
            }
        print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    run_group(sys.argv[1], sys.argv[2:])
