import re
from collections.abc import Mapping
import warnings

import numpy as np
import pandas as pd
import pytest

import reference
import ricci_fast as rf
from ricci_fast.components import join_components


def relu_layers(rng, n=120, dims=(4, 12, 12, 12, 12), noise=0.0):
    X = rng.normal(size=(n, dims[0]))
    layers = [X]
    for d in dims[1:]:
        X = np.maximum(X @ rng.normal(size=(X.shape[1], d)) + rng.normal(size=d) * 0.1, 0) + noise * rng.normal(size=(n, d))
        layers.append(X)
    return layers


def assert_flow_matches(flow, ref):
    np.testing.assert_allclose(flow.total_curvature, ref["total_curvature"], atol=1e-9, rtol=0)
    np.testing.assert_array_equal(flow.geodesic_sum, ref["geodesic_sum"])
    # an undefined change (inf - inf, or to/from an infinite sum) is reported as NaN, never as +-inf
    np.testing.assert_allclose(flow.eta, np.where(np.isfinite(ref["eta"]), ref["eta"], np.nan), atol=1e-9, rtol=0)
    np.testing.assert_allclose(flow.node_curvature, ref["node_curvature"], atol=1e-12, rtol=0)
    np.testing.assert_allclose(flow.node_eta, ref["node_eta"], atol=1e-12, rtol=0)
    np.testing.assert_allclose(flow.layer_coefficients, ref["layer_coefficients"], atol=1e-12, rtol=0)
    np.testing.assert_allclose(flow.local_coefficients, ref["local_coefficients"], atol=1e-12, rtol=0)
    if np.isnan(ref["global_coefficient"]):
        assert np.isnan(flow.global_coefficient)
    else:
        assert flow.global_coefficient == pytest.approx(ref["global_coefficient"], abs=1e-12)


@pytest.mark.parametrize("kind", ["forman", "augmented_forman", "approx_ollivier"])
@pytest.mark.parametrize("k", [4, 9])
def test_flow_matches_reference(rng, kind, k):
    layers = relu_layers(rng)
    flow = rf.ricci_flow(layers, k, curvature=kind, progress=False)
    assert_flow_matches(flow, reference.flow(layers, k, kind))
    assert np.isfinite(flow.global_coefficient)


def test_flow_with_ties_and_duplicates():
    rng = np.random.default_rng(7)
    base = rng.integers(0, 4, size=(90, 3)).astype(float)  # many duplicate points and equal distances
    layers = [base, np.abs(base - 1.5), base @ np.array([[1, 0, 0], [1, 1, 0], [0, 0, 2.0]]), np.floor(base / 2), base**2]
    with pytest.warns(UserWarning, match="global coefficient is NaN"):
        flow = rf.ricci_flow(layers, 6, progress=False, disconnected="nan")
    assert_flow_matches(flow, reference.flow(layers, 6))


