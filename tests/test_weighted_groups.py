"""Weighted Ollivier-Ricci's shared searches (kernels/weighted_transport.py: edge groups, one Dijkstra per
source per group, per-edge cost matrices) against independent oracles: networkx Dijkstra + POT's network
simplex per edge (tests/reference.py), scipy's all-pairs Dijkstra for every cost entry, and the same
curvature computed with every edge in a group of its own."""

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import dijkstra

import ricci_fast as rf
from ricci_fast import Graph
from ricci_fast.kernels import weighted_transport as wt
from ricci_fast.weighted import edge_plan, neighbour_masses
from tests.reference import weighted_ollivier_pot


def by_edge(graph: Graph, values) -> dict:
    table = rf.edge_table(graph, values)
    return {(u, v): x for u, v, x in zip(table.u, table.v, table.value)}


def lookup(d: dict, x, y):
    return d[(x, y)] if (x, y) in d else d[(y, x)]


def weighted(G, seed, low=0.2, high=3.0):
    rng = np.random.default_rng(seed)
    for a, b in G.edges():
        G[a][b]["weight"] = float(rng.uniform(low, high))
    return G


def adversarial_graphs():
    """Hubs (a star inside a BA graph), long direct edges with short detours, ties of equal lengths,
    several components with isolated nodes, lengths spanning 1e-6..1e3, and a path (degree <= 2)."""
    ba = weighted(nx.barabasi_albert_graph(40, 2, seed=1), 1)
    for v in range(5, 40, 3):
        ba.add_edge(0, v, weight=0.7)  # node 0 becomes a hub of degree > 14
    detour = weighted(nx.gnp_random_graph(24, 0.3, seed=2), 2, low=0.05, high=1.0)
    for a, b in list(detour.edges())[::3]:
        detour[a][b]["weight"] = 7.0
    ties = nx.grid_2d_graph(5, 5)
    ties = nx.convert_node_labels_to_integers(ties)
    nx.set_edge_attributes(ties, 1.0, "weight")
    parts = nx.disjoint_union(weighted(nx.cycle_graph(7), 3), weighted(nx.complete_graph(6), 4))
    parts.add_nodes_from([100, 101])
    spread = weighted(nx.gnp_random_graph(20, 0.35, seed=5), 5)
    rng = np.random.default_rng(5)
    for a, b in spread.edges():
        spread[a][b]["weight"] = float(10.0 ** rng.uniform(-6, 3))
    path = weighted(nx.path_graph(9), 6)
    return {"hub": ba, "detour": detour, "ties": ties, "components": parts, "spread": spread, "path": path}


@pytest.mark.parametrize("name", list(adversarial_graphs()))
def test_matches_pot_per_edge_with_every_budget(name):
    pytest.importorskip("ot")
    G = adversarial_graphs()[name]
    g = Graph.from_networkx(G)
    expected = weighted_ollivier_pot(G, 0.5, "grc")
    results = []
    for budget in (1, 97, 2000, None):  # every edge alone ... one group
        plan = edge_plan(g, budget)
        if budget == 1:
            assert plan.n_groups == g.n_edges
        result = rf.weighted_ollivier_ricci(g, 0.5, mass="grc", plan=plan)
        ours = by_edge(g, result.values)
        for e, x in expected.items():
            assert lookup(ours, *e) == pytest.approx(x, abs=1e-12)
        results.append(result)
    # the groups change which searches run, never a value: bit-identical
    for other in results[1:]:
        assert np.array_equal(other.values, results[0].values)
        assert np.array_equal(other.distance, results[0].distance)


def rounding_graph():
    """Lengths 0.1, 0.2, 0.3, 0.7 on a dense random graph: many paths of one length whose float sums differ
    in the last bit (0.1 + 0.2 != 0.3), the case where a search's cut-off at the 3-hop bound must not drop
    the path that gives a target its computed length."""
    G = nx.gnp_random_graph(30, 0.25, seed=8)
    rng = np.random.default_rng(8)
    for a, b in G.edges():
        G[a][b]["weight"] = float(rng.choice([0.1, 0.2, 0.3, 0.7]))
    return G


