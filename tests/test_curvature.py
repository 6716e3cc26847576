import warnings

import networkx as nx
import numpy as np
import pytest

import reference
import ricci_fast as rf

KINDS = ["forman", "augmented_forman", "approx_ollivier"]


def graph_from_nx(g):
    return rf.Graph.from_edges(np.array(list(g.edges()), dtype=np.int64), g.number_of_nodes())


def assert_matches_reference(graph, kind):
    values = rf.edge_curvature(graph, kind)
    assert values.dtype == np.float64 and values.shape == graph.indices.shape
    expected = reference.edge_values(reference.to_nx(graph), kind)
    rows = np.repeat(np.arange(graph.n_nodes), graph.degrees)
    for p, (i, j) in enumerate(zip(rows, graph.indices)):
        assert values[p] == pytest.approx(expected[(min(i, j), max(i, j))], abs=1e-12, rel=0)
    return values, expected


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("symmetrize", ["union", "mutual"])
def test_knn_graphs_match_reference(rng, kind, symmetrize):
    for shape, k in [((120, 5), 6), ((80, 30), 12)]:
        graph = rf.knn_graph(rng.normal(size=shape), k, symmetrize=symmetrize)
        assert_matches_reference(graph, kind)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "g",
    [
        nx.complete_graph(7),
        nx.cycle_graph(9),
        nx.star_graph(6),
        nx.grid_2d_graph(5, 4),
        nx.path_graph(5),
        nx.barbell_graph(5, 2),
        nx.gnp_random_graph(60, 0.15, seed=3),
    ],
    ids=["complete", "cycle", "star", "grid", "path", "barbell", "gnp"],
)
def test_special_graphs_match_reference(kind, g):
    g = nx.convert_node_labels_to_integers(g)
    assert_matches_reference(graph_from_nx(g), kind)


def test_closed_forms():
    # K_n: every edge has n - 2 triangles and degrees n - 1
    n = 7
    graph = graph_from_nx(nx.complete_graph(n))
    assert np.all(rf.edge_curvature(graph, "forman") == 4 - 2 * (n - 1))
    assert np.all(rf.edge_curvature(graph, "augmented_forman") == 4 - 2 * (n - 1) + 3 * (n - 2))
    assert np.all(rf.edge_triangles(graph) == n - 2)
    cycle = graph_from_nx(nx.cycle_graph(10))
    assert np.all(rf.edge_curvature(cycle, "forman") == 0)
    # Tian et al.'s approximation on a cycle (degrees 2, no triangles): 0.5 * (0 + 0 - 0) -> 0
    np.testing.assert_array_equal(rf.edge_curvature(cycle, "approx_ollivier"), 0.0)


@pytest.mark.parametrize("kind", KINDS)
def test_node_and_total_curvature(rng, kind):
    X = rng.normal(size=(90, 4))
    layer = rf.layer_curvature(X, 5, curvature=kind, symmetrize="mutual")
    nxg = reference.to_nx(layer.graph)
    values = reference.edge_values(nxg, kind)
    np.testing.assert_allclose(layer.node_curvature, reference.node_scalar_curvature(nxg, values), atol=1e-12, rtol=0)
    assert layer.total_curvature == pytest.approx(sum(values.values()), abs=1e-9)
    # the matrix form is symmetric and carries the same values
    M = layer.curvature_matrix()
    assert abs(M - M.T).max() == 0
    for (i, j), v in list(values.items())[:50]:
        assert M[i, j] == pytest.approx(v, abs=1e-12)


def test_isolated_nodes_have_nan_node_curvature():
    graph = rf.Graph.from_edges([(0, 1), (1, 2)], 4)
    layer = rf.curvature_of_graph(graph, "forman", geodesics=False)
    assert np.isnan(layer.node_curvature[3])
    assert layer.node_curvature[0] == 4 - 1 - 2


