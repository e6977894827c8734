"""A run as a sequence of phases over one best point and one set of counters.

The sign phase (the kernel, in either driver) runs first. With a polish, it
stops once every variable's partial derivative has changed sign (the bracket
rule: the basin is found); L-BFGS-B then starts from the best point
(:func:`signmin.rprop.finish.lbfgsb_finish`), its evaluations counted by the
kernel's rule and its iterations charged to ``maxiter``; a point it finds
that lowers f becomes the sign phase's current iterate, and the sign phase
runs again until a rule of its own stops it. That last phase is what keeps the
method robust where the finish trusts a gradient it should not (mis-scaled
or vanishing): it goes on from wherever the finish left off, by signs alone.
"""

from __future__ import annotations

import math

import numpy as np

from .._numerics import REL_STEP_2POINT
from .._status import Status
from . import kernel as K
from .finish import lbfgsb_finish

_BRACKETED = int(Status.BRACKETED)


def run_phases(run, drive, evaluate, polish, lower, upper, callback, new_style_callback):
    """Run the phases; return ``(status, f)`` as the drivers do.

    ``drive(run, tell)`` runs the sign phase with a ``tell``; ``evaluate`` is
    the Python evaluator (``(f, g, calls)``) the finish uses; ``polish`` is
    None or the finish's name.
    """
    status, f = drive(run, K.tell_for(run.spec))
    if polish is None or status != _BRACKETED:
        return status, f
    x_best, f_best, g_best = K.best(run)
    iterations, evaluations = K.budget(run)
    n = x_best.size

    def counted(x):
        f, g, calls = evaluate(x)
        K.count_evaluation(run, f, calls)
        return f, (g if math.isfinite(f) else None)

    finish = lbfgsb_finish(
        counted, x_best.copy(), f_best, g_best.copy(),
        np.full(n, -np.inf) if lower is None else lower,
        np.full(n, np.inf) if upper is None else upper,
        # Scaled variables: one unit of each is its own size (Meyer's
        # parameters differ by 1e5 and L-BFGS-B's first step is a unit one).
        np.maximum(np.abs(x_best), K.scale(run)),
        max_evaluations=evaluations, max_iterations=iterations, callback=callback,
        new_style_callback=new_style_callback, xtol=K.xtol(run))
    sign_phase = K.tell_for(K.without_bracket(run.spec))
    # Telling the finish's point is no step of its own: its iterations are.
    K.add_steps(run, finish.iterations - finish.improved)
    if finish.improved:
        # Small steps: where the finish converged, the sign phase confirms
        # it in a few halvings; where it stopped short, the steps grow back
        # by eta_plus a step.
        K.jump(run, finish.x, REL_STEP_2POINT)
        status = sign_phase(run.state, finish.g, finish.f, 0, False)
        f = finish.f
    if finish.reason == "callback":
        return int(Status.CALLBACK), f
    if finish.reason == "nonfinite":
        return int(Status.NONFINITE), f
    if status >= 0 and status != _BRACKETED:
        return status, f
    iterations, evaluations = K.budget(run)
    if iterations < 1:
        return int(Status.MAXITER), f
    if evaluations < 1:
        return int(Status.MAXFEV), f
    return drive(run, sign_phase)