@pytest.mark.parametrize("name", ["hub", "detour", "ties", "spread", "rounding"])
def test_every_cost_entry_is_the_all_pairs_shortest_path(name):
    """Each group's costs hold exactly d(u, v) for u in N[x], v in N[y] of each of its edges x-y (scipy's
    all-pairs Dijkstra as the oracle), with groups of every size, in both layouts: per-edge matrices and
    the sources x targets table, which a group takes when it is the smaller."""
    G = rounding_graph() if name == "rounding" else adversarial_graphs()[name]
    g = Graph.from_networkx(G)
    full = dijkstra(g.to_scipy(weighted=True), directed=False)
    n = g.n_nodes
    layouts = set()
    for budget in (1, 300, None):
        plan = edge_plan(g, budget)
        smark, omark, slist, spos, ofirst, olast, tmark, tpos = (np.zeros(n, np.int64) for _ in range(8))
        eoff = np.zeros(plan.largest_group + 1, np.int64)
        checked = 0
        for k in range(plan.n_groups):
            e0, e1 = int(plan.group_ptr[k]), int(plan.group_ptr[k + 1])
            table = bool(plan.group_targets[k])
            n_s, n_t, cells = wt.build_group(g.indptr, g.indices, plan.entries, plan.entry_row, e0, e1, k + 1, table,
                                             smark, slist, spos, omark, ofirst, olast, eoff, tmark, tpos)
            layouts.add(table)
            x_all, y_all = plan.entry_row[e0:e1], g.indices[plan.entries[e0:e1]]
            sources = set(x_all) | set(g.indices[np.concatenate([np.arange(g.indptr[x], g.indptr[x + 1]) for x in x_all])])
            targets = set(y_all) | set(g.indices[np.concatenate([np.arange(g.indptr[y], g.indptr[y + 1]) for y in y_all])])
            per_edge = int(np.sum((np.diff(g.indptr)[x_all] + 1) * (np.diff(g.indptr)[y_all] + 1)))
            assert n_s == len(sources)
            if table:
                assert n_t == plan.group_targets[k] == len(targets) and cells == n_s * n_t < per_edge
            else:
                assert n_t == 0 and cells == per_edge <= len(sources) * len(targets)
            if e1 - e0 > 1:
                assert cells <= plan.budget  # memory: a group holds at most budget cost entries
            costs = np.full(cells, -1.0)
            state = (np.zeros(n, np.int64), np.zeros(n, np.int64), np.empty(n), np.empty(n, np.int32), np.empty(n),
                     np.full(n, -1, np.int32), np.empty(n), np.empty(n, np.int32))
            wt.group_searches(g.indptr, g.indices, g.weights, plan.twin, plan.entries, slist, omark, ofirst, olast,
                              k + 1, e0, eoff, n_t, tpos, 0, n_s, costs, *state)
            for e in range(e0, e1):
                x, y = plan.entry_row[e], g.indices[plan.entries[e]]
                rows = [x, *g.indices[g.indptr[x]:g.indptr[x + 1]]]
                cols = [y, *g.indices[g.indptr[y]:g.indptr[y + 1]]]
                if table:
                    block = costs[spos[rows][:, None] * n_t + tpos[cols][None, :]]
                else:
                    block = costs[eoff[e - e0]:eoff[e - e0 + 1]].reshape(len(rows), len(cols))
                np.testing.assert_array_equal(block, full[np.ix_(rows, cols)])
                checked += 1
        assert checked == g.n_edges
    if name == "hub":
        assert layouts == {False, True}


