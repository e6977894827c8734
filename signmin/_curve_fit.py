"""``curve_fit``: SciPy's curve fitting, minimized by Rprop and polished by least squares."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np
from scipy.linalg import cholesky, solve_triangular, svd
from scipy.optimize import Bounds, OptimizeWarning, least_squares

# least_squares' own finite-difference engine: it keeps every step inside the
# bounds and takes steps relative to |p|, which the public approx_fprime does not.
from scipy.optimize._numdiff import approx_derivative

from ._minimize import minimize_rprop
from ._numerics import EPS
from ._numerics import REL_STEP as _REL_STEP
from ._status import Status

__all__ = ["curve_fit"]

#: The default difference scheme (see Notes of `curve_fit`).
DEFAULT_FD = "3-point"
#: Tolerances of the polish: it only has to settle the last digits.
_POLISH_OPTIONS = dict(ftol=EPS, xtol=EPS, gtol=EPS, x_scale="jac")
#: The polish's budget of evaluations, per parameter.
POLISH_MAX_NFEV = 1000
#: Rprop's default budget per round when the polish follows: enough to reach the basin.
MAXITER = 2000
#: At most this many rounds of Rprop and polish.
MAX_ROUNDS = 10
#: least_squares' numbering of the rules that stop a run, for ``ier``.
_IER = {Status.GTOL: 1, Status.FTOL: 2, Status.NO_PROGRESS: 2, Status.XTOL: 3}


def _soft_l1(z):
    t = 1 + z
    return np.array([2 * (t ** 0.5 - 1), t ** -0.5, -0.5 * t ** -1.5])


def _huber(z):
    inner = z <= 1
    zz = np.where(inner, 1.0, z)  # keeps the unused branch finite
    return np.array([np.where(inner, z, 2 * zz ** 0.5 - 1),
                     np.where(inner, 1.0, zz ** -0.5),
                     np.where(inner, 0.0, -0.5 * zz ** -1.5)])


def _cauchy(z):
    t = 1 + z
    return np.array([np.log1p(z), 1 / t, -1 / t ** 2])


def _arctan(z):
    t = 1 + z ** 2
    return np.array([np.arctan(z), 1 / t, -2 * z / t ** 2])


#: rho(z), rho'(z), rho''(z) of `least_squares`' losses, z the squared residual.
LOSSES = {"linear": None, "soft_l1": _soft_l1, "huber": _huber, "cauchy": _cauchy,
          "arctan": _arctan}


class _Residuals:
    """Weighted residuals ``r(p) = L^-1 (f(xdata, *p) - ydata)``, their Jacobian and cost.

    ``L`` is 1/sigma for a 1-D `sigma` and the Cholesky factor of a 2-D one, as in
    SciPy. Every call of the model is counted, finite differences included.
    """

    def __init__(self, f, xdata, ydata, transform, jac, fd, loss, f_scale, bounds):
        self.f, self.xdata, self.ydata, self.transform = f, xdata, ydata, transform
        self.jac, self.fd, self.bounds = jac, fd, bounds
        self.loss, self.f_scale = loss, f_scale
        self.nfev = 0
        self.njev = 0

    def _weigh(self, v):
        t = self.transform
        if t is None:
            return v
        if t.ndim < 2:
            return v * (t if v.ndim == 1 else t.reshape(-1, 1))
        return solve_triangular(t, v, lower=True)

    def __call__(self, p):
        self.nfev += 1
        return self._weigh(np.asarray(self.f(self.xdata, *p), dtype=float) - self.ydata)

    def jacobian(self, p, r):
        """The m x n Jacobian of the weighted residuals at `p`, where they are `r`."""
        if callable(self.jac):
            self.njev += 1
            return self._weigh(np.atleast_2d(np.asarray(self.jac(self.xdata, *p), dtype=float)))
        return approx_derivative(self, p, method=self.fd, rel_step=_REL_STEP[self.fd], f0=r,
                                 bounds=self.bounds)

    def rho(self, r):
        """``rho``, ``rho'`` and ``rho''`` at ``z = r**2``, scaled as `least_squares` does."""
        if self.loss is None:
            return np.array([r ** 2, np.ones_like(r), np.zeros_like(r)])
        c2 = self.f_scale ** 2
        rho = np.array(self.loss(r ** 2 / c2), dtype=float)
        rho[0] *= c2
        rho[2] /= c2
        return rho

    def cost(self, r):
        """``0.5 * sum(rho(r**2))``: `least_squares`' cost."""
        return 0.5 * float(np.sum(self.rho(r)[0]))

    def cost_and_gradient(self, p):
        """The cost and its projected gradient ``J^T (rho'(r**2) * r)``, for `minimize_rprop`."""
        r = self(p)
        if not np.all(np.isfinite(r)):
            return np.inf, np.zeros(p.size)
        rho = self.rho(r)
        g = self.jacobian(p, r).T @ (rho[1] * r)
        return 0.5 * float(np.sum(rho[0])), g

    def scaled_jacobian(self, p, r):
        """The Jacobian whose ``J^T J`` is the Gauss-Newton Hessian of the cost.

        For a robust loss it is scaled by ``sqrt(rho' + 2 rho'' r**2)``, floored
        at eps, exactly as `least_squares` returns it (SciPy's pcov uses it).
        """
        J = self.jacobian(p, r)
        if self.loss is None:
            return J
        rho = self.rho(r)
        scale = np.maximum(rho[1] + 2 * rho[2] * r ** 2, EPS) ** 0.5
        return J * scale[:, np.newaxis]


