"""``minimize_rprop``: the front door of the sign method.

Checks every argument before the first evaluation (the options through
:mod:`signmin.rprop.options`), sets up the run's state, picks the driver
(compiled where the user's functions are numba's), runs the phases and builds
the `OptimizeResult`.
"""

from __future__ import annotations

import inspect
import os
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numba.core.dispatcher import Dispatcher
from numba.core.errors import TypingError
from scipy.optimize import Bounds, OptimizeResult, OptimizeWarning

from .. import _validate as V
from .._bounds import as_bounds_arrays
from .._numerics import REL_STEP_2POINT
from .._status import NONFINITE_AT_START, Status
from . import checkpoint as C
from . import kernel as K
from .drivers import compiled_loop, drive_in_chunks, run_python
from .journal import Journal
from .objective import (
    JAC_2POINT,
    JAC_3POINT,
    JAC_CALLABLE,
    JAC_WITH_FUN,
    evaluator,
    fd_max_calls,
    jac_calls,
)
from .options import FTOL, check_options, initial_step_array, new_run, scale_and_step
from .phases import run_phases

__all__ = ["minimize_rprop"]


def minimize_rprop(
    fun: Callable[..., Any],
    x0: Any,
    args: tuple = (),
    jac: Callable[..., Any] | bool | str | None = None,
    bounds: Bounds | Sequence[tuple[float | None, float | None]] | None = None,
    callback: Callable[..., Any] | None = None,
    *,
    variant: str = "irprop+",
    initial_step: float | Sequence[float] | None = None,
    etas: tuple[float, float] = (0.5, 1.2),
    step_sizes: tuple[float, float] = (0.0, np.inf),
    maxiter: int = 100_000,
    maxfev: int | None = None,
    xtol: float | None = None,
    ftol: float = FTOL,
    gtol: float = 0.0,
    stall_window: int | None = None,
    polish: bool | str = True,
    accelerate: bool = True,
    until_bracketed: bool = False,
    tol: float | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: float = 60.0,
    resume: str | os.PathLike | None = None,
    driver: str = "auto",
    disp: bool = False,
    hess: Any = None,
    hessp: Any = None,
    constraints: Any = (),
    **unknown_options: Any,
) -> OptimizeResult:
    """Minimize a function of several variables with resilient backpropagation (Rprop).

    Each variable has its own step size, which grows while its partial
    derivative keeps its sign and shrinks when the sign flips; the variable
    moves by its step against that sign. Only the signs of the derivatives are
    used, never their magnitudes, so gradients that explode, vanish or change
    scale by orders of magnitude do not stall the method. Usable directly and
    as ``scipy.optimize.minimize(fun, x0, method=minimize_rprop, ...)``.

    Parameters
    ----------
    fun : callable
        ``fun(x, *args) -> float``, the objective; with ``jac=True`` it returns
        ``(f, g)``. A numba ``@njit`` function (and jac) runs the whole loop
        compiled (see `driver`).
    x0 : array_like, shape (n,)
        Starting point; real numbers, finite. Never modified.
    args : tuple, optional
        Extra arguments passed to `fun` and `jac`.
    jac : callable, True, {'2-point', '3-point'} or None, optional
        ``jac(x, *args) -> array, shape (n,)``; ``True`` if `fun` returns the
        gradient too; otherwise finite differences (``None`` means
        ``'2-point'``) that never step outside `bounds`.
    bounds : `scipy.optimize.Bounds` or sequence of (min, max), optional
        Box constraints; ``None`` in a pair means unbounded. Iterates and
        finite-difference points never leave the box; an `x0` outside it is
        clipped into it with an `OptimizeWarning`.
    callback : callable, optional
        Called after every step as ``callback(intermediate_result)`` with an
        `OptimizeResult` holding ``x`` and ``fun`` of the new iterate, or as
        ``callback(xk)`` if its one parameter has another name (as in SciPy).
        Raising ``StopIteration`` ends the run (``status`` 99).
    variant : {'irprop+', 'irprop-', 'rprop+', 'rprop-'}, optional
        The update rule on a sign change (see Notes). Default ``'irprop+'``:
        in the robustness benchmark (``benchmarks/robustness.py``, 43
        problems) it solves the most (36, tied with ``'irprop-'`` and
        ``'rprop-'``; ``'rprop+'`` 35) at the lowest cost (a geometric mean
        of 66 evaluations to solve, against 77 to 96), as Igel & Hüsken found.
    initial_step : float or array_like, shape (n,), optional
        The initial step size Δ0 (``lr`` in ``torch.optim.Rprop``), clamped to
        `step_sizes`. Default: ``0.1 * scale`` per variable, where ``scale`` is
        the smaller of ``|x0_i|`` and the width of the bounds where ``x0_i``
        is not 0 (an infinite width left out), and the smaller of 1 and the
        width where it is: a loose box never makes the first step larger than
        an unbounded run's. A previous result's ``step_size`` warm-starts a
        new run.
    etas : (float, float), optional
        ``(eta_minus, eta_plus)`` with ``0 < eta_minus < 1 < eta_plus``: the
        factors that shrink and grow the step sizes.
    step_sizes : (float, float), optional
        ``(min, max)`` for the step sizes, ``0 <= min <= max``.
    maxiter : int, optional
        Maximum number of steps (each costs one evaluation of f and g).
    maxfev : int, optional
        Maximum number of calls of `fun`, finite differences included.
    xtol : float, optional
        Stop when every step size is at most ``xtol * max(|x_i|, scale_i)``
        (variables with no gradient information, an exactly zero or
        bound-blocked partial derivative, do not count). With finite
        differences it is at least ``sqrt(eps)``: below their own step their
        signs are noise. This is the
        rule the method trusts: near a minimum the signs flip and the steps
        halve. Default ``1e-10``, and ``1e-8`` with ``accelerate=True,
        polish=False``: a sign method gains about one bit of x per two steps,
        and the last seven bits to 1e-10 cost that mode a third of its
        evaluations (the median over the MGH problems of
        ``benchmarks/robustness.py``, 13.8x BFGS's evaluations at stop
        instead of 9.3x) for a median relative gap to the best value,
        ``(f - f*) / (f(x0) - f*)``, of 1e-20 instead of 1e-16 over the
        problems it solves (48, the same at both).
    ftol : float, optional
        Stop when f at each of the last 10 iterates lies within
        ``ftol * |f_best|`` of the best value while no step size grew: f is at
        its noise floor. (A search that overshoots sees larger values; a march
        across a flat region, where f does not change but the steps grow, goes
        on.) Off (0) by default: f stops telling points apart at about
        ``sqrt(ftol)`` relative distance from a minimum, while the signs of an
        exact gradient still tell the way for several more digits.
    gtol : float, optional
        Stop when every component of the projected gradient is at most
        `gtol` in absolute value. With the default 0 only an exactly zero
        projected gradient stops the run (Rprop cannot move from there):
        gradient magnitudes are exactly what this method does not trust.
    stall_window : int, optional
        Stop when the best f has not improved for this many steps (status
        ``NO_PROGRESS``, a success: f comparisons only, so every invariance
        holds). Until f first improves on f(x0) the window is n times longer:
        a run may climb before it descends. Default ``100 + 20 * n`` (see
        `default_stall_window` for the measurements); 0 switches the rule off.
    polish : bool, 'BFGS' or 'L-BFGS-B', optional
        Finish with a method that trusts the gradient's magnitude (``True``:
        dense BFGS up to 250 variables, with an active-set rule for bounds;
        L-BFGS-B above, in variables scaled by ``max(|x_i|, scale_i)``), and
        let the sign phase check its point: it runs from there until a rule
        of its own stops it, so a gradient the finish should not trust
        (mis-scaled, vanishing) costs evaluations, not the solve. Without
        bounds, up to 250 variables, the finish starts at x0 (a model's own
        start is usually in the basin); with bounds, above 250 variables, or
        where that finish stopped short of a minimum,
        the sign phase first runs until every variable's partial derivative
        has changed sign (the minimum is bracketed) and the finish starts
        from the best point. After a finish that lowered f, the last sign
        phase first stops at an xtol of 1e-8, and goes on only if it had to
        move the finish's point by more than 1000 of its first steps (the
        finish stopped short). A non-finite value inside the finish ends the
        finish, not the run. Counts, budgets, bounds and callbacks cover all
        phases. On by default: measured on 33 Moré-Garbow-Hillstrom problems
        and the seed family plain and shifted (``benchmarks/robustness.py``),
        it solves 30/33 and 20/20 (BFGS with ``gtol=0``: 30/33, 20/20) at
        1.4x BFGS's evaluations at stop, against 37x for the pure sign method;
        with each gradient component mis-scaled by up to 1e6 it still solves
        28/33, where BFGS and L-BFGS-B solve 0-1; on real models (statsmodels
        and scikit-learn objectives, ``benchmarks/real_models.py``) see
        ``benchmarks/RESULTS.md``. The trajectory is then no longer invariant
        under gradient rescaling: ``polish=False`` (and ``accelerate=False``)
        give the textbook method.
    accelerate : bool, optional
        Pattern moves (Hooke & Jeeves): now and then the net displacement of
        the recent steps, counted from where the last move that gained
        started, is tried again from the best point, doubled while f keeps
        falling. Decided by f comparisons alone, so the iterates keep every
        invariance of the sign method. On by default: without the polish it
        solves 28/33 MGH problems instead of 26/33 (and all 20 of the seed
        family, plain and shifted) at 9.3x BFGS's evaluations at stop
        (median) instead of 37x, 14.1x of it from the pattern moves and the
        rest from this mode's `xtol`; with the polish it costs the same on
        exact gradients (1.4x BFGS) and keeps 28/33 instead of 26/33 solved
        with mis-scaled ones, at 1,394 instead of 2,767 evaluations (median).
    until_bracketed : bool, optional
        Stop as soon as every variable's partial derivative has changed sign
        at least once (status ``BRACKETED``): the basin is found, for a
        finish of your own.
    tol : float, optional
        Sets `xtol` and `ftol` where they are not given
        (``scipy.optimize.minimize`` passes its ``tol`` here).
    checkpoint : str or path-like, optional
        Write the run's whole state to this file every `checkpoint_every`
        seconds (NumPy's ``.npz``; to a temporary file, flushed, then
        renamed: a crash while writing leaves the previous checkpoint as it
        was). With a polish (the default) the finish's state lives inside
        its line search, so the file holds what the run learned instead:
        where each sign phase ended and every evaluation of the finish
        (n + 1 numbers each); `resume` replays them without calling `fun`.
    checkpoint_every : float, optional
        Seconds between two checkpoints (default 60; 0 writes one after
        every step).
    resume : str or path-like, optional
        A checkpoint of this same run (the same `fun` is assumed; x0,
        bounds and options are checked, and another run's checkpoint, or
        another version's, is refused with ``ValueError``): the run goes on
        from where it was saved, to exactly the result, counts included, it
        would have reached without the stop. Checkpoints of
        :class:`signmin.Rprop` with the same options resume here too.
    driver : {'auto', 'python', 'compiled'}, optional
        ``'auto'`` runs compiled when `fun` (and a callable `jac`) are numba
        dispatchers and no `callback` is given (a callback is Python code);
        ``'compiled'`` insists and raises ``ValueError`` where it cannot.
    disp : bool, optional
        Print the final message and counts.
    hess, hessp : optional
        Accepted for ``scipy.optimize.minimize`` and ignored.
    constraints : optional
        Only an empty value is accepted; use `bounds` for box constraints.

    Returns
    -------
    res : OptimizeResult
        ``x``, ``fun`` and ``jac`` of the best point seen (Rprop's iterates
        may go uphill); ``nit``, the number of steps (of every phase);
        ``nfev`` and ``njev``, the numbers of calls of `fun` and `jac` (a
        point where no variable moved is not evaluated twice); ``status``,
        ``success`` and ``message``, the rule that ended the run, a
        `signmin.Status` (0 gtol, 1 xtol, 2 ftol, 6 no further progress,
        7 bracketed: successes; 3 maxiter, 4 maxfev, 5 a non-finite value,
        99 the callback); ``step_size``, the final step sizes.

    Raises
    ------
    KeyboardInterrupt, or the exception `fun`, `jac` or `callback` raised
        Unchanged, and carrying the run's result so far as its ``result``
        attribute (the best point of every phase, the counts, status 98),
        once a point was evaluated.

    Notes
    -----
    With g the current partial derivative and g' the stored one, each step
    size Δ becomes ``min(Δ*eta_plus, max)`` when g and g' have the same sign and
    ``max(Δ*eta_minus, min)`` when they differ; on a sign change

    - ``'rprop+'`` takes back the last step of that variable and sets g' = 0;
    - ``'irprop+'`` does the same, but takes the step back only if f went up;
    - ``'rprop-'`` moves by the shrunken step;
    - ``'irprop-'`` sets g' = 0 and does not move that variable
      (``torch.optim.Rprop``);

    otherwise the variable moves by ``-sign(g) * Δ`` and g' = g. Signs are
    compared, not products, so the iterates are invariant under any positive
    scaling of each partial derivative.

    Two numerical safeguards go beyond the papers: a variable that the bounds
    hold while its derivative pushes outwards keeps its step size (it would
    otherwise grow without end), and a shrinking step never falls below
    ``eps * max(|x_i|, scale_i)`` (a step of 0 could never grow again).
    Finite differences take steps relative to ``max(|x_i|, scale_i)``; where
    f does not change at all over such a step, the difference is taken once
    more at SciPy's scale ``max(|x_i|, 1)``.

    ``scipy.optimize.minimize`` turns ``jac='3-point'`` into ``None`` for
    custom methods; call `minimize_rprop` directly for three-point
    differences.

    References
    ----------
    .. [1] M. Riedmiller and H. Braun, "A direct adaptive method for faster
       backpropagation learning: the RPROP algorithm", IEEE International
       Conference on Neural Networks, 1993, pp. 586-591.
    .. [2] C. Igel and M. Hüsken, "Improving the Rprop learning algorithm",
       Proceedings of the Second International ICSC Symposium on Neural
       Computation (NC 2000), pp. 115-121.
    .. [3] C. Igel and M. Hüsken, "Empirical evaluation of the improved Rprop
       learning algorithms", Neurocomputing 50, 2003, pp. 105-123.

    Examples
    --------
    A function whose gradient vanishes far from its minimum, where a
    gradient-norm test stops other methods at the start:

    >>> import numpy as np
    >>> from signmin import minimize_rprop
    >>> fun = lambda x: 1e-8 * np.sum(x**2)
    >>> jac = lambda x: 2e-8 * x
    >>> res = minimize_rprop(fun, [3.0, -2.0], jac=jac)
    >>> res.success, bool(np.all(np.abs(res.x) < 1e-6))
    (True, True)

    The same through SciPy:

    >>> from scipy.optimize import minimize, rosen, rosen_der
    >>> res = minimize(rosen, [1.3, 0.7, 0.8], method=minimize_rprop,
    ...                jac=rosen_der)
    >>> np.allclose(res.x, 1.0, atol=1e-6)
    True
    """
    if unknown_options:
        warnings.warn(f"Unknown solver options: {', '.join(sorted(unknown_options))}",
                      OptimizeWarning, stacklevel=2)
    if constraints is not None and not _is_empty(constraints):
        raise ValueError("constraints are not supported by minimize_rprop; "
                         "only bounds are")
    if callback is not None and not callable(callback):
        raise TypeError("callback must be callable or None")
    if not callable(fun):
        raise TypeError("fun must be callable")
    x0 = V.x0_array(x0)
    n = x0.size
    if not isinstance(args, tuple):
        args = (args,)
    jac_mode = _jac_mode(jac)
    lower, upper = as_bounds_arrays(bounds, n)
    options = check_options(
        n, variant=variant, etas=etas, step_sizes=step_sizes, maxiter=maxiter, maxfev=maxfev,
        xtol=xtol, ftol=ftol, gtol=gtol, tol=tol, stall_window=stall_window, polish=polish,
        accelerate=accelerate, until_bracketed=until_bracketed)
    saved, every = _checkpoint_arguments(checkpoint, checkpoint_every, resume)
    if not isinstance(driver, str) or driver not in ("auto", "python", "compiled"):
        raise ValueError(f"driver must be 'auto', 'python' or 'compiled', got {driver!r}")
    try:
        disp = bool(disp)
    except (TypeError, ValueError):
        raise TypeError(f"disp must be true or false, got {type(disp).__name__}") from None
    compiled = _use_compiled(driver, fun, jac, jac_mode, callback)
    # (As a checkpoint records it, before _start clips it into the bounds; only then:
    # at large n every copy of x counts.)
    checkpointing = checkpoint is not None or saved is not None
    x0_given = x0.copy() if checkpointing else None
    run, fd_lower, fd_upper = _start(x0, lower, upper, initial_step, jac, jac_mode, options)
    journal = None
    if saved is not None:
        C.check_same_run(run, x0_given, saved, resume, options.finish)
        if options.finish is None:
            run = saved.run
            if saved.status is not None:  # (an ended Rprop's checkpoint)
                return _result(run, Status(saved.status), saved.f)
        else:
            # The default mode starts anew and replays what the checkpoint's
            # run learned (see signmin.rprop.journal).
            journal = Journal.from_file(os.fspath(resume), *saved.journal,
                                        K.run_arrays(saved.run))
    if journal is None and checkpointing and options.finish is not None:
        journal = Journal(None, K.options_of(run))
    between = None
    if checkpoint is not None:
        between = C.Every(every, lambda: C.write(
            checkpoint, run, x0_given, None, np.nan, options.finish,
            None if journal is None else journal.to_file()))
    if journal is not None:
        journal.save = between
    evaluate = evaluator(jac_mode, compiled=False, fun=fun, jac=jac, args=args,
                         lower=fd_lower, upper=fd_upper, x_scale=run.scale)
    new_style = _is_new_style(callback)

    def run_phases_with(tell, drive):
        if journal is None:
            return run_phases(run, tell, drive, evaluate, options.finish, lower, upper,
                              callback, new_style)
        return run_phases(run, tell, lambda run, tell: journal.drive(drive, run, tell),
                          lambda x: journal.evaluate(evaluate, x), options.finish, lower,
                          upper, journal.quiet(callback), new_style)

    def run_all():
        if compiled:
            drive_compiled = _compiled_drive(fun, jac, jac_mode, args, fd_lower, fd_upper,
                                             between)
            try:
                return run_phases_with(K.tell_for(run.spec), drive_compiled)
            except TypingError as exc:
                if driver == "compiled":
                    raise TypeError(
                        "driver='compiled': numba could not compile the loop around fun"
                        f"{'' if jac_mode != JAC_CALLABLE else ' and jac'} (does fun return a "
                        "float, and jac a 1-D float array of x's length?):\n" + str(exc)
                    ) from None
                # The Python loop checks what the user's functions return and says
                # which one is wrong; nothing was evaluated yet.
        return run_phases_with(
            K.tell_of(run),
            lambda run, tell: run_python(evaluate, run, tell, callback, new_style, between))

    try:
        status, f = run_all()
    except BaseException as exc:
        # Ctrl-C, or the user's own exception: it goes on unchanged (so that a
        # caller such as basinhopping stops too), with the run's result on it.
        _hand_over(exc, run)
        raise
    res = _result(run, Status(status), f)
    if disp:
        print(f"{res.message}\n         Current function value: {res.fun:.6g}\n"
              f"         Iterations: {res.nit}\n         Function evaluations: {res.nfev}\n"
              f"         Gradient evaluations: {res.njev}")
    return res


