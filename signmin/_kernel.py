"""The Rprop kernel: state layout and one ``tell`` shared by every driver.

Notation (Riedmiller & Braun 1993; Igel & Hüsken 2003). For each coordinate
``i`` the method keeps a step size Δ_i (``step``), the sign of the previous
partial derivative (``g_prev``) and the last step actually taken
(``dx_prev``). With g the current partial derivative, its sign is compared with
the stored one:

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

All state lives in one float64 array, so that a call from Python costs one
cheap numba dispatch (each array argument adds to it); two views name its parts:

``P`` (the first ``HEADER`` entries)
    options, scalar state and two ring buffers for the ``ftol`` window.
``S`` (the rest, rows × n)
    two x buffers (the current iterate and the best one, swapped instead of
    copied), two matching gradient buffers, Δ, the previous sign, the last step,
    the bounds and the per-coordinate scale used by ``xtol``.

Nothing is allocated per call.
"""

import numba
import numpy as np

# Rows of S.
X_A, X_B, G_A, G_B, STEP, G_PREV, DX_PREV, LOWER, UPPER, X_SCALE = range(10)
N_ROWS = 10

# Slots of P.
(VARIANT, ETA_MINUS, ETA_PLUS, STEP_MIN, STEP_MAX, XTOL, FTOL, GTOL, MAXITER,
 MAXFEV, EVAL_COST, BOUNDED, CUR, BEST, F_BEST, F_PREV, NIT, NFEV, RING_POS,
 RING) = range(20)
#: The ftol rule looks this many iterations back.
WINDOW = 10
HEADER = RING + 2 * WINDOW

EPS = np.finfo(np.float64).eps

# Variants.
RPROP_PLUS, RPROP_MINUS, IRPROP_PLUS, IRPROP_MINUS = range(4)
VARIANTS = {"rprop+": RPROP_PLUS, "rprop-": RPROP_MINUS,
            "irprop+": IRPROP_PLUS, "irprop-": IRPROP_MINUS}

# Status codes returned by ``tell`` (0: go on); the front door maps them to
# messages.
CONTINUE, GTOL_MET, XTOL_MET, FTOL_MET, MAXITER_HIT, MAXFEV_HIT, NONFINITE = range(7)
CALLBACK_STOP = 99  # set by the Python driver, as SciPy does


def new_state(x0, lower, upper, x_scale, step0, variant, eta_minus, eta_plus,
              step_min, step_max, xtol, ftol, gtol, maxiter, maxfev, eval_cost):
    """Allocate and fill the kernel state for a run starting at ``x0``.

    Returns ``state`` (what ``tell`` takes) and its two views ``S`` and ``P``.
    ``eval_cost`` is the most calls of ``fun`` one evaluation can take.
    ``P[NFEV]`` counts the calls of ``fun``: ``tell`` adds the one call of
    each evaluation it is told of, finite differences add theirs.
    """
    n = x0.shape[0]
    state = np.zeros(HEADER + N_ROWS * n)
    P, S = views(state)
    S[X_A] = x0
    S[STEP] = np.clip(step0, step_min, step_max)
    S[LOWER] = lower
    S[UPPER] = upper
    S[X_SCALE] = x_scale
    P[VARIANT] = variant
    P[ETA_MINUS], P[ETA_PLUS] = eta_minus, eta_plus
    P[STEP_MIN], P[STEP_MAX] = step_min, step_max
    P[XTOL], P[FTOL], P[GTOL] = xtol, ftol, gtol
    P[MAXITER], P[MAXFEV], P[EVAL_COST] = maxiter, maxfev, eval_cost
    P[BOUNDED] = float(np.any(np.isfinite(lower)) or np.any(np.isfinite(upper)))
    P[CUR], P[BEST] = X_A, -1.0
    P[F_BEST] = P[F_PREV] = np.inf
    P[RING:] = np.inf
    return state, S, P


@numba.njit(cache=True)
def views(state):
    """``(P, S)``: the header and the rows × n block of ``state``."""
    n = (state.shape[0] - HEADER) // N_ROWS
    return state[:HEADER], state[HEADER:].reshape((N_ROWS, n))


@numba.njit(cache=True, inline="always")
def _sign(v):
    # NaN gives 0: a NaN derivative never moves x (the run stops on it anyway).
    return (v > 0.0) - (v < 0.0)


@numba.njit(cache=True)
def _take_best_gradient(g, state, start):
    """Copy g into ``state[start:start + n]``; False if g is not finite."""
    for i in range(g.shape[0]):
        gi = g[i]
        if not np.isfinite(gi):
            return False
        state[start + i] = gi
    return True


