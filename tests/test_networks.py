"""Bridges (networkx, edge_index, scipy, edge lists, edge tables) and weighted curvature against
independent oracles: networkx Dijkstra + POT's network simplex, plain loops, and (when installed)
GraphRicciCurvature itself."""

import warnings

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

import ricci_fast as rf
from ricci_fast import Graph
from ricci_fast.kernels import weighted_transport as wt
from tests.reference import weighted_forman_loops, weighted_ollivier_pot


def random_weighted(n, p, seed, low=0.2, high=3.0, ids=None):
    rng = np.random.default_rng(seed)
    G = nx.gnp_random_graph(n, p, seed=seed)
    for a, b in G.edges():
        G[a][b]["weight"] = float(rng.uniform(low, high))
    if ids:
        G = nx.relabel_nodes(G, {i: f"{ids}{i}" for i in G})
    return G


def by_edge(graph: Graph, values) -> dict:
    table = rf.edge_table(graph, values)
    return {(u, v): x for u, v, x in zip(table.u, table.v, table.value)}


def lookup(d: dict, x, y):
    return d[(x, y)] if (x, y) in d else d[(y, x)]


# --- bridges ---------------------------------------------------------------------------------------

def test_networkx_round_trip_keeps_string_ids_and_weights():
    G = random_weighted(25, 0.2, 1, ids="node-")
    G.add_node("lonely")
    g = Graph.from_networkx(G)
    assert g.n_nodes == 26 and g.n_edges == G.number_of_edges()
    assert g.node_ids == tuple(G.nodes())
    H = g.to_networkx()
    assert list(H.nodes()) == list(G.nodes())
    assert {frozenset(e) for e in H.edges()} == {frozenset(e) for e in G.edges()}
    for a, b in G.edges():
        assert H[a][b]["weight"] == G[a][b]["weight"]
    table = g.edge_table()
    assert len(table) == G.number_of_edges()
    for u, v, w in zip(table.u, table.v, table.weight):
        assert G[u][v]["weight"] == w


def test_to_networkx_writes_curvature_on_edges_and_nodes():
    G = nx.relabel_nodes(nx.karate_club_graph(), str)
    g = Graph.from_networkx(G, weight=None)
    assert g.weights is None
    values = rf.edge_curvature(g, "forman")
    H = g.to_networkx(values, node_values=True, name="ricciCurvature")
    for a, b in G.edges():
        assert H[a][b]["ricciCurvature"] == 4 - G.degree(a) - G.degree(b)
        assert "weight" not in H[a][b]
    for a in G:
        expected = np.mean([4 - G.degree(a) - G.degree(b) for b in G[a]])
        assert H.nodes[a]["ricciCurvature"] == pytest.approx(expected, abs=1e-12)
    # per-undirected-edge values and result objects are accepted too
    per_edge = rf.edge_table(g, values)["value"].to_numpy()
    assert np.array_equal(rf.edge_table(g, per_edge)["value"].to_numpy(), per_edge)
    layer = rf.curvature_of_graph(g, "forman", geodesics=False)
    assert np.array_equal(rf.edge_table(layer)["value"].to_numpy(), per_edge)


def test_networkx_rejects_what_it_cannot_represent():
    with pytest.raises(ValueError, match="undirected"):
        Graph.from_networkx(nx.DiGraph([(0, 1)]))
    with pytest.raises(ValueError, match="multigraph"):
        Graph.from_networkx(nx.MultiGraph([(0, 1), (0, 1)]))
    G = nx.Graph([(0, 1), (1, 2)])
    G[0][1]["weight"] = 2.0
    with pytest.raises(ValueError, match="lack the attribute"):
        Graph.from_networkx(G)
    G[1][2]["weight"] = -1.0
    with pytest.raises(ValueError, match="> 0"):
        Graph.from_networkx(G)
    G[1][2]["weight"] = "heavy"
    with pytest.raises(TypeError, match="real number"):
        Graph.from_networkx(G)
    G = nx.Graph([(0, 1), (1, 1)])
    with pytest.raises(ValueError, match="self-loops"):
        Graph.from_networkx(G)
    G.remove_edges_from(nx.selfloop_edges(G))
    assert Graph.from_networkx(G).n_edges == 1


