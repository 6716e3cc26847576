"""Built-in data sets (no download), seeded, returned as (X float32 (N, D), y int64 (N,)).

The synthetic two-class sets of the field (Naitzat et al. 2020; Baptista et al. 2024) and two-class
pairs of scikit-learn's bundled 8 x 8 digits.  Every set has `n_points`, `noise` (standard deviation of
Gaussian noise added to every coordinate) and `seed`; classes alternate (half the points each).
"""

from __future__ import annotations

import numpy as np


def _check(n_points: int, noise: float) -> int:
    if isinstance(n_points, bool) or int(n_points) != n_points or int(n_points) < 4:
        raise ValueError(f"n_points must be an integer >= 4, got {n_points}.")
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise}.")
    return int(n_points)


def _finish(X, y, noise, rng):
    X = X + rng.normal(scale=noise, size=X.shape) if noise > 0 else X
    return X.astype(np.float32), y.astype(np.int64)


def concentric_circles(n_points: int = 1000, noise: float = 0.05, seed: int | None = 0):
    """Two concentric circles in the plane (radii 1 and 2); label 0 inner, 1 outer."""
    n = _check(n_points, noise)
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    angle = rng.uniform(0, 2 * np.pi, n)
    radius = 1.0 + y
    X = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    return _finish(X, y, noise, rng)


def entangled_spirals(n_points: int = 1000, noise: float = 0.05, seed: int | None = 0, turns: float = 1.5):
    """Two interleaved Archimedean spirals in the plane (the second is the first turned by pi)."""
    n = _check(n_points, noise)
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    t = np.sqrt(rng.uniform(0.05, 1.0, n)) * turns * 2 * np.pi
    radius = t / (turns * 2 * np.pi) * 2.0
    angle = t + np.pi * y
    X = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    return _finish(X, y, noise, rng)


def disk_with_holes(n_points: int = 1000, noise: float = 0.0, seed: int | None = 0):
    """Naitzat et al.'s D-I set in spirit: the unit disk with four round holes (label 0, the disk) and
    four small disks filling the holes' centres (label 1).  Rejection-sampled, uniform by area."""
    n = _check(n_points, noise)
    rng = np.random.default_rng(seed)
    centres = np.array([[0.5, 0.5], [-0.5, 0.5], [-0.5, -0.5], [0.5, -0.5]])
    hole, inner = 0.3, 0.18
    y = np.arange(n) % 2
    X = np.empty((n, 2))
    for label in (0, 1):
        want = int(np.count_nonzero(y == label))
        points = []
        while sum(len(p) for p in points) < want:
            if label == 0:
                cand = rng.uniform(-1, 1, size=(4 * want, 2))
                d = np.linalg.norm(cand[:, None, :] - centres[None], axis=2)
                keep = (np.linalg.norm(cand, axis=1) <= 1) & (d.min(axis=1) >= hole)
            else:
                which = rng.integers(0, 4, size=4 * want)
                cand = centres[which] + rng.uniform(-inner, inner, size=(4 * want, 2))
                keep = np.linalg.norm(cand - centres[which], axis=1) <= inner
            points.append(cand[keep])
        X[y == label] = np.concatenate(points)[:want]
    return _finish(X, y, noise, rng)


def coaxial_cylinders(n_points: int = 1000, noise: float = 0.0, seed: int | None = 0):
    """Two coaxial cylinders in R^3 (radii 1 and 2, height 2); label 0 inner, 1 outer."""
    n = _check(n_points, noise)
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    angle = rng.uniform(0, 2 * np.pi, n)
    height = rng.uniform(-1, 1, n)
    radius = 1.0 + y
    X = np.stack([radius * np.cos(angle), radius * np.sin(angle), height], axis=1)
    return _finish(X, y, noise, rng)


