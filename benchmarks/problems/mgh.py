"""The 33 Moré-Garbow-Hillstrom problems: residuals, standard starts x0 and f*.

J. J. Moré, B. S. Garbow and K. E. Hillstrom, "Testing unconstrained
optimization software", ACM Trans. Math. Softw. 7 (1981) 17-41, numbered as
there. Each residual function takes a batch ``X`` of shape (n, k), one point a
column, and returns the residuals as rows (see ``base.least_squares``).
"""

from __future__ import annotations

import numpy as np

from .base import col, csabs, i_col


def _rosenbrock(X):
    x1, x2 = X
    return np.stack([10 * (x2 - x1**2), 1 - x1])


def _freudenstein_roth(X):
    x1, x2 = X
    return np.stack([-13 + x1 + ((5 - x2) * x2 - 2) * x2,
                     -29 + x1 + ((x2 + 1) * x2 - 14) * x2])


def _powell_badly_scaled(X):
    x1, x2 = X
    return np.stack([1e4 * x1 * x2 - 1, np.exp(-x1) + np.exp(-x2) - 1.0001])


def _brown_badly_scaled(X):
    x1, x2 = X
    return np.stack([x1 - 1e6, x2 - 2e-6, x1 * x2 - 2])


def _beale(X):
    x1, x2 = X
    i = i_col(3)
    return col([1.5, 2.25, 2.625]) - x1 * (1 - x2**i)


def _jennrich_sampson(X):
    x1, x2 = X
    i = i_col(10)
    return 2 + 2 * i - (np.exp(i * x1) + np.exp(i * x2))


def _helical_valley(X):
    x1, x2, x3 = X
    theta = np.arctan(x2 / x1) / (2 * np.pi) + np.where(np.real(x1) < 0, 0.5, 0.0)
    return np.stack([10 * (x3 - 10 * theta), 10 * (np.sqrt(x1**2 + x2**2) - 1), x3])


def _bard(X):
    x1, x2, x3 = X
    u = i_col(15)
    v = 16 - u
    w = np.minimum(u, v)
    y = col([0.14, 0.18, 0.22, 0.25, 0.29, 0.32, 0.35, 0.39, 0.37, 0.58, 0.73, 0.96,
             1.34, 2.10, 4.39])
    return y - (x1 + u / (v * x2 + w * x3))


def _gaussian(X):
    x1, x2, x3 = X
    t = (8 - i_col(15)) / 2
    y = col([0.0009, 0.0044, 0.0175, 0.0540, 0.1295, 0.2420, 0.3521, 0.3989, 0.3521,
             0.2420, 0.1295, 0.0540, 0.0175, 0.0044, 0.0009])
    return x1 * np.exp(-x2 * (t - x3) ** 2 / 2) - y


def _meyer(X):
    x1, x2, x3 = X
    t = 45 + 5 * i_col(16)
    y = col([34780, 28610, 23650, 19630, 16370, 13720, 11540, 9744, 8261, 7030, 6005,
             5147, 4427, 3820, 3307, 2872])
    return x1 * np.exp(x2 / (t + x3)) - y


def _gulf(X, m=99):
    x1, x2, x3 = X
    t = i_col(m) / 100
    y = 25 + (-50 * np.log(t)) ** (2 / 3)
    return np.exp(-(csabs(y - x2) ** x3) / x1) - t


def _box_3d(X, m=10):
    x1, x2, x3 = X
    t = 0.1 * i_col(m)
    return np.exp(-t * x1) - np.exp(-t * x2) - x3 * (np.exp(-t) - np.exp(-10 * t))


def _powell_singular(X):
    x1, x2, x3, x4 = X[0::4], X[1::4], X[2::4], X[3::4]
    return np.vstack([x1 + 10 * x2, np.sqrt(5) * (x3 - x4), (x2 - 2 * x3) ** 2,
                      np.sqrt(10) * (x1 - x4) ** 2])


def _wood(X):
    x1, x2, x3, x4 = X
    return np.stack([10 * (x2 - x1**2), 1 - x1, np.sqrt(90) * (x4 - x3**2), 1 - x3,
                     np.sqrt(10) * (x2 + x4 - 2), (x2 - x4) / np.sqrt(10)])


def _kowalik_osborne(X):
    x1, x2, x3, x4 = X
    y = col([0.1957, 0.1947, 0.1735, 0.1600, 0.0844, 0.0627, 0.0456, 0.0342, 0.0323,
             0.0235, 0.0246])
    u = col([4, 2, 1, 0.5, 0.25, 0.167, 0.125, 0.1, 0.0833, 0.0714, 0.0625])
    return y - x1 * (u**2 + u * x2) / (u**2 + u * x3 + x4)


def _brown_dennis(X, m=20):
    x1, x2, x3, x4 = X
    t = i_col(m) / 5
    return (x1 + t * x2 - np.exp(t)) ** 2 + (x3 + x4 * np.sin(t) - np.cos(t)) ** 2


