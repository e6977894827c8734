"""What the least-squares fits share: the defaults of their Rprop runs, the reading
of their common arguments (the model's parameters, bounds, the start), and the
rules that decide a fit.

`curve_fit` and `curve_fit_many` take these from here, so that a fit of
`curve_fit_many` starts where `curve_fit` would and is judged by the same
rules. The rules are plain functions (numba's ``register_jitable``, as the
finite differences of ``rprop.objective``): the compiled batch driver compiles
them in, Python calls them as they are.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
from numba.core.dispatcher import Dispatcher
from numba.extending import register_jitable
from scipy.optimize import Bounds

from .._numerics import EPS, REL_STEP_2POINT, REL_STEP_3POINT

#: Options of the first, bracketing run, unless given: steps that grow by the
#: golden ratio (as `scipy.optimize.bracket` widens its interval) bracket in 5
#: steps what takes 8 at 1.2 (median, on the families of
#: benchmarks/curve_fit_speed.py), and reach the best cost as often or more.
BRACKET_OPTIONS = dict(etas=(0.5, 1.618))
#: Rprop's default budget of steps per round when the polish follows. The finish,
#: not Rprop, converges: a run that has not reached the basin in 200 steps is
#: crawling (along a degenerate valley, a peak run off the data), and the next
#: round starts afresh from its best point. Measured against 2000 (issue 25): on
#: peaks with centres anywhere, from a generic start, the mean calls per fit of
#: curve_fit_many fell by a fifth, the worst fit's by half, the fits at the best
#: cost the same; NIST from both starts, the same counts on both paths.
MAXITER = 200
#: At most this many rounds of Rprop and the finish on the robust way.
MAX_ROUNDS = 10
#: A round of the robust way that lowers the cost by less than this share of it
#: is the last (see `another_round`).
ROUND_GAIN = 1e-3
#: MINPACK's Levenberg-Marquardt's budget of calls of the model, per parameter + 1
#: (SciPy's default).
LM_MAX_NFEV = 200
#: A Gauss-Newton step at most this large relative to the parameters has
#: settled the fit (larger: Levenberg-Marquardt goes on to its tight tolerance).
#: curve_fit had 1e-6, the batch 1e-7; measured with 1e-6 for both (issue 25),
#: the batch on peaks from a generic start took 6 % fewer calls a fit (median
#: 99 -> 93) and NIST's problems from both starts kept their counts; with
#: 1e-7, curve_fit's median fit took 20 % more calls (66 -> 79).
GN_SETTLED = 1e-6
#: The largest cosine between the residuals and a column of the Jacobian at a
#: point taken as stationary (MINPACK's orthogonality test; see `stationary_column`).
STATIONARY = 1e-3
#: Relative distance within which a parameter counts as on its bound.
AT_BOUND = 1e-10
#: The accuracy of a Jacobian by finite differences, relative to its columns
#: (central: eps**(2/3), forward: eps**(1/2)), with a margin of 10: columns
#: dependent to within it are dependent, and a column below it beside the
#: largest is zero (see `lost`).
FD_RANK_TOL_3POINT = 10 * REL_STEP_3POINT ** 2
FD_RANK_TOL_2POINT = 10 * REL_STEP_2POINT


def parameter_count(f):
    """The number of parameters of the model ``f(x, p1, p2, ...)``, from its signature."""
    # A numba dispatcher's signature is its Python function's.
    target = getattr(f, "py_func", f)
    try:
        params = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        params = ()
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) < 2:
        raise ValueError("Unable to determine number of fit parameters.")
    return len(positional) - 1


def is_dispatcher(obj):
    """Whether `obj` is a numba-compiled function (a dispatcher)."""
    return isinstance(obj, Dispatcher)


def bounds_arrays(bounds, n):
    """``(lb, ub)`` as float arrays of length ``n``, from `curve_fit`'s forms of `bounds`."""
    lb, ub = (bounds.lb, bounds.ub) if isinstance(bounds, Bounds) else bounds
    if type(lb) is float and type(ub) is float and lb == -np.inf and ub == np.inf:
        # The default, quickly.
        return np.full(n, -np.inf), np.full(n, np.inf)
    try:
        lb = np.broadcast_to(np.asarray(lb, dtype=float), (n,)).copy()
        ub = np.broadcast_to(np.asarray(ub, dtype=float), (n,)).copy()
    except ValueError:
        raise ValueError("Inconsistent shapes between bounds and `x0`.") from None
    if np.any(lb > ub):
        raise ValueError("Each lower bound must be less than or equal to each upper bound.")
    return lb, ub


def feasible_start(lb, ub):
    """SciPy's default p0 under bounds: 1, the midpoint, or 1 inside a one-sided bound."""
    p0 = np.ones_like(lb)
    lo, hi = np.isfinite(lb), np.isfinite(ub)
    p0[lo & hi] = 0.5 * (lb[lo & hi] + ub[lo & hi])
    p0[lo & ~hi] = lb[lo & ~hi] + 1
    p0[~lo & hi] = ub[~lo & hi] - 1
    return p0


@register_jitable
def lm_max_nfev(n):
    """Levenberg-Marquardt's budget of model calls for ``n`` parameters (`LM_MAX_NFEV`)."""
    return LM_MAX_NFEV * (n + 1)