def interlocking_tori(n_points: int = 1000, noise: float = 0.0, seed: int | None = 0, major: float = 1.0,
                      minor: float = 0.3):
    """Two linked solid-free tori in R^3: the first in the xy-plane around the origin, the second in the
    xz-plane around (major, 0, 0), so each passes through the other's hole; labels 0 and 1."""
    n = _check(n_points, noise)
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    u = rng.uniform(0, 2 * np.pi, n)
    v = rng.uniform(0, 2 * np.pi, n)
    ring = major + minor * np.cos(v)
    a = np.stack([ring * np.cos(u), ring * np.sin(u), minor * np.sin(v)], axis=1)
    b = np.stack([major + ring * np.cos(u), minor * np.sin(v), ring * np.sin(u)], axis=1)
    X = np.where(y[:, None] == 0, a, b)
    return _finish(X, y, noise, rng)


def digits_pair(a: int = 3, b: int = 8, noise: float = 0.0, seed: int | None = 0, n_points: int | None = None):
    """Two classes of scikit-learn's bundled 8 x 8 digits (bundled with the package, no download),
    pixels scaled to [0, 1]; label 0 for digit a, 1 for digit b.  n_points (optional) takes a seeded
    random subset."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError("digits_pair needs scikit-learn: pip install 'ricci_fast[demo]'.") from None
    if a == b or not (0 <= a <= 9 and 0 <= b <= 9):
        raise ValueError(f"a and b must be two different digits in 0..9, got {a} and {b}.")
    digits = load_digits()
    keep = np.flatnonzero((digits.target == a) | (digits.target == b))
    rng = np.random.default_rng(seed)
    if n_points is not None:
        n = _check(n_points, noise)
        if n > keep.size:
            raise ValueError(f"n_points={n} is more than the {keep.size} images of digits {a} and {b}.")
        keep = np.sort(rng.choice(keep, size=n, replace=False))
    X = digits.data[keep] / 16.0
    y = (digits.target[keep] == b).astype(np.int64)
    return _finish(X, y, noise, rng)


def nine_disks(n_points: int = 2000, noise: float = 0.0, seed: int | None = 0):
    """A 2-D set in the manner of Naitzat et al.'s D-I: label 1 fills the square [-1, 1]^2 except nine
    round holes (radius 0.27) on a 3 x 3 grid; label 0 fills nine smaller disks (radius 0.15) at the
    holes' centres, so class 0 has Betti numbers (9, 0) and class 1 (1, 9)."""
    n = _check(n_points, noise)
    rng = np.random.default_rng(seed)
    grid = np.array([(x, y) for x in (-0.6, 0.0, 0.6) for y in (-0.6, 0.0, 0.6)])
    y = np.arange(n) % 2
    X = np.empty((n, 2))
    n_disks = int(np.count_nonzero(y == 0))
    which = np.arange(n_disks) % 9
    angle = rng.uniform(0, 2 * np.pi, n_disks)
    radius = 0.15 * np.sqrt(rng.uniform(0, 1, n_disks))
    X[y == 0] = grid[which] + np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    want = n - n_disks
    points = []
    while sum(len(p) for p in points) < want:
        cand = rng.uniform(-1, 1, size=(2 * want, 2))
        far = np.linalg.norm(cand[:, None, :] - grid[None], axis=2).min(axis=1) >= 0.27
        points.append(cand[far])
    X[y == 1] = np.concatenate(points)[:want]
    return _finish(X, y, noise, rng)


def embedded_cube(n_points: int = 2000, dim: int = 2, ambient: int = 50, noise: float = 0.0, seed: int | None = 0):
    """Uniform samples of the unit cube [0, 1]^dim, rotated into R^ambient by a random orthonormal map
    (intrinsic dimension `dim`); labels are all 0."""
    n = _check(n_points, noise)
    if not 1 <= dim <= ambient:
        raise ValueError(f"need 1 <= dim <= ambient, got dim={dim}, ambient={ambient}.")
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.normal(size=(ambient, dim)))
    X = rng.uniform(0, 1, size=(n, dim)) @ basis.T
    return _finish(X, np.zeros(n, np.int64), noise, rng)


# --- Hehl, von Renesse and Weber (2025)'s Syn-I..IV (their datasets.py, DatasetFactory) -------------------
# Their generators draw from numpy's global random state; these take a seed and follow the same
# geometry and defaults, with classes alternating (as every set here) where theirs come in two blocks.


