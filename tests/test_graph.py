import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.neighbors import kneighbors_graph

import reference
import ricci_fast as rf


def edge_set(graph):
    return {tuple(e) for e in graph.edges().tolist()}


def nx_edge_set(g):
    return {(min(a, b), max(a, b)) for a, b in g.edges()}


def assert_valid_csr(graph):
    assert graph.indptr.dtype == np.int64 and graph.indices.dtype == np.int32
    assert graph.indptr.shape == (graph.n_nodes + 1,)
    for i in range(graph.n_nodes):
        row = graph.indices[graph.indptr[i]:graph.indptr[i + 1]]
        assert np.all(np.diff(row) > 0), "rows must be sorted without duplicates"
        assert i not in row, "no self-loops"
    A = graph.to_scipy()
    assert (A != A.T).nnz == 0
    assert graph.n_edges * 2 == graph.indices.size
    np.testing.assert_array_equal(graph.degrees, np.asarray(A.sum(axis=1)).ravel())


@pytest.mark.parametrize("method", ["brute", "kdtree"])
@pytest.mark.parametrize("shape,k", [((60, 3), 5), ((150, 12), 10), ((97, 40), 30), ((40, 2), 39)])
def test_union_graph_matches_sklearn(rng, method, shape, k):
    X = rng.normal(size=shape)
    graph = rf.knn_graph(X, k, method=method)
    A = kneighbors_graph(X, k, mode="connectivity", include_self=False)
    expected = sp.csr_matrix(A.maximum(A.T))
    assert_valid_csr(graph)
    assert (graph.to_scipy() != expected).nnz == 0
    np.testing.assert_array_equal(graph.knn_indices, A.indices.reshape(len(X), k))


@pytest.mark.parametrize("symmetrize", ["union", "mutual"])
@pytest.mark.parametrize("method", ["brute", "kdtree"])
def test_matches_reference_with_ties_and_duplicates(method, symmetrize):
    # a 2-D integer grid (many equal distances) plus duplicated points
    grid = np.array([(x, y) for x in range(7) for y in range(6)], dtype=np.float64)
    X = np.vstack([grid, grid[[3, 3, 10, 20]]])
    for k in (1, 4, 8, 13):
        graph = rf.knn_graph(X, k, method=method, symmetrize=symmetrize)
        assert edge_set(graph) == nx_edge_set(reference.knn_nx_graph(X, k, symmetrize=symmetrize))
        expected = reference.knn_lists(X, k)
        np.testing.assert_array_equal(graph.knn_indices, np.array(expected))


def test_all_points_identical():
    X = np.ones((20, 5))
    graph = rf.knn_graph(X, 3)
    np.testing.assert_array_equal(graph.knn_indices[0], [1, 2, 3])
    np.testing.assert_array_equal(graph.knn_indices[5], [0, 1, 2])
    assert edge_set(graph) == nx_edge_set(reference.knn_nx_graph(X, 3))


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.int8, st.tuples(st.integers(5, 30), st.integers(1, 12)), elements=st.integers(-3, 3)),
    st.integers(1, 6),
    st.sampled_from(["union", "mutual"]),
)
def test_hypothesis_integer_points(X, k, symmetrize):
    k = min(k, len(X) - 1)
    X = X.astype(np.float64)
    expected = nx_edge_set(reference.knn_nx_graph(X, k, symmetrize=symmetrize))
    for method in ("brute", "kdtree"):
        graph = rf.knn_graph(X, k, method=method, symmetrize=symmetrize)
        assert edge_set(graph) == expected
        np.testing.assert_array_equal(graph.knn_indices, np.array(reference.knn_lists(X, k)))


def test_far_from_origin_and_large_scale(rng):
    # BLAS cancellation is worst when points sit far from the origin; the exact re-measurement fixes it
    X = rng.normal(size=(120, 20)) + 1e6
    graph = rf.knn_graph(X, 7, method="brute")
    assert edge_set(graph) == nx_edge_set(reference.knn_nx_graph(X, 7))