def _start(x0, lower, upper, initial_step, jac, jac_mode, options):
    """The run's state at ``x0`` (clipped into the bounds), and the bounds its finite
    differences keep to (None for the other forms of jac)."""
    n = x0.size
    bounded = lower is not None
    if bounded:
        outside = (x0 < lower) | (x0 > upper)
        if outside.any():
            # One text for every call: Python's default filter then shows it
            # once per call site, not once per start of a global search.
            warnings.warn("x0 lies outside the bounds; it was clipped into them",
                          OptimizeWarning, stacklevel=3)
            np.clip(x0, lower, upper, out=x0)
    if initial_step is None:
        x_scale, step0 = scale_and_step(x0, lower, upper)
    else:
        x_scale, _ = scale_and_step(x0, lower, upper)
        step0 = initial_step_array(initial_step, n)
    xtol = options.xtol
    if jac_mode >= JAC_2POINT:
        # Finite differences cannot place a minimum closer than their own
        # step's reach: below it their signs are noise, so xtol stops there.
        xtol = max(xtol, REL_STEP_2POINT) if xtol > 0.0 else xtol
        fd_lower = lower if bounded else np.full(n, -np.inf)
        fd_upper = upper if bounded else np.full(n, np.inf)
        eval_cost = 1 + fd_max_calls(fd_lower, fd_upper, jac_mode)
    else:
        fd_lower = fd_upper = None
        eval_cost = 1
    if options.maxfev < eval_cost:
        # The first evaluation alone would pass maxfev.
        raise ValueError(f"maxfev must be at least {eval_cost}, the calls of fun that one "
                         f"evaluation takes with jac={jac!r}; got {options.maxfev}")
    calls_finite, calls_nonfinite = jac_calls(jac_mode)
    run = new_run(options._replace(xtol=xtol), x0=x0, lower=lower, upper=upper, scale=x_scale,
                  step0=step0, eval_cost=eval_cost, jac_calls=calls_finite,
                  jac_calls_nonfinite=calls_nonfinite)
    return run, fd_lower, fd_upper