@register_jitable
def another_round(cost, last_cost):
    """Whether the robust way's rounds go on after a round that took the cost from
    `last_cost` to `cost` without converging: while it falls by at least
    `ROUND_GAIN` of itself.

    Where the cost only creeps down, the parameters are running off along a
    degenerate direction (a peak at the edge of the data widening into a
    parabola, its amplitude and offset growing without bound), and each
    round spends the whole budget of its finish to gain a few digits more.
    """
    return cost < last_cost * (1.0 - ROUND_GAIN)


@register_jitable
def full_rank(s, k):
    """SciPy's rank test on the singular values ``s`` of a k x n Jacobian: every
    one above ``eps * max(k, n)`` times the largest (and ``k >= n``). (An array,
    or from Python a list: its floats compare without NumPy's scalars.)"""
    n = len(s)
    s_max = 0.0
    for i in range(n):
        s_max = max(s_max, s[i])
    ok = k >= n
    for i in range(n):
        ok = ok and s[i] > EPS * max(k, n) * s_max
    return ok


@register_jitable
def against_bound(p, g, lower, upper):
    """Whether a parameter at ``p`` sits on (or within rounding of, `AT_BOUND`) a
    finite bound that its partial derivative ``g`` pushes it against."""
    near_lower = math.isfinite(lower) and p - lower <= AT_BOUND * max(1.0, abs(lower))
    near_upper = math.isfinite(upper) and upper - p <= AT_BOUND * max(1.0, abs(upper))
    return (near_lower and g > 0.0) or (near_upper and g < 0.0)


@register_jitable
def stationary_column(g, column_norm, residual_norm):
    """MINPACK's orthogonality test for one parameter: the cosine between the
    residuals and J's column, ``g / (column_norm * residual_norm)`` with ``g``
    their dot product, is at most `STATIONARY`.

    Invariant under rescaling the parameter or the residuals, it tells a
    converged finish (cosines of 1e-7 and below, measured on NIST's problems
    and on peaks) from one that only stopped moving: on a plateau (BoxBOD from
    NIST's first start: an exponential rate run off to 23 where the answer is
    0.55, cosine 0.64) or at a point that is not a minimum.
    """
    return abs(g) <= STATIONARY * column_norm * residual_norm


@register_jitable
def step_settled(step, p):
    """Whether a Gauss-Newton step ``step`` from parameter ``p`` is within `GN_SETTLED`."""
    return abs(step) <= GN_SETTLED * abs(p)


@register_jitable
def sensitivity(column_norm, p, p0):
    """How much a parameter moves the residuals: the norm of its column of J
    times its size, the larger of ``|p|`` and its start's ``|p0|`` (1 where both
    are 0), so that the parameters' units do not count."""
    size = max(abs(p), abs(p0))
    return column_norm * (size if size > 0.0 else 1.0)


#: Where a lost parameter is lost already at its start, the factors of the start
#: tried in turn, nearest first, until the residuals see it (see `lost`).
WALK_FACTORS = (0.1, 10.0, 0.01, 100.0, 1e-3, 1e3)


@register_jitable
def lost(seen, most_seen, tol):
    """Whether a parameter the residuals see by ``seen`` (its `sensitivity`) is lost
    to them: at most ``tol``, the relative accuracy of J, of the most any
    parameter is seen (``most_seen``).

    A parameter run off so far that it no longer moves the residuals (the
    rate of ``b1 (1 - exp(-b2 x))`` at 33, where ``exp(-33 x)`` is below
    rounding beside 1: BoxBOD from NIST's first start) has nothing left to
    bring it back: no sign, no Gauss-Newton step. Where a search ends at such a
    point without vouching for it, both fits try the finish once more from there
    with the lost parameters put back to their start; and where they are lost at
    the start too (a rate 100 times too large from the first call on), from
    their start times each of `WALK_FACTORS` at which the residuals see them.
    """
    return seen <= tol * most_seen


@register_jitable
def rank_tolerance(exact, three_point, k, n):
    """The relative accuracy of a k x n Jacobian: SciPy's rank threshold for an
    exact one, else that of its finite differences (central or forward)."""
    if exact:
        return EPS * max(k, n)
    return FD_RANK_TOL_3POINT if three_point else FD_RANK_TOL_2POINT


@register_jitable
def lost_parameters(seen, p, p0, tol, out):
    """Which parameters the residuals no longer see at ``p`` (`lost`), into ``out``;
    ``seen`` holds the norms of J's columns there and is left holding each
    parameter's `sensitivity`."""
    most = 0.0
    for c in range(p.shape[0]):
        seen[c] = sensitivity(seen[c], p[c], p0[c])
        most = max(most, seen[c])
    for c in range(p.shape[0]):
        out[c] = lost(seen[c], most, tol)


@register_jitable
def revive_start(attempt, gone, p0, p, lower, upper, out):
    """Start ``attempt`` of the finish from ``p``, whose parameters ``gone`` are lost
    (`lost_parameters`), into ``out``; whether it differs from ``p``.

    Attempt 0 puts them back to ``p0``; attempt ``i`` > 0 puts those whose start is
    not 0 at ``p0`` times ``WALK_FACTORS[i - 1]``, within the bounds (for a
    parameter lost at ``p0`` too).
    """
    moved = False
    for c in range(p.shape[0]):
        v = p[c]
        if gone[c] and attempt == 0:
            v = p0[c]
        elif gone[c] and p0[c] != 0.0:
            v = min(max(p0[c] * WALK_FACTORS[attempt - 1], lower[c]), upper[c])
        out[c] = v
        moved |= v != p[c]
    return moved
