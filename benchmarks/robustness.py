"""Robustness: which optimiser solves which classic test problem, and at what cost.

Problems (53): 33 unconstrained least-squares problems of J. J. Moré, B. S. Garbow
and K. E. Hillstrom, "Testing unconstrained optimization software", ACM Trans.
Math. Softw. 7 (1981) 17-41 (numbered as there), with their standard starts
x0 and the optimal values f* listed there ("MGH": all 33 of this script; issue
#12's table counted 26 without saying which, so the counts here are out of 33);
the 10 functions of signmin's seed family (``signmin/_seed.py``: minimum 0 at
the origin, gradients that explode, vanish or are tiny/huge) from their start
``SEED_X0`` = (3, -2.5) ("seed"); and the same 10 shifted so that the minimum is
at (1, -2), f(x) = h(x - (1, -2)), from the same start ("shifted": the default
initial step, 0.1 |x0_i|, no longer aims along the ray to the minimum).

Gradients: computed by the complex step, g_j = Im r(x + i h e_j) / h with
h = 1e-20 (Squire & Trapp, SIAM Review 40, 1998; Martins, Sturdza & Alonso,
ACM TOMS 29, 2003): exact to rounding with no subtractive cancellation, so one
formula per problem serves f and g and a wrong derivative cannot creep in. All
n shifted points are evaluated in one vectorised call. (The problems' ``abs``
is written as a complex-step-safe version; ``where`` tests the real part.)

Criterion (Moré & Wild, SIAM J. Optim. 20, 2009, with tau = 1e-6): a run has
solved a problem once it has evaluated a point with f(x0) - f(x) >= (1 - 1e-6)
(f(x0) - f*), with f* the value from the literature (0 for the seed family). "Evaluations to
solve" counts the evaluations (f and g together) up to the first such point.

Budget: 10,001 evaluations for everyone (``minimize_rprop`` runs with
``maxiter=10000`` and the options of its mode, below; every variant in the pure
mode); otherwise signmin, L-BFGS-B and BFGS run with their default options and
stopping rules; a run that would go past the budget is cut there.
torch.optim.Rprop, pints.IRPropMin and optax.rprop have no stopping rule: they
run with their default settings (torch/optax: initial step 0.01, step sizes in
[1e-6, 50]; PINTS: sigma0 = 0.1) until they solve the problem, produce NaN, or
use up the budget: their "evaluations at stop" is what a user who knew f* would
pay, a lower bound on what they cost in use.

Modes of signmin (default variant irprop+, each with ``maxiter=10000`` only):
"pure" (``polish=False, accelerate=False``), "accelerate" (``polish=False``:
pattern moves decided by f comparisons, and that mode's default xtol, 1e-8),
"accelerate xtol=1e-10" (the same to the other modes' xtol: what the pattern
moves gain without the looser stop), "polish" (the sign phase until every coordinate has
bracketed its minimum, then SciPy's L-BFGS-B from the best point, then the sign
phase again to its own stop) and "polish+accelerate". Beside them BFGS and
L-BFGS-B with their defaults and with their gradient and f tests off (BFGS
``gtol=0``; L-BFGS-B ``gtol=0, ftol=0``). For each: problems solved per family,
median evaluations to solve (over the problems it solves) and at its own stop
(over all), and the median over the problems both solve of its evaluations
divided by BFGS's (defaults), to solve and at stop, on MGH (as in issue #12)
and on all 53.

Mis-scaled gradients: the same problems with f unchanged and each gradient
component multiplied by a fixed factor 10^u, u uniform in [-6, 6] (one factor
per coordinate and problem, from a generator seeded with 12 and the problem's
name), for every mode and both SciPy methods. A method that uses only signs of
the gradient and comparisons of f takes the same steps on both: the table
counts the runs whose sequence of f values is bit-for-bit the unscaled one.

Threads: every BLAS loaded (numpy's and SciPy's OpenBLAS) and the OpenMP pool
are limited to one thread for every method (``OPENBLAS_NUM_THREADS=1`` from
``_common``, then ``threadpoolctl``), and torch to one intra-op thread; the
output lists what was found. Evaluation counts do not depend on threads; the
wall time of the run does.
"""

from __future__ import annotations

import hashlib
import sys
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402  (first: it sets the BLAS threads before numpy loads)
import numpy as np  # noqa: E402
from scipy.optimize import minimize  # noqa: E402