def _compiled_drive(fun, jac, jac_mode, args, fd_lower, fd_upper, between=None):
    """``drive(run, tell)`` for the compiled loop around numba's ``fun`` and ``jac``."""
    loop = compiled_loop(evaluator(jac_mode, compiled=True))
    # jac is a placeholder unless callable: numba needs a function there.
    jac_arg = jac if jac_mode == JAC_CALLABLE else fun
    fd_lo = fd_lower if fd_lower is not None else _NO_BOUNDS
    fd_hi = fd_upper if fd_upper is not None else _NO_BOUNDS

    def drive(run, tell):
        return drive_in_chunks(lambda max_steps: loop(
            tell, fun, jac_arg, args, run.state, fd_lo, fd_hi, jac_mode == JAC_3POINT,
            max_steps), between)

    return drive


_NO_BOUNDS = np.empty(0)


def _checkpoint_arguments(checkpoint, every, resume):
    """The checkpoint to resume (or None) and the seconds between checkpoints, checked
    before anything is evaluated."""
    for name, value in (("checkpoint", checkpoint), ("resume", resume)):
        if value is not None and not isinstance(value, (str, os.PathLike)):
            raise TypeError(f"{name} must be a path (str or os.PathLike) or None, "
                            f"got {type(value).__name__}")
    every = V.real("checkpoint_every", every)
    if not every >= 0.0:
        raise ValueError(f"checkpoint_every must be >= 0 seconds, got {every}")
    return (None if resume is None else C.read(resume)), every