def hehl_syn1(n_points: int = 1000, noise: float = 0.03, seed: int | None = 0, factor: float = 0.8):
    """Syn-I: scikit-learn's make_circles as Hehl et al. use it (outer radius 1, label 0; inner radius
    `factor` = 0.8, label 1; angles evenly spaced on each circle; Gaussian noise, 0.03 in their
    experiments/local_ricci_coefficients.ipynb, 0.05 their default)."""
    n = _check(n_points, noise)
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    X = np.empty((n, 2))
    for label, radius in ((0, 1.0), (1, factor)):
        rows = np.flatnonzero(y == label)
        angle = np.linspace(0, 2 * np.pi, rows.size, endpoint=False)
        X[rows] = radius * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return _finish(X, y, noise, rng)


def hehl_syn2(n_points: int = 1000, noise: float = 0.0, seed: int | None = 0, r: float = 0.2):
    """Syn-II: uniform points of the unit disk; label 1 inside one of four disks of radius r = 0.2
    centred at (0, +-0.5) and (+-0.5, 0), label 0 elsewhere (their make_4circles).  The classes are
    set by position, so they are unbalanced (about 16% label 1 for r = 0.2)."""
    n = _check(n_points, noise)
    rng = np.random.default_rng(seed)
    radius = np.sqrt(rng.uniform(0, 1, n))
    theta = rng.uniform(0, 2 * np.pi, n)
    X = np.stack([radius * np.cos(theta), radius * np.sin(theta)], axis=1)
    centres = np.array([[0.0, 0.5], [-0.5, 0.0], [0.0, -0.5], [0.5, 0.0]])
    inside = (np.linalg.norm(X[:, None, :] - centres[None], axis=2) <= r).any(axis=1)
    return _finish(X, inside.astype(np.int64), noise, rng)


def hehl_syn3(n_points: int = 1000, noise: float = 0.1, seed: int | None = 0, r1: float = 1.0, r2: float = 0.8):
    """Syn-III: two coaxial cylindrical shells around the y axis, radius r1 = 1 (label 0) and r2 = 0.8
    (label 1), height uniform in [0, 1], radii jittered uniformly by +-noise (their make_cylinders;
    here `noise` is that uniform radial jitter, not Gaussian)."""
    n = _check(n_points, noise)
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    angle = rng.uniform(0, 2 * np.pi, n)
    radius = np.where(y == 0, r1, r2) + rng.uniform(-noise, noise, n)
    X = np.stack([radius * np.cos(angle), rng.uniform(0, 1, n), radius * np.sin(angle)], axis=1)
    return X.astype(np.float32), y.astype(np.int64)


def hehl_syn4(n_points: int = 1000, noise: float = 0.0, seed: int | None = 0, R: float = 2.0, r: float = 1.0):
    """Syn-IV: two linked solid tori (major radius R = 2, tube radius drawn uniformly in [0, r = 1]),
    the first in the xy-plane around the origin (label 0), the second in the xz-plane around (2, 0, 0)
    (label 1), as their make_tori."""
    n = _check(n_points, noise)
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    u = rng.uniform(0, 2 * np.pi, n)
    v = rng.uniform(0, 2 * np.pi, n)
    tube = rng.uniform(0, r, n)
    ring = R + tube * np.cos(v)
    a = np.stack([ring * np.cos(u), ring * np.sin(u), tube * np.sin(v)], axis=1)
    b = np.stack([ring * np.cos(u) + 2.0, tube * np.sin(v), ring * np.sin(u)], axis=1)
    X = np.where(y[:, None] == 0, a, b)
    return _finish(X, y, noise, rng)


# --- Baptista et al. (2024)'s three synthetic sets ------------------------------------------------------
# The paper describes them (a spiral inside a spherical shell, two ellipsoids inside a cube,
# interleaved sinusoidal sheets) but its code repository (anthbapt/Ricci-NN) ships no generator, so
# the sizes below are ours: what is fixed is the topology each set poses to the classifier.