def test_metrics(rng):
    X = rng.normal(size=(80, 16))
    cos = rf.knn_graph(X, 6, metric="cosine")
    assert edge_set(cos) == nx_edge_set(reference.knn_nx_graph(X, 6, metric="cosine"))
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    expected_cos = 1 - np.sum(unit[:, None, :] * unit[cos.knn_indices], axis=2)
    np.testing.assert_allclose(cos.knn_distances, expected_cos, atol=1e-12)
    euc = rf.knn_graph(X, 6)
    sq = rf.knn_graph(X, 6, metric="sqeuclidean")
    assert edge_set(euc) == edge_set(sq)
    np.testing.assert_allclose(sq.knn_distances, euc.knn_distances**2, rtol=1e-12)
    np.testing.assert_allclose(euc.knn_distances, np.linalg.norm(X[:, None, :] - X[euc.knn_indices], axis=2), rtol=1e-12)


def test_mutual_is_subset_of_union(rng):
    X = rng.normal(size=(200, 8))
    union = edge_set(rf.knn_graph(X, 5))
    mutual = edge_set(rf.knn_graph(X, 5, symmetrize="mutual"))
    assert mutual < union


def test_components_and_scipy(rng):
    X = np.vstack([rng.normal(size=(30, 3)), rng.normal(size=(30, 3)) + 100])
    graph = rf.knn_graph(X, 4)
    assert graph.n_components == 2
    assert len(set(graph.component_labels[:30])) == 1 and graph.component_labels[0] != graph.component_labels[-1]
    assert_valid_csr(graph)


def test_conv_feature_maps_are_flattened(rng):
    X = rng.normal(size=(50, 2, 3, 4)).astype(np.float32)
    assert edge_set(rf.knn_graph(X, 5)) == edge_set(rf.knn_graph(X.reshape(50, -1), 5))


def test_dtypes(rng):
    X = rng.integers(0, 5, size=(40, 6))
    assert edge_set(rf.knn_graph(X, 4)) == edge_set(rf.knn_graph(X.astype(np.float64), 4))
    assert edge_set(rf.knn_graph(X.astype(np.float16), 4)) == edge_set(rf.knn_graph(X.astype(np.float32), 4))


def test_torch_tensor_input(rng):
    torch = pytest.importorskip("torch")
    X = rng.normal(size=(60, 10)).astype(np.float32)
    t = torch.tensor(X, requires_grad=True)
    assert edge_set(rf.knn_graph(t * 2, 5)) == edge_set(rf.knn_graph(X * 2, 5))
    half = torch.tensor(X).half()
    assert edge_set(rf.knn_graph(half, 5)) == edge_set(rf.knn_graph(half.float().numpy(), 5))


def test_from_scipy_and_edges():
    g = rf.Graph.from_edges([(0, 1), (1, 2), (2, 0), (1, 0)], 4)
    assert g.n_edges == 3 and g.n_components == 2
    np.testing.assert_array_equal(g.degrees, [2, 2, 2, 0])
    with pytest.raises(ValueError, match="undirected"):
        rf.Graph.from_scipy(sp.csr_matrix(np.array([[0, 1], [0, 0]])))
    with pytest.raises(ValueError, match="self-loops"):
        rf.Graph.from_scipy(np.eye(3))


@pytest.mark.parametrize(
    "X,k,match",
    [
        (np.array([[0.0, np.nan], [1, 2], [3, 4]]), 1, "1 of 6 entries are NaN or infinite"),
        (np.array([[0.0, np.inf], [1, 2], [3, -np.inf]]), 1, "2 of 6 entries"),
        (np.zeros((5, 2)), 5, r"k=5 is out of range for 5 points.*1 <= k <= N - 1 = 4"),
        (np.zeros((5, 2)), 0, "out of range"),
        (np.zeros(5), 2, "1-D array"),
        (np.zeros((1, 3)), 1, "at least 2 points"),
        (np.zeros((0, 3)), 1, "no points"),
    ],
)
def test_bad_input(X, k, match):
    with pytest.raises(ValueError, match=match):
        rf.knn_graph(X, k)


def test_bad_options(rng):
    X = rng.normal(size=(10, 3))
    with pytest.raises(TypeError, match="k must be an integer"):
        rf.knn_graph(X, 2.5)
    with pytest.raises(ValueError, match="metric='manhattan' is not supported"):
        rf.knn_graph(X, 2, metric="manhattan")
    with pytest.raises(ValueError, match="symmetrize"):
        rf.knn_graph(X, 2, symmetrize="intersection")
    with pytest.raises(ValueError, match="all-zero rows"):
        rf.knn_graph(np.vstack([X, np.zeros(3)]), 2, metric="cosine")


