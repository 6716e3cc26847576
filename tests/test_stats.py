"""Statistics of issue 12 against slow references: brute force, scipy cdist, networkx, plain loops."""

import dataclasses
import itertools
import math
import warnings

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist

import ricci_fast as rf
from ricci_fast import stats
from ricci_fast.graph import restrict_k


def _pearson_loop(a, b):
    n = len(a)
    ma, mb = sum(a) / n, sum(b) / n
    num = sum((x - ma) * (y - mb) for x, y in zip(a, b))
    den = math.sqrt(sum((x - ma) ** 2 for x in a) * sum((y - mb) ** 2 for y in b))
    return num / den


def _network_layers(rng, n=120, depth=4, width=6, d_in=3):
    layers = [rng.normal(size=(n, d_in))]
    for _ in range(depth):
        W = rng.normal(size=(layers[-1].shape[1], width))
        layers.append(np.maximum(layers[-1] @ W, 0) + 1e-3 * rng.normal(size=(n, width)))
    return layers


@pytest.fixture(scope="module")
def flows():
    rng = np.random.default_rng(7)
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(4):
            out.append(rf.ricci_flow(_network_layers(rng), 12, disconnected="nan", progress=False))
    return out


# --- pooled coefficient -----------------------------------------------------------------------------------


def test_pooled_coefficient_is_one_pearson_over_all_transitions(flows):
    xs, ys = [], []
    for f in flows:
        xs += list(f.total_curvature[:-1])
        ys += list(f.eta)
    result = rf.pooled_coefficient(flows)
    assert float(result) == pytest.approx(_pearson_loop(xs, ys), abs=1e-12)
    assert result.n_flows == 4 and result.n_transitions == 16 and result.n_skipped == 0
    from scipy.stats import pearsonr

    assert result.pvalue == pytest.approx(pearsonr(xs, ys).pvalue, rel=1e-9)


def test_pooled_coefficient_threshold_and_skips(flows):
    acc = np.array([0.99, 0.5, 0.985, 0.98])
    result = rf.pooled_coefficient(flows, acc, threshold=0.98)  # strictly above, as a > 0.98 in their code
    assert result.kept == (0, 2)
    xs = np.concatenate([flows[i].total_curvature[:-1] for i in (0, 2)])
    ys = np.concatenate([flows[i].eta for i in (0, 2)])
    assert float(result) == pytest.approx(_pearson_loop(list(xs), list(ys)), abs=1e-12)
    broken = dataclasses.replace(flows[1], eta=np.array([np.nan, 1.0, 2.0, 3.0]))
    result = rf.pooled_coefficient([flows[0], broken])
    assert result.n_skipped == 1 and result.kept == (0,)
    with pytest.raises(ValueError, match="threshold needs accuracies"):
        rf.pooled_coefficient(flows, threshold=0.9)
    with pytest.raises(ValueError, match="one per flow"):
        rf.pooled_coefficient(flows, [0.9])
    with pytest.raises(TypeError, match="expected a RicciFlow"):
        rf.pooled_coefficient([1.0])
    assert rf.pooled_coefficient({"a": flows[0], "b": flows[1]}).n_flows == 2


def test_pooled_interval_contains_estimate(flows):
    interval = stats.pooled_coefficient_interval(flows, n_resamples=300, seed=1)
    assert interval.low <= interval.estimate <= interval.high
    assert interval.estimate == float(rf.pooled_coefficient(flows))


# --- permutation p-value --------------------------------------------------------------------------------------


def _brute_pvalue(x, y, alternative):
    observed = _pearson_loop(x, y)
    values = [_pearson_loop(x, [y[i] for i in perm]) for perm in itertools.permutations(range(len(y)))]
    tol = 1e-12
    if alternative == "less":
        hits = sum(v <= observed + tol for v in values)
    elif alternative == "greater":
        hits = sum(v >= observed - tol for v in values)
    else:
        hits = sum(abs(v) >= abs(observed) - tol for v in values)
    return hits / len(values)