def _osborne1(X):
    x1, x2, x3, x4, x5 = X
    t = 10 * (i_col(33) - 1)
    y = col([0.844, 0.908, 0.932, 0.936, 0.925, 0.908, 0.881, 0.850, 0.818, 0.784,
             0.751, 0.718, 0.685, 0.658, 0.628, 0.603, 0.580, 0.558, 0.538, 0.522,
             0.506, 0.490, 0.478, 0.467, 0.457, 0.448, 0.438, 0.431, 0.424, 0.420,
             0.414, 0.411, 0.406])
    return y - (x1 + x2 * np.exp(-t * x4) + x3 * np.exp(-t * x5))


def _biggs_exp6(X, m=13):
    x1, x2, x3, x4, x5, x6 = X
    t = 0.1 * i_col(m)
    y = np.exp(-t) - 5 * np.exp(-10 * t) + 3 * np.exp(-4 * t)
    return x3 * np.exp(-t * x1) - x4 * np.exp(-t * x2) + x6 * np.exp(-t * x5) - y


def _osborne2(X):
    x = X
    t = (i_col(65) - 1) / 10
    y = col([1.366, 1.191, 1.112, 1.013, 0.991, 0.885, 0.831, 0.847, 0.786, 0.725,
             0.746, 0.679, 0.608, 0.655, 0.616, 0.606, 0.602, 0.626, 0.651, 0.724,
             0.649, 0.649, 0.694, 0.644, 0.624, 0.661, 0.612, 0.558, 0.533, 0.495,
             0.500, 0.423, 0.395, 0.375, 0.372, 0.391, 0.396, 0.405, 0.428, 0.429,
             0.523, 0.562, 0.607, 0.653, 0.672, 0.708, 0.633, 0.668, 0.645, 0.632,
             0.591, 0.559, 0.597, 0.625, 0.739, 0.710, 0.729, 0.720, 0.636, 0.581,
             0.428, 0.292, 0.162, 0.098, 0.054])
    return y - (x[0] * np.exp(-t * x[4]) + x[1] * np.exp(-(t - x[8]) ** 2 * x[5])
                + x[2] * np.exp(-(t - x[9]) ** 2 * x[6])
                + x[3] * np.exp(-(t - x[10]) ** 2 * x[7]))


def _watson(X):
    n = X.shape[0]
    t = i_col(29) / 29
    s1 = sum((j - 1) * X[j - 1] * t ** (j - 2) for j in range(2, n + 1))
    s2 = sum(X[j - 1] * t ** (j - 1) for j in range(1, n + 1))
    return np.vstack([s1 - s2**2 - 1, X[0][None], (X[1] - X[0] ** 2 - 1)[None]])


def _extended_rosenbrock(X):
    return np.vstack([10 * (X[1::2] - X[0::2] ** 2), 1 - X[0::2]])


def _penalty1(X):
    a = 1e-5
    return np.vstack([np.sqrt(a) * (X - 1), (X**2).sum(axis=0)[None] - 0.25])


def _penalty2(X):
    a = 1e-5
    n = X.shape[0]
    i = i_col(n - 1, start=2)
    y = np.exp(i / 10) + np.exp((i - 1) / 10)
    weights = col(n - np.arange(n))
    return np.vstack([X[0][None] - 0.2,
                      np.sqrt(a) * (np.exp(X[1:] / 10) + np.exp(X[:-1] / 10) - y),
                      np.sqrt(a) * (np.exp(X[1:] / 10) - np.exp(-0.1)),
                      (weights * X**2).sum(axis=0)[None] - 1])


def _variably_dimensioned(X):
    j = i_col(X.shape[0])
    s = (j * (X - 1)).sum(axis=0)[None]
    return np.vstack([X - 1, s, s**2])


def _trigonometric(X):
    n = X.shape[0]
    i = i_col(n)
    return n - np.cos(X).sum(axis=0) + i * (1 - np.cos(X)) - np.sin(X)


def _brown_almost_linear(X):
    n = X.shape[0]
    return np.vstack([X[:-1] + X.sum(axis=0) - (n + 1), np.prod(X, axis=0)[None] - 1])


def _padded(X):
    zero = np.zeros((1, X.shape[1]))
    return np.vstack([zero, X, zero])


def _discrete_boundary_value(X):
    n = X.shape[0]
    h = 1 / (n + 1)
    t = h * i_col(n)
    P = _padded(X)
    return 2 * X - P[:-2] - P[2:] + h**2 * (X + t + 1) ** 3 / 2


def _discrete_integral_equation(X):
    n = X.shape[0]
    h = 1 / (n + 1)
    t = h * i_col(n)
    c = (X + t + 1) ** 3
    lower = np.cumsum(t * c, axis=0)  # sum over j <= i
    upper = np.cumsum(((1 - t) * c)[::-1], axis=0)[::-1]
    upper = np.vstack([upper[1:], np.zeros((1, X.shape[1]))])  # sum over j > i
    return X + h * ((1 - t) * lower + t * upper) / 2


def _broyden_tridiagonal(X):
    P = _padded(X)
    return (3 - 2 * X) * X - P[:-2] - 2 * P[2:] + 1