def test_approximate_reports_recall(rng):
    pytest.importorskip("pynndescent")
    X = rng.normal(size=(600, 3))
    graph = rf.knn_graph(X, 8, method="approximate", check_recall=200)
    assert graph.method == "approximate"
    assert 0.9 <= graph.recall <= 1.0
    assert_valid_csr(graph)
    exact = rf.knn_graph(X, 8)
    # whatever NN-descent found is re-measured exactly: distances never beat the exact k-th neighbour
    assert np.all(graph.knn_distances[:, -1] >= exact.knn_distances[:, -1] - 1e-12)


def test_pixel_like_data_beyond_float32_precision(rng):
    # squared distances of 0..255 pixels in 300 dimensions reach ~1e7: float32 GEMM rounds them by
    # several units, and equal integer distances (ties) are common; the result must still be exact
    base = rng.integers(0, 256, size=(40, 300))
    X = np.vstack([base, base[:20] + rng.integers(-1, 2, size=(20, 300)), base[:5]]).astype(np.float32)
    for k in (1, 5, 12):
        graph = rf.knn_graph(X, k, method="brute")
        np.testing.assert_array_equal(graph.knn_indices, np.array(reference.knn_lists(X, k)))


def test_auto_switches_to_approximate_above_the_documented_size(rng, monkeypatch):
    pytest.importorskip("pynndescent")
    from ricci_fast import graph as graph_module

    monkeypatch.setattr(graph_module, "APPROXIMATE_ABOVE", 300)
    X = rng.normal(size=(400, 12))
    with pytest.warns(UserWarning, match="uses approximate k-NN search"):
        approx = rf.knn_graph(X, 5)
    assert approx.method == "approximate" and approx.recall is not None and approx.recall > 0.8
    exact = rf.knn_graph(X, 5, method="exact")
    assert exact.method == "brute" and exact.recall is None
    low_dim = rf.knn_graph(rng.normal(size=(400, 3)), 5)  # a KD-tree stays exact and fast
    assert low_dim.method == "kdtree"


# ---------------------------------------------------------------------------------------------------
# Magnitude and dtype: the graph of c X is the graph of X (issue 10)

def knn_long_double(X, k, metric="euclidean"):
    """Independent oracle: squared distances in long double (x86: 64-bit significand, exponent range to
    1e4932, so no overflow or underflow at any float64 scale), ties by lower index."""
    X = np.asarray(X, dtype=np.longdouble)
    if metric == "cosine":
        X = X / np.sqrt((X * X).sum(axis=1, keepdims=True))
    out = []
    for i in range(len(X)):
        d2 = ((X - X[i]) ** 2).sum(axis=1)
        out.append([j for j in np.lexsort((np.arange(len(X)), d2)) if j != i][:k])
    return np.array(out)


SCALES = [2.0**-1070, 2.0**-1000, 1e-300, 1e-30, 2.0**-70, 3.7, 2.0**60, 1e20, 1e25, 1e160, 1e300, 2.0**1000]


