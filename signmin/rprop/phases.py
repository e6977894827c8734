"""A run as a sequence of phases over one best point and one set of counters.

The sign phase (the kernel, in either driver) runs first. With a polish, it
stops once every variable's partial derivative has changed sign (the bracket
rule: the basin is found); a finish that trusts the gradient's magnitude then
starts from the best point (dense BFGS, :func:`signmin.rprop.bfgs.bfgs_finish`,
up to `DENSE_MAX_N` variables; L-BFGS-B, :func:`signmin.rprop.finish.lbfgsb_finish`,
above), its evaluations counted by the kernel's rule and its iterations charged
to ``maxiter``; a point it finds that lowers f becomes the sign phase's current
iterate, and the sign phase runs again until a rule of its own stops it. That
last phase is what keeps the method robust where the finish trusts a gradient
it should not (mis-scaled or vanishing): it goes on from wherever the finish
left off, by signs alone.

The last phase is cheap when the finish converged: it first stops at an xtol
of `XTOL_CONFIRM`, and goes on to the run's own xtol only if it had to move
the finish's point by more than `MOVED` of its first steps (the finish had
stopped short: the mis-scaled case).
"""

from __future__ import annotations

import math

import numpy as np

from .._numerics import REL_STEP_2POINT
from .._status import Status
from . import kernel as K
from .bfgs import bfgs_finish
from .drivers import tell_from_python
from .finish import Best, lbfgsb_finish
from .options import finish_for

_BRACKETED = int(Status.BRACKETED)
_XTOL = int(Status.XTOL)

#: The last phase's first xtol after a finish that lowered f.
XTOL_CONFIRM = 1e-8
#: How far, in its first step sizes, the last phase may move the finish's point
#: and still call it confirmed.
MOVED = 1000.0

_FINISHES = {"BFGS": bfgs_finish, "L-BFGS-B": lbfgsb_finish}


def run_phases(run, drive, evaluate, polish, lower, upper, callback, new_style_callback):
    """Run the phases; return ``(status, f)`` as the drivers do.

    ``drive(run, tell)`` runs the sign phase with a ``tell``; ``evaluate`` is
    the Python evaluator (``(f, g, calls)``) the finish uses; ``polish`` is
    None or the finish's name (as the options hold it).
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

    # The finish's lowest point, held here: if an exception ends the run inside
    # the finish, the run's result must not lose it (see minimize_rprop).
    best = Best()

    try:
        finish = _FINISHES[finish_for(polish, n)](
            counted, x_best.copy(), f_best, g_best.copy(),
            np.full(n, -np.inf) if lower is None else lower,
            np.full(n, np.inf) if upper is None else upper,
            # Scaled variables (L-BFGS-B; BFGS judges xtol by them): one unit of
            # each is its own size (Meyer's parameters differ by 1e5 and
            # L-BFGS-B's first step is a unit one).
            np.maximum(np.abs(x_best), K.scale(run)),
            max_evaluations=evaluations, max_iterations=iterations, callback=callback,
            new_style_callback=new_style_callback, xtol=K.xtol(run), best=best)
    except BaseException:
        K.offer_best(run, best.f, best.x, best.g)
        raise
    # (The same tell: one compile for the whole run.)
    K.stop_bracketing(run)
    sign_phase = K.tell_for(run.spec)
    # Telling the finish's point is no step of its own: its iterations are.
    K.add_steps(run, finish.iterations - finish.improved)
    xtol = K.xtol(run)
    confirming = finish.improved and 0.0 < xtol < XTOL_CONFIRM
    if finish.improved:
        # Small steps: where the finish converged, the sign phase confirms
        # it in a few halvings; where it stopped short, the steps grow back
        # by eta_plus a step.
        first_step = REL_STEP_2POINT * np.maximum(np.abs(finish.x), K.scale(run))
        K.jump(run, finish.x, REL_STEP_2POINT)
        status = tell_from_python(run, sign_phase, finish.g, finish.f)
        f = finish.f
    if finish.reason == "callback":
        return int(Status.CALLBACK), f
    if status >= 0 and status != _BRACKETED:
        return status, f
    if confirming:
        K.set_xtol(run, XTOL_CONFIRM)
    status, f = _go_on(run, drive, sign_phase, f)
    if confirming:
        K.set_xtol(run, xtol)
        moved = np.abs(K.best(run)[0] - finish.x)
        if status == _XTOL and np.any(moved > MOVED * first_step):
            status, f = _go_on(run, drive, sign_phase, f)
    return status, f


def _go_on(run, drive, sign_phase, f):
    """The sign phase on from where it is, within what is left of the budget."""
    iterations, evaluations = K.budget(run)
    if iterations < 1:
        return int(Status.MAXITER), f
    if evaluations < 1:
        return int(Status.MAXFEV), f
    return drive(run, sign_phase)
