import networkx as nx
import numpy as np
import pytest

import reference
import ricci_fast as rf
from ricci_fast.geodesics import run_bfs


def random_connected(n, p, seed):
    g = nx.gnp_random_graph(n, p, seed=seed)
    g.add_edges_from((i, i + 1) for i in range(n - 1))  # a path keeps it connected
    return rf.Graph.from_edges(np.array(list(g.edges())), n)


GRAPHS = {
    "knn-manifold": lambda: rf.knn_graph(np.random.default_rng(0).normal(size=(300, 2)), 5),
    "knn-highdim": lambda: rf.knn_graph(np.random.default_rng(1).normal(size=(200, 40)), 8),
    "gnp": lambda: random_connected(150, 0.03, 2),
    "path": lambda: rf.Graph.from_edges([(i, i + 1) for i in range(130)], 131),
    "two-nodes": lambda: rf.Graph.from_edges([(0, 1)], 2),
    "grid": lambda: rf.Graph.from_scipy(nx.to_scipy_sparse_array(nx.grid_2d_graph(17, 9))),
}


@pytest.mark.parametrize("direction", ["auto", "top_down", "bottom_up"])
@pytest.mark.parametrize("name", list(GRAPHS))
def test_sums_match_scipy(name, direction):
    graph = GRAPHS[name]()
    hops = reference.hop_matrix(reference.to_nx(graph))
    sums, _ = run_bfs(graph, direction=direction)
    np.testing.assert_array_equal(sums, hops.sum(axis=1).astype(np.int64))
    if direction == "auto":
        np.testing.assert_array_equal(rf.geodesic_sums(graph), hops.sum(axis=1))


@pytest.mark.parametrize("direction", ["auto", "top_down", "bottom_up"])
def test_former_neighbour_distances(rng, direction):
    X = rng.normal(size=(260, 3))
    former = rf.knn_graph(X, 6)
    later = rf.knn_graph(X @ rng.normal(size=(3, 3)) + rng.normal(size=(260, 3)) * 0.5, 4)
    hops = reference.hop_matrix(reference.to_nx(later))
    _, dist = run_bfs(later, sums=False, targets=former, direction=direction)
    rows = np.repeat(np.arange(former.n_nodes), former.degrees)
    np.testing.assert_array_equal(dist, hops[rows, former.indices])
    both, dist2 = run_bfs(later, sums=True, targets=former, direction=direction)
    np.testing.assert_array_equal(dist2, dist)
    np.testing.assert_array_equal(both, hops.sum(axis=1))


def test_disconnected(rng):
    X = np.vstack([rng.normal(size=(40, 2)), rng.normal(size=(50, 2)) + 50])
    graph = rf.knn_graph(X, 3)
    assert graph.n_components == 2
    assert np.all(np.isinf(rf.geodesic_sums(graph)))
    # within-component sums still come out of the kernel, and unreachable targets are inf
    sums, _ = run_bfs(graph)
    hops = reference.hop_matrix(reference.to_nx(graph))
    np.testing.assert_array_equal(sums, np.where(np.isinf(hops), 0, hops).sum(axis=1))
    joined = rf.Graph.from_edges(np.vstack([graph.edges(), [[0, 45]]]), graph.n_nodes)
    d = rf.former_neighbour_distances(graph, joined)
    rows = np.repeat(np.arange(joined.n_nodes), joined.degrees)
    np.testing.assert_array_equal(d, hops[rows, joined.indices])
    assert np.isinf(d).sum() == 2


def test_isolated_node():
    graph = rf.Graph.from_edges([(0, 1), (1, 2)], 4)
    sums, _ = run_bfs(graph)
    np.testing.assert_array_equal(sums, [3, 2, 3, 0])
    assert np.all(np.isinf(rf.geodesic_sums(graph)))


def test_dense_matrix_on_request(rng):
    graph = rf.knn_graph(rng.normal(size=(50, 3)), 4)
    D = rf.geodesic_distance_matrix(graph)
    np.testing.assert_array_equal(D, reference.hop_matrix(reference.to_nx(graph)))