@pytest.mark.parametrize("metric", ["euclidean", "sqeuclidean", "cosine"])
@pytest.mark.parametrize("method,dims", [("brute", 24), ("kdtree", 4)])
def test_graph_is_scale_invariant(rng, method, dims, metric):
    X = rng.normal(size=(90, dims))
    k = 7
    base = rf.knn_graph(X, k, method=method, metric=metric)
    np.testing.assert_array_equal(base.knn_indices, knn_long_double(X, k, "cosine" if metric == "cosine" else "euclidean"))
    for c in SCALES:
        Xc = X * c
        if c < 1e-290:
            # coordinates near the subnormal range lose bits in X * c itself: compare with its own oracle
            expected = knn_long_double(Xc, k, "cosine" if metric == "cosine" else "euclidean")
        else:
            expected = base.knn_indices
        g = rf.knn_graph(Xc, k, method=method, metric=metric)
        np.testing.assert_array_equal(g.knn_indices, expected, err_msg=f"scale {c}")
        assert edge_set(g) == edge_set(base) or c < 1e-290
        if metric == "euclidean" and c >= 1e-290:
            np.testing.assert_allclose(g.knn_distances, base.knn_distances * c, rtol=1e-12)
        elif metric == "sqeuclidean" and 1e-150 < c < 1e150:
            np.testing.assert_allclose(g.knn_distances, base.knn_distances * c * c, rtol=1e-12)
        elif metric == "cosine" and c >= 1e-290:
            np.testing.assert_allclose(g.knn_distances, base.knn_distances, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("method", ["brute", "kdtree"])
def test_sign_patterns_at_any_magnitude(rng, method):
    # +-c sign patterns: every distance ties with many others; float32 GEMM products overflow above ~1e19
    X = np.sign(rng.normal(size=(150, 30 if method == "brute" else 6)))
    X[X == 0] = 1
    expected = np.array(reference.knn_lists(X, 10))  # exact: small integers
    for c in (1e20, 1e25, 1e38, 1e100, 1e160, 1e300, 1e-30, 1e-45, 1e-300, 2.0**-1060):
        g = rf.knn_graph(X * c, 10, method=method)
        np.testing.assert_array_equal(g.knn_indices, expected, err_msg=f"scale {c}")
        assert np.isfinite(g.knn_distances).all()


def test_far_from_origin_at_huge_scale(rng):
    X = rng.normal(size=(100, 12)) + 50.0
    expected = knn_long_double(X * 1e300, 6)
    np.testing.assert_array_equal(rf.knn_graph(X * 1e300, 6, method="brute").knn_indices, expected)
    np.testing.assert_array_equal(rf.knn_graph(X * 1e300, 6, method="brute").knn_indices,
                                  rf.knn_graph(X, 6, method="brute").knn_indices)


def test_matches_sklearn_on_rescaled_data(rng):
    X = rng.normal(size=(120, 16))
    A = kneighbors_graph(X, 8, mode="connectivity", include_self=False)
    for c in (1e-300, 1e30, 1e300):
        graph = rf.knn_graph(X * c, 8)
        np.testing.assert_array_equal(graph.knn_indices, A.indices.reshape(len(X), 8))


@pytest.mark.parametrize("offset", [2**25, 2**40, 2**52])
def test_wide_integers_keep_distinct_rows(rng, offset):
    base = rng.integers(0, 3, size=(60, 5))
    base[1] = base[0]
    base[1, 2] += 1  # rows 0 and 1 differ by one unit, far above float32's 24-bit significand
    X = base.astype(np.int64) + offset
    g = rf.knn_graph(X, 4)
    expected = np.array(reference.knn_lists(base, 4))  # translation-invariant, and exact on small ints
    np.testing.assert_array_equal(g.knn_indices, expected)
    distinct = (X[g.knn_indices] != X[:, None, :]).any(axis=2)
    assert np.all(g.knn_distances[distinct] >= 1.0)
    np.testing.assert_array_equal(rf.knn_graph(X.astype(np.uint64), 4).knn_indices, expected)


def test_integer_dtypes_are_exact(rng):
    pixels = rng.integers(0, 256, size=(70, 49))
    expected = np.array(reference.knn_lists(pixels, 5))
    for dtype in (np.uint8, np.int16, np.uint16, np.int32, np.int64, np.uint64):
        np.testing.assert_array_equal(rf.knn_graph(pixels.astype(dtype), 5).knn_indices, expected)
    with pytest.raises(ValueError, match=r"X: integer values up to .* exceed 2\^53"):
        rf.knn_graph(np.array([[2**53 + 1], [0], [3]], np.int64), 1)


def test_float32_input_matches_float64_of_the_same_values(rng):
    X32 = (rng.normal(size=(150, 20)) * 1e20).astype(np.float32)
    g32 = rf.knn_graph(X32, 6)
    np.testing.assert_array_equal(g32.knn_indices, rf.knn_graph(X32.astype(np.float64), 6).knn_indices)
    np.testing.assert_array_equal(g32.knn_indices, knn_long_double(X32, 6))


def test_long_double_input():
    X = np.random.default_rng(3).normal(size=(40, 5))
    np.testing.assert_array_equal(rf.knn_graph(X.astype(np.longdouble), 4).knn_indices, rf.knn_graph(X, 4).knn_indices)
    if np.finfo(np.longdouble).nmant > 52:
        close = np.array([[1.0], [1.0], [3.0]], np.longdouble)
        close[1, 0] += np.finfo(np.longdouble).eps
        with pytest.raises(ValueError, match="would merge 1 distinct points"):
            rf.knn_graph(close, 1)
        with pytest.raises(ValueError, match="beyond the float64 range"):
            rf.knn_graph(np.array([[np.longdouble("1e400")], [np.longdouble(0)]]), 1)


@pytest.mark.parametrize("bad", [
    np.array([["2020-01-01"], ["2021-01-01"], ["2022-01-01"]], dtype="datetime64[D]"),
    np.arange(6).astype("timedelta64[s]").reshape(3, 2),
    np.array([["1", "2"], ["3", "4"]]),
    np.array([[b"1"], [b"2"]]),
    np.array([[1, None], [2, 3]], dtype=object),
    np.ones((3, 2), complex),
    np.zeros((3, 2), dtype=[("a", "f8"), ("b", "i4")]),
])
def test_non_numeric_dtypes_are_refused(bad):
    with pytest.raises(TypeError, match=r"^X: expected a real numeric array|^X: complex"):
        rf.knn_graph(bad, 1)


def test_torch_backend_is_scale_invariant(rng):
    torch = pytest.importorskip("torch")
    X = np.sign(rng.normal(size=(70, 25)))
    expected = np.array(reference.knn_lists(X, 6))
    for c in (1e25, 1e-30, 1e160, 1e300, 1e-300):
        for dtype in (torch.float64, torch.float32):
            if dtype == torch.float32 and not 1e-37 < c < 1e38:
                continue
            t = torch.tensor(X * c, dtype=dtype)
            g = rf.knn_graph(t, 6, backend="torch")
            np.testing.assert_array_equal(g.knn_indices, expected, err_msg=f"{c} {dtype}")
            np.testing.assert_allclose(g.knn_distances, rf.knn_graph(t.numpy(), 6).knn_distances, rtol=1e-12)
    ints = torch.tensor(rng.integers(0, 3, size=(40, 4)) + 2**40)
    np.testing.assert_array_equal(rf.knn_graph(ints, 4, backend="torch").knn_indices,
                                  np.array(reference.knn_lists(ints.numpy() - 2**40, 4)))
    with pytest.raises(ValueError, match=r"exceed 2\^53"):
        rf.knn_graph(torch.tensor([[2**60], [0]]), 1, backend="torch")


def test_unfilled_neighbour_slots_are_rejected(monkeypatch):
    # a search that leaves a slot as allocated must never reach the symmetrisation kernel
    from ricci_fast import graph as graph_module

    def broken(Xd, k):
        idx = np.full((Xd.shape[0], k), -1, np.int32)
        idx[:, :-1] = (np.arange(Xd.shape[0])[:, None] + np.arange(1, k)) % Xd.shape[0]
        return idx, np.zeros((Xd.shape[0], k))

    monkeypatch.setattr(graph_module, "_brute_knn", broken)
    with pytest.raises(RuntimeError, match="neighbour slots unfilled"):
        rf.knn_graph(np.random.default_rng(0).normal(size=(20, 12)), 3, method="brute")


# ---------------------------------------------------------------------------------------------------
# Graph validation (issue 10)

@pytest.mark.parametrize("indptr,indices,error,match", [
    ([0, 1, 2], [1, 7], ValueError, r"^indices: node id 7 at entry 1 \(row 1\) is out of range"),
    ([0, 1, 2], [1, -1], ValueError, r"^indices: node id -1"),
    ([0, 1, 5], [1, 0], ValueError, r"^indptr: must end at len\(indices\) = 2, got indptr\[-1\] = 5"),
    ([0, 2, 1, 2], [1, 2], ValueError, r"^indptr: must be non-decreasing, but row 1"),
    ([1, 2, 3], [1, 0], ValueError, r"^indptr: must start at 0"),
    ([0, 2, 3, 4], [2, 1, 0, 0], ValueError, r"^indices: row 0 has neighbour 1 at entry 1 after 2; rows must be sorted"),
    ([0, 2, 4], [1, 1, 0, 0], ValueError, r"^indices: row 0 has neighbour 1 twice"),
    ([0, 1, 1], [1], ValueError, r"^indices: row 0 has neighbour 1 at entry 0, but row 1 does not list 0"),
    ([0, 1, 2], [0, 1], ValueError, r"^indices: row 0 has a self-loop"),
    ([0, 1.5, 2], [1, 0], TypeError, r"^indptr: expected integers, got float64 with non-integral value 1.5"),
    ([0, 1, 2], [True, False], TypeError, r"^indices: expected integers, got a boolean array"),
    ([0, 1, 2], np.array([1, 0], object), TypeError, r"^indices: expected an integer array, got dtype object"),
    ([[0, 1, 2]], [1, 0], ValueError, r"^indptr: expected a 1-D array"),
    ([], [], ValueError, r"^indptr: a graph needs at least one node"),
    ([0, 1, 2], [1, 2**40], ValueError, r"^indices: node id 1099511627776"),
])
def test_invalid_graphs_are_refused(indptr, indices, error, match):
    with pytest.raises(error, match=match):
        rf.Graph(indptr, indices)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 8), st.lists(st.tuples(st.integers(0, 7), st.integers(0, 7)), max_size=20), st.data())