def _broyden_banded(X, ml=5, mu=1):
    n = X.shape[0]
    q = X * (1 + X)
    rows = []
    for i in range(n):
        band = [j for j in range(max(0, i - ml), min(n, i + mu + 1)) if j != i]
        rows.append(X[i] * (2 + 5 * X[i] ** 2) + 1 - q[band].sum(axis=0))
    return np.stack(rows)


def _linear_full_rank(X, m=20):
    n = X.shape[0]
    s = X.sum(axis=0)
    return np.vstack([X - 2 * s / m - 1, np.broadcast_to(-2 * s / m - 1, (m - n, X.shape[1]))])


def _chebyquad(X):
    n = X.shape[0]
    y = 2 * X - 1
    t_prev, t_cur = np.ones_like(X), y
    rows = []
    for i in range(1, n + 1):
        exact = -1 / (i * i - 1) if i % 2 == 0 else 0.0
        rows.append(t_cur.mean(axis=0) - exact)
        t_prev, t_cur = t_cur, 2 * y * t_cur - t_prev
    return np.stack(rows)


def mgh_problems():
    """(number, name, residuals, x0, f*) as in Moré, Garbow & Hillstrom (1981)."""
    def ramp(n):
        t = np.arange(1, n + 1) / (n + 1)
        return t * (t - 1)
    return [
        (1, "Rosenbrock", _rosenbrock, [-1.2, 1.0], 0.0),
        (2, "Freudenstein-Roth", _freudenstein_roth, [0.5, -2.0], 0.0),
        (3, "Powell badly scaled", _powell_badly_scaled, [0.0, 1.0], 0.0),
        (4, "Brown badly scaled", _brown_badly_scaled, [1.0, 1.0], 0.0),
        (5, "Beale", _beale, [1.0, 1.0], 0.0),
        (6, "Jennrich-Sampson (m=10)", _jennrich_sampson, [0.3, 0.4], 124.362),
        (7, "Helical valley", _helical_valley, [-1.0, 0.0, 0.0], 0.0),
        (8, "Bard", _bard, [1.0, 1.0, 1.0], 8.21487e-3),
        (9, "Gaussian", _gaussian, [0.4, 1.0, 0.0], 1.12793e-8),
        (10, "Meyer", _meyer, [0.02, 4000.0, 250.0], 87.9458),
        (11, "Gulf research (m=99)", _gulf, [5.0, 2.5, 0.15], 0.0),
        (12, "Box 3-D (m=10)", _box_3d, [0.0, 10.0, 20.0], 0.0),
        (13, "Powell singular", _powell_singular, [3.0, -1.0, 0.0, 1.0], 0.0),
        (14, "Wood", _wood, [-3.0, -1.0, -3.0, -1.0], 0.0),
        (15, "Kowalik-Osborne", _kowalik_osborne, [0.25, 0.39, 0.415, 0.39], 3.07505e-4),
        (16, "Brown-Dennis (m=20)", _brown_dennis, [25.0, 5.0, -5.0, -1.0], 85822.2),
        (17, "Osborne 1", _osborne1, [0.5, 1.5, -1.0, 0.01, 0.02], 5.46489e-5),
        (18, "Biggs EXP6 (m=13)", _biggs_exp6, [1.0, 2.0, 1.0, 1.0, 1.0, 1.0], 0.0),
        (19, "Osborne 2", _osborne2,
         [1.3, 0.65, 0.65, 0.7, 0.6, 3.0, 5.0, 7.0, 2.0, 4.5, 5.5], 4.01377e-2),
        (20, "Watson (n=6)", _watson, np.zeros(6), 2.28767e-3),
        (21, "Extended Rosenbrock (n=10)", _extended_rosenbrock, np.tile([-1.2, 1.0], 5), 0.0),
        (22, "Extended Powell singular (n=8)", _powell_singular,
         np.tile([3.0, -1.0, 0.0, 1.0], 2), 0.0),
        (23, "Penalty I (n=10)", _penalty1, np.arange(1.0, 11.0), 7.08765e-5),
        (24, "Penalty II (n=10)", _penalty2, np.full(10, 0.5), 2.93660e-4),
        (25, "Variably dimensioned (n=10)", _variably_dimensioned,
         1 - np.arange(1, 11) / 10, 0.0),
        (26, "Trigonometric (n=10)", _trigonometric, np.full(10, 0.1), 0.0),
        (27, "Brown almost-linear (n=10)", _brown_almost_linear, np.full(10, 0.5), 0.0),
        (28, "Discrete boundary value (n=10)", _discrete_boundary_value, ramp(10), 0.0),
        (29, "Discrete integral equation (n=10)", _discrete_integral_equation, ramp(10), 0.0),
        (30, "Broyden tridiagonal (n=10)", _broyden_tridiagonal, np.full(10, -1.0), 0.0),
        (31, "Broyden banded (n=10)", _broyden_banded, np.full(10, -1.0), 0.0),
        (32, "Linear full rank (n=10, m=20)", _linear_full_rank, np.ones(10), 10.0),
        (35, "Chebyquad (n=8)", _chebyquad, np.arange(1, 9) / 9, 3.51687e-3),
    ]
