import numpy as np
import pandas as pd
import pytest

pytest.importorskip("ripser")
from scipy.sparse.csgraph import minimum_spanning_tree  # noqa: E402
from scipy.spatial.distance import pdist, squareform  # noqa: E402

import ricci_fast as rf  # noqa: E402
from ricci_fast import datasets  # noqa: E402
from ricci_fast import topology as T  # noqa: E402


def circle(rng, n, centre=(0.0, 0.0), radius=1.0):
    # jittered even angles: uniform angles leave gaps wider than the Euclidean method's radius
    # (a 0.27 gap in 400 points happens), which is the sample's topology, not a bug
    t = np.linspace(0, 2 * np.pi, n, endpoint=False) + rng.uniform(0, 2 * np.pi / n, n)
    return np.stack([centre[0] + radius * np.cos(t), centre[1] + radius * np.sin(t)], axis=1)


@pytest.mark.parametrize("method", ["hop", "euclidean"])
def test_circles(rng, method):
    one = T.layer_topology(circle(rng, 400), k=14, method=method, ph_dim=False)
    assert one.betti == {"all": [1, 1]} and one.omega == {"all": 2}
    two = T.layer_topology(np.vstack([circle(rng, 400), circle(rng, 400, (5, 0))]), k=14, method=method, ph_dim=False)
    assert two.betti["all"] == [2, 2]


def test_torus_and_sphere(rng):
    u, v = rng.uniform(0, 2 * np.pi, (2, 1500))
    torus = np.stack([(2 + 0.8 * np.cos(v)) * np.cos(u), (2 + 0.8 * np.cos(v)) * np.sin(u), 0.8 * np.sin(v)], axis=1)
    assert T.hop_betti(torus, 35, 2, 1)[0] == [1, 2]
    assert T.euclidean_betti(torus, 15, 2.0, 1)[0] == [1, 2]
    sphere = rng.normal(size=(800, 3))
    sphere /= np.linalg.norm(sphere, axis=1, keepdims=True)
    assert T.euclidean_betti(sphere, 15, 2.0, 2)[0] == [1, 0, 1]


def test_nine_disks_per_class():
    X, y = datasets.nine_disks(3000)
    top = T.layer_topology(X, y, k=14, ph_dim=False)
    assert top.betti == {0: [9, 0], 1: [1, 9]}
    frame = top.to_pandas()
    assert frame.loc[1, "omega"] == 10 and frame.loc[0, "betti_0"] == 9


@pytest.mark.parametrize("dim", [2, 3, 5])
def test_intrinsic_dimension_of_embedded_cubes(dim):
    X, _ = datasets.embedded_cube(3000, dim, ambient=50, seed=dim)
    graph = rf.knn_graph(X, 10)
    assert T.twonn_dimension(graph.knn_distances) == pytest.approx(dim, rel=0.1)
    assert T.mle_dimension(graph.knn_distances) == pytest.approx(dim, rel=0.1)
    estimate, slope, r2 = T.ph_dimension(X, n_min=100, n_max=3000, repeats=4, seed=0)
    assert estimate == pytest.approx(dim, rel=0.1) and r2 > 0.99


def test_mst_matches_scipy(rng):
    for shape in [(300, 3), (200, 40), (2, 5)]:
        X = rng.normal(size=shape)
        lengths = T.mst_lengths(X)
        expected = minimum_spanning_tree(squareform(pdist(X))).data
        np.testing.assert_allclose(np.sort(lengths), np.sort(expected), rtol=0, atol=1e-12)
    grid = np.array([(x, y) for x in range(5) for y in range(4)], dtype=float)  # many equal lengths
    np.testing.assert_allclose(np.sort(T.mst_lengths(grid)), np.ones(19))
    # L_0 on min-max scaled data
    X = rng.normal(size=(100, 3)) * [1, 10, 100]
    scaled = (X - X.min(0)) / (X.max(0) - X.min(0))
    assert T.lifespans_sum(X) == pytest.approx(0.5 * minimum_spanning_tree(squareform(pdist(scaled))).data.sum(), rel=1e-12)


def test_duplicates_and_too_few_points(rng):
    X = circle(rng, 300)
    doubled = np.vstack([X, X[:100]])
    assert T.layer_topology(doubled, k=14, ph_dim=False).betti == T.layer_topology(X, k=14, ph_dim=False).betti
    with pytest.raises(ValueError, match="class 'b' has 5 distinct points, too few for k=14"):
        T.layer_topology(np.vstack([X, rng.normal(size=(5, 2))]), ["a"] * 300 + ["b"] * 5, k=14, ph_dim=False)


def test_size_limit_says_what_happened(rng):
    X = rng.normal(size=(400, 30))
    with pytest.warns(UserWarning, match="edges \\(limit 100\\)"):
        top = T.layer_topology(X, k=14, max_edges=100, ph_dim=False)
    assert top.betti["all"] is None and "limit 100" in top.notes["all"]
    with pytest.raises(T.TopologyTooLarge, match="lower k or scale"):
        T.layer_topology(X, k=14, max_edges=100, on_limit="raise", ph_dim=False)


def test_calibrate_finds_k_for_target_betti(rng):
    X = np.vstack([circle(rng, 300), circle(rng, 300, (4, 0))])
    k, scale = T.calibrate(X, [2, 2], ks=range(3, 20), scales=(1, 2))
    assert T.hop_betti(X, k, scale, 1)[0] == [2, 2]
    with pytest.raises(ValueError, match="gives Betti numbers"):
        T.calibrate(X, [7, 7], ks=range(3, 6), scales=(1,))


def test_flow_topology_table_and_plot(tmp_path):
    X, y = datasets.concentric_circles(600, noise=0.02)
    layers = [X, np.tanh(X * 2), X ** 2]
    table = T.flow_topology(layers, y, k=14, ph_dim=False)
    assert list(table.index.names) == ["layer", "class"] and len(table) == 6
    assert table.loc[(0, 0), "betti_1"] == 1
    pytest.importorskip("matplotlib")
    from ricci_fast.plotting import plot_topology

    plot_topology(table, str(tmp_path / "topology.png"))
    assert (tmp_path / "topology.png").stat().st_size > 5000
    # the dict of named layers that ricci_flow takes: the names index the same table
    named = T.flow_topology({"input": layers[0], "tanh": layers[1], "square": layers[2]}, y, k=14, ph_dim=False)
    assert list(dict.fromkeys(named.index.get_level_values("layer"))) == ["input", "tanh", "square"]
    pd.testing.assert_frame_equal(named.reset_index(drop=True), table.reset_index(drop=True))
    with pytest.raises(TypeError, match="names must be strings"):
        T.flow_topology({0: X}, y, k=14)
    with pytest.raises(ValueError, match="no layers"):
        T.flow_topology({}, y, k=14)