def test_hypothesis_graph_check_matches_networkx(n, pairs, data):
    # a random symmetric graph is accepted and equals networkx; one corrupted entry is refused
    import networkx as nx

    G = nx.Graph()
    G.add_nodes_from(range(n))
    G.add_edges_from((a, b) for a, b in pairs if a < n and b < n and a != b)
    A = nx.to_scipy_sparse_array(G, nodelist=range(n), format="csr", dtype=np.int8)
    A.sort_indices()
    graph = rf.Graph(A.indptr, A.indices)
    assert edge_set(graph) == nx_edge_set(G)
    if A.indices.size:
        bad = A.indices.astype(np.int64)
        p = data.draw(st.integers(0, bad.size - 1))
        bad[p] = data.draw(st.integers(-2, n + 2).filter(lambda v: v != bad[p]))
        with pytest.raises((ValueError, TypeError), match=r"^indices:"):
            rf.Graph(A.indptr, bad)


def test_graph_arrays_are_read_only_copies(rng):
    indptr, indices = np.array([0, 1, 3, 4], np.int64), np.array([1, 0, 2, 1], np.int32)
    g = rf.Graph(indptr, indices)
    indices[0] = 2  # the caller's arrays are not the graph's
    assert g.indices[0] == 1 and indices.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        g.indices[0] = 2
    knn = rf.knn_graph(rng.normal(size=(30, 3)), 4)
    for array in (knn.indptr, knn.indices, knn.knn_indices, knn.knn_distances, knn.degrees):
        assert not array.flags.writeable
    with pytest.raises(ValueError, match=r"^Graph\.indices: the new value does not fit the graph: indices: row 0"):
        g.indices = np.array([2, 0, 2, 1])
    replacement = np.array([1, 0, 2, 1])
    g.indices = replacement  # a valid replacement is checked, copied and frozen
    assert g.degrees.tolist() == [1, 2, 1] and not g.indices.flags.writeable and replacement.flags.writeable


