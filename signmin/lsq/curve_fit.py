"""``curve_fit``: SciPy's curve fitting, minimized by Rprop and polished by least squares."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.linalg import cholesky, svd
from scipy.optimize import Bounds, OptimizeResult, OptimizeWarning, least_squares, leastsq

from .._numerics import EPS
from .._numerics import REL_STEP as _REL_STEP
from .._status import Status
from ..rprop.minimize import minimize_rprop
from .common import (
    BRACKET_OPTIONS,
    FD_RANK_TOL_2POINT,
    FD_RANK_TOL_3POINT,
    MAX_ROUNDS,
    MAXITER,
    WALK_FACTORS,
    against_bound,
    another_round,
    bounds_arrays,
    feasible_start,
    full_rank,
    is_dispatcher,
    lm_max_nfev,
    lost_parameters,
    parameter_count,
    rank_tolerance,
    revive_start,
    stationary_column,
    step_settled,
)
from .residuals import LOSSES, Residuals

__all__ = ["curve_fit"]

#: The default difference scheme (see Notes of `curve_fit`).
DEFAULT_FD = "3-point"
#: Tolerances of the trust-region finish: it only has to settle the last digits.
_TRUST_REGION_OPTIONS = dict(ftol=EPS, xtol=EPS, gtol=EPS, x_scale="jac")
#: The trust-region finish's budget of evaluations, per parameter.
TRUST_REGION_MAX_NFEV = 1000
#: Options of every `minimize_rprop` run here, unless given: the sign method
#: itself (its own L-BFGS-B finish, ``polish``, is replaced by the
#: least-squares one here).
RPROP_ONLY = dict(polish=False, accelerate=False)
#: Tolerances of the Levenberg-Marquardt finish (MINPACK): to the last digit,
#: and looser for a first run on MINPACK's forward differences (see
#: `_bracket_and_finish`).
_LM_TIGHT = dict(ftol=EPS, xtol=EPS, gtol=0.0)
_LM_LOOSE = dict(ftol=1e-10, xtol=1e-10, gtol=0.0)
#: The accuracy of a Jacobian by finite differences, by scheme (see `_determined`).
_FD_RANK_TOL = {"2-point": FD_RANK_TOL_2POINT, "3-point": FD_RANK_TOL_3POINT}
#: MINPACK's info to `least_squares`' status: 6-8 are 2, 3 and 1 met at the
#: rounding level (below which the tolerances here lie), 5 is the budget.
_FROM_MINPACK = {1: 2, 2: 3, 3: 4, 4: 1, 5: 0, 6: 2, 7: 3, 8: 1}
#: What MINPACK's info means.
_MINPACK_MESSAGES = {
    1: "Both actual and predicted relative reductions in the sum of squares are at most ftol.",
    2: "The relative error between two consecutive iterates is at most xtol.",
    3: "Both actual and predicted relative reductions in the sum of squares are at most ftol, "
       "and the relative error between two consecutive iterates is at most xtol.",
    4: "The cosine of the angle between the residuals and any column of the Jacobian is at "
       "most gtol in absolute value.",
    5: "Number of calls to function has reached maxfev.",
    6: "ftol is too small: no further reduction in the sum of squares is possible.",
    7: "xtol is too small: no further improvement in the approximate solution is possible.",
    8: "gtol is too small: the residuals are orthogonal to the columns of the Jacobian to "
       "machine precision.",
}
#: least_squares' numbering of the rules that stop a run, for ``ier``.
_IER = {Status.GTOL: 1, Status.FTOL: 2, Status.NO_PROGRESS: 2, Status.XTOL: 3}




@dataclass
class _Fit:
    """Where a search for the best fit stands: its point and how it got there.

    Filled in as the search goes (the finish, then the inspection of its
    point), hence mutable.
    """

    x: np.ndarray
    #: The cost at ``x``.
    cost: float
    #: The last Rprop run's result.
    rprop: OptimizeResult
    #: Rprop's steps and runs (rounds), over every run that led here.
    nit: int
    rounds: int = 1
    #: The least-squares finish's result (``least_squares``'), or None.
    finish: OptimizeResult | None = None
    #: Whether ``x`` is the finish's point.
    finished: bool = False
    converged: bool = False
    #: Whether `_inspect` vouches for ``x`` (determined and stationary), or the
    #: search must end here.
    trusted: bool = False
    #: Whether J has full rank at ``x`` (None: not known).
    determined: bool | None = None
    #: J (scaled for the loss), its SVD ``(s, VT)`` and the residuals at ``x``,
    #: where already computed (None otherwise).
    J: np.ndarray | None = None
    svd: tuple | None = None
    r: np.ndarray | None = None
    #: The fast way's fit, when the robust way ran after it.
    first: _Fit | None = None
    #: How many times the robust way ran.
    tries: int = 0
    #: Whether ``x`` is the finish's from a point whose lost parameters were
    #: put back to p0 (see `_revive`).
    revived: bool = False


def _prepare_data(xdata, ydata, sigma, check_finite, nan_policy):
    """Convert and check the data as SciPy does; returns ``(xdata, ydata, sigma)``."""
    convert = np.asarray_chkfinite if check_finite else np.asarray
    ydata = convert(ydata, float)
    # Other objects are handed to the model untouched.
    if isinstance(xdata, list | tuple | np.ndarray):
        xdata = convert(xdata, float)
    if ydata.size == 0:
        raise ValueError("`ydata` must not be empty!")
    if check_finite or nan_policy is None:
        return xdata, ydata, sigma
    if nan_policy == "propagate":
        raise ValueError("`nan_policy='propagate'` is not supported by this function.")
    if nan_policy not in ("raise", "omit"):
        raise ValueError("nan_policy must be one of {None, 'raise', 'omit'}")
    x_nan = np.isnan(xdata) if isinstance(xdata, np.ndarray) else np.zeros((), bool)
    y_nan = np.isnan(ydata)
    if not (x_nan.any() or y_nan.any()):
        return xdata, ydata, sigma
    if nan_policy == "raise":
        raise ValueError("The input contains nan values")
    # A point is dropped if y or any of its predictors (the last axis of x) is NaN.
    keep = ~(x_nan.any(axis=tuple(range(x_nan.ndim - 1))) | y_nan)
    xdata, ydata = xdata[..., keep], ydata[keep]
    if sigma is not None:
        sigma = np.asarray(sigma)
        sigma = sigma[keep] if sigma.ndim == 1 else sigma[np.ix_(keep, keep)]
    return xdata, ydata, sigma


def _transform(sigma, m):
    """1/sigma for standard deviations, the Cholesky factor for a covariance."""
    if sigma is None:
        return None
    sigma = np.asarray(sigma)
    if sigma.size == 1 or sigma.shape == (m,):
        return 1.0 / sigma
    if sigma.shape == (m, m):
        try:
            return cholesky(sigma, lower=True)
        except np.linalg.LinAlgError as exc:
            raise ValueError("`sigma` must be positive definite.") from exc
    raise ValueError("`sigma` has incorrect shape.")


def _loss_function(loss):
    if callable(loss):
        return loss
    if loss not in LOSSES:
        raise ValueError(f"`loss` must be one of {list(LOSSES)} or a callable.")
    return LOSSES[loss]


def _fd_scheme(jac):
    if jac is None:
        return DEFAULT_FD
    if callable(jac):
        return None
    if jac not in _REL_STEP:
        raise ValueError(f"`jac` must be callable, None or one of {list(_REL_STEP)}.")
    return jac


def _trust_region(residuals, x, loss, f_scale):
    """Trust-region least-squares steps from Rprop's point.

    Returns the `least_squares` result, or None where it cannot run (a fixed
    parameter, which it does not accept).
    """
    lb, ub = residuals.bounds
    if np.any(lb >= ub):
        return None
    # The fast differences where they apply; a forward scheme would cost them one
    # call more than least_squares' own, which hands them the residuals.
    fast = residuals.unbounded and residuals.fd == "3-point"
    exact = callable(residuals.jac) or fast
    jac = (lambda p: residuals.jacobian(p, None)) if exact else residuals.fd
    kwargs = {} if callable(jac) else {"diff_step": _REL_STEP[residuals.fd]}
    return least_squares(residuals, x, jac=jac, bounds=(lb, ub), method="trf", loss=loss,
                         f_scale=f_scale, max_nfev=TRUST_REGION_MAX_NFEV * x.size,
                         **_TRUST_REGION_OPTIONS, **kwargs)


def _levenberg_marquardt(residuals, x, tight=True):
    """MINPACK's Levenberg-Marquardt (`scipy.optimize.leastsq`) from `x`, without bounds.

    With a callable `jac` it takes that Jacobian (lmder); otherwise MINPACK's
    own forward differences (lmdif), SciPy's default, whose fixed point is
    only about sqrt(eps) accurate, at tolerances `_LM_LOOSE` unless `tight`
    (see `_bracket_and_finish`). Returns an `OptimizeResult` as
    `least_squares` would (``x``, ``fun``, ``status`` in its numbering,
    ``success``, ``message``, ``nfev``), with ``method='lm'`` and ``exact``:
    whether its Jacobian was exact.
    """
    exact = callable(residuals.jac)
    dfun = (lambda p: residuals.jacobian(p, None)) if exact else None  # noqa: E731
    options = _LM_TIGHT if tight or exact else _LM_LOOSE
    nfev = residuals.nfev
    with warnings.catch_warnings():
        # leastsq warns where it stops short; the caller judges that. (Without
        # full_output, which costs as much again as a fit's own work here.)
        warnings.filterwarnings("ignore", r"(Number of calls to function|[fxg]tol=)",
                                RuntimeWarning)
        x, ier = leastsq(residuals, x, Dfun=dfun, **options, maxfev=lm_max_nfev(x.size))
    status = _FROM_MINPACK.get(ier, -1)
    message = _MINPACK_MESSAGES.get(ier, "Improper input.")
    return OptimizeResult(x=x, fun=residuals.at(x), status=status, success=status > 0,
                          message=message, nfev=residuals.nfev - nfev, method="lm",
                          exact=exact)


def _least_squares_finish(residuals, x, loss, f_scale, tight):
    """The least-squares finish from `x`: Levenberg-Marquardt where it applies
    (no bounds, the linear loss, at least as many residuals as parameters, as
    SciPy's own default), the polish's trust region otherwise."""
    if residuals.unbounded and residuals.loss is None and residuals.ydata.size >= x.size:
        return _levenberg_marquardt(residuals, x, tight=tight)
    ls = _trust_region(residuals, x, loss, f_scale)
    if ls is not None:
        ls.exact = True
    return ls


def _determined(J, fd, s=None, norms=None):
    """Whether every direction of the parameters moves the residuals.

    SciPy's test (no singular value of J at or below ``eps * max(m, n)``
    times the largest) and, for a Jacobian by finite differences `fd`, the
    same on J with unit columns against the differences' own accuracy
    (`_FD_RANK_TOL`): below it, a combination of parameters that changes
    nothing (say ``a * d`` of a model in which only the product appears)
    is indistinguishable from one that changes the residuals a little.
    `s` and `norms` are J's singular values and column norms, if known.
    """
    s = svd(J, compute_uv=False) if s is None else s
    values = s.tolist()
    if len(values) < J.shape[1] or not full_rank(values, J.shape[0]):
        return False
    if fd is None:
        return True
    norms = np.linalg.norm(J, axis=0) if norms is None else norms
    # With unit columns the largest singular value is at most sqrt(n) and the
    # smallest at least s[-1] / max(norms): often enough to decide.
    if values[-1] > _FD_RANK_TOL[fd] * math.sqrt(J.shape[1]) * float(norms.max()):
        return True
    s = svd(J / np.where(norms > 0, norms, 1.0), compute_uv=False)
    return bool(s[-1] > _FD_RANK_TOL[fd] * s[0])


def _against_bounds(x, g, bounds):
    """Which parameters sit on (or within rounding of) a bound `g` pushes them against."""
    lb, ub = bounds
    return np.array([against_bound(*args) for args in zip(x.tolist(), g.tolist(), lb.tolist(),
                                                           ub.tolist(), strict=True)])


def _stationary(norms, w, g, held):
    """Whether the gradient ``g = J^T w`` vanishes, column by column
    (`stationary_column`), but where `held`. `norms` are the norms of J's columns."""
    w_norm = math.sqrt(float(w @ w))
    held = [False] * g.size if held is None else held.tolist()
    for gi, norm, h in zip(g.tolist(), norms.tolist(), held, strict=True):
        if not (h or stationary_column(gi, norm, w_norm)):
            return False
    return True