def test_edge_index_round_trip_numpy_and_torch():
    G = random_weighted(30, 0.15, 2)
    g = Graph.from_networkx(G)
    index = g.to_edge_index()
    assert index.shape == (2, 2 * g.n_edges) and index.dtype == np.int64
    back = Graph.from_edge_index(index, num_nodes=g.n_nodes, edge_weight=g.weights)
    assert np.array_equal(back.indptr, g.indptr) and np.array_equal(back.indices, g.indices)
    assert np.array_equal(back.weights, g.weights)
    # one direction per edge gives the same graph
    upper = index[0] < index[1]
    one_way = Graph.from_edge_index(index[:, upper], num_nodes=g.n_nodes, edge_weight=g.weights[upper])
    assert np.array_equal(one_way.indices, g.indices) and np.array_equal(one_way.weights, g.weights)
    torch = pytest.importorskip("torch")
    t_index = g.to_edge_index(as_torch=True)
    assert isinstance(t_index, torch.Tensor)
    back = Graph.from_edge_index(t_index, num_nodes=g.n_nodes, edge_weight=torch.from_numpy(g.weights))
    assert np.array_equal(back.weights, g.weights)
    # columns line up with CSR entries, hence with edge_curvature values
    values = rf.edge_curvature(g, "forman")
    for (i, j), x in zip(index.T[:5], values[:5]):
        assert x == values[np.flatnonzero((index[0] == j) & (index[1] == i))[0]]


def test_edge_index_and_edge_lists_reject_bad_input():
    with pytest.raises(ValueError, match="different lengths"):
        Graph.from_edge_index(np.array([[0, 1], [1, 0]]), edge_weight=np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="self-loops"):
        Graph.from_edge_index(np.array([[0, 1], [0, 1]]))
    with pytest.raises(ValueError, match=r"\(2, E\)"):
        Graph.from_edge_index(np.zeros((3, 4), np.int64))
    with pytest.raises(ValueError, match="lie in"):
        Graph.from_edge_index(np.array([[0], [5]]), num_nodes=3)
    with pytest.raises(ValueError, match="finite"):
        Graph.from_edges([[0, 1]], 2, weights=[np.nan])
    g = Graph.from_edges([[0, 1], [1, 2], [2, 1]], 3, weights=[1.5, 2.0, 2.0])
    assert g.n_edges == 2 and sorted(g.weights.tolist()) == [1.5, 1.5, 2.0, 2.0]


def test_scipy_round_trip_with_and_without_weights():
    G = random_weighted(20, 0.3, 3)
    A = nx.to_scipy_sparse_array(G, weight="weight", format="csr")
    g = Graph.from_scipy(A, weighted=True)
    assert np.array_equal(g.to_scipy(weighted=True).toarray(), A.toarray())
    plain = Graph.from_scipy(A)
    assert plain.weights is None and np.array_equal(plain.indices, g.indices)
    assert plain.to_scipy(weighted=True).toarray().max() == 1.0
    bad = sp.csr_matrix(np.array([[0, 1.0], [2.0, 0]]))
    with pytest.raises(ValueError, match="symmetric"):
        Graph.from_scipy(bad, weighted=True)


def test_knn_graph_weighted_lengths_are_neighbour_distances():
    X = np.random.default_rng(0).normal(size=(120, 4))
    for symmetrize in ("union", "mutual"):
        g = rf.knn_graph(X, 6, weighted=True, symmetrize=symmetrize)
        e = g.edges()
        table = g.edge_table()
        assert np.allclose(table.weight.to_numpy(), np.linalg.norm(X[e[:, 0]] - X[e[:, 1]], axis=1), rtol=1e-12)
        assert np.array_equal(g.indices, rf.knn_graph(X, 6, symmetrize=symmetrize).indices)
    with pytest.raises(ValueError, match="duplicate"):
        rf.knn_graph(np.vstack([X, X[:1]]), 6, weighted=True)