def _hand_over(exc, run):
    """Give ``exc`` the result of ``run`` so far, as its ``result``, and a note that says so;
    nothing if no point was evaluated (or the exception takes no attributes)."""
    if K.best(run) is None:
        return
    try:
        exc.result = _result(run, Status.INTERRUPTED, np.nan)
    except AttributeError:  # pragma: no cover - an extension type without a __dict__
        return
    if hasattr(exc, "add_note"):  # (Python >= 3.11)
        exc.add_note("signmin.minimize_rprop: the best point before this exception, its "
                     "value, gradient and the counts are in the exception's `result` "
                     "attribute (an OptimizeResult, status 98).")


def _result(run, status, f):
    """The OptimizeResult of a finished run; it takes over the run's arrays."""
    nit, nfev, njev = K.counts(run)
    best = K.best(run)
    if best is None:
        # Nothing finite was seen: report the start (never moved) and what it gave.
        x, fun = K.current_x(run).copy(), f
        jac = np.full(x.size, np.nan)
        message = NONFINITE_AT_START
    else:
        x, fun, jac = best
        message = status.message
    return OptimizeResult(
        x=x, fun=fun, jac=jac, nit=nit, nfev=nfev, njev=njev, status=int(status),
        success=status.success, message=message, step_size=K.step_size(run))