def test_layer_curvature_object(rng):
    X = rng.normal(size=(70, 6))
    layer = rf.layer_curvature(X, 5)
    assert layer.kind == "forman" and layer.n_components == 1
    frame = layer.to_pandas()
    assert list(frame.columns) == ["degree", "node_curvature", "node_geodesic_sum", "component"]
    assert len(frame) == 70
    hops = reference.hop_matrix(reference.to_nx(layer.graph))
    np.testing.assert_array_equal(layer.node_geodesic_sums, hops.sum(axis=1))
    assert layer.geodesic_sum == hops.sum() / 2
    assert "LayerCurvature(kind='forman'" in repr(layer)
    quick = rf.layer_curvature(X, 5, geodesics=False)
    assert quick.node_geodesic_sums is None and quick.geodesic_sum is None
    assert "node_geodesic_sum" not in quick.to_pandas()


def test_torch_layer(rng):
    torch = pytest.importorskip("torch")
    X = rng.normal(size=(50, 8)).astype(np.float32)
    t = torch.tensor(X, requires_grad=True)
    before = t.grad_fn
    layer = rf.layer_curvature(t, 5)
    np.testing.assert_array_equal(layer.edge_curvature, rf.layer_curvature(X, 5).edge_curvature)
    assert t.grad_fn is before and t.requires_grad


def test_errors(rng):
    graph = rf.knn_graph(rng.normal(size=(20, 3)), 3)
    with pytest.raises(ValueError, match="kind='ricci' is not supported; choose one of"):
        rf.edge_curvature(graph, "ricci")
    with pytest.raises(TypeError, match="takes no options"):
        rf.edge_curvature(graph, "forman", alpha=0.5)
    with pytest.raises(TypeError, match="expected a ricci_fast.Graph"):
        rf.edge_curvature(graph.to_scipy())
    with pytest.raises(ValueError, match="curvature='oops'"):
        rf.layer_curvature(rng.normal(size=(20, 3)), 3, curvature="oops")


@pytest.mark.parametrize("kind", ["forman", "augmented_forman", "approx_ollivier", "ollivier"])
def test_curvature_gap_matches_the_authors_formula(kind):
    from ricci_fast import datasets

    for X, y in (datasets.concentric_circles(300, noise=0.3, seed=1), datasets.entangled_spirals(250, noise=0.1)):
        layer = rf.layer_curvature(X, 8, curvature=kind, geodesics=False)
        expected = reference.curvature_gap_authors(layer.graph.to_scipy(), layer.curvature_matrix(), y)
        assert rf.curvature_gap(layer, y) == pytest.approx(expected, rel=1e-12)
        assert rf.curvature_gap(layer, y, denominator="authors") == rf.curvature_gap(layer, y)


def test_curvature_gap_pooled_and_edge_cases(rng):
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    layer = rf.layer_curvature(X, 5, geodesics=False)
    edges = layer.graph.edges()
    values = np.array([layer.curvature_matrix()[i, j] for i, j in edges])
    same = y[edges[:, 0]] == y[edges[:, 1]]
    w, b = values[same], values[~same]
    pooled = np.sqrt(((w.size - 1) * w.var(ddof=1) + (b.size - 1) * b.var(ddof=1)) / (w.size + b.size - 2))
    assert rf.curvature_gap(layer, y, denominator="pooled") == pytest.approx((w.mean() - b.mean()) / pooled, rel=1e-12)
    assert np.isnan(rf.curvature_gap(layer, np.zeros(60)))  # no between-class edges
    with pytest.raises(ValueError, match="denominator='cohen' is not supported"):
        rf.curvature_gap(layer, y, denominator="cohen")
    # a single between-class edge: the authors' formula is defined, the pooled one needs 2
    graph = rf.Graph.from_edges([(0, 1), (1, 2), (0, 2), (2, 3), (3, 4), (4, 5), (3, 5)], 6)
    tiny = rf.curvature_of_graph(graph, "augmented_forman", geodesics=False)
    labels = np.array([0, 0, 0, 1, 1, 1])
    assert np.isfinite(rf.curvature_gap(tiny, labels)) and np.isnan(rf.curvature_gap(tiny, labels, "pooled"))
    assert rf.curvature_gap(tiny, labels) == pytest.approx(
        reference.curvature_gap_authors(graph.to_scipy(), tiny.curvature_matrix(), labels), rel=1e-12)