def test_search_limit_changes_no_target_length():
    """search_to_targets with limit = the largest 3-hop path sum to a target (what group_searches passes)
    settles every target with the length of the unlimited search, bit for bit, and queues fewer nodes."""
    g = Graph.from_networkx(rounding_graph())
    n = g.n_nodes
    rng = np.random.default_rng(1)
    compared = 0
    for source in range(n):
        need = np.zeros(n, np.int64)
        targets = rng.choice(n, 6, replace=False)
        need[targets] = 1
        runs = []
        for limit in (np.inf, None):
            if limit is None:  # the longest path sum source -> x -> y -> target over all such paths, else inf
                limit = 0.0
                for t in targets:
                    best = np.inf
                    for q in range(g.indptr[source], g.indptr[source + 1]):
                        x = g.indices[q]
                        for r in range(g.indptr[x], g.indptr[x + 1]):
                            y = g.indices[r]
                            for p in range(g.indptr[y], g.indptr[y + 1]):
                                if g.indices[p] == t:
                                    best = min(best, g.weights[q] + g.weights[r] + g.weights[p])
                    limit = max(limit, best)
                if not np.isfinite(limit):
                    continue  # some target is more than 3 hops away: group_searches never asks that
            dist, seen = np.empty(n), np.zeros(n, np.int64)
            found = wt.search_to_targets(g.indptr, g.indices, g.weights, source, need, 1, len(targets), dist, seen,
                                         np.empty(n, np.int32), np.empty(n), np.full(n, -1, np.int32), limit)
            runs.append((found, dist[targets].copy(), seen[targets].copy()))
        if len(runs) == 2:
            assert runs[0][0] == runs[1][0] == len(targets)
            np.testing.assert_array_equal(runs[0][1], runs[1][1])
            compared += 1
    assert compared > n // 2


def test_unit_lengths_equal_the_unweighted_solver_on_a_hub_heavy_knn_graph():
    X = np.random.default_rng(3).normal(size=(300, 40))  # high dimension: hubs
    g = rf.knn_graph(X, 8)
    assert g.degrees.max() >= 25
    for alpha in (0.0, 0.5):
        np.testing.assert_allclose(rf.weighted_ollivier_ricci(g, alpha).values, rf.ollivier_ricci(g, alpha).values,
                                   atol=1e-12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(2, 14), p=st.floats(0.1, 0.9), seed=st.integers(0, 10**6), budget=st.integers(1, 400),
       alpha=st.sampled_from([0.0, 0.25, 0.5]))
def test_random_graphs_match_pot(n, p, seed, budget, alpha):
    pytest.importorskip("ot")
    G = weighted(nx.gnp_random_graph(n, p, seed=seed), seed, low=0.1, high=4.0)
    if G.number_of_edges() == 0:
        return
    g = Graph.from_networkx(G)
    result = rf.weighted_ollivier_ricci(g, alpha, plan=edge_plan(g, budget))
    ours = by_edge(g, result.values)
    for e, x in weighted_ollivier_pot(G, alpha, "uniform").items():
        assert lookup(ours, *e) == pytest.approx(x, abs=1e-12)


def test_simplex_core_on_reused_scratch_matches_pot():
    ot = pytest.importorskip("ot")
    rng = np.random.default_rng(11)
    ints, floats, flags, adj = wt.simplex_scratch(60)
    for trial in range(300):
        m, n = (int(x) for x in rng.integers(1, 30, 2))
        a = rng.random(m) if trial % 4 else np.ones(m)
        b = rng.random(n) if trial % 4 else np.ones(n)
        a, b = a / a.sum(), b / b.sum()
        if trial % 3 == 0:
            C = rng.integers(0, 3, m * n).astype(float)  # many ties and zero costs: degenerate pivots
        else:
            C = rng.uniform(0, 3, m * n)
        expected = ot.emd2(a, b, C.reshape(m, n), numItermax=10**7)
        value, pivots = wt.simplex_core(a, b, C, m, n, 10**7, ints, floats, flags, adj)
        assert pivots >= 0 and value == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("m,n", [(1, 150), (150, 1), (2, 90), (90, 3), (37, 41), (100, 176)])
def test_simplex_row_pricing_on_thin_and_large_problems_matches_pot(m, n):
    """Pricing scans whole rows from a rotating start until a block (sqrt(m n) cells, at least 32) is
    seen: one row longer than the block, many rows shorter than it, and hub-sized problems (the BA
    graph's 100 x 176) all reach POT's optimum, with ties (integer costs) and without."""
    ot = pytest.importorskip("ot")
    rng = np.random.default_rng(m * 1000 + n)
    ints, floats, flags, adj = wt.simplex_scratch(m + n)
    for trial in range(4):
        a = rng.random(m) if trial % 2 else np.ones(m)
        b = rng.random(n) if trial % 2 else np.ones(n)
        a, b = a / a.sum(), b / b.sum()
        C = rng.integers(0, 5, m * n).astype(float) if trial < 2 else rng.uniform(0, 3, m * n)
        expected = ot.emd2(a, b, C.reshape(m, n), numItermax=10**7)
        value, pivots = wt.simplex_core(a, b, C, m, n, 10**7, ints, floats, flags, adj)
        assert pivots >= 0 and value == pytest.approx(expected, abs=1e-12)
        # a cold start on reused scratch gives the same value again
        again, _ = wt.transport_simplex(a, b, C, m, n, 10**7)
        assert again == value


