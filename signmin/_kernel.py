"""The Rprop kernel: the run's state and one ``tell`` shared by every driver.

Notation (Riedmiller & Braun 1993; Igel & Hüsken 2003). For each coordinate
``i`` the method keeps a step size Δ_i (``step``), the sign of the previous
partial derivative (``sign``) and, for the backtracking variants, the last step
actually taken (``dx_prev``). With g the current partial derivative, its sign
is compared with the stored one:

* same sign: Δ ← min(Δ·η+, Δmax) (η+ is ``eta_plus``);
* sign change: Δ ← max(Δ·η−, Δmin) (η− is ``eta_minus``);

and the coordinate moves by Δ against the sign of g. The four variants differ
only in what happens on a sign change:

* ``rprop+``  undoes the last step and forgets the derivative;
* ``irprop+`` undoes the last step only if f went up, and forgets the derivative;
* ``rprop-``  moves on with the shrunken step;
* ``irprop-`` forgets the derivative and does not move this coordinate
  (this is ``torch.optim.Rprop``).

Signs are compared, never the product g·g_prev: the product underflows for
tiny gradients, and comparing signs makes the iterates exactly invariant under
any positive rescaling of each partial derivative.

The state is a numba structure of named arrays (:class:`State`), each as small
as its use allows: the previous sign is int8, the per-coordinate scale (used
only by tolerances and floors) float32, and the rows a run does not need (the
bounds of an unbounded run, ``dx_prev`` of a variant that never backtracks)
have length 0. ``tell`` is generated per (variant, bounded, which rules are
on) from one source (:func:`_make_tell`): the choices are compile-time
constants, so the loop of the common case has no branch they decide.
Only this module knows the layout; the rest of the package uses the
accessors at the end.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba.core import types
from numba.experimental import structref

from ._numerics import EPS
from ._status import Status

# Variants.
RPROP_PLUS, RPROP_MINUS, IRPROP_PLUS, IRPROP_MINUS = range(4)
VARIANTS = {"rprop+": RPROP_PLUS, "rprop-": RPROP_MINUS,
            "irprop+": IRPROP_PLUS, "irprop-": IRPROP_MINUS}
BACKTRACKING = (RPROP_PLUS, IRPROP_PLUS)

# What ``tell`` returns: a Status (>= 0) to stop, or one of these to go on.
CONTINUE = -1
#: Go on; nothing moved, so the next point is the one just told: its f and g
#: may be told again without evaluating.
REPEAT = -2
# (Plain ints, named apart from the header slots below.)
STOP_NONFINITE, STOP_GTOL, STOP_XTOL, STOP_FTOL = (
    int(Status.NONFINITE), int(Status.GTOL), int(Status.XTOL), int(Status.FTOL))
STOP_MAXITER, STOP_MAXFEV, STOP_NO_PROGRESS = (
    int(Status.MAXITER), int(Status.MAXFEV), int(Status.NO_PROGRESS))

#: The ftol rule looks this many iterations back.
FTOL_WINDOW = 10

# Slots of the header (options first, then the scalar state). Offsets into
# ``State.header``; nothing outside this module reads them.
(_ETA_MINUS, _ETA_PLUS, _STEP_MIN, _STEP_MAX, _XTOL, _FTOL, _GTOL, _MAXITER, _MAXFEV,
 _EVAL_COST, _STALL_WINDOW, _JAC_CALLS, _JAC_CALLS_NONFINITE,
 _CUR, _BEST, _F_BEST, _F_PREV, _NIT, _NFEV, _NJEV, _SINCE_BEST, _RING_POS,
 _RING) = range(23)
_HEADER = _RING + 2 * FTOL_WINDOW


@structref.register
class _StateType(types.StructRef):
    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(typ)) for name, typ in fields)


class State(structref.StructRefProxy):
    """One run's state: options, counters and the per-coordinate rows.

    Fields: ``header`` (float64: options and scalar state), ``x_a`` and
    ``x_b`` (the current iterate and the best point, swapped, never copied),
    ``g_best`` (the best point's gradient), ``step`` (Δ), ``sign`` (int8, the
    sign of the previous partial derivative), ``dx_prev`` (the last step, for
    the backtracking variants), ``lower`` and ``upper`` (bounded runs),
    ``scale`` (float32, each variable's scale for tolerances and floors).
    """


_FIELDS = ["header", "x_a", "x_b", "g_best", "step", "sign", "dx_prev", "lower", "upper",
           "scale"]
structref.define_proxy(State, _StateType, _FIELDS)


class Run:
    """A run's :class:`State` (what ``tell`` takes), the Python references to
    its arrays (for the accessors below, without a compiled call) and ``spec``,
    the key of its specialised ``tell`` (see :func:`tell_for`)."""

    __slots__ = ("state", "spec", *_FIELDS)

    def __init__(self, spec, **fields):
        self.spec = spec
        for name in _FIELDS:
            setattr(self, name, fields[name])
        self.state = State(*(fields[name] for name in _FIELDS))


def new_state(*, x0, lower, upper, scale, step0, variant, eta_minus, eta_plus, step_min,
              step_max, xtol, ftol, gtol, maxiter, maxfev, eval_cost, stall_window,
              jac_calls, jac_calls_nonfinite):
    """Allocate a run's state at ``x0`` (a float64 array it takes over, not a
    copy); keywords only, so no two can be swapped.

    ``lower``/``upper`` are None for an unbounded run. ``eval_cost`` is the most
    calls of ``fun`` one evaluation can take (for ``maxfev``); ``jac_calls`` and
    ``jac_calls_nonfinite`` are the calls of ``jac`` an evaluation makes when
    its f is finite and when it is not. Returns a :class:`Run`.
    """
    n = x0.shape[0]
    empty = np.empty(0)
    header = np.zeros(_HEADER)
    header[_ETA_MINUS], header[_ETA_PLUS] = eta_minus, eta_plus
    header[_STEP_MIN], header[_STEP_MAX] = step_min, step_max
    header[_XTOL], header[_FTOL], header[_GTOL] = xtol, ftol, gtol
    header[_MAXITER], header[_MAXFEV], header[_EVAL_COST] = maxiter, maxfev, eval_cost
    header[_STALL_WINDOW] = stall_window
    header[_JAC_CALLS], header[_JAC_CALLS_NONFINITE] = jac_calls, jac_calls_nonfinite
    header[_CUR], header[_BEST] = 0.0, -1.0
    header[_F_BEST] = header[_F_PREV] = np.inf
    header[_RING:] = np.inf
    x_a = x0  # the front door's own copy: the state takes it over
    step = np.empty(n)
    _clip_into(step, step0, step_min, step_max)
    bounded = lower is not None
    return Run((variant, bounded, xtol > 0.0, ftol > 0.0),
               header=header, x_a=x_a, x_b=np.empty(n), g_best=np.empty(n), step=step,
               sign=np.zeros(n, dtype=np.int8),
               dx_prev=np.zeros(n) if variant in BACKTRACKING else empty,
               lower=lower if bounded else empty, upper=upper if bounded else empty,
               scale=np.asarray(scale, dtype=np.float32))


@numba.njit(cache=True)
def _clip_into(out, values, lo, hi):
    for i in range(out.shape[0]):
        out[i] = min(max(values[i], lo), hi)


@numba.njit(cache=True, inline="always")
def _sign(v):
    # NaN gives 0: a NaN derivative never moves x (the run stops on it anyway).
    return (v > 0.0) - (v < 0.0)


@numba.njit(cache=True)
def _copy_if_finite(g, out):
    """Copy g into out; False (out then partly written) if g is not finite."""
    for i in range(g.shape[0]):
        gi = g[i]
        if not math.isfinite(gi):
            return False
        out[i] = gi
    return True


def _make_tell(variant, bounded, xtol_on, ftol_on):
    """``tell`` for one variant, with or without bounds, xtol and ftol.

    The four arguments are compile-time constants of the function made here:
    each combination compiles to its own loop, and a branch they decide is
    not in it. Every combination comes from this one source.
    """
    backtracks = variant in BACKTRACKING
    halts = variant == IRPROP_MINUS
    undo_always = variant == RPROP_PLUS

    @numba.njit(cache=True)
    def tell(state, g, f, calls):
        """Absorb ``f`` and ``g`` at the current iterate and propose the next one.

        ``calls`` is the calls of ``fun`` the evaluation took (0 when the
        driver tells the previous f and g again after ``REPEAT``). The proposal
        is written in place, or into the other x buffer when the current
        iterate becomes the best point. Returns ``CONTINUE``, ``REPEAT`` or
        the Status that ends the run.
        """
        h = state.header
        h[_NFEV] += calls
        if not math.isfinite(f):
            # Not a step: the run ends at the best point before it.
            if calls > 0:
                h[_NJEV] += h[_JAC_CALLS_NONFINITE]
            return STOP_NONFINITE
        h[_NIT] += 1.0
        if calls > 0:
            h[_NJEV] += h[_JAC_CALLS]
        cur = h[_CUR] != 0.0
        x = state.x_b if cur else state.x_a
        x_next = x
        if f < h[_F_BEST]:
            if not _copy_if_finite(g, state.g_best):
                return STOP_NONFINITE
            # The best point stays where it is; the proposal goes to the
            # other buffer, which held the previous best.
            x_next = state.x_a if cur else state.x_b
            h[_BEST] = h[_CUR]
            h[_CUR] = 0.0 if cur else 1.0
            h[_F_BEST] = f
            h[_SINCE_BEST] = 0.0
        else:
            h[_SINCE_BEST] += 1.0
        went_up = f > h[_F_PREV]
        h[_F_PREV] = f
        step, sign, dx_prev = state.step, state.sign, state.dx_prev
        lower, upper, scale = state.lower, state.upper, state.scale
        eta_minus, eta_plus = h[_ETA_MINUS], h[_ETA_PLUS]
        step_min, step_max = h[_STEP_MIN], h[_STEP_MAX]
        xtol, gtol = h[_XTOL], h[_GTOL]
        undo = undo_always or went_up
        finite = True
        g_converged = True
        x_converged = xtol_on
        moved = False
        max_step = 0.0
        for i in range(x.shape[0]):
            gi = g[i]
            xi = x[i]
            finite &= math.isfinite(gi)
            s = _sign(gi)
            flip = s * sign[i]
            di = step[i]
            blocked = False
            if bounded:
                lo, hi = lower[i], upper[i]
                # The box blocks the descent here: the projected gradient is
                # zero, and the step must not grow while x stays put.
                blocked = (xi <= lo and gi > 0.0) or (xi >= hi and gi < 0.0)
            if blocked:
                gi = 0.0
                dx = 0.0
                sign[i] = s
            else:
                if flip > 0:
                    di = min(di * eta_plus, step_max)
                elif flip < 0:
                    # A step below the spacing of floats around x moves
                    # nothing, and one that reached 0 could never grow again.
                    di = max(di * eta_minus, step_min, EPS * max(abs(xi), scale[i]))
                step[i] = di
                if flip < 0 and backtracks:
                    dx = -dx_prev[i] if undo else 0.0
                    sign[i] = 0
                elif flip < 0 and halts:
                    dx = 0.0
                    sign[i] = 0
                else:
                    dx = -s * di
                    sign[i] = s
            x_new = xi + dx
            if bounded:
                x_new = min(max(x_new, lo), hi)
            x_next[i] = x_new
            if backtracks:
                dx_prev[i] = x_new - xi
            moved |= x_new != xi
            g_converged &= abs(gi) <= gtol
            if xtol_on:
                # A coordinate with no information (a zero or blocked partial
                # derivative) has nothing to converge to: it does not count.
                x_converged &= (gi == 0.0 or di <= xtol * max(abs(xi), scale[i]))
            if ftol_on and not blocked:
                max_step = max(max_step, di)
        if not finite:
            return STOP_NONFINITE
        ftol_met = False
        if ftol_on:
            ftol_met = _ftol_window(h, f, max_step)
        if g_converged:
            return STOP_GTOL
        if x_converged:
            return STOP_XTOL
        if ftol_met:
            return STOP_FTOL
        if h[_SINCE_BEST] >= h[_STALL_WINDOW]:
            return STOP_NO_PROGRESS
        if h[_NIT] > h[_MAXITER]:
            return STOP_MAXITER
        if not moved:
            return REPEAT
        # Stop before an evaluation that could pass maxfev.
        if h[_NFEV] + h[_EVAL_COST] > h[_MAXFEV]:
            return STOP_MAXFEV
        return CONTINUE

    return tell


@numba.njit(cache=True)
def _ftol_window(h, f, max_step):
    # ftol: every f of the last FTOL_WINDOW iterates lies within ftol * |f_best|
    # of the best, so f is at its noise floor, and the steps have not grown. A
    # search that overshoots and backtracks sees larger f values, and a march
    # across a plateau (f flat to the last bit, gradient still signed) grows
    # its steps, so neither looks like convergence.
    pos = int(h[_RING_POS])
    step_old = h[_RING + FTOL_WINDOW + pos]
    h[_RING + pos] = f
    h[_RING + FTOL_WINDOW + pos] = max_step
    h[_RING_POS] = (pos + 1) % FTOL_WINDOW
    f_spread = 0.0
    for k in range(FTOL_WINDOW):
        f_spread = max(f_spread, h[_RING + k] - h[_F_BEST])
    return f_spread <= h[_FTOL] * abs(h[_F_BEST]) and max_step <= step_old


_TELLS = {}


def tell_for(spec):
    """The ``tell`` specialised for ``spec`` (from :func:`new_state`), made once."""
    tell = _TELLS.get(spec)
    if tell is None:
        tell = _TELLS[spec] = _make_tell(*spec)
    return tell


# --- accessors: the rest of the package reads a run through these ---------------------


def python_loop_view(run):
    """``(x_a, x_b, header, cur_slot)``: what the Python loop reads per step.

    The current iterate is ``x_b if header[cur_slot] else x_a``.
    """
    return run.x_a, run.x_b, run.header, _CUR


@numba.njit(cache=True)
def current_x_compiled(state):
    """The iterate the next evaluation is for (in compiled code)."""
    return state.x_b if state.header[_CUR] != 0.0 else state.x_a


def current_x(run):
    """The iterate the next evaluation is for."""
    return run.x_b if run.header[_CUR] != 0.0 else run.x_a


def counts(run):
    """``(nit, nfev, njev)``: steps taken and calls of ``fun`` and ``jac``."""
    h = run.header
    return max(int(h[_NIT]) - 1, 0), int(h[_NFEV]), int(h[_NJEV])


def best(run):
    """``(x, f, g)`` of the best point, or None if no finite point was seen.

    The arrays are the run's own: take them only when the run is over.
    """
    h = run.header
    if h[_BEST] < 0:
        return None
    return (run.x_b if h[_BEST] else run.x_a), float(h[_F_BEST]), run.g_best


def step_size(run):
    """The step sizes Δ (the run's own array)."""
    return run.step