from signmin import minimize_rprop  # noqa: E402
from signmin._seed import SEED_FUNCTIONS, SEED_X0, seed_problem  # noqa: E402

TAU = 1e-6
BUDGET = 10_001
VARIANTS = ("irprop+", "irprop-", "rprop+", "rprop-")
H = 1e-20  # the complex step: far below any x's rounding, so Re r(x + ih) == r(x)
SHIFT = np.array([1.0, -2.0])  # where the shifted seed family has its minimum
MISSCALE_SEED = 12  # the mis-scaled gradients' generator (with the problem's name)
MISSCALE_DECADES = 6  # factors 10^u, u uniform in [-6, 6]
FAMILIES = ("MGH", "seed", "shifted")
#: minimize_rprop's default xtol outside the pure accelerated mode (which stops at 1e-8).
XTOL = 1e-10


# ----------------------------------------------------------------------------- problems
@dataclass
class Problem:
    name: str
    x0: np.ndarray
    fstar: float
    fg: object  # x -> (f, g)
    source: str = "MGH"
    n: int = field(init=False)

    def __post_init__(self):
        self.x0 = np.asarray(self.x0, dtype=float)
        self.n = self.x0.size
        self.f0 = self.fg(self.x0)[0]
        self.target = self.fstar + TAU * (self.f0 - self.fstar)


def col(values):
    """Data as a column, so that it broadcasts against a batch of points (columns)."""
    return np.asarray(values, dtype=float)[:, None]


def csabs(z):
    """|z| that keeps the complex step: the sign is taken from the real part."""
    return np.where(np.real(z) < 0, -z, z)


def least_squares(residuals):
    """``fg(x)`` for ``f = sum(r(x)**2)`` from ``r`` over a batch ``X`` of shape (n, k)."""
    def fg(x):
        n = x.size
        X = x[:, None] + 1j * H * np.eye(n)
        with np.errstate(all="ignore"):
            R = residuals(X)
        r = R[:, 0].real
        return float(r @ r), 2.0 * (R.imag / H).T @ r
    return fg


def i_col(m, start=1):
    return col(np.arange(start, start + m))


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


def seed_fg(name):
    fun, jac = seed_problem(name)
    return lambda x: (fun(x), np.asarray(jac(x), dtype=float))


def shifted_fg(name):
    fg = seed_fg(name)
    return lambda x: fg(np.asarray(x, dtype=float) - SHIFT)


def all_problems():
    """The 33 MGH problems, the seed family and the shifted seed family, in that order."""
    out = [Problem(f"MGH{k} {name}", x0, fstar, least_squares(res))
           for k, name, res, x0, fstar in mgh_problems()]
    out += [Problem(f"seed {name}", SEED_X0, 0.0, seed_fg(name), source="seed")
            for name, _, _ in SEED_FUNCTIONS]
    out += [Problem(f"shifted {name}", SEED_X0, 0.0, shifted_fg(name), source="shifted")
            for name, _, _ in SEED_FUNCTIONS]
    return out


def misscale_factors(p):
    """The fixed factors of ``p``'s gradient: 10^u, u uniform in [-6, 6], per coordinate.

    Seeded by the problem's name, so a problem gets the same factors whatever
    subset of problems is run (quick mode).
    """
    rng = np.random.default_rng([MISSCALE_SEED, zlib.crc32(p.name.encode())])
    return 10.0 ** rng.uniform(-MISSCALE_DECADES, MISSCALE_DECADES, p.n)


def misscaled(p):
    """``p`` with the same f and each gradient component multiplied by a fixed factor."""
    d = misscale_factors(p)

    def fg(x, base=p.fg):
        f, g = base(x)
        return f, d * g
    return Problem(p.name, p.x0, p.fstar, fg, source=p.source)


def check_gradients(problems):
    """Central differences agree with the complex-step gradient at x0 (a transcription check)."""
    worst = 0.0
    for p in problems:
        g = p.fg(p.x0)[1]
        fd = np.empty(p.n)
        for j in range(p.n):
            h = 1e-6 * max(1.0, abs(p.x0[j]))
            e = np.zeros(p.n)
            e[j] = h
            with np.errstate(all="ignore"):
                fd[j] = (p.fg(p.x0 + e)[0] - p.fg(p.x0 - e)[0]) / (2 * h)
        err = np.max(np.abs(fd - g)) / max(1.0, np.max(np.abs(g)))
        worst = max(worst, err)
        if not err < 1e-4:
            raise AssertionError(f"{p.name}: gradient check failed, rel. error {err:.2e}")
    C.say(f"Gradient check at x0 (central differences vs complex step): worst relative "
          f"error {worst:.1e} over {len(problems)} problems.")