def _onto_bounds(residuals, x, r, cost, held):
    """`x` with the `held` parameters put on their bounds, unless that costs more than rounding.

    Trust-region iterates stay strictly inside the bounds, so a constrained
    minimum on a bound is approached, not reached (1 - 1e-16 for a bound at
    1); Rprop's iterates, clipped to the box, reach it. The gradient pushes
    each held parameter outwards, so the cost can only fall, up to rounding.
    """
    lb, ub = residuals.bounds
    x_new = np.where(held, np.where(np.abs(x - lb) <= np.abs(x - ub), lb, ub), x)
    if np.array_equal(x_new, x):
        return x, r, cost
    r_new = residuals(x_new)
    cost_new = residuals.cost(r_new) if np.isfinite(r_new).all() else np.inf
    if cost_new <= cost + residuals.cost_noise(r):
        return x_new, r_new, cost_new
    return x, r, cost


def _bracket_and_finish(residuals, p0, loss, f_scale, options):
    """Rprop until each parameter's minimum is bracketed, then the least-squares finish.

    The cheap way in: the bracketing run takes forward differences and stops
    as soon as every partial derivative has changed sign (the basin is
    found), usually within 3-30 steps; Levenberg-Marquardt (or the trust
    region) converges from there. Its point is the result when it converged
    and lowered the cost; ``trusted`` is set when, in addition, `_inspect`
    finds the point determined and stationary, or when the search must end
    here (the callback stopped it, or no finite residuals were seen).

    MINPACK's forward differences put the fixed point of its
    Levenberg-Marquardt where their own ``J^T r`` vanishes, about sqrt(eps)
    off, and converge slowly at the end: so it runs to `_LM_LOOSE`, and one
    Gauss-Newton step with the accurate J (which pcov needs anyway) moves
    its point to the true one. Where that step was not small (relative
    `common.GN_SETTLED`: a large-residual problem, where Gauss-Newton converges only
    linearly), Levenberg-Marquardt goes on from there to `_LM_TIGHT`, and
    the step is taken again.
    """
    gradient = (residuals.cost_and_gradient if callable(residuals.jac)
                else residuals.coarse_cost_and_gradient)
    bounds = None if residuals.unbounded else Bounds(*residuals.bounds)
    rprop = minimize_rprop(gradient, p0, jac=True, bounds=bounds, until_bracketed=True,
                           **{**RPROP_ONLY, **BRACKET_OPTIONS, **options})
    stopped = rprop.status == Status.CALLBACK or not np.isfinite(rprop.fun)
    fit = _Fit(x=rprop.x, cost=rprop.fun, rprop=rprop, nit=rprop.nit, trusted=stopped,
               tries=0)
    if stopped:
        return fit
    return _finish(residuals, fit, loss, f_scale)