def test_arrays_swapped_behind_the_graphs_back_are_checked_again():
    g = rf.Graph.from_edges([(0, 1), (1, 2)], 3)
    object.__setattr__(g, "indices", np.array([1, 0, 5, 1], np.int32))
    with pytest.raises(ValueError, match="node id 5"):
        rf.edge_curvature(g)
    h = rf.Graph.from_edges([(0, 1), (1, 2)], 3)
    object.__setattr__(h, "indices", np.array([1, 0, 2, 1], np.int32))  # valid, writable: checked and frozen
    np.testing.assert_array_equal(rf.edge_curvature(h), [1, 1, 1, 1])
    assert not h.indices.flags.writeable


def test_edge_values_must_align_with_the_graph():
    g = rf.Graph.from_edges([(0, 1), (1, 2)], 3)
    with pytest.raises(ValueError, match=r"edge_values: expected one value per CSR entry"):
        rf.node_curvature(g, np.zeros(3))
    with pytest.raises(ValueError, match=r"edge_values"):
        rf.total_curvature(g, np.zeros(100))


def test_from_edges_and_from_scipy_checks():
    with pytest.raises(ValueError, match=r"edges: node ids must lie in \[0, 2\]; edge 1 is \[1, 3\]"):
        rf.Graph.from_edges([(0, 1), (1, 3)], 3)
    with pytest.raises(TypeError, match="n_nodes must be an integer"):
        rf.Graph.from_edges([(0, 1)], 2.0)
    with pytest.raises(TypeError, match="edges: expected integers"):
        rf.Graph.from_edges([(0, 1.5)], 3)
    A = sp.csr_matrix(np.array([[0, 1], [1, 0]]))
    A.indices[0] = 9
    with pytest.raises(ValueError, match="matrix: invalid sparse structure"):
        rf.Graph.from_scipy(A)
    assert rf.Graph.from_edges(np.array([[0, 1]], np.uint8), np.int64(3)).n_edges == 1