@pytest.mark.parametrize("m,n", [(31, 431), (6, 300), (300, 6), (120, 140)])
def test_simplex_on_hub_shaped_metric_problems_matches_pot(m, n):
    """The shape of a weighted k-NN graph's hub edges (a node of degree 30 next to one of degree 430):
    hundreds of pivots, each re-hanging a subtree of a tree with hundreds of nodes (kept as child lists),
    on metric costs with one heavy node per side (GRC's alpha = 0.5), and on grid points whose Manhattan
    distances tie everywhere (degenerate pivots); then a warm restart from the final basis takes none."""
    ot = pytest.importorskip("ot")
    rng = np.random.default_rng(m * 7 + n)
    ints, floats, flags, adj = wt.simplex_scratch(m + n)
    for trial in range(3):
        if trial < 2:
            P, Q = rng.normal(size=(m, 5)), rng.normal(size=(n, 5))
            C = np.sqrt(((P[:, None, :] - Q[None, :, :]) ** 2).sum(-1))
        else:
            P, Q = rng.integers(0, 4, (m, 2)), rng.integers(0, 4, (n, 2))
            C = np.abs(P[:, None, :] - Q[None, :, :]).sum(-1).astype(float)
        a, b = rng.random(m) + 0.01, rng.random(n) + 0.01
        if trial == 1:
            a[0], b[0] = a.sum(), b.sum()
        a, b = a / a.sum(), b / b.sum()
        C = np.ascontiguousarray(C.ravel())
        expected = ot.emd2(a, b, C.reshape(m, n), numItermax=10**8)
        value, pivots = wt.simplex_core(a, b, C, m, n, 10**8, ints, floats, flags, adj)
        assert pivots > 0 and value == pytest.approx(expected, abs=1e-12)
        again, more = wt.simplex_core(a, b, C, m, n, 10**8, ints, floats, flags, adj, True)
        assert more == 0 and again == pytest.approx(value, abs=1e-14)


def test_mutual_minima_are_the_cells_cheapest_in_row_and_column():
    """The cold start's first cells: (i, j) with C[i, j] the minimum of row i and of column j, i the
    column's first cheapest row (ties: integer costs), against numpy."""
    rng = np.random.default_rng(5)
    for trial in range(200):
        m, n = (int(x) for x in rng.integers(1, 20, 2))
        C = rng.integers(0, 4, (m, n)).astype(float) if trial % 2 else rng.uniform(0, 1, (m, n))
        out_r, out_c = np.empty(n, np.int64), np.empty(n, np.int64)
        k = wt._mutual_minima(C.ravel(), m, n, np.empty(m), out_r, out_c)
        first = C.argmin(axis=0)
        expected = [(int(first[j]), j) for j in range(n) if C[first[j], j] == C[first[j]].min()]
        assert list(zip(out_r[:k].tolist(), out_c[:k].tolist())) == expected