def _parameter_count(f):
    try:
        params = inspect.signature(f).parameters.values()
    except (TypeError, ValueError):
        params = ()
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) < 2:
        raise ValueError("Unable to determine number of fit parameters.")
    return len(positional) - 1


def _bounds_arrays(bounds, n):
    lb, ub = (bounds.lb, bounds.ub) if isinstance(bounds, Bounds) else bounds
    try:
        lb = np.broadcast_to(np.asarray(lb, dtype=float), (n,)).copy()
        ub = np.broadcast_to(np.asarray(ub, dtype=float), (n,)).copy()
    except ValueError:
        raise ValueError("Inconsistent shapes between bounds and `x0`.") from None
    if np.any(lb > ub):
        raise ValueError("Each lower bound must be less than or equal to each upper bound.")
    return lb, ub


def _feasible_start(lb, ub):
    """SciPy's default p0 under bounds: 1, the midpoint, or 1 inside a one-sided bound."""
    p0 = np.ones_like(lb)
    lo, hi = np.isfinite(lb), np.isfinite(ub)
    p0[lo & hi] = 0.5 * (lb[lo & hi] + ub[lo & hi])
    p0[lo & ~hi] = lb[lo & ~hi] + 1
    p0[~lo & hi] = ub[~lo & hi] - 1
    return p0


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


def _polish(res, x, loss, f_scale):
    """Trust-region least-squares steps from Rprop's point.

    Returns the `least_squares` result, or None where it cannot run (a fixed
    parameter, which it does not accept).
    """
    lb, ub = res.bounds
    if np.any(lb >= ub):
        return None
    jac = (lambda p: res.jacobian(p, None)) if callable(res.jac) else res.fd
    kwargs = {} if callable(res.jac) else {"diff_step": _REL_STEP[res.fd]}
    return least_squares(res, x, jac=jac, bounds=(lb, ub), method="trf", loss=loss,
                         f_scale=f_scale, max_nfev=POLISH_MAX_NFEV * x.size,
                         **_POLISH_OPTIONS, **kwargs)


def _search(res, p0, polish, loss, f_scale, options):
    """Rprop, then the polish from its point; again from the better point until one converges.

    A fresh Rprop run restarts step sizes that collapsed in a curved valley,
    and the polish's trust region follows such a valley where Rprop crawls,
    so where neither converges alone they take turns (at most `MAX_ROUNDS`,
    while the cost goes down). Returns a namespace with ``x``, ``cost``, the
    last ``rprop`` and ``polish`` results, ``polished`` (whether ``x`` is the
    polish's point), ``converged``, ``nit`` and ``rounds``.
    """
    bounds = Bounds(*res.bounds)
    x, cost, nit, rounds = p0, np.inf, 0, 0
    while rounds < (MAX_ROUNDS if polish else 1):
        rprop = minimize_rprop(res.cost_and_gradient, x, jac=True, bounds=bounds, **options)
        nit, rounds = nit + rprop.nit, rounds + 1
        # least_squares refuses a start where the residuals are not finite.
        ready = polish and rprop.status != Status.CALLBACK and np.isfinite(rprop.fun)
        ls = _polish(res, rprop.x, loss, f_scale) if ready else None
        polished = ls is not None and res.cost(ls.fun) <= rprop.fun
        last_cost = cost
        x, cost = (ls.x, res.cost(ls.fun)) if polished else (rprop.x, rprop.fun)
        converged = ls.success if polished else rprop.success
        if converged or cost >= last_cost or rprop.status == Status.CALLBACK:
            break
    return SimpleNamespace(x=x, cost=cost, rprop=rprop, polish=ls, polished=polished,
                           converged=converged, nit=nit, rounds=rounds)


def _covariance(J, cost, m, n, absolute_sigma):
    """SciPy's pcov: ``inv(J^T J)`` by SVD, times the residual variance.

    Returns ``(pcov, warn)``: filled with inf and ``warn`` set when it cannot
    be estimated, that is when J has a singular value below SciPy's
    threshold (a parameter the data do not determine), or when there are no
    more data than parameters to estimate the variance from.
    """
    _, s, VT = svd(J, full_matrices=False)
    if s.size < n or np.any(s <= EPS * max(J.shape) * s[0]) or (m <= n and not absolute_sigma):
        return np.full((n, n), np.inf), True
    pcov = (VT.T / s ** 2) @ VT
    return (pcov if absolute_sigma else pcov * (2 * cost / (m - n))), False