# ----------------------------------------------------------------------------- runs
class Stop(Exception):
    """Ends a run from inside the objective (budget used, solved, or NaN)."""


class Recorder:
    """Counts evaluations, keeps f of each, and stops a run at the budget.

    ``stop_when_solved`` is for the optimisers that have no stopping rule of
    their own: they are stopped at the first point that meets the criterion
    (or when x turns NaN, after which nothing can change).
    """

    def __init__(self, problem, budget, stop_when_solved=False):
        self.p, self.budget, self.stop_when_solved = problem, budget, stop_when_solved
        self.fs = []
        self._last = None

    def fg(self, x):
        if len(self.fs) >= self.budget:
            raise Stop
        x = np.asarray(x, dtype=float)
        if self.stop_when_solved and not np.all(np.isfinite(x)):
            raise Stop
        with np.errstate(all="ignore"):
            f, g = self.p.fg(x)
        self.fs.append(f)
        if self.stop_when_solved and f <= self.p.target:
            raise Stop
        return f, g

    # The peers call fun and jac separately at the same x: one evaluation.
    def fun(self, x):
        f, g = self.fg(x)
        self._last = (np.array(x, dtype=float), g)
        return f

    def jac(self, x):
        if self._last is not None and np.array_equal(self._last[0], x):
            return self._last[1]
        return self.fg(x)[1]

    def result(self, nfev=None):
        fs = np.array(self.fs, dtype=float)
        ok = np.flatnonzero(fs <= self.p.target)
        best = np.nanmin(np.where(np.isfinite(fs), fs, np.nan)) if np.isfinite(fs).any() \
            else np.inf
        return dict(solved=ok.size > 0, evals=int(ok[0]) + 1 if ok.size else None,
                    nfev=len(fs) if nfev is None else nfev, best=best,
                    trace=hashlib.sha1(fs.tobytes()).hexdigest())


def run_signmin(p, budget, **options):
    rec = Recorder(p, budget)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            minimize_rprop(rec.fg, p.x0, jac=True, maxiter=budget - 1, **options)
        except Stop:
            pass
    return rec.result()


def run_scipy(method, **options):
    def run(p, budget):
        rec = Recorder(p, budget)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                minimize(rec.fg, p.x0, jac=True, method=method, options=options or None)
            except Stop:
                pass
        return rec.result()
    return run