def test_weight_checks_at_the_curvature_boundary():
    g = Graph.from_edges([[0, 1], [1, 2]], 3)
    for weights, match in [([1, 1, 1], "one length per CSR entry"), ([1.0, 2.0, 1.0, 1.0], "differs"),
                           ([0.0, 0.0, 1.0, 1.0], "> 0"), ([True] * 4, "numeric")]:
        # refused when the graph is made, before any curvature call can see it
        with pytest.raises((ValueError, TypeError), match=match):
            Graph(g.indptr, g.indices, weights=np.array(weights))


# --- weighted Forman --------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["1d", "augmented"])
def test_weighted_forman_matches_plain_loops(method):
    for seed in range(3):
        G = random_weighted(30, 0.25, seed)
        g = Graph.from_networkx(G)
        ours = by_edge(g, rf.weighted_forman(g, method))
        expected = weighted_forman_loops(G, method)
        for e, x in expected.items():
            assert lookup(ours, *e) == pytest.approx(x, abs=1e-12)
    # weighted edge_curvature: "forman" is the 1d form, "augmented_forman" the augmented one
    assert np.array_equal(rf.edge_curvature(g, "forman"), rf.weighted_forman(g, "1d"))
    assert np.array_equal(rf.edge_curvature(g, "augmented_forman"), rf.weighted_forman(g, "augmented"))
    unweighted = g.unweighted()
    ones = Graph(unweighted.indptr, unweighted.indices, weights=np.ones(unweighted.indices.size))
    assert np.array_equal(rf.edge_curvature(ones, "forman"), rf.edge_curvature(unweighted, "forman"))
    assert np.array_equal(rf.edge_curvature(ones, "augmented_forman"),
                          rf.edge_curvature(unweighted, "augmented_forman"))


def test_kinds_without_a_weighted_definition_say_so():
    g = Graph.from_networkx(random_weighted(10, 0.5, 0))
    with pytest.raises(ValueError, match="unweighted"):
        rf.edge_curvature(g, "balanced_forman")


@pytest.mark.parametrize("method", ["1d", "augmented"])
def test_weighted_forman_matches_grc(method):
    pytest.importorskip("GraphRicciCurvature")
    from GraphRicciCurvature.FormanRicci import FormanRicci

    G = nx.karate_club_graph()
    frc = FormanRicci(G, method=method)
    frc.compute_ricci_curvature()
    g = Graph.from_networkx(G)
    ours = by_edge(g, rf.weighted_forman(g, method))
    for a, b in G.edges():
        assert lookup(ours, a, b) == pytest.approx(frc.G[a][b]["formanCurvature"], abs=1e-9)


# --- weighted Ollivier-Ricci ---------------------------------------------------------------------------

def test_transport_simplex_matches_pot_on_random_and_degenerate_problems():
    ot = pytest.importorskip("ot")
    rng = np.random.default_rng(7)
    for trial in range(200):
        m, n = (int(x) for x in rng.integers(1, 25, 2))
        a = rng.random(m) if trial % 3 else np.ones(m)
        b = rng.random(n) if trial % 3 else np.ones(n)
        a, b = a / a.sum(), b / b.sum()
        C = rng.integers(0, 4, m * n).astype(float) if trial % 2 else rng.uniform(0, 3, m * n)
        expected = ot.emd2(a, b, C.reshape(m, n), numItermax=10**7)
        value, pivots = wt.transport_simplex(a, b, C, m, n, 10**7)
        assert pivots >= 0 and value == pytest.approx(expected, abs=1e-12)
        nn = m + n
        flow, pot, d = np.empty(m * n), np.empty(nn), np.empty(nn)
        ssp = wt.transport_exact(a, b, C, m, n, flow, pot, d, np.empty(nn, np.int64), np.empty(nn, np.int8))
        assert ssp == pytest.approx(expected, abs=1e-12)


