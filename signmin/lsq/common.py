"""What the least-squares front doors share: the defaults of their Rprop runs and
the reading of their common arguments (the model's parameters, bounds, the start).

`curve_fit` and `curve_fit_many` take these from here, so that a fit of
`curve_fit_many` starts where `curve_fit` would.
"""

from __future__ import annotations

import inspect

import numpy as np
from scipy.optimize import Bounds

#: Options of the first, bracketing run, unless given: steps that grow by the
#: golden ratio (as `scipy.optimize.bracket` widens its interval) bracket in 5
#: steps what takes 8 at 1.2 (median, on the families of
#: benchmarks/curve_fit_speed.py), and reach the best cost as often or more.
BRACKET_OPTIONS = dict(etas=(0.5, 1.618))
#: Rprop's default budget per round when the polish follows: enough to reach the basin.
MAXITER = 2000


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
