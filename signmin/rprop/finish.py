"""The finish phase: SciPy's L-BFGS-B from the best point, on the caller's counted evaluator.

Rprop finds the basin whatever the gradient's scale, but closes in on the minimum at a
linear rate. Once it is in the basin, a method that trusts the gradient's magnitude takes
the last digits in far fewer evaluations (measured for the issue "Fewer evaluations":
Rprop, then L-BFGS-B, then Rprop solves the Moré-Garbow-Hillstrom problems in 1.1x BFGS's
evaluations, against 11x for Rprop alone). The front door
decides when to call :func:`lbfgsb_finish` and what to do afterwards; this module only
runs L-BFGS-B on one budget and hands back the best point it saw.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from scipy.optimize import Bounds, OptimizeResult, minimize

__all__ = ["FinishResult", "lbfgsb_finish"]

#: Most evaluations in one line search (SciPy's default). A failed line search spends up to
#: this many, twice when L-BFGS-B first drops its curvature pairs and retries along -g; the
#: measured runs ended that way rarely (t**10), mostly on a zero gradient or a stalled f.
MAXLS = 20

MESSAGES = {
    "budget": "The evaluation budget of the finish is spent.",
    "nonfinite": "fun or jac returned a non-finite value; the result is the best finite point.",
    "callback": "`callback` raised `StopIteration`.",
    "breakdown": "L-BFGS-B asked for a non-finite point (its update broke down); not evaluated.",
    "steps": "Every step of the last iteration was within xtol relative to its variable.",
}


class FinishResult(NamedTuple):
    """What :func:`lbfgsb_finish` hands back (see there)."""

    x: np.ndarray
    f: float
    g: np.ndarray
    improved: bool
    evaluations: int
    iterations: int
    reason: str
    message: str


class Best:
    """The lowest point a finish has evaluated (``x``, ``f``, ``g``: the finish's own
    arrays). A caller that hands one in still holds the point if an exception from the
    user's function ends the finish."""

    __slots__ = ("x", "f", "g")

    def __init__(self) -> None:
        self.x, self.f, self.g = None, math.inf, None

    def offer(self, x: np.ndarray, f: float, g: np.ndarray) -> None:
        if f < self.f:
            self.x, self.f, self.g = x, f, g


