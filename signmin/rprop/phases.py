"""A run as a sequence of phases over one best point and one set of counters.

With a polish, a finish that trusts the gradient's magnitude (dense BFGS,
:func:`signmin.rprop.bfgs.bfgs_finish`, up to `DENSE_MAX_N` variables;
L-BFGS-B, :func:`signmin.rprop.finish.lbfgsb_finish`, above) and the sign phase
(the kernel, in either driver) share the run; the finish's evaluations are
counted by the kernel's rule and its iterations charged to ``maxiter``.

Without bounds, up to `DENSE_MAX_N` variables, the finish runs first, from
x0: a model's own start is usually in the basin, where the sign phase's
bracketing only delays the finish (measured: statsmodels' Poisson spent 26
of its 50 iterations there, over its default ``maxiter`` of 35). Above that
size L-BFGS-B's correction pairs (20 n numbers) would come before any sign
step, and the sign method's memory bound at large n (about 8 times x) is
kept. With bounds (and wherever the finish from x0 stopped short) the sign
phase runs first and stops once every
variable's partial derivative has changed sign (the bracket rule: the basin
is found); the finish then starts from the best point. (Measured with the
finish first also under bounds: scikit-learn's GP regressor, whose restarts
start anywhere in a wide box, took 1.5x the evaluations.)

A point the finish finds that lowers f becomes the sign phase's current
iterate, and the sign phase runs again until a rule of its own stops it.
That last phase is what keeps the method robust where the finish trusts a
gradient it should not (mis-scaled or vanishing): it goes on from wherever
the finish left off, by signs alone. It is cheap when the finish converged:
it first stops at an xtol of `XTOL_CONFIRM`, and goes on to the run's own
xtol only if it had to move the finish's point by more than `MOVED` of its
first steps (the finish had stopped short: the mis-scaled case).
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
from .options import DENSE_MAX_N, finish_for

_BRACKETED = int(Status.BRACKETED)
_XTOL = int(Status.XTOL)

#: The last phase's first xtol after a finish that lowered f.
XTOL_CONFIRM = 1e-8
#: How far, in its first step sizes, the last phase may move the finish's point
#: and still call it confirmed.
MOVED = 1000.0

_FINISHES = {"BFGS": bfgs_finish, "L-BFGS-B": lbfgsb_finish}


def run_phases(run, tell, drive, evaluate, polish, lower, upper, callback, new_style_callback):
    """Run the phases; return ``(status, f)`` as the drivers do.

    ``drive(run, tell)`` runs the sign phase with ``tell`` (the driver's: see
    ``kernel.tell_of``); ``evaluate`` is the Python evaluator (``(f, g,
    calls)``) the finish uses; ``polish`` is None or the finish's name (as the
    options hold it).
    """
    if polish is None:
        return drive(run, tell)

    def counted(x):
        f, g, calls = evaluate(x)
        K.count_evaluation(run, f, calls)
        return f, (g if math.isfinite(f) else None)

    def finish_from(x, f, g):
        iterations, evaluations = K.budget(run)
        n = x.size
        # The finish's lowest point, held here: if an exception ends the run inside
        # the finish, the run's result must not lose it (see minimize_rprop).
        best = Best()
        try:
            return _FINISHES[finish_for(polish, n)](
                counted, x.copy(), f, g.copy(),
                np.full(n, -np.inf) if lower is None else lower,
                np.full(n, np.inf) if upper is None else upper,
                # Scaled variables (L-BFGS-B; BFGS judges xtol by them): one unit of
                # each is its own size (Meyer's parameters differ by 1e5 and
                # L-BFGS-B's first step is a unit one).
                np.maximum(np.abs(x), K.scale(run)),
                max_evaluations=evaluations, max_iterations=iterations,
                callback=callback, new_style_callback=new_style_callback, xtol=K.xtol(run),
                best=best)
        except BaseException:
            K.offer_best(run, best.f, best.x, best.g)
            raise

    if lower is None and run.step.size <= DENSE_MAX_N:
        status, f, done = _finish_first(run, drive, tell, counted, finish_from)
        if done:
            return status, f
    else:
        status, f = drive(run, tell)
    if status != _BRACKETED:
        return status, f
    x_best, f_best, g_best = K.best(run)
    finish = finish_from(x_best, f_best, g_best)
    # (The same tell: one compile for the whole run.)
    K.stop_bracketing(run)
    # Telling the finish's point is no step of its own: its iterations are.
    K.add_steps(run, finish.iterations - finish.improved)
    if finish.improved:
        # Small steps: where the finish converged, the sign phase confirms
        # it in a few halvings; where it stopped short, the steps grow back
        # by eta_plus a step.
        K.jump(run, finish.x, REL_STEP_2POINT)
        status = tell_from_python(run, tell, finish.g, finish.f)
        f = finish.f
    if finish.reason == "callback":
        return int(Status.CALLBACK), f
    if status >= 0 and status != _BRACKETED:
        return status, f
    if not finish.improved:
        return _go_on(run, drive, tell, f)
    return _confirm(run, drive, tell, finish, f)[:2]


def _finish_first(run, drive, tell, counted, finish_from):
    """The finish from x0, then the last sign phase; ``(status, f, done)``.

    Not done (the sign phase must bracket the minimum and the finish run
    again, from the best point so far) where the finish ended short of a
    minimum: on its budget or a non-finite value, without lowering f, or
    with a point the last sign phase had to move far (the mis-scaled case).
    """
    x0 = K.current_x(run).copy()
    f0, g0 = counted(x0)
    # Told first, as the sign phase would: the run's best point from the start
    # (an exception inside the finish must not lose it), and where the finish
    # does not lower f the sign phase goes on from its own first step.
    status = tell_from_python(run, tell, np.full(x0.size, np.nan) if g0 is None else g0, f0)
    if status >= 0:
        return status, f0, True
    finish = finish_from(x0, f0, g0)
    # A line search that finds no lower point is how BFGS usually ends at a
    # minimum (measured: Logit, Probit, GLM Binomial, softmax wine); the last
    # sign phase tells that apart from a stop short of it. Not before a first
    # iteration: a lower point met inside a failed first search is no minimum
    # (mis-scaled Biggs EXP6: confirmed from there with small steps, the run
    # ended at f = 0.31).
    settled = (finish.improved and finish.iterations > 0
               and finish.reason in ("converged", "no progress"))
    f = f0
    if finish.improved:
        # Small steps where the finish settled (the last phase confirms it in
        # a few halvings); where it did not, the run's first steps, to bracket.
        K.jump(run, finish.x, REL_STEP_2POINT if settled else math.inf)
        status = tell_from_python(run, tell, finish.g, finish.f)
        f = finish.f
    # Telling the finish's point is no step of its own: its iterations are.
    K.add_steps(run, finish.iterations - finish.improved)
    if finish.reason == "callback":
        return int(Status.CALLBACK), f, True
    if status >= 0:
        return status, f, True
    if not settled:
        return (*_go_on(run, drive, tell, f), False)
    K.stop_bracketing(run)
    status, f, short = _confirm(run, drive, tell, finish, f, stop_if_short=True)
    if not short:
        return status, f, True
    K.start_bracketing(run)
    return (*_go_on(run, drive, tell, f), False)


def _confirm(run, drive, tell, finish, f, stop_if_short=False):
    """The last sign phase after a finish that lowered f: at `XTOL_CONFIRM` first,
    then at the run's own xtol if it had to move the finish's point far (the
    finish stopped short), or, with ``stop_if_short``, ``(status, f, True)`` then."""
    xtol = K.xtol(run)
    if not 0.0 < xtol < XTOL_CONFIRM:
        return (*_go_on(run, drive, tell, f), False)
    first_step = REL_STEP_2POINT * np.maximum(np.abs(finish.x), K.scale(run))
    K.set_xtol(run, XTOL_CONFIRM)
    status, f = _go_on(run, drive, tell, f)
    K.set_xtol(run, xtol)
    moved = np.abs(K.best(run)[0] - finish.x)
    short = status == _XTOL and np.any(moved > MOVED * first_step)
    if short and stop_if_short:
        return status, f, True
    if short:
        status, f = _go_on(run, drive, tell, f)
    return status, f, False


def _go_on(run, drive, sign_phase, f):
    """The sign phase on from where it is, within what is left of the budget."""
    iterations, evaluations = K.budget(run)
    if iterations < 1:
        return int(Status.MAXITER), f
    if evaluations < 1:
        return int(Status.MAXFEV), f
    return drive(run, sign_phase)
