"""``curve_fit_many``: one model fitted to many data sets, compiled over all cores, or on dask."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numba
import numpy as np
from scipy.optimize import Bounds, OptimizeWarning

from .. import _validate as V
from .._status import Status
from ..rprop import kernel as K
from ..rprop.options import (
    INITIAL_STEP_FRACTION,
    XTOL,
    check_options,
    fill_scale_and_step,
    new_run,
)
from . import batch
from .common import (
    BRACKET_OPTIONS,
    MAXITER,
    bounds_arrays,
    feasible_start,
    is_dispatcher,
    parameter_count,
)
from .curve_fit import curve_fit

__all__ = ["ManyFits", "curve_fit_many"]

#: The Rprop options `curve_fit_many` passes on, and their defaults (those of `curve_fit`).
OPTION_DEFAULTS = {"variant": "irprop+", "etas": (0.5, 1.2), "step_sizes": (0.0, np.inf),
                 "maxiter": MAXITER, "xtol": XTOL, "stall_window": None}
#: What least_squares' ``ier`` (from `curve_fit`'s full output) says, as a Status.
_FROM_IER = {1: Status.GTOL, 2: Status.FTOL, 3: Status.XTOL, 4: Status.XTOL}


class ManyFits:
    """The result of `curve_fit_many`: one row per data set.

    Attributes
    ----------
    popt : ndarray, shape (m, n)
        The best parameters found for each data set.
    pcov : ndarray, shape (m, n, n)
        Their estimated covariances, as `curve_fit` computes them (inf where it
        cannot be estimated).
    cost : ndarray, shape (m,)
        ``0.5 * sum(r**2)`` of the weighted residuals at `popt` (inf where no
        finite value was seen).
    status : ndarray of int, shape (m,)
        The rule that ended each fit, a `signmin.Status` code: ``XTOL``,
        ``FTOL`` or ``GTOL`` when it converged; ``MAXITER``, ``NONFINITE``
        (no finite residuals) otherwise.
    nfev, njev : ndarray of int, shape (m,)
        Calls of the model (finite differences included) and of `jac` per fit.

    Unpacking gives ``popt, pcov``, as `curve_fit` returns them. With dask
    inputs every array is a lazy dask array; :meth:`compute` computes them all
    in one pass over the data.
    """

    __slots__ = ("popt", "pcov", "cost", "status", "nfev", "njev")

    def __init__(self, popt, pcov, cost, status, nfev, njev):
        self.popt, self.pcov, self.cost = popt, pcov, cost
        self.status, self.nfev, self.njev = status, nfev, njev

    def __iter__(self):
        return iter((self.popt, self.pcov))

    @property
    def success(self):
        """Whether each fit converged (its `status` is a success)."""
        return np.isin(self.status, [int(s) for s in Status if s.success])

    @property
    def perr(self):
        """One standard deviation of each parameter, ``sqrt(diag(pcov))``, shape (m, n)."""
        return np.sqrt(np.diagonal(self.pcov, axis1=-2, axis2=-1))

    @property
    def lazy(self):
        """Whether the arrays are dask arrays (not computed yet)."""
        return not isinstance(self.popt, np.ndarray)

    def compute(self, **kwargs):
        """The computed result (all fields in one pass over the data); ``self`` if
        not lazy. Keywords go to ``dask.compute`` (``scheduler=...``)."""
        if not self.lazy:
            return self
        import dask

        return ManyFits(*dask.compute(*(getattr(self, name) for name in self.__slots__),
                                      **kwargs))

    def __repr__(self):
        m, n = self.popt.shape
        head = f"ManyFits: {m} fits of {n} parameters"
        if self.lazy:
            return f"{head} (lazy: dask arrays; .compute() runs them)"
        names = {int(s): s.name for s in Status}
        codes, counts = np.unique(self.status, return_counts=True)
        tally = ", ".join(f"{names.get(int(c), c)} {k}" for c, k in zip(codes, counts,
                                                                       strict=True))
        ok = int(np.count_nonzero(self.success))
        finite = self.cost[np.isfinite(self.cost)]
        costs = (f"; cost median {np.median(finite):.6g} [{finite.min():.6g}, "
                 f"{finite.max():.6g}]") if finite.size else ""
        return f"{head}; {ok} converged ({tally}){costs}"


def curve_fit_many(
    f: Callable[..., Any],
    xdata: Any,
    ydata: Any,
    p0: Any = None,
    sigma: Any = None,
    absolute_sigma: bool = False,
    bounds: Bounds | tuple[Any, Any] = (-np.inf, np.inf),
    jac: Callable[..., Any] | str | None = None,
    *,
    check_finite: bool = True,
    threads: int | None = None,
    **options: Any,
) -> ManyFits:
    """Fit one model to many data sets at once, each as `curve_fit` would.

    Parameters
    ----------
    f : callable
        The model, ``f(x, p1, p2, ...)`` as for `curve_fit`, returning an array
        of k values. A numba ``@njit`` function (with, if given, an ``@njit``
        `jac`) runs every fit compiled, spread over the cores; any other
        callable runs `curve_fit` on one data set after the other (the slow
        path, for checking).
    xdata : array_like, shape (k,) or (m, k)
        The independent variable, shared by all data sets or one row per set.
    ydata : array_like or dask array, shape (m, k)
        m data sets of k points each.
    p0 : array_like, shape (n,) or (m, n), optional
        The start, shared or one per set. If None, `curve_fit`'s default (ones,
        or the middle of finite bounds), n taken from the signature of `f`.
    sigma : None, scalar or array_like of shape (k,) or (m, k), optional
        Standard deviations of `ydata`, shared or per set (see `curve_fit`).
    absolute_sigma : bool, optional
        As in `curve_fit`: whether `pcov` takes `sigma` as absolute.
    bounds : 2-tuple of array_like or `scipy.optimize.Bounds`, optional
        Bounds on the parameters, shared by all fits.
    jac : callable, {'2-point', '3-point'} or None, optional
        ``jac(x, p1, p2, ...)``, the (k, n) Jacobian of the model (``@njit``
        for the compiled path), or the difference scheme of the accurate
        Jacobian (None: ``'3-point'``), as in `curve_fit`.
    check_finite : bool, optional
        Raise ``ValueError`` if the data hold NaN or inf (default). If False,
        such a data set ends with ``status`` NONFINITE and the others are
        fitted as usual.
    threads : int, optional
        Threads for the compiled path (numba's ``set_num_threads``); default
        all of numba's. The result does not depend on it.
    **options
        Options of the Rprop runs, as for `curve_fit`: ``variant``, ``etas``,
        ``step_sizes``, ``maxiter`` (default 200 a round), ``xtol``, ``stall_window``.

    Returns
    -------
    ManyFits
        ``popt`` (m, n), ``pcov`` (m, n, n), ``cost``, ``status``, ``nfev`` and
        ``njev`` (m,); ``popt, pcov = curve_fit_many(...)`` unpacks like
        `curve_fit`. Fits that did not converge are reported in ``status``
        (see ``ManyFits.success``), not raised.

    Notes
    -----
    Each fit is the one `curve_fit` makes (its default path): Rprop [1]_
    (iRprop+ [2]_) until every parameter's minimum is bracketed,
    Levenberg-Marquardt from there, one
    Gauss-Newton step with the accurate Jacobian where that point is stationary
    and determined; where Levenberg-Marquardt did not converge, the same from
    `p0` itself, as SciPy would; and otherwise the robust way (Rprop to its own
    stop and Levenberg-Marquardt, in rounds), and where its point is not vouched
    for, the finish once more with the parameters the residuals no longer see put
    back to `p0` (see `curve_fit`). Where Levenberg-Marquardt has not converged
    after eight iterations' worth of calls, its model of the cost adds the part
    of the Hessian that J^T J leaves out, learned from its steps (the structured
    secant update of NL2SOL [3]_), whenever that predicted the last step better
    (and the damped sum is positive definite; else the step is Gauss-Newton's):
    at a minimum with large residuals Gauss-Newton alone converges slowly. On
    the compiled path all of it runs in
    nopython mode, one fit per ``numba.prange`` task with its own state, so a
    row does not depend on the number of threads or on the other rows.
    `curve_fit` on the same ``@njit`` model runs this same compiled fit, so a
    row is what it returns on that data set, bit for bit.
    The compiled driver is cached on disk; a new model costs the compile of a
    small adapter around it.

    When `ydata` (or a per-set `xdata`, `p0` or `sigma`) is a dask array, the
    result holds dask arrays, computed lazily block by block of data sets on
    whatever scheduler is in use; each block runs the compiled path, so the
    numbers are those of the in-memory call. The dask scheduler's workers
    must be able to import the model's module (see the "Many fits" page).

    References
    ----------
    .. [1] M. Riedmiller and H. Braun, "A direct adaptive method for faster
       backpropagation learning: the RPROP algorithm", IEEE International
       Conference on Neural Networks, 1993, pp. 586-591.
    .. [2] C. Igel and M. Hüsken, "Empirical evaluation of the improved Rprop
       learning algorithms", Neurocomputing 50, 2003, pp. 105-123.
    .. [3] J. E. Dennis, D. M. Gay and R. E. Welsch, "An adaptive nonlinear
       least-squares algorithm", ACM Transactions on Mathematical Software 7,
       1981, pp. 348-368.

    Examples
    --------
    >>> import numba
    >>> import numpy as np
    >>> from signmin import curve_fit_many
    >>> @numba.njit
    ... def decay(x, a, b):
    ...     return a * np.exp(-b * x)
    >>> x = np.linspace(0, 4, 40)
    >>> rates = np.array([0.5, 1.0, 2.0])
    >>> y = 3.0 * np.exp(-rates[:, None] * x)
    >>> popt, pcov = curve_fit_many(decay, x, y, p0=[1.0, 1.0])
    >>> np.round(popt, 6)
    array([[3. , 0.5],
           [3. , 1. ],
           [3. , 2. ]])
    """
    unknown = set(options) - set(OPTION_DEFAULTS)
    if unknown:
        raise TypeError(f"curve_fit_many got unknown options: {', '.join(sorted(unknown))}")
    if _is_dask(ydata) or any(_is_dask(a) for a in (xdata, p0, sigma)):
        return _lazy(f, xdata, ydata, p0, sigma, absolute_sigma, bounds, jac, check_finite,
                     threads, options)
    problem = _Problem(f, xdata, ydata, p0, sigma, absolute_sigma, bounds, jac, check_finite,
                       options)
    return problem.solve(threads)


# --------------------------------------------------------------------------- validation


def _as_float(name, value, shapes):
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if not arr.flags.writeable:
        # The compiled driver is typed for writeable arrays (it never writes to these).
        arr = arr.copy()
    if arr.shape not in shapes:
        expected = " or ".join(str(s) for s in shapes)
        raise ValueError(f"{name} must have shape {expected}, got {arr.shape}")
    return arr


def _is_dask(obj):
    return type(obj).__module__.startswith("dask.")


class _Problem:
    """The checked inputs of one in-memory call, ready for either path."""

    def __init__(self, f, xdata, ydata, p0, sigma, absolute_sigma, bounds, jac, check_finite,
                 options):
        if not callable(f):
            raise TypeError("f must be callable")
        y = np.asarray(ydata)
        if y.ndim != 2:
            raise ValueError(f"ydata must have shape (m, k): m data sets of k points; got "
                             f"shape {y.shape}")
        m, k = y.shape
        self.y = _as_float("ydata", y, [(m, k)])
        self.x = _as_float("xdata", xdata, [(k,), (m, k)])
        n = parameter_count(f) if p0 is None else np.shape(p0)[-1] if np.ndim(p0) else 1
        self.lower, self.upper = bounds_arrays(bounds, n)
        if p0 is None:
            self.p0 = feasible_start(self.lower, self.upper)
        else:
            self.p0 = _as_float("p0", np.atleast_1d(p0), [(n,), (m, n)])
        if np.any((self.p0 < self.lower) | (self.p0 > self.upper)):
            raise ValueError("`p0` is infeasible: it lies outside the bounds.")
        if sigma is not None:
            sigma = np.asarray(sigma, dtype=np.float64)
            sigma = np.broadcast_to(sigma, (k,)) if sigma.ndim == 0 else sigma
        self.sigma = None if sigma is None else _as_float("sigma", sigma, [(k,), (m, k)])
        if check_finite:
            for name, arr in (("ydata", self.y), ("xdata", self.x), ("p0", self.p0),
                              ("sigma", self.sigma)):
                if arr is not None and not np.isfinite(arr).all():
                    raise ValueError(f"{name} must not hold NaN or inf (check_finite=False "
                                     "lets such data sets fail on their own)")
        if jac is not None and not callable(jac) and jac not in ("2-point", "3-point"):
            raise ValueError("`jac` must be callable, None, '2-point' or '3-point'.")
        self.f, self.jac, self.m, self.k, self.n = f, jac, m, k, n
        self.absolute_sigma = bool(absolute_sigma)
        self.options = {**OPTION_DEFAULTS, **options}
        self.given = set(options)
        self.compiled = is_dispatcher(f) and (not callable(jac) or is_dispatcher(jac))

    def solve(self, threads):
        if self.m == 0:
            n = self.n
            return ManyFits(np.empty((0, n)), np.empty((0, n, n)), np.empty(0),
                            *(np.empty(0, dtype=np.int64) for _ in range(3)))
        return self._compiled(threads) if self.compiled else self._one_by_one()

    # ----------------------------------------------------------------- the compiled path

    def _template(self, bracketing):
        """The kernel's state for every fit's bracketing run (``bracketing``) or robust
        rounds (each fit copies it). The bracketing run's steps grow by
        `curve_fit`'s factor unless ``etas`` are given."""
        o = self.options
        etas = o["etas"]
        if bracketing and "etas" not in self.given:
            etas = BRACKET_OPTIONS.get("etas", etas)
        options = check_options(
            self.n, variant=o["variant"], etas=etas, step_sizes=o["step_sizes"],
            maxiter=o["maxiter"], maxfev=None, xtol=o["xtol"], ftol=0.0, gtol=0.0, tol=None,
            stall_window=o["stall_window"], polish=False, accelerate=False,
            until_bracketed=True)
        bounded = np.isfinite(self.lower).any() or np.isfinite(self.upper).any()
        x0 = np.array(self.p0 if self.p0.ndim == 1 else self.p0[0])
        return new_run(options, x0=x0, lower=self.lower.copy() if bounded else None,
                       upper=self.upper.copy() if bounded else None,
                       scale=np.ones(self.n, dtype=np.float32),
                       step0=np.full(self.n, INITIAL_STEP_FRACTION), eval_cost=1, jac_calls=1,
                       jac_calls_nonfinite=1)

    def _compiled(self, threads):
        m, n = self.m, self.n
        run = self._template(bracketing=True)
        run_free = self._template(bracketing=False)
        # (The robust rounds run without the bracket rule, through the same tell.)
        K.stop_bracketing(run_free)
        with_jac = callable(self.jac)
        model = batch.model_adapter(self.f, n)
        jacobian = batch.jacobian_adapter(self.jac, n) if with_jac else batch.NO_JACOBIAN
        self._check_adapters(model, jacobian, with_jac)
        driver = batch.fit_all(numba.typeof(run.state))
        popt = np.empty((m, n))
        pcov = np.empty((m, n, n))
        cost = np.empty(m)
        # A row the driver did not finish keeps this status (see below).
        status = np.full(m, -1, dtype=np.int64)
        nfev, njev = np.empty(m, dtype=np.int64), np.empty(m, dtype=np.int64)
        sigma = np.empty((1, 0)) if self.sigma is None else np.atleast_2d(self.sigma)
        previous = numba.get_num_threads()
        if threads is not None:
            numba.set_num_threads(V.integer("threads", threads, minimum=1))
        try:
            driver(K.tell_of(run), K.tell_of(run_free),
                   run.state, run_free.state, model, jacobian, with_jac, self.jac != "2-point",
                   fill_scale_and_step, INITIAL_STEP_FRACTION, self.absolute_sigma,
                   np.atleast_2d(self.x), self.y, sigma,
                   np.atleast_2d(self.p0), self.lower, self.upper, popt, pcov, cost, status,
                   nfev, njev)
        finally:
            numba.set_num_threads(previous)
        if (status < 0).any():
            # An exception inside the parallel loop (in the model, say) cannot
            # leave it through the function pointers; it leaves its row unfinished.
            rows = np.flatnonzero(status < 0)
            raise RuntimeError(f"curve_fit_many: the fits of rows {rows[:10].tolist()} did not "
                               "finish (did f or jac raise an exception?)")
        self._warn_covariance(pcov, cost)
        return ManyFits(popt, pcov, cost, status, nfev, njev)

    def _check_adapters(self, model, jacobian, with_jac):
        """Compile the adapters around the user's functions and check what they
        return on the first data set, so that a wrong model fails here, with a
        Python exception, not inside the parallel loop."""
        from numba.core.errors import TypingError

        x = np.ascontiguousarray(self.x if self.x.ndim == 1 else self.x[0])
        p = np.ascontiguousarray(self.p0 if self.p0.ndim == 1 else self.p0[0])
        try:
            values = model(x, p)
            J = jacobian(x, p) if with_jac else None
        except TypingError as exc:
            raise TypeError("curve_fit_many: numba could not compile f(x, *p) (and jac): f "
                            "must be an @njit function of x and the n parameters returning "
                            f"k floats.\n{exc}") from None
        if values.shape != (self.k,):
            raise ValueError(f"f(x, *p0) must return an array of shape ({self.k},), one "
                             f"value per point; got shape {values.shape}")
        if with_jac and J.shape != (self.k, self.n):
            raise ValueError(f"jac(x, *p0) must return an array of shape ({self.k}, "
                             f"{self.n}); got shape {J.shape}")

    @staticmethod
    def _warn_covariance(pcov, cost):
        bad = np.isfinite(cost) & ~np.isfinite(pcov).all(axis=(1, 2))
        if bad.any():
            warnings.warn(f"Covariance of the parameters could not be estimated for "
                          f"{int(bad.sum())} of {cost.size} fits", OptimizeWarning,
                          stacklevel=4)

    # ----------------------------------------------------------------- the slow path

    def _one_by_one(self):
        """`curve_fit` on each data set in turn (a model numba cannot compile)."""
        m, n = self.m, self.n
        popt = np.full((m, n), np.nan)
        pcov = np.full((m, n, n), np.nan)
        cost = np.full(m, np.nan)
        status = np.empty(m, dtype=np.int64)
        nfev, njev = np.zeros(m, dtype=np.int64), np.zeros(m, dtype=np.int64)
        row = lambda a, i: a if a is None or a.ndim == 1 else a[i]  # noqa: E731
        options = {key: value for key, value in self.options.items()
                   if value != OPTION_DEFAULTS[key] or key == "maxiter"}
        for i in range(m):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", OptimizeWarning)
                try:
                    p, c, info, _, ier = curve_fit(
                        self.f, row(self.x, i), self.y[i], p0=row(self.p0, i),
                        sigma=row(self.sigma, i), absolute_sigma=self.absolute_sigma,
                        bounds=(self.lower, self.upper), jac=self.jac, full_output=True,
                        check_finite=False, **options)
                except RuntimeError as exc:
                    status[i] = next((int(s) for s in (Status.MAXITER, Status.MAXFEV,
                                                       Status.NONFINITE)
                                      if s.message in str(exc)), int(Status.MAXITER))
                    continue
            popt[i], pcov[i], cost[i] = p, c, info["cost"]
            status[i] = int(_FROM_IER.get(ier, Status.XTOL))
            nfev[i], njev[i] = info["nfev"], info["njev"]
        self._warn_covariance(pcov, cost)
        return ManyFits(popt, pcov, cost, status, nfev, njev)


# --------------------------------------------------------------------------- dask


def _fit_block(y, *per_set, names, shared, f, jac, absolute_sigma, bounds, check_finite,
               threads, options):
    """One block of data sets, in memory, packed into one float64 array per row:
    ``popt | pcov (flat) | cost | status | nfev | njev``."""
    inputs = dict(shared)
    inputs.update(zip(names, per_set, strict=True))
    fits = curve_fit_many(f, inputs["xdata"], y, inputs["p0"], inputs["sigma"], absolute_sigma,
                          bounds, jac, check_finite=check_finite, threads=threads, **options)
    m, n = fits.popt.shape
    return np.concatenate([fits.popt, fits.pcov.reshape(m, n * n), fits.cost[:, None],
                           fits.status[:, None], fits.nfev[:, None], fits.njev[:, None]],
                          axis=1)


def _lazy(f, xdata, ydata, p0, sigma, absolute_sigma, bounds, jac, check_finite, threads,
          options):
    """The dask adapter: one task per block of data sets, the compiled path in each."""
    import dask.array as da

    y = da.asarray(ydata)
    if y.ndim != 2:
        raise ValueError(f"ydata must have shape (m, k); got shape {y.shape}")
    y = y.rechunk({1: -1})
    m, k = y.shape
    n = parameter_count(f) if p0 is None else np.shape(p0)[-1] if np.ndim(p0) else 1
    rows = y.chunks[0]
    per_set, names, shared = [], [], {}
    for name, value, width in (("xdata", xdata, k), ("p0", p0, n), ("sigma", sigma, k)):
        if value is not None and np.ndim(value) == 2:
            arr = da.asarray(value)
            if arr.shape != (m, width):
                raise ValueError(f"{name} must have shape ({width},) or ({m}, {width}), got "
                                 f"{arr.shape}")
            per_set += [arr.rechunk((rows, -1)), "ik" if width == k else "ip"]
            names.append(name)
        else:
            shared[name] = None if value is None else np.asarray(value)
    width = n + n * n + 4
    packed = da.blockwise(
        _fit_block, "iq", y, "ik", *per_set, new_axes={"q": width}, concatenate=True,
        dtype=np.float64, meta=np.empty((0, 0)), names=tuple(names), shared=shared, f=f,
        jac=jac, absolute_sigma=absolute_sigma, bounds=bounds, check_finite=check_finite,
        threads=threads, options=options)
    popt = packed[:, :n]
    pcov = packed[:, n:n + n * n].reshape(m, n, n)
    cost = packed[:, n + n * n]
    status, nfev, njev = (packed[:, n + n * n + i].astype(np.int64) for i in (1, 2, 3))
    return ManyFits(popt, pcov, cost, status, nfev, njev)