def test_same_result_for_any_thread_count(rng):
    graph = rf.knn_graph(rng.normal(size=(700, 3)), 5)
    former = rf.knn_graph(rng.normal(size=(700, 3)), 5)
    results = []
    for threads in (1, 2, 3):
        with rf.num_threads(threads):
            results.append(run_bfs(graph, targets=former))
    for sums, dist in results[1:]:
        np.testing.assert_array_equal(sums, results[0][0])
        np.testing.assert_array_equal(dist, results[0][1])


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 300), st.floats(0.0, 0.08), st.integers(0, 10**6), st.sampled_from(["auto", "top_down", "bottom_up"]))
def test_hypothesis_random_graphs(n, p, seed, direction):
    g = nx.gnp_random_graph(n, p, seed=seed)
    graph = rf.Graph.from_edges(np.array(list(g.edges()), dtype=np.int64).reshape(-1, 2), n)
    former = rf.Graph.from_edges(np.array(list(nx.gnp_random_graph(n, 0.05, seed=seed + 1).edges()), dtype=np.int64).reshape(-1, 2), n)
    hops = reference.hop_matrix(reference.to_nx(graph))
    sums, dist = run_bfs(graph, targets=former, direction=direction)
    np.testing.assert_array_equal(sums, np.where(np.isinf(hops), 0, hops).sum(axis=1))
    rows = np.repeat(np.arange(n), former.degrees)
    np.testing.assert_array_equal(np.where(dist < 0, np.inf, dist), hops[rows, former.indices])


def test_rejects_non_graphs():
    with pytest.raises(TypeError, match="expected a ricci_fast.Graph"):
        rf.geodesic_sums(np.eye(3))


def test_sampled_geodesic_sum_is_unbiased_with_honest_error_bars():
    from ricci_fast.geodesics import sampled_geodesic_sum

    graph = rf.knn_graph(np.random.default_rng(11).normal(size=(3000, 3)), 6)
    exact = reference.hop_matrix(reference.to_nx(graph)).sum() / 2
    runs = [sampled_geodesic_sum(graph, 1024, seed=s) for s in range(60)]
    estimates = np.array([r.estimate for r in runs])
    errors = np.array([r.standard_error for r in runs])
    # unbiased: the mean of 60 independent estimates is within 4 of its own standard errors
    assert abs(estimates.mean() - exact) < 4 * estimates.std(ddof=1) / np.sqrt(len(runs))
    # the stated error matches the observed spread, and covers the truth about 95% of the time
    assert 0.7 < errors.mean() / estimates.std(ddof=1) < 1.4
    assert np.mean(np.abs(estimates - exact) < 2 * errors) >= 0.85
    everything = sampled_geodesic_sum(graph, graph.n_nodes, seed=0)
    assert everything.estimate == exact and everything.standard_error == 0


def test_sampled_geodesic_sum_edge_cases():
    from ricci_fast.geodesics import sampled_geodesic_sum

    graph = rf.knn_graph(np.random.default_rng(2).normal(size=(300, 2)), 4)
    small = sampled_geodesic_sum(graph, 50, seed=1)
    assert np.isnan(small.standard_error) and np.isfinite(small.estimate)
    with pytest.raises(ValueError, match="sources must be an integer in"):
        sampled_geodesic_sum(graph, 0)
    split = rf.Graph.from_edges([(0, 1), (2, 3)], 4)
    assert np.isinf(sampled_geodesic_sum(split, 2, seed=0).estimate)


def test_flow_with_sampled_geodesics():
    rng = np.random.default_rng(5)
    layers = [rng.normal(size=(1500, 3))]
    for _ in range(4):
        layers.append(np.maximum(layers[-1] @ rng.normal(size=(layers[-1].shape[1], 8)), 0))
    exact = rf.ricci_flow(layers, 7, progress=False)
    sampled = rf.ricci_flow(layers, 7, progress=False, geodesic_sources=512, seed=3)
    np.testing.assert_array_equal(sampled.local_coefficients, exact.local_coefficients)
    np.testing.assert_array_equal(sampled.layer_coefficients, exact.layer_coefficients)
    assert np.all(np.abs(sampled.geodesic_sum - exact.geodesic_sum) < 5 * sampled.geodesic_sum_se)
    assert sampled.global_coefficient_se > 0
    assert "geodesic sums sampled" in repr(sampled)
    assert exact.global_coefficient_se is None


def test_progress_bar_chunks_give_the_same_sums(capsys):
    graph = rf.knn_graph(np.random.default_rng(4).normal(size=(3000, 3)), 5)
    with_bar, _ = run_bfs(graph, progress=True)
    without, _ = run_bfs(graph)
    np.testing.assert_array_equal(with_bar, without)