def spiral_in_shell(n_points: int = 2000, noise: float = 0.02, seed: int | None = 0, turns: float = 3.0):
    """A helix through the inside of a spherical shell: label 0 on a helix of radius 0.4 and height
    [-0.6, 0.6] with `turns` turns, label 1 uniform in the shell 0.8 <= |x| <= 1."""
    n = _check(n_points, noise)
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    X = np.empty((n, 3))
    n0 = int(np.count_nonzero(y == 0))
    t = rng.uniform(0, 1, n0)
    X[y == 0] = np.stack([0.4 * np.cos(2 * np.pi * turns * t), 0.4 * np.sin(2 * np.pi * turns * t),
                          1.2 * t - 0.6], axis=1)
    n1 = n - n0
    direction = rng.normal(size=(n1, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    radius = np.cbrt(rng.uniform(0.8 ** 3, 1.0, n1))  # uniform by volume
    X[y == 1] = direction * radius[:, None]
    return _finish(X, y, noise, rng)


def ellipsoids_in_cube(n_points: int = 2000, noise: float = 0.0, seed: int | None = 0):
    """Two solid ellipsoids inside the cube [-1, 1]^3: label 0 fills the ellipsoids (semi-axes 0.35,
    0.2, 0.2, centred at (+-0.45, 0, 0)), label 1 fills the rest of the cube; uniform by volume."""
    n = _check(n_points, noise)
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    centres = np.array([[-0.45, 0.0, 0.0], [0.45, 0.0, 0.0]])
    axes = np.array([0.35, 0.2, 0.2])

    def inside(P):
        return (((P[:, None, :] - centres[None]) / axes) ** 2).sum(axis=2).min(axis=1) <= 1.0

    X = np.empty((n, 3))
    for label in (0, 1):
        want = int(np.count_nonzero(y == label))
        points = []
        while sum(len(p) for p in points) < want:
            if label == 0:
                which = rng.integers(0, 2, size=4 * want)
                cand = centres[which] + rng.uniform(-1, 1, size=(4 * want, 3)) * axes
            else:
                cand = rng.uniform(-1, 1, size=(4 * want, 3))
            keep = inside(cand) if label == 0 else ~inside(cand)
            points.append(cand[keep])
        X[y == label] = np.concatenate(points)[:want]
    return _finish(X, y, noise, rng)


def sinusoidal_sheets(n_points: int = 2000, noise: float = 0.02, seed: int | None = 0, n_sheets: int = 4,
                      amplitude: float = 0.3, frequency: float = 1.0):
    """Interleaved sinusoidal sheets in R^3: n_sheets surfaces z = c_j + amplitude sin(2 pi frequency x)
    over (x, y) in [-1, 1]^2, offsets c_j evenly spaced in [-0.75, 0.75], labels alternating from sheet
    to sheet (0, 1, 0, 1, ...)."""
    n = _check(n_points, noise)
    if n_sheets < 2:
        raise ValueError(f"n_sheets must be >= 2, got {n_sheets}.")
    rng = np.random.default_rng(seed)
    sheet = np.arange(n) % n_sheets
    y = sheet % 2
    offsets = np.linspace(-0.75, 0.75, n_sheets)
    x1 = rng.uniform(-1, 1, n)
    x2 = rng.uniform(-1, 1, n)
    z = offsets[sheet] + amplitude * np.sin(2 * np.pi * frequency * x1)
    return _finish(np.stack([x1, x2, z], axis=1), y, noise, rng)


#: name -> loader, for the CLI and the reproduction study
DATASETS = {
    "circles": concentric_circles,
    "spirals": entangled_spirals,
    "disk_holes": disk_with_holes,
    "cylinders": coaxial_cylinders,
    "tori": interlocking_tori,
    "digits": digits_pair,
    "nine_disks": nine_disks,
    "syn1": hehl_syn1,
    "syn2": hehl_syn2,
    "syn3": hehl_syn3,
    "syn4": hehl_syn4,
    "spiral_shell": spiral_in_shell,
    "ellipsoids_cube": ellipsoids_in_cube,
    "sinusoidal_sheets": sinusoidal_sheets,
}