@settings(max_examples=40, deadline=None)
@given(st.integers(3, 7), st.integers(0, 2**31), st.sampled_from(stats.ALTERNATIVES))
def test_permutation_pvalue_equals_brute_force(n, seed, alternative):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = rng.integers(-3, 4, size=n).astype(float)  # integer values: ties among permuted statistics
    if np.all(y == y[0]):
        y[0] += 1
    assert stats.permutation_pvalue(x, y, alternative) == pytest.approx(_brute_pvalue(list(x), list(y), alternative),
                                                                        abs=1e-15)


def test_permutation_pvalue_known_values_and_method(flows):
    # perfectly anti-correlated 4 transitions: only the observed order is as extreme, p = 1/4!
    assert stats.permutation_pvalue([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(1 / 24)
    assert stats.permutation_pvalue([1, 2, 3, 4], [4, 3, 2, 1], "two-sided") == pytest.approx(2 / 24)
    assert stats.permutation_pvalue([1, 2, 3, 4], [4, 3, 2, 1], "greater") == 1.0
    assert np.isnan(stats.permutation_pvalue([1, 1, 1], [1, 2, 3]))
    f = flows[0]
    assert f.permutation_pvalue() == stats.permutation_pvalue(f.total_curvature[:-1], f.eta, "less")
    assert f.permutation_pvalue("two-sided") == pytest.approx(
        _brute_pvalue(list(f.total_curvature[:-1]), list(f.eta), "two-sided"))
    with pytest.raises(ValueError, match="alternative"):
        f.permutation_pvalue("both")


def test_permutation_pvalue_monte_carlo_beyond_exact_range():
    rng = np.random.default_rng(3)
    x = rng.normal(size=12)
    y = -x + 0.3 * rng.normal(size=12)
    p = stats.permutation_pvalue(x, y, n_resamples=20000, seed=0)
    assert 0 < p < 1e-3  # strongly negative: almost no permutation is as extreme
    assert p >= 1 / 20001
    q = stats.permutation_pvalue(x, rng.normal(size=12), "two-sided", n_resamples=5000)
    assert 0.001 < q <= 1


# --- intervals ----------------------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 60), st.integers(1, 20), st.integers(0, 2**31))
def test_subsample_indices_never_repeat_a_point(n, reps, seed):
    size = max(2, n // 2)
    rows = stats.subsample_indices(n, size, reps, seed)
    assert rows.shape == (reps, size)
    for row in rows:
        assert len(set(row.tolist())) == size  # no duplicates, ever
        assert row.min() >= 0 and row.max() < n and np.all(np.diff(row) > 0)


def test_subsample_interval_properties(monkeypatch):
    rng = np.random.default_rng(5)
    layers = _network_layers(rng, n=60, depth=3)
    seen = []
    real = rf.flow.ricci_flow

    def spy(layers_, *a, **kw):
        seen.append(layers_[0])
        return real(layers_, *a, **kw)

    monkeypatch.setattr(rf.flow, "ricci_flow", spy)
    interval = stats.subsample_interval(layers, 8, n_resamples=3, fraction=0.7, seed=2)
    assert interval.low <= interval.high and interval.values.shape == (3,)
    assert interval.estimate == pytest.approx(
        real(layers, 8, disconnected="nan", progress=False).global_coefficient, nan_ok=True)
    assert len(seen) == 4
    for sub in seen[1:]:
        assert sub.shape[0] == 42
        assert np.unique(sub, axis=0).shape[0] == 42  # the rows drawn are distinct points
    # the whole probe set every time: every resample is the estimate
    full = stats.subsample_interval(layers, 8, n_resamples=2, fraction=1.0, statistic="mean_local")
    np.testing.assert_array_equal(full.values, np.full(2, full.estimate))
    with pytest.raises(ValueError, match="statistic"):
        stats.subsample_interval(layers, 8, statistic="median")


def test_bootstrap_correlation():
    rng = np.random.default_rng(0)
    x = rng.normal(size=40)
    y = 2 * x + 0.5 * rng.normal(size=40)
    interval = stats.bootstrap_correlation(x, y, n_resamples=500, seed=1)
    assert interval.estimate == pytest.approx(np.corrcoef(x, y)[0, 1])
    assert interval.low <= interval.estimate <= interval.high and interval.low > 0.8
    again = stats.bootstrap_correlation(x, y, n_resamples=500, seed=1)
    np.testing.assert_array_equal(interval.values, again.values)
    # a reference loop over the same resamples
    idx = np.random.default_rng(1).integers(0, 40, size=(500, 40))
    ref = [np.corrcoef(x[i], y[i])[0, 1] for i in idx]
    np.testing.assert_allclose(interval.values, ref, atol=1e-12)
    exact = stats.bootstrap_correlation(x, 3 * x + 1, n_resamples=50)
    assert exact.low == pytest.approx(1.0) and exact.high == pytest.approx(1.0)
    with_nan = stats.bootstrap_correlation(np.append(x, np.nan), np.append(y, 1.0), n_resamples=50, seed=1)
    assert with_nan.estimate == pytest.approx(interval.estimate)


# --- k-scan -----------------------------------------------------------------------------------------------------


def _assert_same_flow(a, b):
    for name in ("total_curvature", "geodesic_sum", "eta", "layer_coefficients", "local_coefficients",
                 "node_curvature", "node_eta", "layer_points_skipped"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert (a.global_coefficient == b.global_coefficient) or (np.isnan(a.global_coefficient) and np.isnan(b.global_coefficient))


@pytest.mark.parametrize("curvature", ["augmented_forman", "ollivier"])
def test_k_scan_equals_separate_flows_exactly(curvature):
    rng = np.random.default_rng(11)
    layers = _network_layers(rng, n=70, depth=3, width=12)  # > KDTREE_MAX_DIMS features: brute force
    layers[1] = np.round(layers[1], 1)  # exact ties: the tie rule must carry over
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scan = rf.ricci_flow(layers, k=[16, 5, 11], curvature=curvature, disconnected="nan", progress=False)
        assert list(scan) == [16, 5, 11]
        for k, flow in scan.items():
            _assert_same_flow(flow, rf.ricci_flow(layers, k, curvature=curvature, disconnected="nan", progress=False))


def test_restrict_k_equals_knn_graph(rng):
    X = np.round(rng.normal(size=(150, 2)), 1)  # KD-tree path, many ties
    big = rf.knn_graph(X, 25)
    for k in (1, 3, 10, 25):
        for sym in ("union", "mutual"):
            a = restrict_k(rf.knn_graph(X, 25, symmetrize=sym), k)
            b = rf.knn_graph(X, k, symmetrize=sym)
            np.testing.assert_array_equal(a.indptr, b.indptr)
            np.testing.assert_array_equal(a.indices, b.indices)
            np.testing.assert_array_equal(a.knn_indices, b.knn_indices)
    with pytest.raises(ValueError, match="k must be an integer"):
        restrict_k(big, 26)
    with pytest.raises(ValueError, match="built by knn_graph"):
        restrict_k(rf.Graph.from_edges([[0, 1]], 2), 1)


def test_k_scan_rejects_bad_lists():
    layers = _network_layers(np.random.default_rng(1), n=40)
    with pytest.raises(ValueError, match="empty"):
        rf.ricci_flow(layers, k=[])
    with pytest.raises(ValueError, match="duplicate"):
        rf.ricci_flow(layers, k=[5, 5])
    with pytest.raises(TypeError, match="integer"):
        rf.ricci_flow(layers, k=[5, 2.5])
    with pytest.raises(ValueError):
        rf.ricci_flow(layers, k=[5, 40])  # k >= N


# --- radius graph ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dims,method", [(2, "auto"), (3, "kdtree"), (3, "brute"), (20, "auto"), (20, "kdtree")])
def test_radius_graph_matches_cdist(rng, dims, method):
    X = rng.normal(size=(200, dims))
    D = cdist(X, X)
    r = float(np.quantile(D[np.triu_indices(200, 1)], 0.05))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = rf.radius_graph(X, r, method=method)
    expected = (D <= r) & ~np.eye(200, dtype=bool)
    np.testing.assert_array_equal(graph.to_scipy().toarray() > 0, expected)


def test_radius_graph_boundary_duplicates_and_guards():
    grid = np.array([[x, y] for x in range(5) for y in range(5)], dtype=float)
    graph = rf.radius_graph(grid, 1.0)  # distance exactly 1 is in: the 4-neighbour grid
    assert graph.n_edges == 40
    with pytest.warns(UserWarning, match="units of X"):
        assert rf.radius_graph(grid, np.nextafter(1.0, 0)).n_edges == 0
    dup = np.array([[0.0, 0.0], [0.0, 0.0], [5.0, 5.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert rf.radius_graph(dup, 0.0).edges().tolist() == [[0, 1]]
    with pytest.raises(ValueError, match="max_edges"):
        rf.radius_graph(grid, 10.0, max_edges=10)
    with pytest.raises(ValueError, match="r must be"):
        rf.radius_graph(grid, -1)
    with pytest.raises(ValueError, match="r must be"):
        rf.radius_graph(grid, float("nan"))


# --- early stopping and depth ------------------------------------------------------------------------------------
#
# Hehl et al. (2025)'s sections 4.3/4.4 were reconstructed from the figures stored in their notebooks; the
# series below are read off those figures (to about 0.02) and each test names the answer the figure shows.

# experiments/overfitting.ipynb, mean local coefficient every 10 epochs (50 for CIFAR), mean of 3 networks
OVERFITTING_FIGURES = {
    "mnist_1_7": ([0.12, -0.38, -0.79, -0.82, -0.78, -0.77], 10, 30),        # test accuracy plateaus at 30
    "mnist_6_9": ([0.18, -0.40, -0.80, -0.81, -0.80, -0.78], 10, 30),
    "fmnist_shoes": ([0.13, -0.70, -0.81, -0.82, -0.77, -0.66, -0.58, -0.58, -0.60, -0.61], 10, 30),
    "fmnist_apparel": ([0.21, -0.76, -0.86, -0.865, -0.83, -0.84, -0.74, -0.53, -0.535, -0.52], 10, 30),
    "cifar_0_1": ([0.19, -0.78, -0.56, -0.49, -0.43, -0.50, -0.62, -0.61, -0.68, -0.68], 50, 50),
}

# experiments/layer_ricci_coefficient.ipynb, layer coefficients (approximate Ollivier-Ricci, or augmented
# Forman for MNIST 1/7) of the deepest network of each grid, mean of 50 networks; expected effective depth
LAYER_FIGURES = {
    # Syn-I, depth 16: deep dip at transition 2, a bump, a second dip at 6 (-0.60), then the climb
    "syn1_depth16": ([-0.12, -0.16, -0.67, -0.52, -0.49, -0.56, -0.60, -0.37, -0.23, -0.19, -0.17, -0.16, -0.16,
                      -0.14, -0.12, -0.09, -0.11], 7),
    # Syn-II, depth 16: minimum at transition 5
    "syn2_depth16": ([-0.29, -0.28, -0.47, -0.47, -0.56, -0.62, -0.49, -0.33, -0.235, -0.19, -0.185, -0.15, -0.175,
                      -0.20, -0.195, -0.19, -0.085], 6),
    # MNIST 1/7, depth 16: minimum at transition 5, 6 still near it
    "mnist_1_7_depth16": ([-0.04, -0.63, -0.58, -0.63, -0.69, -0.70, -0.665, -0.56, -0.42, -0.31, -0.22, -0.17,
                           -0.145, -0.125, -0.13, -0.115, -0.06], 7),
    # Fashion-MNIST shoes, depth 18: an early dip at 1, a slow second descent to 9-10, then the climb
    "fmnist_shoes_depth18": ([-0.515, -0.68, -0.64, -0.53, -0.49, -0.54, -0.58, -0.60, -0.64, -0.675, -0.63, -0.57,
                              -0.50, -0.43, -0.355, -0.285, -0.26, -0.205, -0.135], 11),
}


def test_early_stopping_known_answer():
    values = [-0.1, -0.3, -0.45, -0.5, -0.48, -0.44, -0.40]
    history = pd.DataFrame({"mean_local_coefficient": values}, index=pd.Index(range(0, 70, 10), name="epoch"))
    assert stats.early_stopping_epoch(history, patience=2) == 30  # minimum at epoch 30, two worse records
    assert stats.early_stopping_epoch(history.iloc[:5], patience=2) is None  # not yet
    assert stats.early_stopping_epoch(history, patience=1) == 30
    # an improvement smaller than min_delta does not reset the count
    assert stats.early_stopping_epoch({0: -0.1, 1: -0.5, 2: -0.51, 3: -0.505}, patience=2, min_delta=0.05) == 1
    # NaN records (disconnected layers, epochs without a flow) are skipped
    assert stats.early_stopping_epoch(pd.Series([-0.1, np.nan, -0.2, -0.1, -0.1]), patience=2) == 2
    assert stats.early_stopping_epoch(pd.Series(np.linspace(0, -1, 10)), patience=2) is None
    # epochs are read in order, whatever order the mapping has
    assert stats.early_stopping_epoch({30: -0.4, 0: 0.1, 20: -0.5, 10: -0.3}, patience=1) == 20
    # the untrained record stays the lowest: no signal yet, keep training
    assert stats.early_stopping_epoch({0: -0.06, 5: 0.13, 10: 0.10, 15: 0.05}, patience=2) is None
    assert stats.early_stopping_epoch({0: -0.06, 5: 0.13, 10: -0.2, 15: -0.1, 20: -0.1}, patience=2) == 10
    with pytest.raises(ValueError, match="no column"):
        stats.early_stopping_epoch(history, column="accuracy")
    with pytest.raises(ValueError, match="patience"):
        stats.early_stopping_epoch(history, patience=0)
    with pytest.raises(ValueError, match="min_delta"):
        stats.early_stopping_epoch(history, min_delta=-0.1)
    with pytest.raises(TypeError, match="history"):
        stats.early_stopping_epoch([0.1, 0.2])
    assert stats.early_stopping_epoch(pd.DataFrame()) is None  # a monitor before its first step
    with pytest.raises(ValueError, match="twice"):
        stats.early_stopping_epoch(pd.Series([0.1, 0.2], index=[5, 5]))


@pytest.mark.parametrize("name", sorted(OVERFITTING_FIGURES))
def test_early_stopping_on_the_authors_figures(name):
    values, every, expected = OVERFITTING_FIGURES[name]
    series = pd.Series(values, index=every * np.arange(len(values)))
    assert stats.early_stopping_epoch(series, patience=2) == expected


def _early_stopping_loop(values, patience, min_delta):
    """Restated: the first record i such that the best record so far b (a value below every earlier best
    by more than min_delta) is not the first record and is followed by `patience` records."""
    finite = [(e, v) for e, v in values if np.isfinite(v)]
    best = None
    for i, (e, v) in enumerate(finite):
        if best is None or v < best[1] - min_delta:
            best = (e, v, i)
        if best[2] > 0 and i - best[2] >= patience:
            return best[0]
    return None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.floats(-1, 1), st.just(float("nan"))), max_size=15), st.integers(1, 4),
       st.sampled_from([0.0, 0.01, 0.1]))
def test_early_stopping_matches_loop(values, patience, min_delta):
    pairs = list(zip(range(0, 10 * len(values), 10), values))
    got = stats.early_stopping_epoch(dict(pairs), patience=patience, min_delta=min_delta)
    assert got == _early_stopping_loop(pairs, patience, min_delta)


def _effective_depth_loop(values, tolerance):
    """Restated: 1 + the position of the last coefficient that is not more than tolerance above the
    smallest one (NaN ignored)."""
    finite = [(i, v) for i, v in enumerate(values) if v == v]
    if not finite:
        return 0
    low = min(v for _, v in finite)
    return max(i for i, v in finite if v - low <= tolerance) + 1


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.floats(-1, 1), st.just(float("nan"))), min_size=1, max_size=18),
       st.sampled_from([0.0, 0.02, 0.05, 0.2]))
def test_effective_depth_matches_loop(values, tolerance):
    assert stats.effective_depth(values, tolerance) == _effective_depth_loop(values, tolerance)


def test_effective_depth_known_answer():
    assert stats.effective_depth([-0.1, -0.3, -0.5, -0.2, -0.1]) == 3     # falls to transition 2, then climbs
    assert stats.effective_depth([-0.1, -0.2, -0.3]) == 3                  # still falling: every transition
    assert stats.effective_depth([-0.5, -0.3, -0.2]) == 1                  # only climbs
    assert stats.effective_depth([-0.5, -0.45, -0.2]) == 2                 # within tolerance of the lowest
    assert stats.effective_depth([-0.5, -0.45, -0.2], tolerance=0.0) == 1
    assert stats.effective_depth([-0.6, -0.2, -0.55, -0.1]) == 3           # a second dip near the first counts
    assert stats.effective_depth([-0.5, np.nan, -0.7, -0.1]) == 3          # NaN transitions skipped
    assert stats.effective_depth([np.nan, np.nan]) == 0
    # several networks: averaged per transition, as the authors' notebook does
    assert stats.effective_depth([[-0.1, -0.5, -0.2], [-0.3, -0.5, -0.4]]) == 2
    for bad in (-0.1, float("nan"), True):
        with pytest.raises(ValueError, match="tolerance"):
            stats.effective_depth([-0.1, -0.2], tolerance=bad)
    with pytest.raises(ValueError, match="1-D"):
        stats.effective_depth([])
    for bad in ("abc", None, 0.5, {1: 2}):
        with pytest.raises(TypeError, match="layer coefficients"):
            stats.effective_depth(bad)
    with pytest.raises(ValueError, match="different lengths"):
        stats.effective_depth([[-0.1, -0.2], [-0.3]])


@pytest.mark.parametrize("name", sorted(LAYER_FIGURES))
def test_effective_depth_on_the_authors_figures(name):
    values, expected = LAYER_FIGURES[name]
    assert stats.effective_depth(values) == expected


def test_select_depth_known_answer():
    # depth d has d + 1 transitions (input + d hidden + output, Hehl et al.'s DNN); every depth falls to a
    # minimum at transition 4 and deeper ones climb after it: 5 transitions matter, depth 4 holds them
    def curve(depth):
        down = [-0.2, -0.35, -0.5, -0.6, -0.7]
        up = list(np.linspace(-0.5, -0.1, max(depth + 1 - 5, 0)))
        return (down + up)[:depth + 1]

    grid = {depth: curve(depth) for depth in (2, 4, 6, 8, 12)}
    assert stats.select_depth(grid) == 4
    assert stats.select_depth({8: grid[8], 12: grid[12], 6: grid[6]}) == 6   # 4 not in the grid
    # the authors' Syn-I grid (depths 6..16, the deepest from the figure): depth 6 holds the 7 transitions
    syn1 = {d: LAYER_FIGURES["syn1_depth16"][0][:d + 1] for d in (6, 8, 10, 12, 14, 16)}
    assert stats.select_depth(syn1) == 6
    # Fashion-MNIST shoes (depths 10..18): 11 transitions matter, depth 10 has 11
    shoes = {d: LAYER_FIGURES["fmnist_shoes_depth18"][0][:d + 1] for d in (10, 12, 14, 16, 18)}
    assert stats.select_depth(shoes) == 10
    # several networks per depth are averaged; RicciFlow objects are read through layer_coefficients
    noisy = {d: [np.array(c) + 0.01, np.array(c) - 0.01] for d, c in grid.items()}
    assert stats.select_depth(noisy) == 4
    # one network: its effective depth
    assert stats.select_depth(grid[12]) == 5


def test_select_depth_warns_and_refuses():
    with pytest.warns(UserWarning, match="still at its lowest"):
        assert stats.select_depth({3: [-0.1, -0.2, -0.3, -0.4], 5: [-0.1, -0.2, -0.3, -0.4, -0.5, -0.6]}) == 5
    with pytest.raises(ValueError, match="empty"):
        stats.select_depth({})
    with pytest.raises(TypeError, match="positive integers"):
        stats.select_depth({"deep": [-0.1, -0.2]})
    with pytest.raises(ValueError, match="no finite"):
        stats.select_depth({4: [np.nan] * 5})


def test_depth_from_flows(flows):
    flow = flows[0]
    assert stats.effective_depth(flow) == stats.effective_depth(flow.layer_coefficients)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert stats.select_depth({4: flows[:2], 9: flows[2]}) == (4 if stats.effective_depth(flows[2]) <= 4 else 9)
        assert stats.effective_depth(flows[:2]) == stats.effective_depth(
            np.nanmean([flows[0].layer_coefficients, flows[1].layer_coefficients], axis=0))


# --- community measures ---------------------------------------------------------------------------------------------


def _ncut_loop(graph, labels):
    classes = sorted(set(labels.tolist()))
    total = 0.0
    for c in classes:
        cut = vol = 0
        for i in range(graph.n_nodes):
            for j in graph.indices[graph.indptr[i]:graph.indptr[i + 1]]:
                if labels[i] == c:
                    vol += 1
                    if labels[j] != c:
                        cut += 1
        total += cut / vol
    return 0.5 * total


@pytest.mark.parametrize("n_classes", [2, 3])
def test_modularity_and_normalized_cut_against_networkx_and_loops(rng, n_classes):
    X = rng.normal(size=(120, 3))
    labels = rng.integers(0, n_classes, size=120)
    X[labels == 1] += 2.0
    graph = rf.knn_graph(X, 6)
    G = nx.from_scipy_sparse_array(graph.to_scipy())
    communities = [set(np.flatnonzero(labels == c).tolist()) for c in range(n_classes)]
    assert stats.modularity(graph, labels) == pytest.approx(nx.community.modularity(G, communities), abs=1e-12)
    assert stats.normalized_cut(graph, labels) == pytest.approx(_ncut_loop(graph, labels), abs=1e-12)
    if n_classes == 2:
        # Hehl et al.'s community_structure.py: 0.5 * networkx's normalized_cut_size
        expected = 0.5 * nx.algorithms.cuts.normalized_cut_size(G, communities[0], communities[1])
        assert stats.normalized_cut(graph, labels) == pytest.approx(expected, abs=1e-12)
    with pytest.raises(ValueError, match="one label per node"):
        stats.modularity(graph, labels[:-1])


def test_community_measures_table(flows, rng):
    labels = rng.integers(0, 2, size=flows[0].n_points)
    table = stats.community_measures(flows[0], labels)
    assert list(table.columns) == ["modularity", "normalized_cut", "curvature_gap"]
    assert len(table) == flows[0].n_layers
    assert table["modularity"].iloc[0] == pytest.approx(stats.modularity(flows[0].layers[0].graph, labels))
