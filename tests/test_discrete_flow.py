"""The discrete Ricci flow on edge weights and Ricci-flow communities, against a plain-loop flow built on
networkx Dijkstra + POT, networkx's modularity, planted partitions, and (when installed) GRC."""

import networkx as nx
import numpy as np
import pytest

import ricci_fast as rf
from ricci_fast import Graph
from ricci_fast.discrete_flow import _modularity_of_components
from tests.reference import discrete_ricci_flow_loops


def ari(a, b) -> float:
    from sklearn.metrics import adjusted_rand_score

    return adjusted_rand_score(a, b)


def test_flow_matches_the_flow_written_out_with_pot():
    pytest.importorskip("ot")
    G = nx.relabel_nodes(nx.les_miserables_graph(), lambda s: s.upper())
    G = nx.Graph(G.subgraph(sorted(G)[:40]))
    G = nx.Graph(G.subgraph(max(nx.connected_components(G), key=len)))
    expected = discrete_ricci_flow_loops(G, iterations=3, step=0.5)
    flow = rf.discrete_ricci_flow(Graph.from_networkx(G), iterations=3, step=0.5)
    assert flow.iterations == 3
    table = flow.to_pandas()
    for u, v, w in zip(table.u, table.v, table.weight):
        assert w == pytest.approx(expected[u][v]["weight"], abs=1e-9)
    assert table.weight.sum() == pytest.approx(G.number_of_edges())
    assert flow.weight_history.shape == (4, G.number_of_edges())
    np.testing.assert_allclose(flow.weight_history[0], Graph.from_networkx(G).edge_table().weight)


def test_flow_on_unweighted_graph_starts_from_unit_lengths_and_records_history():
    g = Graph.from_networkx(nx.karate_club_graph(), weight=None)
    flow = rf.discrete_ricci_flow(g, iterations=4)
    assert np.all(flow.weight_history[0] == 1.0)
    assert flow.curvature_history.shape == (5, g.n_edges)
    assert flow.curvature_range.shape == (4,)
    np.testing.assert_allclose(flow.curvature_history[-1], rf.edge_table(flow.graph, flow.curvature)["value"])
    assert rf.discrete_ricci_flow(g, iterations=2, keep_history=False).weight_history is None
    H = flow.to_networkx()
    assert {"weight", "ricciCurvature", "original_RC"} <= set(next(iter(H.edges(data=True)))[2])


def test_flow_stops_when_curvature_is_flat_and_rejects_bad_options():
    cycle = Graph.from_networkx(nx.cycle_graph(8))
    flow = rf.discrete_ricci_flow(cycle, iterations=5)
    assert flow.converged and flow.iterations == 1
    g = Graph.from_networkx(nx.karate_club_graph())
    with pytest.raises(ValueError, match="step"):
        rf.discrete_ricci_flow(g, step=-1.0)
    with pytest.raises(ValueError, match="smaller step"):
        rf.discrete_ricci_flow(Graph.from_networkx(nx.complete_graph(5)), step=5.0, iterations=2)
    with pytest.raises(TypeError, match="surgery"):
        rf.discrete_ricci_flow(g, surgery="cut")


def test_surgery_removes_long_edges():
    G = nx.planted_partition_graph(2, 12, 0.7, 0.05, seed=3)
    flow = rf.discrete_ricci_flow(Graph.from_networkx(G), iterations=6, surgery=rf.cut_edges_above(1.5),
                                  surgery_every=2)
    assert flow.graph.n_edges < G.number_of_edges()
    assert np.isnan(flow.weight_history[-1]).any()


def test_modularity_of_components_matches_networkx():
    rng = np.random.default_rng(0)
    G = nx.gnp_random_graph(30, 0.08, seed=1)
    for a, b in G.edges():
        G[a][b]["weight"] = float(rng.uniform(0.1, 2))
    u, v = np.array(list(G.edges())).T
    w = np.array([G[a][b]["weight"] for a, b in G.edges()])
    q, labels = _modularity_of_components(30, u, v, w)
    parts = [set(np.flatnonzero(labels == c)) for c in np.unique(labels)]
    assert q == pytest.approx(nx.algorithms.community.modularity(G, parts, weight="weight"), abs=1e-12)


def test_communities_recover_a_planted_partition():
    G = nx.planted_partition_graph(3, 15, 0.6, 0.02, seed=5)
    truth = [G.nodes[i]["block"] for i in G]
    found = rf.ricci_communities(Graph.from_networkx(G), iterations=15)
    assert found.n_communities >= 3
    assert ari(found.labels, truth) > 0.9
    assert found.to_pandas().shape == (45, 1)
    assert sum(len(c) for c in found.communities()) == 45


@pytest.mark.parametrize("which", ["karate", "planted"])
def test_flow_and_communities_match_grc(which):
    pytest.importorskip("GraphRicciCurvature")
    from GraphRicciCurvature.OllivierRicci import OllivierRicci

    if which == "karate":
        G = nx.karate_club_graph()
    else:
        G = nx.planted_partition_graph(3, 12, 0.5, 0.04, seed=1)
        G = nx.Graph(G.subgraph(max(nx.connected_components(G), key=len)))
    iterations = 12
    orc = OllivierRicci(G, alpha=0.5, method="OTD", proc=1)
    orc.compute_ricci_flow(iterations=iterations)
    cutoff, clustering = orc.ricci_community()
    found = rf.ricci_communities(Graph.from_networkx(G), iterations=iterations)
    table = found.flow.to_pandas()
    for u, v, w, k in zip(table.u, table.v, table.weight, table.curvature):
        assert w == pytest.approx(orc.G[u][v]["weight"], abs=1e-9)
        assert k == pytest.approx(orc.G[u][v]["ricciCurvature"], abs=1e-9)
    assert found.cutoff == pytest.approx(cutoff, abs=1e-9)
    nodes = list(G)
    ours = found.as_dict()
    assert ari([ours[n] for n in nodes], [clustering[n] for n in nodes]) == 1.0