def _is_dispatcher(obj):
    return isinstance(obj, Dispatcher)


def _use_compiled(driver, fun, jac, jac_mode, callback):
    if driver == "python":
        return False
    possible = _is_dispatcher(fun) and (jac_mode != JAC_CALLABLE or _is_dispatcher(jac))
    if driver == "compiled":
        if not possible:
            raise ValueError("driver='compiled' needs fun (and a callable jac) to be "
                             "numba @njit functions")
        if callback is not None:
            raise ValueError("driver='compiled' cannot call a Python callback; "
                             "use driver='python' or drop the callback")
        return True
    return possible and callback is None


def _is_new_style(callback):
    if callback is None:
        return True
    try:
        return set(inspect.signature(callback).parameters) == {"intermediate_result"}
    except (TypeError, ValueError):
        return False


def _is_empty(constraints):
    if isinstance(constraints, dict):
        return False
    try:
        return len(constraints) == 0
    except TypeError:
        return False


def _jac_mode(jac):
    if callable(jac):
        return JAC_CALLABLE
    if jac is True:
        return JAC_WITH_FUN
    if jac is None or jac is False or (isinstance(jac, str) and jac == "2-point"):
        return JAC_2POINT
    if isinstance(jac, str) and jac == "3-point":
        return JAC_3POINT
    raise ValueError(f"jac must be callable, True, None, '2-point' or '3-point', got {jac!r}")
