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