def _finish_from_p0(residuals, p0, first, loss, f_scale):
    """The least-squares finish from `p0` itself, as SciPy's `curve_fit` runs it,
    where the fast way's finish did not converge (`first`); the fit, or None
    where the residuals at `p0` are not finite.

    A finish that does not converge from Rprop's point has usually run off
    along a degenerate direction (a peak at the edge of the data widening
    into a parabola); from the start it may not, and a point it vouches for
    ends the search there, before the robust way's rounds. Measured on 2,000
    peaks with centres anywhere from one generic start (issue 25): 17 % fewer
    calls of the model in all, no fit at a worse cost, two at a better one,
    and the one whose rounds took 38,000 calls and raised fitted in 1,400.
    Where the finish converged to a point it cannot vouch for, the robust
    way goes on at once: from `p0`, there, the finish loses the best cost on
    2 of 100 such peaks.
    """
    r0 = residuals(p0)
    if not np.isfinite(r0).all():
        return None
    fit = _Fit(x=p0, cost=residuals.cost(r0), rprop=first.rprop, nit=first.nit, tries=0)
    return _finish(residuals, fit, loss, f_scale)


def _finish(residuals, fit, loss, f_scale):
    """The least-squares finish from ``fit.x`` (see `_bracket_and_finish`), into `fit`."""
    for tight in (False, True):
        ls = _least_squares_finish(residuals, fit.x, loss, f_scale, tight)
        cost = None if ls is None else residuals.cost(ls.fun)
        if ls is None or not cost <= fit.cost:
            # A worse point than its start: kept only if the first finish's.
            fit.finish = fit.finish or ls
            break
        fit.finish, fit.finished, fit.converged = ls, True, bool(ls.success)
        fit.x, fit.cost, fit.r = ls.x, cost, ls.fun
        if not fit.converged:
            break
        step = _inspect(residuals, fit, gauss_newton=ls.get("method") == "lm" and not ls.exact)
        if not fit.trusted or step is None or all(
                map(step_settled, step.tolist(), fit.x.tolist())):
            break
    return fit


