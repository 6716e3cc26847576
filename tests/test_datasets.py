import numpy as np
import pytest

import ricci_fast as rf
from ricci_fast import datasets


@pytest.mark.parametrize("name", ["circles", "spirals", "disk_holes", "cylinders", "tori"])
def test_synthetic_sets_are_seeded_and_shaped(name):
    loader = datasets.DATASETS[name]
    X, y = loader(n_points=301, noise=0.01, seed=3)
    dim = {"circles": 2, "spirals": 2, "disk_holes": 2, "cylinders": 3, "tori": 3}[name]
    assert X.shape == (301, dim) and X.dtype == np.float32
    assert y.shape == (301,) and y.dtype == np.int64 and set(y.tolist()) == {0, 1}
    assert abs(int((y == 0).sum()) - int((y == 1).sum())) <= 1
    X2, y2 = loader(n_points=301, noise=0.01, seed=3)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    X3, _ = loader(n_points=301, noise=0.01, seed=4)
    assert not np.array_equal(X, X3)
    assert np.isfinite(X).all()


def test_geometry_of_the_synthetic_sets():
    X, y = datasets.concentric_circles(400, noise=0.0)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0 + y, rtol=1e-6)
    X, y = datasets.coaxial_cylinders(400)
    np.testing.assert_allclose(np.linalg.norm(X[:, :2], axis=1), 1.0 + y, rtol=1e-6)
    assert np.all(np.abs(X[:, 2]) <= 1)
    X, y = datasets.disk_with_holes(400)
    assert np.all(np.linalg.norm(X, axis=1) <= 1 + 1e-6)
    X, y = datasets.interlocking_tori(400)
    a = X[y == 0]
    # distance of torus 0's points from its core circle (radius 1 in the xy-plane) is the minor radius
    core = np.sqrt((np.linalg.norm(a[:, :2], axis=1) - 1.0) ** 2 + a[:, 2] ** 2)
    np.testing.assert_allclose(core, 0.3, rtol=1e-5)


def test_digits_pair():
    pytest.importorskip("sklearn")
    X, y = datasets.digits_pair(3, 8)
    assert X.shape[1] == 64 and X.min() >= 0 and X.max() <= 1 and set(y.tolist()) == {0, 1}
    Xs, ys = datasets.digits_pair(3, 8, n_points=100, seed=1)
    assert Xs.shape == (100, 64)
    with pytest.raises(ValueError, match="two different digits"):
        datasets.digits_pair(3, 3)


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_points must be an integer >= 4"):
        datasets.concentric_circles(2)
    with pytest.raises(ValueError, match="noise must be >= 0"):
        datasets.entangled_spirals(100, noise=-1)


def test_curvature_gap_by_hand(rng):
    X, y = datasets.concentric_circles(300, noise=0.3, seed=1)
    layer = rf.layer_curvature(X, 8, curvature="augmented_forman", geodesics=False)
    edges = layer.graph.edges()
    M = layer.curvature_matrix()
    values = np.array([M[i, j] for i, j in edges])
    same = y[edges[:, 0]] == y[edges[:, 1]]
    w, b = values[same], values[~same]
    pooled = np.sqrt(((w.size - 1) * w.var(ddof=1) + (b.size - 1) * b.var(ddof=1)) / (w.size + b.size - 2))
    assert rf.curvature_gap(layer, y, denominator="pooled") == pytest.approx((w.mean() - b.mean()) / pooled, rel=1e-12)
    with pytest.raises(ValueError, match="one label per point"):
        rf.curvature_gap(layer, y[:-1])


NEW_SETS = {"syn1": 2, "syn2": 2, "syn3": 3, "syn4": 3, "spiral_shell": 3, "ellipsoids_cube": 3, "sinusoidal_sheets": 3}


@pytest.mark.parametrize("name", sorted(NEW_SETS))
def test_protocol_sets_are_seeded_and_shaped(name):
    loader = datasets.DATASETS[name]
    X, y = loader(n_points=401, seed=3)
    assert X.shape == (401, NEW_SETS[name]) and X.dtype == np.float32 and np.isfinite(X).all()
    assert y.shape == (401,) and y.dtype == np.int64 and set(y.tolist()) == {0, 1}
    X2, y2 = loader(n_points=401, seed=3)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(X, loader(n_points=401, seed=4)[0])
    if name != "syn2":  # Syn-II's classes are set by position (unbalanced by design)
        assert abs(int((y == 0).sum()) - int((y == 1).sum())) <= 1


def test_geometry_of_the_protocol_sets():
    X, y = datasets.hehl_syn1(400, noise=0.0)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), np.where(y == 0, 1.0, 0.8), rtol=1e-6)
    X, y = datasets.hehl_syn2(2000)
    centres = np.array([[0, 0.5], [-0.5, 0], [0, -0.5], [0.5, 0]])
    inside = (np.linalg.norm(X[:, None] - centres[None], axis=2) <= 0.2).any(axis=1)
    np.testing.assert_array_equal(y, inside)
    assert np.all(np.linalg.norm(X, axis=1) <= 1 + 1e-6) and 0.1 < y.mean() < 0.22  # 4 * 0.04 of the disk's area
    X, y = datasets.hehl_syn3(400, noise=0.0)
    np.testing.assert_allclose(np.linalg.norm(X[:, [0, 2]], axis=1), np.where(y == 0, 1.0, 0.8), rtol=1e-6)
    assert X[:, 1].min() >= 0 and X[:, 1].max() <= 1
    X, y = datasets.hehl_syn4(400)
    a, b = X[y == 0].astype(float), X[y == 1].astype(float)
    assert np.all(np.hypot(np.hypot(a[:, 0], a[:, 1]) - 2.0, a[:, 2]) <= 1 + 1e-5)
    assert np.all(np.hypot(np.hypot(b[:, 0] - 2.0, b[:, 2]) - 2.0, b[:, 1]) <= 1 + 1e-5)
    X, y = datasets.spiral_in_shell(600, noise=0.0)
    r = np.linalg.norm(X, axis=1)
    assert np.all(r[y == 1] >= 0.8 - 1e-6) and np.all(r[y == 1] <= 1 + 1e-6) and np.all(r[y == 0] < 0.75)
    np.testing.assert_allclose(np.linalg.norm(X[y == 0][:, :2], axis=1), 0.4, rtol=1e-6)
    X, y = datasets.ellipsoids_in_cube(600)
    q = (((X[:, None, :] - np.array([[-0.45, 0, 0], [0.45, 0, 0]])[None]) / np.array([0.35, 0.2, 0.2])) ** 2).sum(2).min(1)
    assert np.all(q[y == 0] <= 1 + 1e-5) and np.all(q[y == 1] > 1 - 1e-5) and np.abs(X).max() <= 1
    X, y = datasets.sinusoidal_sheets(600, noise=0.0)
    sheet = np.arange(600) % 4
    np.testing.assert_allclose(X[:, 2] - 0.3 * np.sin(2 * np.pi * X[:, 0]), np.linspace(-0.75, 0.75, 4)[sheet], atol=1e-5)
    np.testing.assert_array_equal(y, sheet % 2)