def run_peer(peer):
    runner = C.PEER_RUNNERS[peer]

    def run(p, budget):
        rec = Recorder(p, budget, stop_when_solved=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                runner(rec.fun, rec.jac, p.x0, budget)
            except Stop:
                pass
        return rec.result()
    return run


#: signmin's modes: options given on top of ``variant="irprop+"``, ``maxiter``.
MODES = {
    "pure": dict(polish=False, accelerate=False),
    "accelerate": dict(polish=False, accelerate=True),
    "accelerate xtol=1e-10": dict(polish=False, accelerate=True, xtol=XTOL),
    "polish": dict(polish=True, accelerate=False),
    "polish+accelerate": dict(polish=True, accelerate=True),
}
PURE = MODES["pure"]


def solvers(peers):
    """Every variant in the pure mode, both SciPy methods (defaults) and the peers."""
    out = {f"signmin {v}": (lambda p, b, v=v: run_signmin(p, b, variant=v, **PURE))
           for v in VARIANTS}
    out["L-BFGS-B"] = run_scipy("L-BFGS-B")
    out["BFGS"] = run_scipy("BFGS")
    for peer in peers:
        out[C.PEER_LABELS[peer]] = run_peer(peer)
    return out


def run_all(problems, runs, budget):
    """name -> list of result dicts, one per problem (in order)."""
    results = {name: [] for name in runs}
    for p in problems:
        for name, run in runs.items():
            results[name].append(run(p, budget))
    for i, p in enumerate(problems):
        best = min(results[name][i]["best"] for name in runs)
        if best < p.fstar - 1e-8 * (p.f0 - p.fstar):
            C.say(f"note: {p.name}: f = {best:.10g} found, below the literature's "
                  f"f* = {p.fstar:.6g}")
    return results


# ----------------------------------------------------------------------------- reports
def cell(r, with_stop):
    solved = f"{r['evals']}" if r["solved"] else "-"
    return f"{solved} ({r['nfev']})" if with_stop else solved


def summary_rows(results, problems, names):
    rows = []
    for name in names:
        rs = results[name]
        solved = [r for r in rs if r["solved"]]
        mgh = sum(r["solved"] for r, p in zip(rs, problems, strict=True) if p.source == "MGH")
        seed = sum(r["solved"] for r, p in zip(rs, problems, strict=True) if p.source == "seed")
        shifted = sum(r["solved"] for r, p in zip(rs, problems, strict=True)
                      if p.source == "shifted")
        evals = [r["evals"] for r in solved]
        rows.append([name, f"{len(solved)}/{len(rs)}", mgh, seed, shifted,
                     f"{np.median(evals):.0f}" if evals else "-",
                     f"{np.median([r['nfev'] for r in rs]):.0f}",
                     sum(r["nfev"] for r in rs)])
    return rows


SUMMARY_HEADERS = ["optimiser", "solved", "MGH", "seed", "shifted",
                   "median evals to solve (solved)",
                   "median evals at stop", "total evals"]


def common_cost(results, names):
    """Geometric mean of evaluations to solve over the problems every one of ``names`` solved."""
    keep = [i for i in range(len(results[names[0]]))
            if all(results[n][i]["solved"] for n in names)]
    out = {}
    for n in names:
        ev = [results[n][i]["evals"] for i in keep]
        stop = [results[n][i]["nfev"] for i in keep]
        out[n] = (np.exp(np.mean(np.log(ev))) if ev else np.nan,
                  np.exp(np.mean(np.log(stop))) if stop else np.nan)
    return len(keep), out


def family_counts(problems):
    return ", ".join(f"{sum(p.source == fam for p in problems)} {fam}" for fam in FAMILIES)


def data_profile(results, problems, budget):
    """Fraction solved vs evaluations: to the first solving point, and to the stop."""
    plt = C.pyplot()
    if plt is None:
        return
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), sharey=True)
    budgets = np.unique(np.round(np.logspace(0, np.log10(budget), 300)).astype(int))
    styles = {"signmin": "-", "L-BFGS-B": "--", "BFGS": "--"}
    for ax, key in zip(axes, ("evals", "nfev"), strict=True):
        for name, rs in results.items():
            evals = np.array([r[key] if r["solved"] else np.inf for r in rs], dtype=float)
            frac = [(evals <= b).mean() for b in budgets]
            ls = next((s for k, s in styles.items() if name.startswith(k)), ":")
            ax.step(budgets, frac, where="post", ls=ls, label=name,
                    lw=2 if name == "signmin irprop+" else 1.3)
        ax.set_xscale("log")
        ax.set_ylim(0, 1)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_xlabel("evaluations (f and g) until the first solving point")
    axes[1].set_xlabel("evaluations until the optimiser stops\n"
                       "(torch/PINTS/optax have no stopping rule: stopped when solved)")
    axes[0].set_ylabel("fraction of problems solved")
    axes[0].legend(fontsize=8, loc="upper left")
    fig.suptitle(f"Data profiles: {len(problems)} problems ({family_counts(problems)}), "
                 f"tau = {TAU:g}, budget {budget}", fontsize=11)
    # Not robustness_data_profile.png: that one belongs to the earlier
    # "robustness" section of RESULTS.md (43 problems), which this run keeps.
    C.save_plot(fig, "robustness_variants_profile.png")