def _inspect(residuals, fit, gauss_newton):
    """Judge the finish's point `fit.x` (residuals `fit.r`); return the Gauss-Newton step taken.

    Computes J there (kept in `fit` for pcov with its SVD), puts parameters
    within rounding of a bound they are pushed against onto it, and sets
    ``fit.trusted``: J has full rank (`_determined`; a rank-deficient J is
    what a degenerate basin looks like: a peak shrunk to nothing, a
    vanished exponential) and the point is stationary (`_stationary`). If
    trusted and `gauss_newton`, takes one Gauss-Newton step with this J,
    kept unless it raises the cost beyond rounding, and returns it (else None).
    """
    x, r = fit.x, fit.r
    J = residuals.jacobian(x, r)
    Js = residuals.scaled_jacobian(x, r, J)
    w = residuals.weighted(r)
    g = J.T @ w
    held = None
    if not residuals.unbounded:
        held = _against_bounds(x, g, residuals.bounds)
        if held.any():
            fit.x, fit.r, fit.cost = _onto_bounds(residuals, x, r, fit.cost, held)
    fit.J, fit.svd, fit.trusted, fit.determined = Js, None, False, None
    if not np.isfinite(Js).all():
        return None
    U, s, VT = np.linalg.svd(Js, full_matrices=False)
    fit.svd = (s, VT)
    norms = np.sqrt(np.einsum("ij,ij->j", J, J))
    fit.determined = _determined(Js, residuals.fd, s, norms if Js is J else None)
    fit.trusted = fit.determined and _stationary(norms, w, g, held)
    if not (fit.trusted and gauss_newton):
        return None
    # J is Js for the linear loss, the only one Levenberg-Marquardt takes.
    step = -(VT.T @ ((U.T @ fit.r) / s))
    r_new = residuals(fit.x + step)
    cost_new = residuals.cost(r_new)
    if cost_new <= fit.cost + residuals.cost_noise(fit.r):
        fit.x, fit.cost, fit.r = fit.x + step, cost_new, r_new
    return step


def _rounds(residuals, p0, polish, loss, f_scale, options):
    """Rprop, then the polish from its point; again from the better point until one converges.

    A fresh Rprop run restarts step sizes that collapsed in a curved valley,
    and the polish's trust region follows such a valley where Rprop crawls,
    so where neither converges alone they take turns (at most `MAX_ROUNDS`,
    while a round lowers the cost by `ROUND_GAIN` of itself: `another_round`).
    """
    bounds = Bounds(*residuals.bounds)
    x, cost, nit, rounds = p0, np.inf, 0, 0
    while rounds < (MAX_ROUNDS if polish else 1):
        rprop = minimize_rprop(residuals.cost_and_gradient, x, jac=True, bounds=bounds,
                               **{**RPROP_ONLY, **options})
        nit, rounds = nit + rprop.nit, rounds + 1
        # least_squares refuses a start where the residuals are not finite.
        ready = polish and rprop.status != Status.CALLBACK and np.isfinite(rprop.fun)
        ls = _trust_region(residuals, rprop.x, loss, f_scale) if ready else None
        polished = ls is not None and residuals.cost(ls.fun) <= rprop.fun
        last_cost = cost
        x, cost = (ls.x, residuals.cost(ls.fun)) if polished else (rprop.x, rprop.fun)
        converged = ls.success if polished else rprop.success
        if converged or not another_round(cost, last_cost) or rprop.status == Status.CALLBACK:
            break
    return _Fit(x=x, cost=cost, rprop=rprop, finish=ls, finished=polished,
                converged=converged, nit=nit, rounds=rounds, tries=1)


def _search(residuals, p0, polish, loss, f_scale, options):
    """The fast way first (`_bracket_and_finish`), the robust one where it is not trusted.

    The robust way is `_rounds` from `p0`: Rprop to its own stop (at most
    `MAXITER` steps) and the trust-region polish, in turns; after the fast
    way, with the sign method as published, and where its point is not
    trusted either (see `_inspect`), once more with pattern moves
    (``accelerate=True``: another path, which finds peaks near the edge of
    the data that the first misses; it misses NIST's MGH17 from its first
    start, which the first finds), unless `options` choose. The best
    converged result is returned (or, where it is not vouched for, `_revive`'s
    from it, if better): a namespace with ``x``, ``cost``, the last
    ``rprop`` and ``polish`` results, ``polished`` (whether ``x`` is the
    polish's point), ``converged``, ``nit`` and ``rounds`` (both over all
    Rprop runs), ``J``, ``svd`` and ``r`` (the Jacobian, its SVD and the
    residuals at ``x``, if already computed), ``first`` (the fast way's
    result, when it was not trusted) and ``tries`` (the robust way's runs).
    """
    first = None
    if polish and options.pop("until_bracketed", True):
        first = _bracket_and_finish(residuals, p0, loss, f_scale, options)
        if first.trusted:
            return first
        if not first.converged:
            second = _finish_from_p0(residuals, p0, first, loss, f_scale)
            if second is not None and second.trusted:
                second.first = first
                return second
    tries = [{}] if first is None or "accelerate" in options else [{}, {"accelerate": True}]
    fits = []
    for extra in tries:
        fits.append(_rounds(residuals, p0, polish, loss, f_scale, {**options, **extra}))
        fit = fits[-1]
        if len(tries) == 1 or fit.rprop.status == Status.CALLBACK:
            break
        if fit.converged:
            fit.r = residuals(fit.x)
            _inspect(residuals, fit, gauss_newton=False)
            if fit.trusted:
                break
    done = fits + ([first] if first is not None else [])
    best = min((f for f in done if f.converged), key=lambda f: f.cost, default=fits[-1])
    if first is not None and best.converged and fits[-1].rprop.status != Status.CALLBACK:
        revived = _revive(residuals, p0, best, loss, f_scale)
        if revived is not None:
            done.append(revived)
            best = revived
    best.nit, best.rounds = sum(f.nit for f in done), sum(f.rounds for f in done)
    best.first, best.tries = first, len(fits)
    return best


def _vanished(J, x, p0, fd):
    """Which parameters the residuals no longer see at `x` (`common.lost_parameters`),
    J there by the scheme `fd` (None: exact)."""
    gone = np.empty(x.size, dtype=bool)
    lost_parameters(np.sqrt(np.einsum("ij,ij->j", J, J)), x, p0,
                    rank_tolerance(fd is None, fd == "3-point", *J.shape), gone)
    return gone


