import warnings

import numpy as np
import pytest

import reference
import ricci_fast as rf


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


def test_disconnected_layers(rng):
    layers = relu_layers(rng, n=100)
    split = layers[2].copy()
    split[:50] += 1e3  # two far-apart clusters
    layers[2] = split
    with pytest.raises(ValueError, match=r"layer 2 \(2 components\) are disconnected"):
        rf.ricci_flow(layers, 4, progress=False)
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
    with pytest.raises(ValueError, match="layer 3: 1 of"):
        rf.ricci_flow(layers[:3] + [bad], 5, progress=False)
    with pytest.raises(ValueError, match=r"k=200 is out of range for 120 points \(layer 0\)"):
        rf.ricci_flow(layers, 200, progress=False)
    with pytest.raises(ValueError, match="at least 2 layers"):
        rf.ricci_flow(layers[:1], 5, progress=False)
    with pytest.raises(ValueError, match="disconnected='maybe'"):
        rf.ricci_flow(layers, 5, disconnected="maybe")
    with pytest.raises(TypeError, match="not a mix"):
        rf.ricci_flow([layers[0], rf.layer_curvature(layers[1], 5)], 5, progress=False)


def test_constant_series_give_nan_not_spurious_correlation():
    assert np.isnan(rf.pearson([0.1, 0.1, 0.1], [1, 2, 3]))
    assert np.isnan(rf.pearson([1.0], [2.0]))
    assert rf.pearson([1, 2, 3], [2, 4, 7]) == pytest.approx(np.corrcoef([1, 2, 3], [2, 4, 7])[0, 1], abs=1e-15)


def test_tables_and_repr(rng):
    layers = relu_layers(rng)
    flow = rf.ricci_flow(layers, 5, progress=False)
    points = flow.to_pandas()
    assert points.shape == (120, 1 + 2 * 4)
    np.testing.assert_array_equal(points["node_eta_2"], flow.node_eta[2])
    per_layer = flow.to_pandas("layer")
    assert list(per_layer.index) == [0, 1, 2, 3, 4]
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