def test_duplicate_rows_warn_with_count_and_layer(rng):
    X = rng.normal(size=(200, 6))
    X[:30] = 0.0  # dead ReLUs: 30 all-zero rows, 29 of them repeats
    X[30:33] = X[40]
    X[50] = -0.0 * X[50]  # -0.0 counts as 0.0
    with pytest.warns(UserWarning, match=r"layer 'relu': 33 of 200 rows \(16.5%\) repeat another row, 31 of them "
                                         r"all-zero") as record:
        rf.layer_curvature(X, 5, name="relu", geodesics=False)
    assert "probe points" in str(record[0].message)
    assert rf.curvature.duplicate_rows(X) == (33, 31)
    few = rng.normal(size=(200, 6))
    few[:5] = few[100]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rf.layer_curvature(few, 5, geodesics=False)  # 5 of 200 (2.5%): below the threshold, no warning
    torch = pytest.importorskip("torch")
    assert rf.curvature.duplicate_rows(torch.tensor(X)) == (33, 31)


def test_layer_curvature_join_and_names(rng):
    X = np.r_[rng.normal(size=(40, 3)), rng.normal(size=(25, 3)) + 50, rng.normal(size=(5, 3)) - 50]
    layer = rf.layer_curvature(X, 4, disconnected="join", name="encoder")
    assert layer.name == "encoder" and layer.n_joined_edges == 2 and layer.n_components == 1
    assert np.isfinite(layer.geodesic_sum)
    assert "name='encoder'" in repr(layer) and "n_joined_edges=2" in repr(layer)
    ref_graph, ref_edges = reference.joined_knn_nx_graph(X, 4)
    assert sorted(map(tuple, layer.joined_edges.tolist())) == sorted(ref_edges)
    hops = reference.hop_matrix(ref_graph)
    np.testing.assert_array_equal(layer.node_geodesic_sums, hops.sum(axis=1))
    kept = rf.layer_curvature(X, 4)
    assert kept.n_components == 3 and kept.joined_edges is None and np.isinf(kept.geodesic_sum)
    with pytest.raises(ValueError, match="3 components of sizes 40, 25, 5"):
        rf.layer_curvature(X, 4, disconnected="raise")
    with pytest.raises(TypeError, match="name must be a non-empty string"):
        rf.layer_curvature(X, 4, name=3)


def test_join_uses_the_graph_metric(rng):
    from ricci_fast.components import join_components

    X = np.r_[rng.normal(size=(30, 4)) + [8, 0, 0, 0], rng.normal(size=(30, 4)) + [0, 8, 0, 0]]
    graph = rf.knn_graph(X, 3, metric="cosine")
    assert graph.n_components > 1
    _, edges, lengths = join_components(graph, X)
    assert sorted(map(tuple, edges.tolist())) == sorted(reference.joined_knn_nx_graph(X, 3, metric="cosine")[1])
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    np.testing.assert_allclose(lengths, np.linalg.norm(unit[edges[:, 0]] - unit[edges[:, 1]], axis=1), rtol=1e-12)


@pytest.mark.parametrize("name, label", [(None, "acts"), ("fc1", "layer 'fc1'")])
def test_layer_curvature_names_its_own_argument_in_errors(name, label):
    # the user passed `acts` (or a named layer), not knn_graph's X: the message must say which
    X = np.random.default_rng(0).normal(size=(60, 3))
    X[4, 1] = np.nan
    with pytest.raises(ValueError, match=rf"^{label}: 1 of 180 entries are NaN or infinite"):
        rf.layer_curvature(X, 8, name=name)
    with pytest.raises(ValueError, match=rf"^{label}: expected shape \(N, D\)"):
        rf.layer_curvature(np.zeros(5), 8, name=name)
    with pytest.raises(TypeError, match=rf"^{label}: expected a real numeric array"):
        rf.layer_curvature(X.astype(complex), 8, name=name)