def _revive(residuals, p0, best, loss, f_scale):
    """The finish from ``best.x`` with the parameters it lost put back to `p0`,
    or walked from `p0` until the residuals see them (`common.revive_start`);
    the first such fit that converged to a lower cost, else None.

    A search can end on a plateau where a parameter has run off so far that
    it no longer moves the residuals (BoxBOD from NIST's first start: the
    rate of an exponential rise run off to 33, where ``exp(-33 x)`` is below
    rounding beside 1, its column of J zero; the other parameter, the
    plateau's height, fitted). No sign is left to bring it back; from its
    start, with the other parameters where the search put them, the finish
    converges (BoxBOD: to the certified values, from the cost 4886 to 584).
    Where the parameter is lost at its start too (a rate 100 to 10,000 times
    too large: no sign from the first call on, so it never moved), the start
    times each of `common.WALK_FACTORS` in turn, where the residuals see it.
    Runs only where the best point is not vouched for (see `_inspect`).
    """
    if best.J is None:
        if best.r is None:
            best.r = residuals(best.x)
        _inspect(residuals, best, gauss_newton=False)
    if best.trusted or best.J is None or not np.isfinite(best.J).all():
        return None
    gone = _vanished(best.J, best.x, p0, residuals.fd)
    if not gone.any():
        return None
    lower, upper = residuals.bounds
    walked = gone & (p0 != 0)
    for attempt in range(1 + (len(WALK_FACTORS) if walked.any() else 0)):
        start = np.empty_like(best.x)
        if not revive_start(attempt, gone, p0, best.x, lower, upper, start):
            continue
        r0 = residuals(start)
        if not np.isfinite(r0).all():
            continue
        if attempt:
            J = residuals.jacobian(start, r0)
            if not np.isfinite(J).all() or _vanished(J, start, p0, residuals.fd)[walked].any():
                continue
        fit = _Fit(x=start, cost=residuals.cost(r0), rprop=best.rprop, nit=0, rounds=0,
                   tries=0)
        fit = _finish(residuals, fit, loss, f_scale)
        if fit.finished and fit.converged and fit.cost < best.cost:
            fit.revived = True
            return fit
    return None


def _covariance(J, cost, m, n, absolute_sigma, fd, s_VT=None, determined=None):
    """SciPy's pcov: ``inv(J^T J)`` by SVD, times the residual variance.

    Returns ``(pcov, warn)``: filled with inf and ``warn`` set when it cannot
    be estimated, that is when J is rank-deficient by `_determined` (a
    parameter the data do not determine; `fd` is the difference scheme of
    J, or None), or when there are no more data than parameters to estimate
    the variance from. `s_VT` are J's singular values and right singular
    vectors, and `determined` the verdict of `_determined`, if known.
    """
    s, VT = svd(J, full_matrices=False)[1:] if s_VT is None else s_VT
    if determined is None:
        determined = _determined(J, fd, s)
    if not determined or (m <= n and not absolute_sigma):
        return np.full((n, n), np.inf), True
    pcov = (VT.T / s ** 2) @ VT
    return (pcov if absolute_sigma else pcov * (2 * cost / (m - n))), False


def _runs_compiled(f, xdata, ydata, sigma, jac, loss, polish, options):
    """Whether this fit can run in the compiled core of `curve_fit_many`: an
    ``@njit`` model (and `jac`, if a function), the polish, the linear loss,
    one predictor, standard deviations (not a covariance) and no options but
    the Rprop options `curve_fit_many` takes."""
    if not is_dispatcher(f):
        return False
    # (A function-level import: many builds on this module.)
    from .many import OPTION_DEFAULTS

    return ((not callable(jac) or is_dispatcher(jac)) and polish
            and isinstance(loss, str) and loss == "linear" and set(options) <= set(OPTION_DEFAULTS)
            and isinstance(xdata, np.ndarray) and xdata.shape == ydata.shape and ydata.ndim == 1
            and (sigma is None or np.ndim(sigma) == 0 or np.shape(sigma) == ydata.shape))


def _compiled(f, xdata, ydata, p0, sigma, absolute_sigma, bounds, jac, full_output, options):
    """The fit of `curve_fit_many` on this one data set: the same compiled code, so
    the same bits as its row. Returns what `curve_fit` returns."""
    # (A function-level import: many builds on this module.)
    from .many import curve_fit_many

    with warnings.catch_warnings():
        # Warned below in curve_fit's words.
        warnings.simplefilter("ignore", OptimizeWarning)
        # One thread: a parallel region for one task would only add its launch (7 ms
        # with the second core busy, measured).
        fits = curve_fit_many(f, xdata, ydata[None], p0, sigma, absolute_sigma, bounds, jac,
                              check_finite=False, threads=1, **options)
    status = Status(int(fits.status[0]))
    if not status.success:
        raise RuntimeError("Optimal parameters not found: " + status.message)
    x, pcov, cost = fits.popt[0], fits.pcov[0], float(fits.cost[0])
    if not np.isfinite(pcov).all():
        warnings.warn("Covariance of the parameters could not be estimated",
                      category=OptimizeWarning, stacklevel=3)
    if not full_output:
        return x, pcov
    r = np.asarray(f(xdata, *x), dtype=float) - ydata
    if sigma is not None:
        r = r * (1.0 / np.asarray(sigma, dtype=float))
    infodict = dict(fvec=r, cost=cost, nfev=int(fits.nfev[0]), njev=int(fits.njev[0]),
                    status=status, message=status.message, compiled=True)
    return x, pcov, infodict, status.message, _IER.get(status, 0)


def _message(fit):
    text = f"Rprop: {fit.rprop.message}"
    if fit.finish is not None:
        verdict = "kept" if fit.finished else "discarded (it did not lower the cost)"
        name = ("leastsq, MINPACK's Levenberg-Marquardt" if fit.finish.get("method") == "lm"
                else "least_squares 'trf'")
        text += f" Polish ({name}): {fit.finish.message} The polished point was {verdict}."
    if fit.first is not None and fit.tries == 0:
        text += (" (The least-squares finish after the first, bracketing Rprop run did not "
                 "converge; the point above is the finish's from p0.)")
    elif fit.first is not None:
        why = ("converged to a point it could not vouch for (a rank-deficient Jacobian, or "
               "not stationary)" if fit.first.converged else "did not converge")
        runs = ("twice, the second time with pattern moves" if fit.tries > 1 else "")
        which = ("the first finish's point is the best of all" if fit is fit.first
                 else "the best point of all had parameters that no longer moved the "
                 "residuals (their columns of J below its accuracy): put back to p0 (or, "
                 "lost there too, walked from p0 by factors of 10 until the residuals saw "
                 "them), the others kept, the finish from there found the point above"
                 if fit.revived
                 else "the point above is the best of all")
        text += (f" (The least-squares finish after the first, bracketing Rprop run {why}, "
                 f"so Rprop ran from p0 to its own stop, in turns with the polish"
                 f"{', ' + runs if runs else ''}; {which}. Round {fit.rounds} of Rprop and "
                 "polish in all.)")
    elif fit.rounds > 1:
        text += f" (Round {fit.rounds} of Rprop and polish.)"
    return text