def sweep(problems, budget, quick):
    """Default variant (irprop+) with other initial steps and tolerances."""
    def scale(p):
        # signmin's scale for an unbounded problem: |x0_i|, or 1 where x0_i = 0.
        return np.where(p.x0 != 0, np.abs(p.x0), 1.0)
    import inspect

    defaults = {k: v.default for k, v in inspect.signature(minimize_rprop).parameters.items()}
    configs = {f"pure defaults (xtol {XTOL:g}, ftol {defaults['ftol']:g})":
               lambda p: {}}
    fracs = (0.01, 1.0) if quick else (0.01, 0.03, 0.3, 1.0)
    for frac in fracs:
        configs[f"initial_step = {frac:g} * scale"] = \
            lambda p, frac=frac: dict(initial_step=frac * scale(p))
    if not quick:
        for step in (0.01, 0.1, 1.0):
            configs[f"initial_step = {step:g} (absolute)"] = \
                lambda p, step=step: dict(initial_step=step)
        for xtol in (1e-6, 1e-8, 1e-12, 0.0):
            configs[f"xtol = {xtol:g}"] = lambda p, xtol=xtol: dict(xtol=xtol)
        for ftol in (1e-12, 1e-10, 0.0):
            configs[f"ftol = {ftol:g}"] = lambda p, ftol=ftol: dict(ftol=ftol)
    runs = {name: (lambda p, b, make=make: run_signmin(p, b, variant="irprop+", **PURE,
                                                       **make(p)))
            for name, make in configs.items()}
    results = run_all(problems, runs, budget)
    C.table(SUMMARY_HEADERS, summary_rows(results, problems, list(runs)),
            title=f"Sweep of irprop+'s options, pure mode ({len(problems)} problems, "
                  f"budget {budget})")
    return results


# ----------------------------------------------------------------------------- modes
def mode_solvers():
    """signmin's four modes (irprop+) and the SciPy methods with and without their tests."""
    out = {f"signmin {mode}": (lambda p, b, o=o: run_signmin(p, b, variant="irprop+", **o))
           for mode, o in MODES.items()}
    out["BFGS"] = run_scipy("BFGS")
    out["BFGS gtol=0"] = run_scipy("BFGS", gtol=0.0)
    out["L-BFGS-B"] = run_scipy("L-BFGS-B")
    out["L-BFGS-B gtol=ftol=0"] = run_scipy("L-BFGS-B", gtol=0.0, ftol=0.0)
    return out


def run_modes(problems, budget, known=None):
    """name -> results for `mode_solvers`; runs already made (same options) are reused."""
    known = known or {}
    runs = mode_solvers()
    fresh = run_all(problems, {k: v for k, v in runs.items() if k not in known}, budget)
    return {k: known[k] if k in known else fresh[k] for k in runs}


def _median(values, fmt=".0f"):
    return format(float(np.median(values)), fmt) if len(values) else "-"


def family(results, problems, name, fam):
    """(solved, size, median evals to solve over the solved, median evals at stop)."""
    rs = [r for r, p in zip(results[name], problems, strict=True) if p.source == fam]
    solved = [r["evals"] for r in rs if r["solved"]]
    return len(solved), len(rs), _median(solved), _median([r["nfev"] for r in rs])


def ratio_to(results, problems, name, ref, families):
    """Over the problems of ``families`` both solve: (count, median evals-to-solve
    ratio, median evals-at-stop ratio) of ``name`` to ``ref``."""
    keep = [i for i, p in enumerate(problems) if p.source in families
            and results[name][i]["solved"] and results[ref][i]["solved"]]
    solve = [results[name][i]["evals"] / results[ref][i]["evals"] for i in keep]
    stop = [results[name][i]["nfev"] / results[ref][i]["nfev"] for i in keep]
    return len(keep), _median(solve, ".2f"), _median(stop, ".2f")