def test_mutual_graphs_with_isolated_points_are_skipped(rng):
    layers = relu_layers(rng, n=150, noise=0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flow = rf.ricci_flow(layers, 2, symmetrize="mutual", disconnected="nan", progress=False)
    ref = reference.flow(layers, 2, symmetrize="mutual")
    assert_flow_matches(flow, ref)
    assert flow.layer_points_skipped.sum() > 0
    assert flow.layer_points_skipped.tolist() == [int((~np.isfinite(e)).sum()) for e in ref["node_eta"]]


def test_layer_curvature_objects_give_the_same_flow(rng):
    layers = relu_layers(rng)
    direct = rf.ricci_flow(layers, 5, progress=False)
    precomputed = [rf.layer_curvature(X, 5) for X in layers]
    sums_before = [p.node_geodesic_sums.copy() for p in precomputed]
    again = rf.ricci_flow(precomputed, progress=False)
    np.testing.assert_array_equal(again.local_coefficients, direct.local_coefficients)
    assert again.global_coefficient == direct.global_coefficient
    without_geodesics = [rf.layer_curvature(X, 5, geodesics=False) for X in layers]
    third = rf.ricci_flow(without_geodesics, progress=False)
    np.testing.assert_array_equal(third.geodesic_sum, direct.geodesic_sum)
    assert without_geodesics[0].node_geodesic_sums is None  # the caller's objects are not modified
    for p, s in zip(precomputed, sums_before):
        np.testing.assert_array_equal(p.node_geodesic_sums, s)


def split_layers(rng):
    layers = relu_layers(rng, n=100)
    split = layers[2].copy()
    split[:50] += 1e3  # two far-apart clusters
    layers[2] = split
    return layers


def test_disconnected_layers_raise_and_nan(rng):
    layers = split_layers(rng)
    with pytest.raises(ValueError, match=r"layer '2': 2 components of sizes 50, 50") as info:
        rf.ricci_flow(layers, 4, disconnected="raise", progress=False)
    message = str(info.value)
    assert "disconnected='join'" in message and "disconnected='nan'" in message
    assert "symmetrize='union'" not in message  # already union: no remedy that changes nothing
    suggested = int(re.search(r"k=(\d+) connects it", message).group(1))
    assert rf.knn_graph(layers[2], suggested).n_components == 1
    with pytest.warns(UserWarning, match="global coefficient is NaN"):
        flow = rf.ricci_flow(layers, 4, disconnected="nan", progress=False)
    ref = reference.flow(layers, 4)
    assert np.isnan(flow.global_coefficient)
    assert np.isinf(flow.geodesic_sum[2])
    assert np.isnan(flow.eta[1]) and np.isnan(flow.eta[2])
    np.testing.assert_allclose(flow.layer_coefficients, ref["layer_coefficients"], atol=1e-12)
    np.testing.assert_allclose(flow.local_coefficients, ref["local_coefficients"], atol=1e-12)
    assert flow.layer_points_skipped[1] > 0  # neighbours in layer 1 split apart in layer 2
    assert np.isnan(flow.local_coefficients).sum() >= flow.layer_points_skipped[1]
    assert flow.n_joined_edges.tolist() == [0] * 5 and flow.n_components.tolist() == [1, 1, 2, 1, 1]


def test_mutual_refusal_suggests_union():
    X = np.r_[np.arange(10.0), np.arange(10.0) + 100][:, None]
    with pytest.raises(ValueError, match="symmetrize='union'"):
        rf.ricci_flow([X, X + 1, X * 2, X * 3], 2, symmetrize="mutual", disconnected="raise", progress=False)


def test_raise_fails_before_curvature_and_geodesics(rng, monkeypatch):
    import ricci_fast.flow as flow_module

    def boom(*args, **kwargs):
        raise AssertionError("curvature or BFS ran before the connectivity check")

    monkeypatch.setattr(flow_module, "curvature_of_graph", boom)
    monkeypatch.setattr(flow_module, "run_bfs", boom)
    layers = split_layers(rng)
    layers[4] = layers[4].copy()
    layers[4][:30] -= 1e4
    with pytest.raises(ValueError, match=r"layer '2': 2 components.*layer '4': 2 components of sizes 70, 30"):
        rf.ricci_flow(layers, 4, disconnected="raise", progress=False)


def clusters(rng, sizes, dim=3, spread=6.0):
    centres = rng.normal(scale=spread, size=(len(sizes), dim))
    return np.concatenate([c + rng.normal(size=(s, dim)) for c, s in zip(centres, sizes)])


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_join_matches_slow_reference(seed):
    rng = np.random.default_rng(seed)
    sizes = [int(s) for s in rng.integers(3, 40, size=rng.integers(2, 6))]
    X = clusters(rng, sizes)
    for k, symmetrize in ((2, "union"), (3, "mutual"), (5, "union")):
        graph = rf.knn_graph(X, k, symmetrize=symmetrize)
        joined, edges, lengths = join_components(graph, X)
        ref_graph, ref_edges = reference.joined_knn_nx_graph(X, k, symmetrize=symmetrize)
        assert sorted(map(tuple, edges.tolist())) == sorted(ref_edges)
        assert len(edges) == graph.n_components - 1 and joined.n_components == 1
        np.testing.assert_allclose(lengths, np.linalg.norm(X[edges[:, 0]] - X[edges[:, 1]], axis=1), rtol=1e-12)
        assert set(map(tuple, reference.to_nx(joined).edges())) == {tuple(sorted(e)) for e in ref_graph.edges()}


def test_join_breaks_ties_like_the_reference():
    # integer points: many equal distances within and between components, all exact in float64
    grid = np.array([(x, y) for x in range(3) for y in range(3)], dtype=np.float64)
    X = np.concatenate([grid, grid + [5, 0], grid + [0, 5], grid + [5, 5], [[10.0, 10.0]]])
    graph = rf.knn_graph(X, 2)
    _, edges, _ = join_components(graph, X)
    assert sorted(map(tuple, edges.tolist())) == sorted(reference.joined_knn_nx_graph(X, 2)[1])


@pytest.mark.parametrize("kind", ["forman", "augmented_forman", "approx_ollivier"])
def test_joined_flow_matches_reference(kind):
    rng = np.random.default_rng(11)
    n = 90
    base = clusters(rng, [30, 30, 30])
    layers = [base]
    for d in (6, 6, 5, 4):
        base = np.tanh(base @ rng.normal(size=(base.shape[1], d)))
        layers.append(base)
    layers[3] = layers[3] + np.repeat([[0.0], [20.0], [40.0]], n // 3, axis=0)  # three far-apart groups
    with pytest.warns(UserWarning, match="joined by their shortest edges"):
        flow = rf.ricci_flow(layers, 4, curvature=kind, progress=False)
    graphs, added = zip(*[reference.joined_knn_nx_graph(X, 4) for X in layers])
    assert flow.n_joined_edges.tolist() == [len(e) for e in added]
    assert flow.n_joined_edges[3] >= 2
    ref = reference.flow_from_graphs(list(graphs), kind)
    assert_flow_matches(flow, ref)
    assert np.isfinite(flow.geodesic_sum).all() and np.isfinite(flow.global_coefficient)
    assert flow.layer_points_skipped.sum() == 0
    per_layer = flow.to_pandas("layer")
    assert per_layer["n_joined_edges"].tolist() == flow.n_joined_edges.tolist()
    assert per_layer["n_components"].iloc[3] == flow.n_joined_edges[3] + 1
    for layer, edges in zip(flow.layers, added):
        assert sorted(map(tuple, layer.joined_edges.tolist())) == sorted(edges)


def test_join_with_given_layers(rng):
    layers = split_layers(rng)
    objects = [rf.layer_curvature(X, 4, disconnected="join") for X in layers]
    assert [o.n_joined_edges for o in objects] == [0, 0, 1, 0, 0]
    direct = rf.ricci_flow(layers, 4, progress=False, disconnected="join")
    again = rf.ricci_flow(objects, progress=False, disconnected="join")
    np.testing.assert_array_equal(again.local_coefficients, direct.local_coefficients)
    assert again.global_coefficient == direct.global_coefficient
    plain = [rf.layer_curvature(X, 4) for X in layers]
    with pytest.raises(ValueError, match="joining them needs their activations"):
        rf.ricci_flow(plain, progress=False)
    with pytest.raises(ValueError, match="2 components of sizes 50, 50"):
        rf.layer_curvature(layers[2], 4, disconnected="raise")


def test_too_few_layers_warns(rng):
    layers = relu_layers(rng)[:3]
    with pytest.warns(UserWarning, match="needs at least 3 transitions"):
        flow = rf.ricci_flow(layers, 5, progress=False)
    assert np.isnan(flow.global_coefficient)
    assert np.isfinite(flow.layer_coefficients).all()
    with pytest.warns(UserWarning) as record:
        two = rf.ricci_flow(layers[:2], 5, progress=False)
    assert any("local coefficients need at least 2 transitions" in str(w.message) for w in record)
    assert np.isnan(two.local_coefficients).all()


def test_bad_inputs(rng):
    layers = relu_layers(rng)
    with pytest.raises(ValueError, match="layer 0 has 120 points but layer 2 has 119"):
        rf.ricci_flow([layers[0], layers[1], layers[2][:-1]], 5, progress=False)
    bad = layers[3].copy()
    bad[5, 2] = np.nan
    with pytest.raises(ValueError, match="layer '3': 1 of"):
        rf.ricci_flow(layers[:3] + [bad], 5, progress=False)
    with pytest.raises(ValueError, match="layer 'relu': 1 of"):
        rf.ricci_flow({"input": layers[0], "relu": bad}, 5, progress=False)
    with pytest.raises(ValueError, match=r"k=200 is out of range for 120 points \(layer '0'\)"):
        rf.ricci_flow(layers, 200, progress=False)
    with pytest.raises(ValueError, match="at least 2 layers"):
        rf.ricci_flow(layers[:1], 5, progress=False)
    with pytest.raises(ValueError, match="disconnected='maybe'"):
        rf.ricci_flow(layers, 5, disconnected="maybe")
    with pytest.raises(TypeError, match="not a mix"):
        rf.ricci_flow([layers[0], rf.layer_curvature(layers[1], 5)], 5, progress=False)


@pytest.mark.parametrize(
    "options, error, match",
    [
        ({"geodesic_sources": 1.5}, TypeError, "geodesic_sources must be None or a positive integer"),
        ({"geodesic_sources": 0}, ValueError, "geodesic_sources must be a positive integer"),
        ({"geodesic_sources": True}, TypeError, "geodesic_sources"),
        ({"seed": 1.5}, TypeError, "seed must be None or a non-negative integer"),
        ({"seed": -1}, TypeError, "seed must be None or a non-negative integer"),
        ({"k": 2.5}, TypeError, "k must be an integer"),
        ({"k": True}, TypeError, "k must be an integer"),
        ({"k": 0}, ValueError, "k must be a positive integer"),
        ({"progress": "yes"}, TypeError, "progress must be True or False"),
        ({"curvature": "ricci"}, ValueError, "curvature='ricci' is not supported"),
        ({"metric": "manhattan"}, ValueError, "metric='manhattan'"),
        ({"symmetrize": "both"}, ValueError, "symmetrize='both'"),
        ({"method": "fast"}, ValueError, "method='fast'"),
        ({"alpha": 0.5}, TypeError, "curvature='forman' takes no options"),
        ({"curvature": "ollivier", "alpha": 1.5}, ValueError, "alpha=1.5 is out of range"),
        ({"curvature": "ollivier", "alpha": "half"}, TypeError, "alpha must be a real number"),
        ({"curvature": "ollivier", "tol": 0}, ValueError, "tol=0.0 is out of range"),
        ({"curvature": "ollivier", "max_iter": 10.5}, TypeError, "max_iter must be an integer"),
        ({"curvature": "ollivier", "batch_size": -5}, ValueError, "batch_size must be a positive integer"),
        ({"curvature": "ollivier", "solver": "emd"}, ValueError, "solver='emd'"),
        ({"curvature": "ollivier", "gamma": 1}, TypeError, "unknown options \\['gamma'\\]"),
    ],
)
def test_every_option_is_checked_before_any_work(rng, monkeypatch, options, error, match):
    import ricci_fast.flow as flow_module

    def boom(*args, **kwargs):
        raise AssertionError("the k-NN search ran before the options were checked")

    monkeypatch.setattr(flow_module, "knn_graph", boom)
    with pytest.raises(error, match=match):
        rf.ricci_flow(relu_layers(rng, n=30), **{"k": 3, **options})


def test_options_conflicting_with_given_layers_are_refused(rng):
    layers = relu_layers(rng)
    objects = [rf.layer_curvature(X, 5, geodesics=False) for X in layers]
    base = rf.ricci_flow(objects, progress=False)
    same = rf.ricci_flow(objects, 5, curvature="forman", metric="euclidean", symmetrize="union", progress=False)
    assert same.global_coefficient == base.global_coefficient
    for options, match in [
        ({"k": 7}, r"k=7 \(the layers' graphs were built with k 5\)"),
        ({"curvature": "augmented_forman"}, "curvature='augmented_forman' \\(the layers hold 'forman'\\)"),
        ({"metric": "cosine"}, "metric='cosine'"),
        ({"symmetrize": "mutual"}, "symmetrize='mutual'"),
        ({"method": "exact"}, "method='exact'"),
        ({"alpha": 0.5}, "curvature options"),
    ]:
        with pytest.raises(ValueError, match=match):
            rf.ricci_flow(objects, progress=False, **options)


def test_sampled_geodesics_options(rng):
    layers = relu_layers(rng, n=200)
    a = rf.ricci_flow(layers, 5, geodesic_sources=150, seed=3, progress=False)
    b = rf.ricci_flow(layers, 5, geodesic_sources=np.int64(150), seed=np.int64(3), progress=False)
    assert a.global_coefficient == b.global_coefficient and a.global_coefficient_se is not None
    full = rf.ricci_flow(layers, 5, geodesic_sources=10_000, progress=False)  # more sources than points: all
    np.testing.assert_allclose(full.geodesic_sum, rf.ricci_flow(layers, 5, progress=False).geodesic_sum)


def test_constant_series_give_nan_not_spurious_correlation():
    assert np.isnan(rf.pearson([0.1, 0.1, 0.1], [1, 2, 3]))
    assert np.isnan(rf.pearson([1.0], [2.0]))
    assert rf.pearson([1, 2, 3], [2, 4, 7]) == pytest.approx(np.corrcoef([1, 2, 3], [2, 4, 7])[0, 1], abs=1e-15)


def test_tables_and_repr(rng):
    layers = relu_layers(rng)
    flow = rf.ricci_flow(layers, 5, progress=False)
    points = flow.to_pandas()
    assert points.shape == (120, 1 + 2 * 4)
    np.testing.assert_array_equal(points["node_eta[2->3]"], flow.node_eta[2])
    np.testing.assert_array_equal(points["node_curvature[2]"], flow.node_curvature[2])
    per_layer = flow.to_pandas("layer")
    assert list(per_layer.index) == ["0", "1", "2", "3", "4"] and flow.layer_names == ("0", "1", "2", "3", "4")
    assert per_layer["transition"].tolist()[:2] == ["0->1", "1->2"]
    np.testing.assert_array_equal(per_layer["geodesic_sum"], flow.geodesic_sum)
    text = repr(flow)
    assert "global_coefficient=" in text and "layer_coefficients=[" in text


def test_torch_layers(rng):
    torch = pytest.importorskip("torch")
    layers = relu_layers(rng)
    tensors = [torch.tensor(X, dtype=torch.float64, requires_grad=True) for X in layers]
    a = rf.ricci_flow(tensors, 5, progress=False)
    b = rf.ricci_flow(layers, 5, progress=False)
    np.testing.assert_array_equal(a.local_coefficients, b.local_coefficients)


def test_bit_identical_for_any_thread_count(rng):
    layers = relu_layers(rng, n=300)
    with rf.num_threads(1):
        one = rf.ricci_flow(layers, 7, curvature="approx_ollivier", progress=False)
    many = rf.ricci_flow(layers, 7, curvature="approx_ollivier", progress=False)
    for name in ("total_curvature", "geodesic_sum", "layer_coefficients", "local_coefficients", "node_eta"):
        assert np.array_equal(getattr(one, name), getattr(many, name), equal_nan=True), name
    assert one.global_coefficient == many.global_coefficient


class Layers(Mapping):
    """A Mapping that is not a dict (order as given)."""

    def __init__(self, items):
        self._items = list(items)

    def __getitem__(self, key):
        return dict(self._items)[key]

    def __iter__(self):
        return iter(key for key, _ in self._items)

    def __len__(self):
        return len(self._items)


def test_named_layers_flow_through(rng):
    layers = relu_layers(rng)
    names = ["input", "fc1", "fc2", "block.3", "head"]
    by_list = rf.ricci_flow(layers, 5, progress=False)
    for given in (dict(zip(names, layers)), Layers(zip(names, layers))):
        flow = rf.ricci_flow(given, 5, progress=False)
        assert flow.layer_names == tuple(names) and [layer.name for layer in flow.layers] == names
        assert flow.transition_names == ("input->fc1", "fc1->fc2", "fc2->block.3", "block.3->head")
        np.testing.assert_array_equal(flow.local_coefficients, by_list.local_coefficients)
        table = flow.to_pandas("layer")
        assert list(table.index) == names and table.index.name == "layer"
        assert table.loc["fc2", "transition"] == "fc2->block.3" and pd.isna(table.loc["head", "transition"])
        points = flow.to_pandas()
        assert list(points.columns[:3]) == ["local_coefficient", "node_curvature[input]", "node_eta[input->fc1]"]
        assert "layers=['input', 'fc1', 'fc2', 'block.3', 'head']" in repr(flow)
    # the order of the mapping is the order of the layers, whatever the names
    backwards = rf.ricci_flow(dict(zip(names[::-1], layers[::-1])), 5, progress=False)
    assert backwards.layer_names == tuple(names[::-1])
    np.testing.assert_array_equal(backwards.total_curvature, by_list.total_curvature[::-1])
    # LayerCurvature objects: a dict names them; in a list their own names are kept when all have one
    objects = {name: rf.layer_curvature(X, 5) for name, X in zip(names, layers)}
    assert rf.ricci_flow(objects, progress=False).layer_names == tuple(names)
    named = [rf.layer_curvature(X, 5, name=name) for name, X in zip(names, layers)]
    assert rf.ricci_flow(named, progress=False).layer_names == tuple(names)
    assert rf.ricci_flow([rf.layer_curvature(X, 5) for X in layers], progress=False).layer_names == ("0", "1", "2", "3", "4")
    assert all(o.name is None for o in objects.values())  # the caller's objects are not renamed
    with pytest.raises(ValueError, match=r"names must be unique \(as strings\); repeated: \['1'\]"):
        rf.ricci_flow({1: layers[0], "1": layers[1], 2: layers[2]}, 5, progress=False)
    with pytest.raises(ValueError, match="non-empty strings"):
        rf.ricci_flow({"": layers[0], "a": layers[1]}, 5, progress=False)
    with pytest.raises(TypeError, match="pass a list \\(or dict\\) of per-layer activations"):
        rf.ricci_flow(np.stack(layers[1:]), 5, progress=False)


def test_out_of_memory_names_the_layer(rng, monkeypatch):
    import ricci_fast.flow as flow_module

    real = flow_module.run_bfs
    calls = []

    def fails_on_third(graph, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise MemoryError("Unable to allocate 62.0 GiB")
        return real(graph, **kwargs)

    monkeypatch.setattr(flow_module, "run_bfs", fails_on_third)
    with pytest.raises(MemoryError, match=r"layer 'c': out of memory while computing geodesics \(BFS\) \(N=120, "
                                          r".*max degree \d+\): Unable to allocate 62.0 GiB"):
        rf.ricci_flow(dict(zip("abcde", relu_layers(rng))), 5, progress=False)


@pytest.mark.parametrize("dims", [12, 40])
def test_blas_join_matches_slow_reference_and_direct_scan(dims, monkeypatch):
    import ricci_fast.components as components

    rng = np.random.default_rng(dims)
    X = clusters(rng, [25, 40, 3, 17], dim=dims, spread=3.0)
    ties = np.r_[np.eye(dims), np.eye(dims) * 3 + 10, -np.eye(dims) * 2 - 10]  # many equal distances, exact
    for data in (X, ties):
        graph = rf.knn_graph(data, 3)
        assert graph.n_components > 1
        _, edges, lengths = join_components(graph, data)
        assert sorted(map(tuple, edges.tolist())) == sorted(reference.joined_knn_nx_graph(data, 3)[1])
        monkeypatch.setattr(components, "DIRECT_MAX_DIMS", 10_000)
        _, direct, direct_lengths = join_components(graph, data)
        monkeypatch.undo()
        np.testing.assert_array_equal(edges, direct)
        np.testing.assert_array_equal(lengths, direct_lengths)