def _message(fit):
    text = f"Rprop: {fit.rprop.message}"
    if fit.polish is not None:
        verdict = "kept" if fit.polished else "discarded (it did not lower the cost)"
        text += (f" Polish (least_squares 'trf'): {fit.polish.message} The polished point "
                 f"was {verdict}.")
    if fit.rounds > 1:
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
    **options: Any,
) -> tuple:
    """Use non-linear least squares, minimized by Rprop, to fit a function f to data.

    The call and the returns are those of `scipy.optimize.curve_fit`. The sum
    of squares (or of a robust loss of the residuals) is minimized by
    `minimize_rprop`, which follows only the signs of its gradient and so
    copes with parameters of very different scales and with starts far from
    the solution; a final polish by `scipy.optimize.least_squares` then
    settles the last digits (see Notes).

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
        Follow Rprop with `scipy.optimize.least_squares` (method 'trf', the
        same loss, bounds and Jacobian) from Rprop's point, keeping the
        polished point only if its cost is not higher; where neither run
        converges, the two take turns (see Notes). Default True.
    **options
        Passed to each run of `minimize_rprop`: ``variant``,
        ``initial_step``, ``maxiter`` (default here 2000 with the polish),
        ``maxfev`` (evaluations of the cost and its gradient), ``xtol``,
        ``ftol``, ``callback``, ...

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
        differences included) and ``njev``, calls of `jac`; ``nit``, Rprop's
        steps and ``rounds``, its runs (see Notes); ``status`` and
        ``message`` of Rprop's last run (the rule that stopped it);
        ``polish``, the last `least_squares` result (or None) and
        ``polished``, whether `popt` is its point.
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
        If neither Rprop nor the polish converged (in the last round).

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
    can collapse; trust-region Gauss-Newton steps converge quadratically near
    the minimum and follow such valleys. Hence the polish, as
    `scipy.optimize.differential_evolution` polishes with L-BFGS-B: Rprop
    runs for up to 2000 steps, `least_squares` goes on from its point, and
    where neither has converged Rprop starts afresh from the better point,
    for at most 10 rounds while the cost falls. On the 27 NIST StRD problems
    from both starts (``benchmarks/nist.py``, ``docs/nist_table.md``), 53 of
    the 54 cases reach 6 correct digits with the polish, 26 with Rprop alone
    (10000 steps) and 28 with `scipy.optimize.curve_fit`; the polish also
    takes a third of the time of Rprop alone.

    Rprop's runs stop on step sizes (``xtol``), not on the cost (its ftol
    rule is off by default): near the minimum the cost stops resolving the
    last digits of the parameters (their effect is below its rounding error)
    while the signs of the gradient still point the way. On NIST's ENSO an
    ftol rule at the rounding level would leave 6.8 and 6.6 correct digits
    instead of 8.0 and 7.3.

    Finite differences default to the central ``'3-point'`` scheme with steps
    of ``eps**(1/3) * |p|``: the gradient contributes only its signs, and near
    the minimum these depend on the accuracy of the Jacobian. With
    ``'2-point'`` differences 49 of the 54 NIST cases reach 6 digits, against
    53 with ``'3-point'``.

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
    n = _parameter_count(f) if p0 is None else np.atleast_1d(p0).size
    lb, ub = _bounds_arrays(bounds, n)
    p0 = _feasible_start(lb, ub) if p0 is None else np.atleast_1d(np.asarray(p0, dtype=float))
    if np.any((p0 < lb) | (p0 > ub)):
        raise ValueError("`p0` is infeasible: it lies outside the bounds.")
    if check_finite is None:
        check_finite = nan_policy is None
    xdata, ydata, sigma = _prepare_data(xdata, ydata, sigma, check_finite, nan_policy)
    loss_fn = _loss_function(loss)
    res = _Residuals(f, xdata, ydata, _transform(sigma, ydata.size), jac, _fd_scheme(jac),
                     loss_fn, float(f_scale), (lb, ub))

    if polish:
        options.setdefault("maxiter", MAXITER)
    fit = _search(res, p0, polish, loss, f_scale, options)
    mesg = _message(fit)
    if not fit.converged:
        raise RuntimeError("Optimal parameters not found: " + mesg)

    x, r = fit.x, res(fit.x)
    pcov, warn = _covariance(res.scaled_jacobian(x, r), fit.cost, r.size, n, absolute_sigma)
    if warn:
        warnings.warn("Covariance of the parameters could not be estimated",
                      category=OptimizeWarning, stacklevel=2)
    if not full_output:
        return x, pcov
    infodict = dict(fvec=r, cost=fit.cost, nfev=res.nfev, njev=res.njev, nit=fit.nit,
                    rounds=fit.rounds, status=fit.rprop.status, message=fit.rprop.message,
                    polish=fit.polish, polished=fit.polished)
    ier = fit.polish.status if fit.polished else _IER.get(fit.rprop.status, 0)
    return x, pcov, infodict, mesg, ier
