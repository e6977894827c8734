"""The dense finish: BFGS on the inverse Hessian, O(n^2) a step, with SciPy's Wolfe line search.

Measured on real models (statsmodels and scikit-learn objectives, issue "Cheap on real
models"): L-BFGS-B with its 10 correction pairs is slow on ill-conditioned coupled
problems (MNLogit, 36 variables: 6,402 evaluations with ftol = gtol = 0, dense BFGS 117);
keeping the whole inverse Hessian costs n^2 numbers, which is nothing below a few hundred
variables. SciPy's own BFGS forms the update with two matrix products, O(n^3) a step; the
rank-two form below is O(n^2) and gives the same iterates to rounding.

Bounds are met by an active-set rule: a variable on a bound whose derivative pushes out
is held there (its row and column of the inverse Hessian are not used), and the line search
stops at the box's edge, so inside a loose box the iterates are those of the unbounded
method.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
from scipy.optimize import line_search
from scipy.optimize._linesearch import LineSearchWarning

from .finish import MESSAGES, Best, FinishResult, Stop, checked, report

__all__ = ["bfgs_finish"]

#: Most trial points of one line search (SciPy's default for its BFGS).
MAXLS = 10
#: A step that lowers f by at most this much relative to |f| ends the finish: f is at its
#: rounding. (Measured: 1e-12 instead ended finishes that were still converging, GLM Gamma
#: at 13,240 evaluations instead of 105.)
FLAT = 4 * np.finfo(float).eps
#: After a step that lowered f by at most this much relative to |f|, a failed line search
#: ends the finish at once, without the retry along the steepest descent: converging
#: superlinearly, nothing is left for it to find (measured on Logit, spector: the decreases
#: run 2e-12, 1e-14 of f, then two failed searches cost 19 of the finish's 54 evaluations).
NEARLY_FLAT = 1e-12

_MESSAGES = {
    **{key: MESSAGES[key] for key in ("budget", "callback", "steps")},
    "flat": "The last iteration lowered f by no more than its rounding error.",
    "converged": "The projected gradient is zero.",
    "no progress": "The line search found no lower point, along the quasi-Newton direction "
                   "nor along the steepest descent.",
}


def bfgs_finish(
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
    """Polish a point with dense BFGS within a budget of evaluations, keeping the best point.

    Takes the arguments of :func:`signmin.rprop.finish.lbfgsb_finish` and returns the same
    record. The inverse Hessian starts as the identity in the raw variables (measured: a
    start scaled by ``|x|`` or by the sign phase's steps, and Nocedal and Wright's scaling of
    the first update, each cost more evaluations on real models); the first line search
    tries a step of unit length, as SciPy's BFGS does.

    ``x_scale`` sets only the size against which `xtol` judges a step: the run ends once
    every step of an iteration is at most ``xtol * max(|x_i|, x_scale_i)``. Otherwise it
    ends on an exactly zero projected gradient, on a line search that finds no lower point
    (after one retry along the steepest descent with the curvature forgotten), on the
    budget or on the callback. A non-finite f or gradient at a trial point is a point the
    line search backs off from, never the end of the run.
    """
    x0, g0, lower, upper, x_scale = checked(x0, f0, g0, lower, upper, x_scale)
    bfgs = _Bfgs(evaluate, x0, float(f0), g0, lower, upper, max_evaluations, best)
    if max_iterations < 1:
        reason, message = "budget", "No iteration allowed."
    else:
        try:
            reason = bfgs.run(max_iterations, callback, new_style_callback, xtol, x_scale)
        except Stop as stop:
            reason = stop.reason
        message = _MESSAGES[reason]
        reason = {"steps": "converged", "flat": "converged"}.get(reason, reason)
    best = bfgs.best
    return FinishResult(x=best.x.copy(), f=best.f, g=best.g.copy(), improved=bool(best.f < f0),
                        evaluations=bfgs.evaluations,
                        iterations=bfgs.iterations, reason=reason, message=message)


class _Bfgs:
    """The iteration, its counted and cached evaluations, and the best point seen."""

    def __init__(self, evaluate, x0, f0, g0, lower, upper, max_evaluations, best):
        self.evaluate, self.lower, self.upper = evaluate, lower, upper
        self.bounded = bool(np.isfinite(lower).any() or np.isfinite(upper).any())
        self.max_evaluations = max_evaluations
        self.x, self.f, self.g = x0, f0, g0
        self.best = Best() if best is None else best
        self.best.offer(x0, f0, g0)
        self.evaluations = 0
        self.iterations = 0
        # The line search asks for f and for g at the same point in separate calls; each
        # point is evaluated once, f and g together (keyed by its bits).
        self.seen: dict[bytes, tuple[np.ndarray, float, np.ndarray | None]] = {}

    def point(self, x: np.ndarray) -> tuple[np.ndarray, float, np.ndarray | None]:
        """``(x inside the box, f, g)`` at ``x``; f is inf where f or g is not finite."""
        key = x.tobytes()
        if key in self.seen:
            return self.seen[key]
        if self.evaluations >= self.max_evaluations:
            raise Stop("budget")
        x = np.clip(x, self.lower, self.upper)
        self.evaluations += 1
        # The evaluator may keep or modify its argument; x stays ours.
        f, g = self.evaluate(x.copy())
        f = float(f)
        if g is not None:
            g = np.array(g, dtype=float)  # a copy: the user may reuse the array returned
        if not math.isfinite(f) or g is None or not np.isfinite(g).all():
            f, g = math.inf, None
        else:
            self.best.offer(x, f, g)
        self.seen[key] = x, f, g
        return x, f, g

    def fun(self, x):
        return self.point(x)[1]

    def grad(self, x):
        # Asked only where f was finite and low enough (the Wolfe search's order).
        return self.point(x)[2]

    def run(self, max_iterations, callback, new_style_callback, xtol, x_scale):
        n = self.x.size
        H = np.eye(n)
        # Whether H is the variables' sizes, diag(x_scale^2), with no update since.
        scaled = bool(np.all(x_scale == 1.0))
        # SciPy's guess of the last decrease, which makes the first step unit length.
        f_before = self.f + np.linalg.norm(self.g) / 2
        while True:
            free = self.free()
            if not np.any(self.g[free] != 0.0):
                return "converged"
            step = self.line_search(H, free, f_before)
            nearly_flat = f_before - self.f <= NEARLY_FLAT * abs(self.f)
            if step is None and not nearly_flat and not scaled:
                # The curvature is forgotten and the variables' own sizes
                # take its place: the raw identity failed on GLM Gamma (scotland,
                # parameters from 1e-7 to 1e-2), whose unit first step overflowed
                # and whose line search could not shrink it enough.
                H, scaled = np.diag(x_scale * x_scale), True
                f_before = self.f + np.linalg.norm(self.g[free] * x_scale[free]) / 2
                step = self.line_search(H, free, f_before)
            if step is None:
                return "no progress"
            x, f, g = step
            s, y = x - self.x, g - self.g
            # Curvature of the free variables only: a held variable's derivative
            # changes without its value (measured: kept in y, the pairs zigzag
            # for 1,000 iterations on Rosenbrock with an upper bound of 0.5).
            y[~free] = 0.0
            sy = float(s @ y)
            if sy > 0.0 and math.isfinite(sy):
                Hy = H @ y
                rho = 1.0 / sy
                H += (rho * rho * float(y @ Hy) + rho) * np.outer(s, s)
                H -= rho * (np.outer(Hy, s) + np.outer(s, Hy))
                scaled = False
            # f went down by no more than its rounding: the minimum to working
            # precision (or a gradient not worth following; the last sign phase decides).
            flat = self.f - f <= FLAT * abs(f)
            f_before = self.f
            self.x, self.f, self.g = x, f, g
            self.seen.clear()
            self.iterations += 1
            if callback is not None:
                report(callback, new_style_callback, x.copy(), f)
            # The sign phase's own rule: with a gradient BFGS should not trust it could
            # otherwise chase an exact zero of f through many tiny steps.
            if np.all(np.abs(s) <= xtol * np.maximum(np.abs(x), x_scale)):
                return "steps"
            if flat:
                return "flat"
            if self.iterations >= max_iterations:
                return "budget"

    def free(self) -> np.ndarray:
        """The variables not held by a bound their derivative pushes against."""
        if not self.bounded:
            return np.ones(self.x.size, dtype=bool)
        return ~(((self.x <= self.lower) & (self.g > 0)) | ((self.x >= self.upper) & (self.g < 0)))

    def line_search(self, H, free, f_before):
        """The next point ``(x, f, g)`` along the quasi-Newton direction, or None."""
        p = np.zeros_like(self.x)
        if free.all():
            p = -(H @ self.g)
        else:
            p[free] = -(H[np.ix_(free, free)] @ self.g[free])
        slope = float(self.g @ p)
        if not slope < 0.0:
            return None
        alpha_max = self.room(p)
        if alpha_max <= 0.0:
            return None
        with warnings.catch_warnings():
            # A failed search is handled below; SciPy also warns on it.
            warnings.simplefilter("ignore", LineSearchWarning)
            warnings.simplefilter("ignore", RuntimeWarning)  # inf - inf in its interpolation
            alpha = line_search(self.fun, self.grad, self.x, p, self.g, self.f, f_before,
                                amax=None if alpha_max == math.inf else alpha_max,
                                maxiter=MAXLS)[0]
        if alpha is None or not alpha > 0.0:
            if alpha_max == math.inf:
                return None
            alpha = alpha_max  # a lower point on the box's edge will do
        x, f, g = self.point(self.x + alpha * p)
        if not f < self.f:
            return None
        return x, f, g

    def room(self, p: np.ndarray) -> float:
        """The longest step along ``p`` that stays in the box."""
        if not self.bounded:
            return math.inf
        with np.errstate(divide="ignore", invalid="ignore"):
            to_bound = np.where(p > 0, (self.upper - self.x) / p,
                                np.where(p < 0, (self.lower - self.x) / p, math.inf))
        return float(np.min(to_bound)) if to_bound.size else math.inf
