"""Warm-started transport (kernels/weighted_transport.py: simplex_core(warm=True), _tree_flows,
_crash_basis; ricci_fast.weighted.WarmStart) against POT's network simplex and against cold starts: a
kept basis may be feasible, infeasible, or not a basis of the new problem at all, and the optimum must
be the same in every case."""

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ricci_fast as rf
from ricci_fast import Graph
from ricci_fast.kernels import weighted_transport as wt
from ricci_fast.weighted import WarmStart, edge_plan
from tests.reference import weighted_ollivier_pot


def problem(rng, m, n, ties=False):
    a, b = rng.random(m) + 0.01, rng.random(n) + 0.01
    C = rng.integers(0, 3, m * n).astype(float) if ties else rng.uniform(0, 3, m * n)
    return a / a.sum(), b / b.sum(), C


def test_tree_flows_reproduce_the_marginals_of_a_basis():
    rng = np.random.default_rng(3)
    ints, floats, flags, adj = wt.simplex_scratch(40)
    for _ in range(100):
        m, n = (int(x) for x in rng.integers(1, 15, 2))
        a, b, C = problem(rng, m, n)
        value, pivots = wt.simplex_core(a, b, C, m, n, 10**7, ints, floats, flags, adj)
        cr, cc = ints[0][:m + n - 1].copy(), ints[1][:m + n - 1].copy()
        head, fill, cells = np.zeros(m + n + 1, np.int64), np.zeros(m + n, np.int64), np.zeros(2 * (m + n), np.int64)
        wt._tree_adjacency(m, n, cr, cc, head, fill, cells)
        cf = np.zeros(m + n)
        ok = wt._tree_flows(a, b, m, n, cr, cc, cf, head, cells, np.zeros(m + n), np.zeros(m + n, np.int64),
                            np.zeros(m + n, np.int64), np.zeros(m + n, np.int64))
        assert ok
        flows = cf[:m + n - 1]
        np.testing.assert_allclose(np.bincount(cr, flows, minlength=m), a, atol=1e-15)
        np.testing.assert_allclose(np.bincount(cc, flows, minlength=n), b, atol=1e-15)
        assert np.dot(flows, C[cr * n + cc]) == pytest.approx(value, abs=1e-14)
        # cells (0, 0), (0, 1), (1, 0), (1, 1) close a cycle: not a spanning tree, rejected
        if m >= 2 and n >= 2 and m + n - 1 >= 4:
            bad_r, bad_c = cr.copy(), cc.copy()
            bad_r[:4], bad_c[:4] = [0, 0, 1, 1], [0, 1, 0, 1]
            wt._tree_adjacency(m, n, bad_r, bad_c, head, fill, cells)
            assert not wt._tree_flows(a, b, m, n, bad_r, bad_c, cf, head, cells, np.zeros(m + n),
                                      np.zeros(m + n, np.int64), np.zeros(m + n, np.int64), np.zeros(m + n, np.int64))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(m=st.integers(1, 14), n=st.integers(1, 14), seed=st.integers(0, 2**31), ties=st.booleans(),
       kind=st.sampled_from(["perturbed", "other", "garbage"]))
def test_warm_simplex_equals_pot_from_any_start(m, n, seed, ties, kind):
    """The start is the optimal basis of a perturbed problem (the Ricci flow's case: feasible or not),
    of an unrelated problem, or cells that are no basis at all (repeated, out of range)."""
    ot = pytest.importorskip("ot")
    rng = np.random.default_rng(seed)
    ints, floats, flags, adj = wt.simplex_scratch(40)
    a, b, C = problem(rng, m, n, ties)
    if kind == "perturbed":
        a0 = a * rng.uniform(0.7, 1.3, m)
        b0 = b * rng.uniform(0.7, 1.3, n)
        C0 = C * rng.uniform(0.8, 1.2, m * n)
        wt.simplex_core(a0 / a0.sum(), b0 / b0.sum(), C0, m, n, 10**7, ints, floats, flags, adj)
    elif kind == "other":
        wt.simplex_core(*problem(rng, m, n, not ties), m, n, 10**7, ints, floats, flags, adj)
    else:
        ints[0][:m + n] = rng.integers(-2, m + 2, m + n)
        ints[1][:m + n] = rng.integers(-2, n + 2, m + n)
    expected = ot.emd2(a, b, C.reshape(m, n), numItermax=10**7)
    value, pivots = wt.simplex_core(a, b, C, m, n, 10**7, ints, floats, flags, adj, True)
    assert pivots >= 0 and value == pytest.approx(expected, abs=1e-12)
    # the basis it leaves is optimal: restarting from it takes no pivot and gives the same value
    again, more = wt.simplex_core(a, b, C, m, n, 10**7, ints, floats, flags, adj, True)
    assert more == 0 and again == pytest.approx(value, abs=1e-14)