def test_check_integer_and_check_real():
    from fractions import Fraction

    from ricci_fast._validation import check_integer, check_real

    assert check_integer(np.int64(5), "n", minimum=1) == 5 and type(check_integer(np.uint8(3), "n")) is int
    for bad in (2.0, True, np.bool_(True), "3", None, 1 + 0j):
        with pytest.raises(TypeError, match=r"^n must be an integer"):
            check_integer(bad, "n", minimum=1)
    with pytest.raises(ValueError, match=r"^n=0 is out of range: it must satisfy 1 <= n <= 9"):
        check_integer(0, "n", minimum=1, maximum=9)
    assert check_real(np.float32(0.5), "alpha", minimum=0, maximum=1, inclusive=(True, False)) == 0.5
    assert check_real(Fraction(1, 4), "alpha") == 0.25 and check_real(np.int64(2), "x") == 2.0
    for bad in ("0.5", True, None, 0.5j, [0.5]):
        with pytest.raises(TypeError, match=r"^alpha must be a real number"):
            check_real(bad, "alpha")
    with pytest.raises(ValueError, match=r"^alpha must be a finite number"):
        check_real(float("nan"), "alpha")
    with pytest.raises(ValueError, match=r"^alpha=1.0 is out of range: it must satisfy 0 <= alpha < 1"):
        check_real(1.0, "alpha", minimum=0, maximum=1, inclusive=(True, False))
    with pytest.raises(ValueError, match=r"^tol=0 is out of range: it must satisfy 0 < tol"):
        check_real(0, "tol", minimum=0, inclusive=False)
    assert check_real(float("inf"), "max", allow_inf=True) == float("inf")


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 60), n_edges=st.integers(0, 120), seed=st.integers(0, 2**31 - 1))
def test_component_labels_equal_scipys(n, n_edges, seed):
    # kernels/connected.py against scipy's connected_components: the same count and the same labels
    # (components numbered by their smallest node), isolated nodes and many small components included
    from scipy.sparse.csgraph import connected_components

    rng = np.random.default_rng(seed)
    edges = rng.integers(0, n, size=(n_edges, 2))
    edges = edges[edges[:, 0] != edges[:, 1]]
    graph = rf.Graph.from_edges(edges, n)
    expected_n, expected = connected_components(graph.to_scipy(), directed=False)
    assert graph.n_components == expected_n
    assert graph.component_labels.dtype == np.int32
    np.testing.assert_array_equal(graph.component_labels, expected)


def test_empty_graphs_from_elsewhere_are_refused_with_their_own_names():
    import networkx as nx

    with pytest.raises(ValueError, match=r"^G: the graph has no nodes"):
        rf.Graph.from_networkx(nx.Graph())
    with pytest.raises(ValueError, match=r"^edge_index: no edges, so the number of nodes is unknown; pass num_nodes"):
        rf.Graph.from_edge_index(np.zeros((2, 0), np.int64))
    with pytest.raises(ValueError, match=r"^num_nodes must be a positive integer"):
        rf.Graph.from_edge_index(np.zeros((2, 0), np.int64), num_nodes=0)
    lonely = rf.Graph.from_edge_index(np.zeros((2, 0), np.int64), num_nodes=3)
    assert lonely.n_nodes == 3 and lonely.n_edges == 0