def mode_tables(results, problems, scaled, budget):
    """The per-mode tables; returns the second headline."""
    names = list(results)
    nobody = [p.name for i, p in enumerate(problems)
              if not any(res[k][i]["solved"] for res in (results, scaled) for k in names)]
    C.say(f"Solved by no mode and no SciPy run (plain or mis-scaled): "
          f"{', '.join(nobody) if nobody else 'none'}.")
    fams = [f for f in FAMILIES if any(p.source == f for p in problems)]
    C.table(["problem", "n", *names],
            [[p.name, p.n, *(cell(results[k][i], True) for k in names)]
             for i, p in enumerate(problems)],
            title="Per mode (irprop+) and SciPy: evaluations to solve (evaluations at stop); "
                  f"- = not solved within {budget}")
    headers = ["method"]
    for fam in fams:
        headers += [f"{fam} solved", f"{fam}: median evals to solve", f"{fam}: at stop"]
    rows = []
    for name in names:
        row = [name]
        for fam in fams:
            solved, size, to_solve, at_stop = family(results, problems, name, fam)
            row += [f"{solved}/{size}", to_solve, at_stop]
        rows.append(row + [sum(r["nfev"] for r in results[name])])
    C.table(headers + ["total evals"], rows,
            title=f"Per mode: solved and evaluations per family (budget {budget}; to solve: "
                  "median over the problems solved; at stop: over all)")

    rows = []
    for name in names:
        k1, solve1, stop1 = ratio_to(results, problems, name, "BFGS", ("MGH",))
        k2, solve2, stop2 = ratio_to(results, problems, name, "BFGS", fams)
        rows.append([name, k1, solve1, stop1, k2, solve2, stop2])
    C.table(["method", "MGH both solve", "to solve ÷ BFGS", "at stop ÷ BFGS",
             f"all {len(problems)}: both solve", "to solve ÷ BFGS ", "at stop ÷ BFGS "], rows,
            title="Per mode: evaluations ÷ BFGS's (defaults), median over the problems both "
                  "solve")

    rows = []
    for name in names:
        row = [name]
        for fam in fams:
            plain = family(results, problems, name, fam)[0]
            mis = family(scaled, problems, name, fam)[0]
            row.append(f"{plain} → {mis}")
        row.append(f"{family(results, problems, name, 'MGH')[3]} → "
                   f"{family(scaled, problems, name, 'MGH')[3]}" if "MGH" in fams else "-")
        same = sum(a["trace"] == b["trace"] for a, b in zip(results[name], scaled[name],
                                                            strict=True))
        rows.append(row + [f"{same}/{len(problems)}"])
    C.table(["method", *(f"{fam} solved: plain → mis-scaled" for fam in fams),
             "MGH median evals at stop: plain → mis-scaled", "runs identical to the plain run"],
            rows,
            title="Mis-scaled gradients: each component × a fixed 10^u, u uniform in "
                  f"[-{MISSCALE_DECADES}, {MISSCALE_DECADES}] (seed {MISSCALE_SEED})")
    C.table(["problem", "n", *names],
            [[p.name, p.n, *(cell(scaled[k][i], True) for k in names)]
             for i, p in enumerate(problems)],
            title="Mis-scaled gradients, per problem: evaluations to solve (at stop)")

    parts = []
    for name in names:
        solved = "/".join(str(family(results, problems, name, f)[0]) for f in fams)
        mis = "/".join(str(family(scaled, problems, name, f)[0]) for f in fams)
        _, _, stop = ratio_to(results, problems, name, "BFGS", ("MGH",))
        parts.append(f"{name.removeprefix('signmin ')} {solved} (at stop {stop}x BFGS; "
                     f"mis-scaled {mis})")
    sizes = "/".join(f"{fam} {sum(p.source == fam for p in problems)}" for fam in fams)
    return (f"HEADLINE: per mode of irprop+, solved {sizes}, median evaluations at stop ÷ "
            f"BFGS's on the MGH problems both solve, and solved with mis-scaled gradients: "
            + "; ".join(parts))