@numba.njit(cache=True)
def tell(state, g, f):
    """Absorb ``f`` and ``g`` at the current iterate and propose the next one.

    The current iterate is row ``P[CUR]`` of ``S``; the proposal is written
    in place, or into the other x buffer when the current iterate becomes the
    best point (so the best point is never overwritten and never copied).
    Returns a status code (``CONTINUE`` to go on). ``P[NIT]`` counts the calls,
    so after the call that absorbs the k-th step's point it is k + 1.
    """
    n = (state.shape[0] - HEADER) // N_ROWS
    # The header is the start of state: P[k] is state[k], without the cost of
    # a view.
    P = state
    P[NIT] += 1.0
    P[NFEV] += 1.0
    cur = int(P[CUR])
    variant = int(P[VARIANT])
    if not np.isfinite(f):
        return NONFINITE
    is_best = f < P[F_BEST]
    if is_best and not _take_best_gradient(g, state, HEADER + (cur + G_A - X_A) * n):
        return NONFINITE
    out = cur
    if is_best:
        out = X_B if cur == X_A else X_A
        P[BEST] = cur
        P[F_BEST] = f
    # Offsets of the rows in state. The loop indexes state directly: slicing
    # out row views would cost two atomic reference-count updates each, more
    # than the whole update of a small problem.
    # Unsigned offsets spare every access the check for a negative index.
    un = np.uint64(n)
    x, x_next = np.uint64(HEADER + cur * n), np.uint64(HEADER + out * n)
    steps, g_prev = np.uint64(HEADER + STEP * n), np.uint64(HEADER + G_PREV * n)
    dx_prev, lower = np.uint64(HEADER + DX_PREV * n), np.uint64(HEADER + LOWER * n)
    upper, x_scale = np.uint64(HEADER + UPPER * n), np.uint64(HEADER + X_SCALE * n)
    eta_minus, eta_plus = P[ETA_MINUS], P[ETA_PLUS]
    step_min, step_max = P[STEP_MIN], P[STEP_MAX]
    xtol, gtol = P[XTOL], P[GTOL]
    bounded = P[BOUNDED] != 0.0
    went_up = f > P[F_PREV]
    backtracks = variant == RPROP_PLUS or variant == IRPROP_PLUS
    undo = variant == RPROP_PLUS or went_up
    halts = variant == IRPROP_MINUS
    # The xtol flag starts False when the rule is off, so that the loop never
    # reads what the rule needs. gtol = 0 still stops on an exactly zero
    # projected gradient: Rprop cannot move from there, ever.
    x_converged = xtol > 0.0
    g_converged = True
    finite = True
    max_step = 0.0
    for i in range(un):
        gi = g[i]
        xi = state[x + i]
        if not np.isfinite(gi):
            finite = False
        s = _sign(gi)
        flip = s * state[g_prev + i]
        step = state[steps + i]
        blocked = False
        if bounded:
            lo, hi = state[lower + i], state[upper + i]
            # The box blocks the descent here: the projected gradient is zero,
            # and the step must not grow without bound while x stays put.
            blocked = (xi <= lo and gi > 0.0) or (xi >= hi and gi < 0.0)
        if blocked:
            gi = 0.0
            dx = 0.0
            state[g_prev + i] = s
        else:
            if flip > 0.0:
                step = min(step * eta_plus, step_max)
                state[steps + i] = step
            elif flip < 0.0:
                # A step below the spacing of floating-point numbers around x
                # moves nothing, and one that reaches 0 could never grow
                # again: the floor keeps the step meaningful.
                step = max(step * eta_minus, step_min,
                           EPS * max(abs(xi), state[x_scale + i]))
                state[steps + i] = step
            if flip < 0.0 and backtracks:
                dx = -state[dx_prev + i] if undo else 0.0
                state[g_prev + i] = 0.0
            elif flip < 0.0 and halts:
                dx = 0.0
                state[g_prev + i] = 0.0
            else:
                dx = -s * step
                state[g_prev + i] = s
        x_new = xi + dx
        if bounded:
            if x_new < lo:
                x_new = lo
            elif x_new > hi:
                x_new = hi
        state[x_next + i] = x_new
        if backtracks:
            state[dx_prev + i] = x_new - xi
        if g_converged and abs(gi) > gtol:
            g_converged = False
        if x_converged and not blocked and step > xtol * max(abs(xi), state[x_scale + i]):
            x_converged = False
        if step > max_step and not blocked:
            max_step = step
    P[CUR] = out
    P[F_PREV] = f
    if not finite:
        return NONFINITE
    # ftol: every f of the last WINDOW iterates lies within ftol * |f_best| of
    # the best, so f is at its noise floor, and the steps have not grown. A
    # search that overshoots and backtracks sees larger f values, and a march
    # across a plateau (f flat to the last bit, gradient still signed) grows
    # its steps, so neither looks like convergence.
    ftol = P[FTOL]
    ftol_met = False
    if ftol > 0.0:
        pos = int(P[RING_POS])
        step_old = P[RING + WINDOW + pos]
        P[RING + pos] = f
        P[RING + WINDOW + pos] = max_step
        P[RING_POS] = (pos + 1) % WINDOW
        f_spread = 0.0
        for k in range(WINDOW):
            f_spread = max(f_spread, P[RING + k] - P[F_BEST])
        ftol_met = f_spread <= ftol * abs(P[F_BEST]) and max_step <= step_old
    if g_converged:
        return GTOL_MET
    if x_converged:
        return XTOL_MET
    if ftol_met:
        return FTOL_MET
    if P[NIT] > P[MAXITER]:
        return MAXITER_HIT
    # Stop before an evaluation that could pass maxfev.
    if P[NFEV] + P[EVAL_COST] > P[MAXFEV]:
        return MAXFEV_HIT
    return CONTINUE