class Stop(Exception):
    """Ends the L-BFGS-B run from inside its objective or callback."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def lbfgsb_finish(
    evaluate: Callable[[np.ndarray], tuple[float, np.ndarray | None]],
    x0: np.ndarray,
    f0: float,
    g0: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    x_scale: np.ndarray,
    *,
    max_evaluations: float,
    max_iterations: float,
    callback: Callable[..., object] | None = None,
    new_style_callback: bool = True,
    xtol: float = 0.0,
    best: Best | None = None,
) -> FinishResult:
    """Polish a point with L-BFGS-B within a budget of evaluations, keeping the best point.

    L-BFGS-B (``scipy.optimize.minimize(method='L-BFGS-B')``, with ``ftol = gtol = 0`` so
    that only its own failure to make progress, the budget or the callback stops it)
    runs in the scaled variables ``z = x / x_scale``, from `x0`, whose `f0` and `g0`
    answer its first request: `x0` is never evaluated again.

    Parameters
    ----------
    evaluate : callable
        ``evaluate(x) -> (f, g)``, the caller's counted evaluator of f and its gradient;
        ``g`` is None when ``f`` is not finite. Called once per point L-BFGS-B asks for,
        with a copy of ``x`` that lies in ``[lower, upper]``.
    x0 : ndarray, shape (n,)
        The start, inside ``[lower, upper]``; with `f0` (finite) and `g0` (finite), its
        value and gradient.
    f0 : float
    g0 : ndarray, shape (n,)
    lower, upper : ndarray, shape (n,)
        The box (infinite entries for none).
    x_scale : ndarray, shape (n,)
        Positive finite scale of each variable. L-BFGS-B's first step and its Hessian
        guess are the same in every direction; in scaled variables they fit a badly
        scaled problem (without the scaling it fails on Meyer's function).
    max_evaluations : int or inf
        Most calls of `evaluate`.
    max_iterations : int or inf
        Most L-BFGS-B iterations.
    callback : callable, optional
        Called after each iteration as ``callback(OptimizeResult(x=x, fun=f))``, or as
        ``callback(x)`` if `new_style_callback` is false, with a copy of the unscaled
        iterate. Raising ``StopIteration`` ends the finish.
    new_style_callback : bool, optional
        How `callback` is called (the front door tells from its signature).
    best : Best, optional
        Where the finish keeps its lowest point (a new one if not given): the
        caller's, so that an exception from `evaluate` does not take the point along.

    Returns
    -------
    FinishResult
        ``x``, ``f``, ``g``: the best point seen (strictly below `f0`), else copies of
        `x0`, `f0`, `g0`; ``improved``, whether there was one; ``evaluations``, the
        calls of `evaluate`; ``iterations``, the iterations completed; ``reason``, one of
        ``'converged'`` (L-BFGS-B's projected gradient exactly zero), ``'no progress'``
        (an iteration that did not lower f, a failed line search, or a non-finite point
        asked for, which is not evaluated), ``'budget'`` (`max_evaluations` or
        `max_iterations` reached), ``'nonfinite'`` (f or g not finite at a trial point,
        which never becomes the best) or ``'callback'``; ``message``, in words
        (L-BFGS-B's own when it stopped itself).

    Notes
    -----
    Measured with SciPy 1.17: L-BFGS-B's first request is bitwise the start it was handed,
    and with ``x_scale = 1`` the finish makes exactly one evaluation fewer than
    ``minimize(method='L-BFGS-B', options=dict(ftol=0, gtol=0))`` on the same problem,
    along the same iterates. Its usual end is one iteration whose f does not go down (one
    evaluation past the best); a failed line search costs up to ``MAXLS`` evaluations,
    twice when L-BFGS-B first drops its curvature pairs and retries.
    """
    x0, g0, lower, upper, x_scale = checked(x0, f0, g0, lower, upper, x_scale)
    scaled = _Scaled(evaluate, x0, float(f0), g0, lower, upper, x_scale, max_evaluations,
                     callback, new_style_callback, xtol, best)
    options = dict(
        ftol=0.0, gtol=0.0, maxls=MAXLS,
        # SciPy would stop only after an iteration completed, one line search too late; the
        # budget is enforced per evaluation by fun, so SciPy's count must never reach this.
        maxfun=np.iinfo(np.int32).max,
        # SciPy checks maxiter only after an iteration: 0 would still run one.
        maxiter=int(min(max_iterations, np.iinfo(np.int32).max)),
    )
    if max_iterations < 1:
        reason, message = "budget", "No iteration allowed."
    else:
        try:
            res = minimize(scaled.fun, scaled.z0, method="L-BFGS-B", jac=True,
                           bounds=Bounds(lower / x_scale, upper / x_scale),
                           callback=scaled.on_iteration, options=options)
        except Stop as stop:
            message = MESSAGES[stop.reason]
            reason = {"breakdown": "no progress", "steps": "converged"}.get(stop.reason,
                                                                           stop.reason)
        else:
            reason, message = _own_stop(res, lower / x_scale, upper / x_scale)
    best = scaled.best
    return FinishResult(x=best.x.copy(), f=best.f, g=best.g.copy(), improved=bool(best.f < f0),
                        evaluations=scaled.evaluations,
                        iterations=scaled.iterations, reason=reason, message=message)


def report(callback, new_style_callback, x, f):
    """Hand a finish's iterate to the user's callback (the new or the old style); its
    ``StopIteration`` ends the finish."""
    try:
        if new_style_callback:
            callback(OptimizeResult(x=x, fun=f))
        else:
            callback(x)
    except StopIteration:
        raise Stop("callback") from None


def checked(x0, f0, g0, lower, upper, x_scale):
    """The finish's arrays as new float arrays, checked."""
    x0 = np.array(x0, dtype=float)
    g0 = np.array(g0, dtype=float)
    lower, upper = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    x_scale = np.asarray(x_scale, dtype=float)
    if not (x0.shape == g0.shape == lower.shape == upper.shape == x_scale.shape):
        raise ValueError("x0, g0, lower, upper and x_scale must have the same shape")
    if not (math.isfinite(f0) and np.isfinite(g0).all()):
        raise ValueError("f0 and g0 must be finite")
    if not (np.all(x_scale > 0) and np.isfinite(x_scale).all()):
        raise ValueError("x_scale must be positive and finite")
    if not np.all((lower <= x0) & (x0 <= upper)):
        raise ValueError("x0 must lie within [lower, upper]")
    return x0, g0, lower, upper, x_scale


class _Scaled:
    """The caller's evaluator as L-BFGS-B sees it, in the scaled variables ``z = x / x_scale``:
    its counts, the best point seen, the caller's callback and the finish's own stops."""

    def __init__(self, evaluate, x0, f0, g0, lower, upper, x_scale, max_evaluations,
                 callback, new_style_callback, xtol, best):
        self.evaluate, self.lower, self.upper, self.x_scale = evaluate, lower, upper, x_scale
        self.max_evaluations, self.xtol = max_evaluations, xtol
        self.callback, self.new_style_callback = callback, new_style_callback
        self.z0 = self.z_prev = x0 / x_scale
        # L-BFGS-B first asks for the start it was handed, bit for bit (SciPy copies it and
        # clips it into bounds it already lies in); comparing bits, not values, can never
        # answer a different point from (f0, g0).
        self.z0_bits = self.z0.view(np.uint64)
        self.f0, self.gz0 = f0, g0 * x_scale
        self.best = Best() if best is None else best
        self.best.offer(x0, f0, g0)
        self.evaluations = 0
        self.iterations = 0

    def unscale(self, z: np.ndarray) -> np.ndarray:
        # Division by x_scale and multiplication back can round past a bound.
        return np.clip(np.asarray(z, dtype=float) * self.x_scale, self.lower, self.upper)

    def fun(self, z: np.ndarray) -> tuple[float, np.ndarray]:
        z = np.asarray(z, dtype=float)
        if np.array_equal(z.view(np.uint64), self.z0_bits):
            return self.f0, self.gz0.copy()
        if not np.isfinite(z).all():
            # Measured: once f underflows to 0 while g does not, L-BFGS-B's update divides
            # 0 by 0 and asks for a NaN point. Nothing is left to gain; the user never sees it.
            raise Stop("breakdown")
        if self.evaluations >= self.max_evaluations:
            raise Stop("budget")
        x = self.unscale(z)
        self.evaluations += 1
        # The evaluator may keep or modify its argument; x stays ours.
        f, g = self.evaluate(x.copy())
        f = float(f)
        if not math.isfinite(f) or g is None:
            raise Stop("nonfinite")
        g = np.array(g, dtype=float)  # a copy: the user may reuse the array returned
        if not np.isfinite(g).all():
            raise Stop("nonfinite")
        self.best.offer(x, f, g)
        return f, g * self.x_scale

    def on_iteration(self, intermediate_result: OptimizeResult) -> None:
        # SciPy calls this (its parameter name selects the new style) once per iteration.
        self.iterations += 1
        z = np.array(intermediate_result.x, dtype=float)
        if self.callback is not None:
            report(self.callback, self.new_style_callback, self.unscale(z),
                   float(intermediate_result.fun))
        # The sign phase's own rule on the finish's steps (the variables are scaled,
        # so a unit is each one's size): with a gradient L-BFGS-B should not trust, it
        # can otherwise chase an exact zero of f through hundreds of thousands of tiny
        # steps (measured: 108,390 evaluations on 1e-8 t^2 with a mis-scaled gradient).
        if np.all(np.abs(z - self.z_prev) <= self.xtol * np.maximum(np.abs(z), 1.0)):
            raise Stop("steps")
        self.z_prev = z


def _own_stop(res: OptimizeResult, lower: np.ndarray, upper: np.ndarray) -> tuple[str, str]:
    """The reason and message of a run that L-BFGS-B ended itself (bounds scaled)."""
    message = str(res.message)
    if res.status == 1:
        return "budget", message  # maxiter: maxfun is out of reach
    if res.status == 0:
        # With pgtol = 0 and factr = 0 L-BFGS-B "converges" either on an exactly zero
        # projected gradient or on an iteration that did not lower f; only the first is a
        # minimum. Told apart from the numbers rather than the words, which SciPy changed.
        z, g = res.x, res.jac
        if np.all((g == 0) | ((z <= lower) & (g > 0)) | ((z >= upper) & (g < 0))):
            return "converged", message
        return "no progress", message
    if message.rstrip().endswith(":"):
        # SciPy >= 1.15 gives no detail for its one ABNORMAL case: a line search that
        # failed (an error or maxls trials) right after a restart, so along -g.
        message += ("the line search failed with no curvature pairs left to drop "
                    "(ABNORMAL_TERMINATION_IN_LNSRCH)")
    return "no progress", message