def test_plan_is_checked_and_reused_by_the_flow():
    G = adversarial_graphs()["detour"]
    g = Graph.from_networkx(G)
    other = Graph.from_networkx(adversarial_graphs()["hub"])
    with pytest.raises(ValueError, match="plan"):
        rf.weighted_ollivier_ricci(g, plan=edge_plan(other))
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="budget"):
            edge_plan(g, bad)
    with pytest.raises(TypeError, match="plan"):
        rf.discrete_ricci_flow(g, iterations=1, plan=edge_plan(g))
    # the flow's one plan (and its kept simplex bases) gives what a fresh plan per step gives: bit for bit
    # with the same warm starts, to rounding from cold starts (another optimal basis may sum differently)
    from ricci_fast.weighted import WarmStart

    flow = rf.discrete_ricci_flow(g, iterations=3)
    for warm in (True, False):
        current = g
        bases = WarmStart(edge_plan(g)) if warm else None
        kappa = rf.weighted_ollivier_ricci(g, 0.5, mass="grc", warm_start=bases).values
        for _ in range(3):
            w = current.weights - kappa * current.weights
            w = w * (g.n_edges / w[g.indices > np.repeat(np.arange(g.n_nodes), g.degrees)].sum())
            current = Graph(g.indptr, g.indices, weights=w)
            kappa = rf.weighted_ollivier_ricci(current, 0.5, mass="grc", warm_start=bases).values
        if warm:
            np.testing.assert_array_equal(flow.curvature, kappa)
            np.testing.assert_array_equal(flow.weights, current.weights)
        else:
            np.testing.assert_allclose(flow.curvature, kappa, rtol=0, atol=1e-13)
            np.testing.assert_allclose(flow.weights, current.weights, rtol=0, atol=1e-13)


def test_masses_and_plan_cover_every_edge_once():
    g = Graph.from_networkx(adversarial_graphs()["components"])
    plan = edge_plan(g, 40)
    assert np.array_equal(np.sort(np.concatenate([plan.entries, plan.twin[plan.entries]])),
                          np.arange(g.indices.shape[0]))
    nbr, own = neighbour_masses(g, 0.5, "grc")
    isolated = g.degrees == 0
    assert np.all(own[isolated] == 1.0) and np.all(own[~isolated] == 0.5)


def test_thread_count_and_empty_graphs_do_not_change_or_break_anything():
    from ricci_fast._parallel import num_threads

    G = adversarial_graphs()["hub"]
    g = Graph.from_networkx(G)
    runs = []
    for threads in (1, 2, 3):
        with num_threads(threads):
            runs.append(rf.weighted_ollivier_ricci(g, 0.5, mass="grc", plan=edge_plan(g, 150)).values)
    assert all(np.array_equal(runs[0], other) for other in runs[1:])
    empty = Graph.from_edges(np.zeros((0, 2), int), 3, weights=np.zeros(0))
    assert rf.weighted_ollivier_ricci(empty).values.shape == (0,)
    single = Graph.from_edges([(0, 1)], 2, weights=[2.5])
    np.testing.assert_array_equal(rf.weighted_ollivier_ricci(single, 0.5, mass="grc").values, [1.0, 1.0])
    np.testing.assert_array_equal(rf.weighted_ollivier_ricci(single, 0.0).values, [0.0, 0.0])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), n=st.integers(1, 300))
def test_indexed_heap_pops_in_key_order_after_inserts_and_decreases(seed, n):
    """The search's 4-ary heap against a dict: random inserts, key decreases (ties included) and pops, new
    keys never below the last popped one as in Dijkstra, return every node once with its smallest key, in
    non-decreasing key order."""
    rng = np.random.default_rng(seed)
    hnode, hkey, hpos = np.empty(n, np.int32), np.empty(n), np.full(n, -1, np.int32)
    size, best, popped = 0, {}, []
    for _ in range(3 * n):
        if size and rng.random() < 0.3:
            v, key = int(hnode[0]), float(hkey[0])
            assert key == min(best[u] for u in best if hpos[u] >= 0)
            size = wt._heap_pop(hnode, hkey, hpos, size)
            popped.append((v, key))
            continue
        v = int(rng.integers(n))
        if any(v == u for u, _ in popped):
            continue
        floor = popped[-1][1] if popped else 0.0
        key = floor + (float(rng.integers(0, 20)) if rng.random() < 0.5 else float(rng.random() * 20))
        if v in best and key >= best[v]:
            continue
        best[v] = key
        size = wt._heap_push(hnode, hkey, hpos, size, v, key)
        assert hpos[v] >= 0 and hnode[hpos[v]] == v
    while size:
        popped.append((int(hnode[0]), float(hkey[0])))
        size = wt._heap_pop(hnode, hkey, hpos, size)
    keys = [k for _, k in popped]
    assert keys == sorted(keys)
    assert sorted(v for v, _ in popped) == sorted(best)
    assert all(best[v] == k for v, k in popped)
    assert np.all(hpos == -1)