def curve_fit(
    f: Callable[..., Any],
    xdata: Any,
    ydata: Any,
    p0: Any = None,
    sigma: Any = None,
    absolute_sigma: bool = False,
    check_finite: bool | None = None,
    bounds: Bounds | tuple[Any, Any] = (-np.inf, np.inf),
    jac: Callable[..., Any] | str | None = None,
    *,
    full_output: bool = False,
    nan_policy: str | None = None,
    loss: str | Callable[..., Any] = "linear",
    f_scale: float = 1.0,
    polish: bool = True,
    vectorize: bool | None = None,
    **options: Any,
) -> tuple:
    """Use non-linear least squares, minimized by Rprop, to fit a function f to data.

    The call and the returns are those of `scipy.optimize.curve_fit`. The sum
    of squares (or of a robust loss of the residuals) is minimized by
    `minimize_rprop`, which follows only the signs of its gradient and so
    copes with parameters of very different scales and with starts far from
    the solution, until it has found the minimum's basin; a least-squares
    finish (MINPACK's Levenberg-Marquardt as in SciPy, or
    `scipy.optimize.least_squares` under bounds or a robust loss) then
    converges from there. Where that finish does not converge to a point it
    can vouch for, Rprop runs on to its own stop, in turns with the finish
    (see Notes).

    Parameters
    ----------
    f : callable
        The model, ``f(x, p1, p2, ...)``: the independent variable first, then
        each parameter as a separate argument.
    xdata : array_like or object
        The independent variable, handed to `f` unchanged (a list, tuple or
        array is converted to a float array of the same shape, so ``(k, m)``
        holds k predictors).
    ydata : array_like, shape (m,)
        The dependent data, nominally ``f(xdata, *popt)``.
    p0 : array_like, shape (n,), optional
        The starting point. If None, all ones (the midpoint of finite bounds),
        with n taken from the signature of `f`.
    sigma : None, scalar, array_like of shape (m,) or (m, m), optional
        The uncertainty of `ydata`: standard deviations (scalar or 1-D), so
        that ``sum((r / sigma)**2)`` is minimized, or their covariance matrix
        C (2-D), so that ``r.T @ inv(C) @ r`` is. None means ones.
    absolute_sigma : bool, optional
        If True, `sigma` is absolute and `pcov` reflects it; if False
        (default), `pcov` is scaled by the reduced chi-square of the fit.
    check_finite : bool, optional
        Raise ``ValueError`` if the data hold NaN or inf. Default: True unless
        `nan_policy` is given.
    bounds : 2-tuple of array_like or `scipy.optimize.Bounds`, optional
        Lower and upper bounds on the parameters, scalars or of length n.
        Neither the search nor its finite differences leave them.
    jac : callable, {'2-point', '3-point'} or None, optional
        ``jac(x, p1, p2, ...)`` returning the m x n Jacobian of the model
        (scaled by `sigma` here, as in SciPy); otherwise the finite-difference
        scheme for the Jacobian of the residuals. None means ``'3-point'``.
    full_output : bool, optional
        Also return `infodict`, `mesg` and `ier`.
    nan_policy : {'raise', 'omit', None}, optional
        With check_finite off: ``'raise'`` raises ``ValueError`` on NaN in the
        data, ``'omit'`` drops the points that hold one (and the matching
        entries of `sigma`). ``'propagate'`` is refused, as in SciPy.
    loss : {'linear', 'soft_l1', 'huber', 'cauchy', 'arctan'} or callable, optional
        The loss ``rho`` of `scipy.optimize.least_squares`: the cost is
        ``0.5 * sum(f_scale**2 * rho(r**2 / f_scale**2))``. A callable takes
        ``z`` and returns ``rho, rho', rho''`` stacked as a (3, m) array.
    f_scale : float, optional
        The soft margin between inlier and outlier residuals.
    polish : bool, optional
        Follow Rprop with a least-squares finish from its point (the same
        loss, bounds and Jacobian), keeping the finished point only if its
        cost is not higher (see Notes). Default True; False runs Rprop alone
        to its own stop.
    vectorize : bool or None, optional
        Whether `f` may be called with each parameter a column of k values
        (shape (k, 1)) to return k rows of model values, shape (k, m): the
        finite differences of a step are then one call. None (default): find
        out on the first such call, which is checked against a call per row
        (any exception, another shape or other values: one call per row from
        then on); the first call of `f` is with scalars. The answer is
        remembered for later fits with the same `f` and data of the same
        shapes, which skip the check. A model written in
        NumPy usually broadcasts so; one that must see scalars (Python ``if``
        on a parameter, ``math`` functions) is detected, or set False (no
        call ever sees arrays). True: columns from the first call on,
        unchecked. Under bounds, and with a 2-D `sigma`, every call is with
        scalars.
    **options
        Passed to each run of `minimize_rprop`: ``variant``,
        ``initial_step``, ``maxiter`` (default here 200 a round with the polish),
        ``maxfev`` (evaluations of the cost and its gradient), ``xtol``,
        ``ftol``, ``callback``, ... With the polish, ``until_bracketed``
        (default True) ends the first run as soon as every parameter's
        partial derivative has changed sign (the fast way in, see Notes;
        its ``etas`` default to (0.5, 1.618)); False runs Rprop to its own
        stop first. ``polish`` and ``accelerate`` of `minimize_rprop` are
        off here (the finish is the least-squares one).

    Returns
    -------
    popt : ndarray, shape (n,)
        The best parameters found.
    pcov : ndarray, shape (n, n)
        Their estimated covariance, computed as SciPy does: the inverse of
        ``J^T J`` at `popt` by SVD (J robust-scaled for a robust loss), times
        ``2 * cost / (m - n)`` unless `absolute_sigma`. Filled with inf, with
        an `OptimizeWarning`, if it cannot be estimated: if J is
        rank-deficient (a parameter the data do not determine; SciPy's
        default 'lm' path does the same, its 'trf' path returns a
        pseudo-inverse instead) or if ``m <= n`` without `absolute_sigma`.
    infodict : dict
        Only with `full_output`: ``fvec``, the weighted residuals at `popt`;
        ``cost``, the final cost; ``nfev``, all calls of `f` (finite
        differences included; a call with columns of parameters, see
        `vectorize`, counts once) and ``njev``, calls of `jac`; ``nit``,
        Rprop's steps and ``rounds``, its runs (see Notes); ``status`` and
        ``message`` of the Rprop run that led to `popt` (the rule that
        stopped it: ``Status.BRACKETED`` for the first, bracketing run);
        ``polish``, the finish's result from there (an `OptimizeResult` as
        `least_squares` returns, with ``method='lm'`` for
        Levenberg-Marquardt; or None) and ``polished``, whether `popt` is its
        point.
    mesg : str
        Only with `full_output`: how the runs ended, in words.
    ier : int
        Only with `full_output`: as in SciPy, 1 to 4 when converged, by the
        numbering of `least_squares` (1 gtol, 2 ftol, 3 xtol, 4 both) of the
        run that produced `popt`.

    Raises
    ------
    ValueError
        If the data hold NaN or inf (see `check_finite`, `nan_policy`), or
        the options are inconsistent.
    RuntimeError
        If neither Rprop nor the finish converged (in the last round).

    See Also
    --------
    minimize_rprop : The minimizer underneath.
    scipy.optimize.curve_fit : The same contract on MINPACK and trust regions.

    Notes
    -----
    Rprop [1]_ (variant iRprop+ [2]_) moves each parameter by its own step
    size, grown while the sign of its partial derivative holds and shrunk when
    it flips. The gradient of the cost is ``J^T (rho'(r**2) * r)``, with J the
    Jacobian of the residuals. As only its signs count, a gradient that is
    tiny in one parameter and huge in another does not slow the search, and
    the default initial step, a tenth of each parameter's own scale, moves
    badly scaled parameters (say 239 and 5.5e-4) alike.

    Sign-based steps reach the basin of the minimum from far-off starts, but
    close in only linearly, and in a narrow curved valley their step sizes
    can collapse; Gauss-Newton steps converge quadratically near the minimum
    and follow such valleys. Hence the finish, as
    `scipy.optimize.differential_evolution` polishes with L-BFGS-B, in two
    ways:

    - **Fast** (with the polish, by default): Rprop on forward differences,
      its steps growing by 1.618 (not 1.2) while a sign holds, until every
      partial derivative has changed sign once (the minimum is bracketed in
      each parameter: the basin is found, usually within 3 to 30 steps),
      then the finish from its best point: without bounds and
      with the linear loss, MINPACK's Levenberg-Marquardt (``leastsq``,
      SciPy's default) on its own forward differences to a tolerance of
      1e-10, then one Gauss-Newton step with the Jacobian of `jac` (which
      pcov needs anyway) to move the point from where forward differences
      put the minimum to where it is, and Levenberg-Marquardt again at
      full precision where that step was larger than 1e-6 (relative);
      otherwise `least_squares` ('trf', ``x_scale='jac'``). Its point is
      kept if the finish converged and lowered the cost, J has full rank
      there (a rank-deficient J is what a degenerate basin looks like: a
      peak shrunk to nothing, a rate run off to infinity) and the point is
      stationary (every column of J at most 1e-3 in cosine from the
      residuals, MINPACK's orthogonality test). Where the finish did not
      converge (it ran a parameter off along a degenerate direction), the
      same finish from `p0` itself, as SciPy's `curve_fit` runs it; its
      point is kept on the same terms.
    - **Robust**, where neither point is kept: from `p0` again,
      Rprop runs for up to 200 steps to its own stop, `least_squares`
      ('trf') goes on from its point, and where neither has converged Rprop
      starts afresh from the better point, for at most 10 rounds while each
      lowers the cost by at least a thousandth. Where that point is not
      vouched for either, the same again with pattern moves
      (``accelerate=True`` of `minimize_rprop`, unless ``accelerate`` is
      given): a different path, which finds peaks near the edge of the data
      the first misses. The best converged point of all is returned,
      unless it is not vouched for either and has parameters that no
      longer move the residuals (their columns of J below its accuracy: a
      rate run off until ``exp(-b x)`` is below rounding): then the finish
      runs once more, from that point with those parameters put back to
      `p0` (or, where they are lost at `p0` too, a rate 100 times too large,
      with them walked from `p0` by factors of 10 until the residuals see
      them), and its point is returned where it converged to a lower cost.

    An ``@numba.njit`` model (with an ``@njit`` `jac`, if a function), one
    predictor, the linear loss, standard deviations for `sigma` and no options
    beyond those `curve_fit_many` takes run compiled instead: the fit is the
    one `curve_fit_many` makes of this data set, the same code and the same
    bits (its own Levenberg-Marquardt on the normal equations, Gauss-Newton
    steps by QR, the robust way without pattern moves; see
    `curve_fit_many`). The rules that judge a point (full rank, stationary,
    on a bound, settled) and their constants are the same on both paths.
    With a model numba did not compile, MINPACK's Levenberg-Marquardt is
    kept: its loop is compiled, where the batch's, called back from Python
    for every step, would not be. The ``infodict`` of a compiled fit holds
    ``fvec``, ``cost``, ``nfev``, ``njev``, ``status``, ``message`` and
    ``compiled`` (True).

    On 200 well-posed Gaussian peaks (``benchmarks/curve_fit_speed.py``) a
    fit takes 1.8-2.0 times the time of `scipy.optimize.curve_fit` (the
    robust way alone: 22 times) and reaches the best cost on every fit,
    SciPy on 192; from poor starts (peaks off centre, decays over three
    decades of rate, saturation curves from 100 times off) it reaches the
    best cost at least as often as the robust way alone (off-centre peaks:
    38 of 60 against 31, SciPy 8). On the 27 NIST
    StRD problems from both starts (``benchmarks/nist.py``,
    ``docs/nist_table.md``) all 54 cases reach 6 correct digits (BoxBOD
    from its first start by putting its rate back to the start), against 29 with
    `scipy.optimize.curve_fit`, in a tenth of the time the robust way alone
    takes.

    Rprop's runs stop on step sizes (``xtol``), not on the cost (its ftol
    rule is off by default): near the minimum the cost stops resolving the
    last digits of the parameters (their effect is below its rounding error)
    while the signs of the gradient still point the way.

    Finite differences default to the central ``'3-point'`` scheme with steps
    of ``eps**(1/3) * |p|``, for Rprop's runs to their own stop and the
    Jacobian of the finish: near the minimum the signs of the gradient, and
    the last digits of the Gauss-Newton step, depend on the accuracy of the
    Jacobian.

    References
    ----------
    .. [1] M. Riedmiller and H. Braun, "A direct adaptive method for faster
       backpropagation learning: the RPROP algorithm", IEEE International
       Conference on Neural Networks, 1993, pp. 586-591.
    .. [2] C. Igel and M. Hüsken, "Empirical evaluation of the improved Rprop
       learning algorithms", Neurocomputing 50, 2003, pp. 105-123.

    Examples
    --------
    >>> import numpy as np
    >>> from signmin import curve_fit
    >>> def func(x, a, b, c):
    ...     return a * np.exp(-b * x) + c
    >>> xdata = np.linspace(0, 4, 50)
    >>> rng = np.random.default_rng(0)
    >>> ydata = func(xdata, 2.5, 1.3, 0.5) + 0.02 * rng.normal(size=xdata.size)
    >>> popt, pcov = curve_fit(func, xdata, ydata)
    >>> np.round(popt, 2)
    array([2.5 , 1.33, 0.51])
    >>> perr = np.sqrt(np.diag(pcov))
    >>> bool(np.all(perr < 0.05))
    True

    Parameters of very different scales, from a start far off (NIST's
    Misra1a, Start 1):

    >>> x = np.array([77.6, 114.9, 141.1, 190.8, 239.9, 289.0, 332.8, 378.4,
    ...               434.8, 477.3, 536.8, 593.1, 689.1, 760.0])
    >>> y = np.array([10.07, 14.73, 17.94, 23.93, 29.61, 35.18, 40.02, 44.82,
    ...               50.76, 55.05, 61.01, 66.40, 75.47, 81.78])
    >>> misra1a = lambda x, b1, b2: b1 * (1 - np.exp(-b2 * x))
    >>> popt, pcov, info, mesg, ier = curve_fit(misra1a, x, y, p0=[500, 1e-4],
    ...                                         full_output=True)
    >>> popt
    array([2.38942129e+02, 5.50156432e-04])
    >>> ier in (1, 2, 3, 4), info["polished"]
    (True, True)

    Robust losses as in `scipy.optimize.least_squares`, here with bounds, keep
    outliers from pulling the fit away:

    >>> ydata[::10] += 3.0
    >>> bounds = (0, [3.0, 2.0, 1.0])
    >>> popt, _ = curve_fit(func, xdata, ydata, bounds=bounds)
    >>> np.round(popt, 1)
    array([3. , 1.9, 0.9])
    >>> popt, _ = curve_fit(func, xdata, ydata, bounds=bounds, loss="soft_l1", f_scale=0.1)
    >>> np.round(popt, 1)
    array([2.6, 1.4, 0.5])
    """
    if "args" in options:
        raise ValueError("'args' is not a supported keyword argument.")
    n = parameter_count(f) if p0 is None else np.atleast_1d(p0).size
    lb, ub = bounds_arrays(bounds, n)
    p0 = feasible_start(lb, ub) if p0 is None else np.atleast_1d(np.asarray(p0, dtype=float))
    if ((p0 < lb) | (p0 > ub)).any():
        raise ValueError("`p0` is infeasible: it lies outside the bounds.")
    if check_finite is None:
        check_finite = nan_policy is None
    xdata, ydata, sigma = _prepare_data(xdata, ydata, sigma, check_finite, nan_policy)
    loss_fn, fd = _loss_function(loss), _fd_scheme(jac)
    if polish:
        options.setdefault("maxiter", MAXITER)
    if _runs_compiled(f, xdata, ydata, sigma, jac, loss, polish, options):
        return _compiled(f, xdata, ydata, p0, sigma, absolute_sigma, (lb, ub), jac, full_output,
                         options)
    residuals = Residuals(f, xdata, ydata, _transform(sigma, ydata.size), jac, fd,
                     loss_fn, float(f_scale), (lb, ub), vectorize)

    fit = _search(residuals, p0, polish, loss, f_scale, options)
    if not fit.converged:
        raise RuntimeError("Optimal parameters not found: " + _message(fit))

    x, r = fit.x, (residuals(fit.x) if fit.r is None else fit.r)
    J, s_VT = (residuals.scaled_jacobian(x, r), None) if fit.J is None else (fit.J, fit.svd)
    pcov, warn = _covariance(J, fit.cost, r.size, n, absolute_sigma, residuals.fd, s_VT,
                             fit.determined if fit.J is not None else None)
    if warn:
        warnings.warn("Covariance of the parameters could not be estimated",
                      category=OptimizeWarning, stacklevel=2)
    if not full_output:
        return x, pcov
    infodict = dict(fvec=r, cost=fit.cost, nfev=residuals.nfev, njev=residuals.njev, nit=fit.nit,
                    rounds=fit.rounds, status=fit.rprop.status, message=fit.rprop.message,
                    polish=fit.finish, polished=fit.finished)
    ier = fit.finish.status if fit.finished else _IER.get(fit.rprop.status, 0)
    return x, pcov, infodict, _message(fit), ier