def weighted_graph(seed, n=40, p=0.15):
    G = nx.gnp_random_graph(n, p, seed=seed)
    rng = np.random.default_rng(seed)
    for u, v in G.edges():
        G[u][v]["weight"] = float(rng.uniform(0.2, 3.0))
    return G


def test_kept_bases_give_the_cold_curvature_and_pot_on_new_lengths():
    pytest.importorskip("ot")
    G = weighted_graph(4)
    g = Graph.from_networkx(G)
    plan = edge_plan(g, 60)  # several groups: the bases are indexed by plan edge, not by group
    warm = WarmStart(plan)
    rng = np.random.default_rng(9)
    for step in range(4):
        cold = rf.weighted_ollivier_ricci(g, 0.5, mass="grc", plan=plan)
        hot = rf.weighted_ollivier_ricci(g, 0.5, mass="grc", plan=plan, warm_start=warm)
        np.testing.assert_allclose(hot.values, cold.values, rtol=0, atol=1e-13)
        assert warm.n_kept == g.n_edges
        if step == 3:
            H = g.to_networkx()
            table = rf.edge_table(g, hot.values)
            expected = weighted_ollivier_pot(H, 0.5, "grc")
            for u, v, x in zip(table.u, table.v, table.value):
                assert x == pytest.approx(expected[(u, v)] if (u, v) in expected else expected[(v, u)], abs=1e-12)
        # new lengths on the same edges: a random multiplicative change, symmetric per edge
        factor = rng.uniform(0.6, 1.6, g.indices.shape[0])
        factor = np.minimum(factor, factor[plan.twin])
        g = Graph(g.indptr, g.indices, weights=g.weights * factor)


def test_warm_start_is_checked():
    g = Graph.from_networkx(weighted_graph(1))
    other = Graph.from_networkx(weighted_graph(2))
    plan = edge_plan(g)
    with pytest.raises(TypeError, match="warm_start"):
        rf.weighted_ollivier_ricci(g, plan=plan, warm_start="yes")
    with pytest.raises(ValueError, match="another plan"):
        rf.weighted_ollivier_ricci(g, plan=plan, warm_start=WarmStart(edge_plan(g)))
    with pytest.raises(ValueError, match="other edges"):
        rf.weighted_ollivier_ricci(g, warm_start=WarmStart(edge_plan(other)))  # its plan, for other edges
    assert rf.weighted_ollivier_ricci(g, warm_start=WarmStart(plan)).values.shape == g.indices.shape
    with pytest.raises(ValueError, match="sinkhorn|Sinkhorn"):
        rf.weighted_ollivier_ricci(g, plan=plan, warm_start=WarmStart(plan), solver="sinkhorn")
    with pytest.raises(TypeError, match="EdgePlan"):
        WarmStart(g)
    with pytest.raises(TypeError, match="warm_start"):
        rf.discrete_ricci_flow(g, iterations=1, warm_start=WarmStart(plan))


def test_flow_keeps_bases_within_its_budget_and_runs_cold_beyond(monkeypatch):
    import ricci_fast.weighted as weighted

    g = Graph.from_networkx(weighted_graph(6, n=30, p=0.2))
    plan = edge_plan(g)
    degrees = g.degrees
    assert weighted.warm_start_cells(plan) == sum(degrees[u] + degrees[v] + 1 for u, v in g.edges())
    assert WarmStart(plan).cells.shape == (weighted.warm_start_cells(plan),)
    warm = rf.discrete_ricci_flow(g, iterations=4)
    monkeypatch.setattr(weighted, "WARM_START_BUDGET", 0)
    cold = rf.discrete_ricci_flow(g, iterations=4)
    np.testing.assert_allclose(warm.weights, cold.weights, rtol=0, atol=1e-13)
    np.testing.assert_allclose(warm.curvature, cold.curvature, rtol=0, atol=1e-13)


@pytest.mark.filterwarnings("ignore:Sinkhorn did not reach")
def test_warm_flow_is_bit_identical_for_every_thread_count_and_sinkhorn_runs_cold():
    from ricci_fast._parallel import num_threads

    g = Graph.from_networkx(weighted_graph(7, n=36, p=0.2))
    runs = []
    for threads in (1, 3):
        with num_threads(threads):
            runs.append(rf.discrete_ricci_flow(g, iterations=3))
    np.testing.assert_array_equal(runs[0].weights, runs[1].weights)
    np.testing.assert_array_equal(runs[0].curvature, runs[1].curvature)
    sink = rf.discrete_ricci_flow(g, iterations=2, solver="sinkhorn", keep_history=False)
    cold = rf.discrete_ricci_flow(g, iterations=2, keep_history=False)
    assert np.abs(sink.weights - cold.weights).max() < 0.05  # Sinkhorn's error bound, no kept bases