def detour_graph(seed):
    """Random lengths where many shortest paths leave the two neighbourhoods (long direct edges)."""
    G = random_weighted(22, 0.3, seed, low=0.05, high=1.0)
    rng = np.random.default_rng(seed)
    for a, b in list(G.edges())[::3]:
        G[a][b]["weight"] = float(rng.uniform(3, 9))
    return G


@pytest.mark.parametrize("mass,alpha", [("uniform", 0.0), ("uniform", 0.3), ("grc", 0.5)])
def test_weighted_ollivier_exact_matches_pot_with_networkx_dijkstra(mass, alpha):
    pytest.importorskip("ot")
    for seed in range(3):
        G = detour_graph(seed)
        g = Graph.from_networkx(G)
        result = rf.weighted_ollivier_ricci(g, alpha, mass=mass)
        ours = by_edge(g, result.values)
        expected = weighted_ollivier_pot(G, alpha, mass)
        for e, x in expected.items():
            assert lookup(ours, *e) == pytest.approx(x, abs=1e-9)
        dist = by_edge(g, result.distance)
        for a, b in G.edges():
            assert lookup(dist, a, b) == pytest.approx(nx.dijkstra_path_length(G, a, b), abs=1e-12)
        assert np.array_equal(rf.edge_curvature(g, "ollivier", alpha=alpha, mass=mass), result.values)


def test_weighted_solver_on_unit_lengths_equals_the_unweighted_exact_solver():
    g = rf.knn_graph(np.random.default_rng(1).normal(size=(150, 3)), 6)
    for alpha in (0.0, 0.5):
        np.testing.assert_allclose(rf.weighted_ollivier_ricci(g, alpha).values, rf.ollivier_ricci(g, alpha).values,
                                   atol=1e-12)


def test_weighted_ollivier_matches_grc_on_karate_with_its_weights():
    pytest.importorskip("GraphRicciCurvature")
    from GraphRicciCurvature.OllivierRicci import OllivierRicci

    G = nx.karate_club_graph()  # its "weight" attributes (1..7) are used, as GRC uses them
    orc = OllivierRicci(G, alpha=0.5, method="OTD", proc=1)
    orc.compute_ricci_curvature()
    g = Graph.from_networkx(G)
    result = rf.weighted_ollivier_ricci(g, 0.5, mass="grc")
    ours = by_edge(g, result.values)
    for a, b in G.edges():
        assert lookup(ours, a, b) == pytest.approx(orc.G[a][b]["ricciCurvature"], abs=1e-9)
    for i, x in enumerate(result.node_curvature):
        assert x == pytest.approx(orc.G.nodes[i]["ricciCurvature"], abs=1e-9)


def test_sinkhorn_is_within_its_stated_bound_of_exact():
    for seed in range(2):
        g = Graph.from_networkx(detour_graph(seed))
        exact = rf.weighted_ollivier_ricci(g, 0.5, mass="grc")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # edges short of tol are flagged; the bound below covers them
            sink = rf.weighted_ollivier_ricci(g, 0.5, mass="grc", solver="sinkhorn")
        gap = exact.values - sink.values
        # the rounded plan is feasible, so Sinkhorn's cost is never below the optimum
        assert gap.min() >= -1e-12
        assert np.all(gap <= sink.error_bound + 1e-12)
        assert gap.max() < 5e-3  # with the default epsilon = 0.01 (relative to d(x, y))
        assert sink.edge_table().shape[0] == g.n_edges


def test_bad_options_are_rejected():
    g = Graph.from_networkx(random_weighted(8, 0.6, 0))
    with pytest.raises(ValueError, match="mass"):
        rf.weighted_ollivier_ricci(g, mass="exp")
    with pytest.raises(ValueError, match="alpha"):
        rf.weighted_ollivier_ricci(g, alpha=1.5)
    with pytest.raises(ValueError, match="epsilon"):
        rf.weighted_ollivier_ricci(g, solver="sinkhorn", epsilon=0)
    with pytest.raises(TypeError, match="unknown options"):
        rf.edge_curvature(g, "ollivier", colour="red")