def modes_profile(results, scaled, problems, budget):
    """Fraction solved vs evaluations at stop, plain and mis-scaled gradients."""
    plt = C.pyplot()
    if plt is None:
        return
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), sharey=True)
    budgets = np.unique(np.round(np.logspace(0, np.log10(budget), 300)).astype(int))
    for ax, res, title in zip(axes, (results, scaled),
                              ("plain gradients", "mis-scaled gradients (× 1e-6..1e6 per "
                               "component)"), strict=True):
        for name, rs in res.items():
            stop = np.array([r["nfev"] if r["solved"] else np.inf for r in rs], dtype=float)
            ax.step(budgets, [(stop <= b).mean() for b in budgets], where="post",
                    ls="-" if name.startswith("signmin") else "--", label=name,
                    lw=2 if name.startswith("signmin") else 1.3)
        ax.set_xscale("log")
        ax.set_ylim(0, 1)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("evaluations until the method stops (solved runs only)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("fraction of problems solved")
    axes[0].legend(fontsize=8, loc="upper left")
    fig.suptitle(f"signmin's modes (irprop+) and SciPy: {len(problems)} problems "
                 f"({family_counts(problems)}), tau = {TAU:g}, budget {budget}", fontsize=11)
    C.save_plot(fig, "robustness_modes_profile.png")


def source_fingerprint():
    """sha1 of signmin/*.py as this process imported them: which working tree was measured."""
    import signmin

    digest = hashlib.sha1()
    for path in sorted(Path(signmin.__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


# ----------------------------------------------------------------------------- threads
_THREAD_LIMITS = []  # keeps threadpoolctl's limits alive for the whole run


def one_thread():
    """Limit every BLAS and OpenMP pool (and torch) to one thread; say what was found."""
    notes = []
    try:
        import threadpoolctl
    except ImportError:
        threadpoolctl = None
        notes.append("threadpoolctl not installed: OPENBLAS_NUM_THREADS="
                     f"{C.os.environ.get('OPENBLAS_NUM_THREADS')} only")
    if threadpoolctl is not None:
        _THREAD_LIMITS.append(threadpoolctl.threadpool_limits(limits=1))
        for lib in threadpoolctl.threadpool_info():
            path = Path(lib["filepath"])
            notes.append(f"{path.parent.name}/{path.name} ({lib['internal_api']}) "
                         f"{lib['num_threads']} thread{'s' * (lib['num_threads'] != 1)}")
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        torch.set_num_threads(1)
        notes.append(f"torch intra-op {torch.get_num_threads()}")
    if "jax" in sys.modules:
        notes.append("jax's XLA pool not limited (no BLAS on these sizes; optax only)")
    C.say("Threads, for every method: " + "; ".join(notes) + ".")


def main():
    args = C.parse_args(__doc__)
    C.header(__doc__, args)
    problems = all_problems()
    check_gradients(problems)
    budget = BUDGET
    if args.quick:
        by = {fam: [p for p in problems if p.source == fam] for fam in FAMILIES}
        problems = by["MGH"][:5] + by["seed"][-3:] + by["shifted"][-3:]
        budget = 300
    fingerprint = source_fingerprint()
    C.say(f"signmin sources measured: sha1 {fingerprint} of signmin/*.py at the start of "
          "the run.")
    peers = C.available_peers("torch", "pints", "optax")
    one_thread()
    runs = solvers(peers)
    results = run_all(problems, runs, budget)
    names = list(runs)

    C.table(["problem", "n", "f*", *names],
            [[p.name, p.n, f"{p.fstar:.6g}",
              *(cell(results[k][i], not k.startswith(("torch", "pints", "optax")))
                for k in names)]
             for i, p in enumerate(problems)],
            title="Pure mode (polish=False, accelerate=False), every variant, SciPy and the "
                  "peers: evaluations to solve (evaluations at stop); - = not solved "
                  f"within {budget}")
    C.table(SUMMARY_HEADERS, summary_rows(results, problems, names),
            title=f"Summary over {len(problems)} problems (budget {budget} evaluations)")

    variants = [f"signmin {v}" for v in VARIANTS]
    k, cost = common_cost(results, variants)
    C.table(["variant", "solved", "geo-mean evals to solve", "geo-mean evals at stop"],
            [[v, sum(r["solved"] for r in results[v]), f"{cost[v][0]:.0f}",
              f"{cost[v][1]:.0f}"] for v in variants],
            title=f"signmin's variants (pure mode) on the {k} problems all four solve")
    best = max(variants, key=lambda v: (sum(r["solved"] for r in results[v]), -cost[v][1]))
    C.say(f"HEADLINE: the variant that solves the most: {best.split()[1]} "
          f"({sum(r['solved'] for r in results[best])}/{len(problems)}); on the {k} problems "
          f"all variants solve it needs a geometric mean of {cost[best][0]:.0f} evaluations "
          f"to solve and stops after {cost[best][1]:.0f}")

    # The pure irprop+ and the SciPy defaults have just run with the same options.
    known = {"signmin pure": results["signmin irprop+"], "BFGS": results["BFGS"],
             "L-BFGS-B": results["L-BFGS-B"]}
    modes = run_modes(problems, budget, known)
    scaled_problems = [misscaled(p) for p in problems]
    scaled = run_modes(scaled_problems, budget)
    C.say(mode_tables(modes, problems, scaled, budget))

    sweep(problems if not args.quick else problems[:4], budget, args.quick)
    if source_fingerprint() != fingerprint:
        C.say(f"note: signmin/*.py changed on disk during the run (sha1 now "
              f"{source_fingerprint()}); modules imported at the start were measured.")
    if args.plot:
        data_profile(results, problems, budget)
        modes_profile(modes, scaled, problems, budget)
    C.write_section("robustness_modes", "Robustness and evaluations per mode (robustness.py)",
                    __doc__, args)


if __name__ == "__main__":
    main()
