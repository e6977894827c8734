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
on, gtol among them) from one source (:func:`_make_tell`): the choices are compile-time
constants, so the loop of the common case has no branch they decide. (Measured
against one ``tell`` with those choices as run-time flags, at n = 1e5: branches
on them inside the loop, or every rule's test taken without branches, or the
pattern moves and the spare row decided at run time, each made the update 1.5-1.8x
slower; a compile costs seconds once per machine, the loop costs on every step.)
Whether the bracket rule still stops the run is the one run-time flag (the
header's): a run goes on after its finish through the same ``tell``.

The same source also makes one *generic* ``tell``, which reads those choices
from the run's header: the Python loop and the batch driver run it up to
:data:`GENERIC_MAX_N` variables (see :func:`tell_of`), where the update's cost
is small beside the driver's own, so that a new kind of run in a new
environment waits for no compile. The compiled loop around the user's
functions and larger runs keep the specialised ones.
Only this module knows the layout; the rest of the package uses the
accessors at the end.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.experimental import structref
from numba.extending import intrinsic, overload

from .._jit import cached, inline, renamed_copy, run_time
from .._numerics import EPS
from .._status import FTOL_WINDOW, Status

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
STOP_MAXITER, STOP_MAXFEV, STOP_NO_PROGRESS, STOP_BRACKETED = (
    int(Status.MAXITER), int(Status.MAXFEV), int(Status.NO_PROGRESS), int(Status.BRACKETED))

#: After a pattern move that gained, each step size is at least this fraction
#: of the move's length in its variable.
PATTERN_STEP = 0.5
#: The Rprop steps between pattern moves start at this many times n, and
#: stay within [2, PATTERN_PERIOD_MAX * n] (see the pattern moves below).
PATTERN_PERIOD_START, PATTERN_PERIOD_MAX = 1.0, 4.0
#: From this many variables on, the update runs on all cores (numba.prange)...
#: Measured on the 2-core machine of benchmarks/large_n.py, two threads lost to
#: one at every size up to 1e7 (own cost per step 2.1-2.9 passes against
#: 1.3-1.5 at 1e6 and 1e7: the row is memory-bound, and the second core runs
#: the other thread's spin-wait), so the threshold lies above the sizes measured.
PARALLEL_THRESHOLD = 20_000_000
#: ...in chunks of this many coordinates (fixed, so results never depend on threads).
PARALLEL_CHUNK = 65_536

# Slots of the header (options first, then the scalar state). Offsets into
# ``State.header``; nothing outside this module reads them.
(_ETA_MINUS, _ETA_PLUS, _STEP_MIN, _STEP_MAX, _XTOL, _FTOL, _GTOL, _MAXITER, _MAXFEV,
 _EVAL_COST, _STALL_WINDOW, _STALL_START, _JAC_CALLS, _JAC_CALLS_NONFINITE,
 _CUR, _BEST, _F_BEST, _F_PREV, _NIT, _NFEV, _NJEV, _SINCE_BEST, _IMPROVEMENTS,
 _MODE, _ALPHA, _GAINED, _PERIOD, _PERIOD_MAX, _SINCE_PATTERN, _RING_POS, _BRACKET,
 _CHOICES, _RING) = range(33)
_HEADER = _RING + 2 * FTOL_WINDOW


@structref.register
class _StateType(types.StructRef):
    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(typ)) for name, typ in fields)


class State(structref.StructRefProxy):
    """One run's state: options, counters and the per-coordinate rows.

    Fields: ``header`` (float64: options and scalar state), ``x_a``, ``x_b`` and ``x_c`` (the
    current iterate, the best point and, in a run with a spare row, where the next proposal
    from a best point goes: the roles pass from row to row, the rows are never copied),
    ``g_best`` (the best point's gradient: the array the driver handed over when it could, else
    a copy; length 0 until the first best point), ``step`` (Δ), ``sign`` (int8, the sign of
    the previous partial derivative), ``dx_prev`` (the last step, for the backtracking
    variants), ``lower`` and ``upper`` (bounded runs), ``scale`` (float32, each variable's scale
    for tolerances and floors), ``flipped`` (int8: whether each sign has changed once, for the
    bracket rule), ``anchor`` (the pattern moves' anchor, then their direction).
    """


_FIELDS = ["header", "x_a", "x_b", "x_c", "g_best", "step", "sign", "dx_prev", "lower", "upper",
           "scale", "flipped", "anchor"]
structref.define_proxy(State, _StateType, _FIELDS)

#: The numba type of every run's state (:func:`new_state` makes each row
#: contiguous, of its one dtype), known before any run: the Python loop hands
#: ``tell`` the state's address, and ``tell`` needs the type it points to.
STATE_TYPE = _StateType([
    (name, types.Array(types.int8 if name in ("sign", "flipped") else
                       types.float32 if name == "scale" else types.float64, 1, "C"))
    for name in _FIELDS])


#: The rows a Run also holds as Python references: all but ``g_best``, which
#: ``tell`` may replace (read it through the state).
_PYTHON_FIELDS = [name for name in _FIELDS if name != "g_best"]


class Run:
    """A run's :class:`State` (what ``tell`` takes), the Python references to
    its arrays (for the accessors below, without a compiled call) and ``spec``,
    the key of its specialised ``tell`` (see :func:`tell_for`)."""

    __slots__ = ("state", "spec", *_PYTHON_FIELDS)

    def __init__(self, spec, **fields):
        self.spec = spec
        self.hold(fields)

    def hold(self, fields):
        """Make ``fields`` (every array by field name, taken over) this run's state."""
        for name in _PYTHON_FIELDS:
            setattr(self, name, fields[name])
        self.state = _new_state(*(fields[name] for name in _FIELDS))


@cached
def _new_state(header, x_a, x_b, x_c, g_best, step, sign, dx_prev, lower, upper, scale,
               flipped, anchor):
    # Compiled once and cached: State(...) from Python would compile its
    # constructor anew in every process.
    return State(header, x_a, x_b, x_c, g_best, step, sign, dx_prev, lower, upper, scale,
                 flipped, anchor)


def new_state(*, x0, lower, upper, scale, step0, variant, eta_minus, eta_plus, step_min,
              step_max, xtol, ftol, gtol, maxiter, maxfev, eval_cost, stall_window,
              jac_calls, jac_calls_nonfinite, until_bracketed=False, accelerate=False):
    """Allocate a run's state at ``x0`` with step sizes ``step0`` (float64
    arrays it takes over, not copies); keywords only, so no two can be swapped.

    ``lower``/``upper`` are None for an unbounded run. ``eval_cost`` is the most
    calls of ``fun`` one evaluation can take (for ``maxfev``); ``jac_calls`` and
    ``jac_calls_nonfinite`` are the calls of ``jac`` an evaluation makes when
    its f is finite and when it is not. Returns a :class:`Run`.
    """
    n = x0.shape[0]
    bounded = lower is not None
    empty = np.empty(0)
    header = np.zeros(_HEADER)
    header[_ETA_MINUS], header[_ETA_PLUS] = eta_minus, eta_plus
    header[_STEP_MIN], header[_STEP_MAX] = step_min, step_max
    header[_XTOL], header[_FTOL], header[_GTOL] = xtol, ftol, gtol
    header[_MAXITER], header[_MAXFEV], header[_EVAL_COST] = maxiter, maxfev, eval_cost
    # Until f first improves on f(x0) the window is n times longer: a run may
    # climb out of a good start before it descends (measured: Moré et al.'s
    # discrete boundary value problem spends 7,404 steps above f(x0) at n = 24).
    header[_STALL_WINDOW], header[_STALL_START] = stall_window, stall_window * n
    header[_JAC_CALLS], header[_JAC_CALLS_NONFINITE] = jac_calls, jac_calls_nonfinite
    header[_CUR], header[_BEST] = 0.0, -1.0
    header[_F_BEST] = header[_F_PREV] = np.inf
    header[_PERIOD] = max(2.0, PATTERN_PERIOD_START * n)
    header[_PERIOD_MAX] = max(2.0, PATTERN_PERIOD_MAX * n)
    header[_BRACKET] = float(until_bracketed)
    parallel = n >= PARALLEL_THRESHOLD and numba.config.NUMBA_NUM_THREADS > 1
    spec = (variant, bounded, xtol > 0.0, ftol > 0.0, until_bracketed, accelerate, parallel,
            gtol > 0.0)
    header[_CHOICES] = _choice_bits(spec)
    header[_RING:] = np.inf
    x_a = x0  # the front door's own copy: the state takes it over
    step = _row(step0)  # the front door's own: clipped in place
    _clip_into(step, step, step_min, step_max)
    return Run(spec, header=header, x_a=x_a, x_b=np.empty(n),
               x_c=np.empty(n) if has_spare_row(bounded, accelerate) else empty,
               g_best=empty, step=step,
               sign=np.zeros(n, dtype=np.int8),
               dx_prev=np.zeros(n) if variant in BACKTRACKING else empty,
               lower=_row(lower) if bounded else empty, upper=_row(upper) if bounded else empty,
               scale=_row(scale, np.float32),
               flipped=np.zeros(n, dtype=np.int8) if until_bracketed else _EMPTY_INT8,
               anchor=x0.copy() if accelerate else empty)


def has_spare_row(bounded, accelerate):
    """Whether a run keeps a third x row, where a proposal from a best point goes.

    Without it the proposal overwrites the previous best point, so a best
    point's gradient must be checked finite first, in a read of its own: the
    run ends at the previous best if it is not (measured at n = 1e7: 0.23-0.49
    of a 56 B/coordinate pass a step, the update itself about 1). With it the
    update checks the gradient as it reads it, and the previous best survives
    in its row. The row costs 1 x of memory: bounded runs (7.8 x without it)
    and runs with pattern moves (their anchor row; their trial points come
    from best points too) keep two rows, within the 8 x of issue 13.
    """
    return not bounded and not accelerate


def _row(values, dtype=np.float64):
    # (Of STATE_TYPE's kind: a view of the front door's array may be strided.)
    return np.ascontiguousarray(values, dtype=dtype)


@cached
def _clip_into(out, values, lo, hi):
    for i in range(out.shape[0]):
        out[i] = min(max(values[i], lo), hi)


@cached(inline="always")
def _sign(v):
    # NaN gives 0: a NaN derivative never moves x (the run stops on it anyway).
    return (v > 0.0) - (v < 0.0)


@cached
def _all_finite(g):
    for i in range(g.shape[0]):
        if not math.isfinite(g[i]):
            return False
    return True


@cached(parallel=True)
def _all_finite_parallel(g):
    n = g.shape[0]
    chunks = (n + PARALLEL_CHUNK - 1) // PARALLEL_CHUNK
    ok = np.empty(chunks, dtype=np.bool_)
    for c in numba.prange(chunks):
        a = c * PARALLEL_CHUNK
        ok[c] = _all_finite(g[a:min(n, a + PARALLEL_CHUNK)])
    return ok.all()


@intrinsic
def handed_over(typingctx, arr):
    """Whether nothing but the caller holds ``arr``'s memory (numba's reference
    count, the first field of the array's meminfo, is 1): a compiled driver
    asks it of the gradient it is about to tell, right after evaluating it.

    (Asked inside ``tell`` the answer would depend on whether numba keeps its
    own count of the argument there.)
    """
    if not isinstance(arr, types.Array):
        return None

    def codegen(context, builder, signature, args):
        meminfo = context.make_array(signature.args[0])(context, builder, args[0]).meminfo
        count_type = ir.IntType(64)
        sole = cgutils.alloca_once_value(builder, cgutils.false_bit)
        with builder.if_then(cgutils.is_not_null(builder, meminfo)):
            count = builder.load(builder.bitcast(meminfo, count_type.as_pointer()))
            builder.store(builder.icmp_unsigned("==", count, count_type(1)), sole)
        return builder.load(sole)

    return types.boolean(arr), codegen


@intrinsic
def _address_of(typingctx, state):
    if not isinstance(state, _StateType):
        return None

    def codegen(context, builder, signature, args):
        ref = cgutils.create_struct_proxy(signature.args[0])(context, builder, value=args[0])
        return builder.ptrtoint(ref.meminfo, context.get_value_type(types.intp))

    return types.intp(state), codegen


@cached
def state_address(state):
    """The address of ``state`` (its meminfo), for ``tell`` to take in its
    place: unboxing an integer costs a fraction of unboxing the state (measured:
    76 ns against 211 ns a call). Only while the caller holds the state."""
    return _address_of(state)


@intrinsic
def _state_at(typingctx, address):
    """The state at ``address`` (see :func:`state_address`)."""
    if not isinstance(address, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        ref = cgutils.create_struct_proxy(STATE_TYPE)(context, builder)
        ref.meminfo = builder.inttoptr(args[0], ref.meminfo.type)
        value = ref._getvalue()
        # A new reference, as numba takes what a call returns: released at the
        # end of the caller like any other.
        context.nrt.incref(builder, STATE_TYPE, value)
        return value

    return STATE_TYPE(address), codegen


def _as_state(state):
    """``state``, or the state at the address ``state`` (in compiled code)."""


# (Overloads not cached on their own: their dispatchers are numba's, out of
# reach of _jit.locked; every caller's cache holds their code.)
@overload(_as_state)
def _as_state_impl(state):
    if isinstance(state, types.Integer):
        return lambda state: _state_at(state)
    return lambda state: state


def _keep_gradient(state, g, handed_over):
    """Make ``g`` (finite) the best point's gradient: ``g`` itself if
    ``handed_over`` (nothing but the caller holds it) and of the row's type,
    else a copy."""


@overload(_keep_gradient)
def _keep_gradient_impl(state, g, handed_over):
    # A gradient the caller hands over whole (the compiled driver's, from a
    # jac that returns a new array) is kept as it is: no copy, no second row
    # of n floats. One that someone else still holds (a jac that fills a
    # buffer of its own, the finite-difference buffer, the Python loop's) is
    # copied, since its owner will write it again.
    can_take = g == state.field_dict["g_best"]

    def impl(state, g, handed_over):
        if can_take and handed_over:
            state.g_best = g
            return
        out = state.g_best
        if out.shape[0] != g.shape[0]:
            out = np.empty(g.shape[0])
            state.g_best = out
        out = _borrowed(out)
        # (A loop, not ``out[:] = g``: the slice assignment brings in numba's
        # broadcasting checks, seconds of compile for every tell.)
        for i in range(g.shape[0]):
            out[i] = g[i]

    return impl


_EMPTY_INT8 = np.zeros(0, dtype=np.int8)


@intrinsic
def _borrowed(typingctx, arr):
    """``arr`` without its reference count: a view for the duration of one call.

    Each use of a counted array (a field of the state, an argument) costs an
    atomic increment and decrement, about 25 per ``tell`` of a generic run:
    more than the whole update of a small problem. The state holds every
    row for as long as ``tell`` runs, so its views need no count. Never
    return one, nor store it.
    """
    if not isinstance(arr, types.Array):
        return None

    def codegen(context, builder, signature, args):
        view = context.make_array(signature.args[0])(context, builder, args[0])
        view.meminfo = cgutils.get_null_value(view.meminfo.type)
        view.parent = cgutils.get_null_value(view.parent.type)
        return view._getvalue()

    return arr(arr), codegen


@cached
def _x_row(state, k):
    # Row k of the x rows (a counted reference).
    return (state.x_a, state.x_b, state.x_c)[k]


@cached
def _become_best(state, h, g, handed_over, f, cur, to):
    # The told point (row cur, gradient g, known finite) is the best; the
    # proposal from it is in row ``to``. (A call: typed once, not in every
    # tell, and off the loop.)
    _keep_gradient(state, g, handed_over)
    h[_BEST] = cur
    h[_CUR] = to
    h[_F_BEST] = f
    h[_SINCE_BEST] = 0.0
    h[_IMPROVEMENTS] += 1.0


@inline
def _blocked(xi, gi, lo, hi):
    # The box blocks the descent here: the projected gradient is zero.
    return (xi <= lo and gi > 0.0) or (xi >= hi and gi < 0.0)


@cached(forceinline=True)
def _rprop_coordinate(xi, gi, prev_sign, di, lo, hi, scale_i, last, was_flipped, eta_minus,
                      eta_plus, step_min, step_max, xtol, gtol, undo, continues, backtracks,
                      bounded):
    # One coordinate's update and its part in the rules: ``(step, sign, x_new,
    # finite, g small, step within xtol, step for ftol, flipped, bracketed)``.
    # Compiled once for every kind of tell (the choices after ``gtol`` come as
    # run-time booleans) and inlined by LLVM into each tell's loops, where they
    # are constants that fold away (see _jit: numba inlining it cost seconds a
    # tell).
    finite = math.isfinite(gi)
    s = _sign(gi)
    flip = s * prev_sign
    blocked = False
    if bounded:
        # (And the step must not grow while x stays put.)
        blocked = _blocked(xi, gi, lo, hi)
        flip = 0 if blocked else flip
        gi = 0.0 if blocked else gi
    grown = min(di * eta_plus, step_max)
    # A step below the spacing of floats around x moves nothing, and
    # one that reached 0 could never grow again.
    shrunk = max(di * eta_minus, step_min, EPS * max(abs(xi), scale_i))
    di = grown if flip > 0 else (shrunk if flip < 0 else di)
    # What a sign change does is the variant's: move on (rprop-),
    # stay (irprop-), take the last step back (rprop+, and irprop+
    # when f went up).
    s_move = 0 if (flip < 0 and not continues) else s
    dx = -s_move * di
    if backtracks:
        dx = (-last if undo else 0.0) if flip < 0 else dx
    dx = 0.0 if blocked else dx
    x_new = xi + dx
    if bounded:
        x_new = min(max(x_new, lo), hi)
    # A coordinate with no information (a zero or blocked partial
    # derivative) has nothing to converge to: it does not count; nor can it
    # bracket anything.
    flipped = 1 if flip < 0 else was_flipped
    return (di, s if blocked else s_move, x_new, finite, abs(gi) <= gtol,
            gi == 0.0 or di <= xtol * max(abs(xi), scale_i), 0.0 if blocked else di,
            flipped, flipped != 0 or gi == 0.0)


@inline
def _rprop_update(state, h, x, g, x_next, went_up, start, stop, backtracks, continues,
                  undo_always, bounded, xtol_on, ftol_on, bracket_on, gtol_on, check_finite):
    """The Rprop update of coordinates ``start:stop`` from ``x`` with gradient
    ``g``, the proposal written into ``x_next``; returns what the rules need.

    The flags after ``stop`` are the compile-time constants of the calling
    ``tell``: inlined into it (a module-level function, so that the ``tell``
    made for each combination can be cached on disk), they fold away, in the
    loop here and in :func:`_rprop_coordinate`, which LLVM inlines. Without
    ``gtol_on`` the gradient's test is left to :func:`_gradient_is_zero`;
    without ``check_finite`` (g known finite) so is the finiteness.
    """
    step, sign = _borrowed(state.step), _borrowed(state.sign)
    dx_prev, scale = _borrowed(state.dx_prev), _borrowed(state.scale)
    lower, upper = _borrowed(state.lower), _borrowed(state.upper)
    flipped = _borrowed(state.flipped)
    eta_minus, eta_plus = h[_ETA_MINUS], h[_ETA_PLUS]
    step_min, step_max = h[_STEP_MIN], h[_STEP_MAX]
    xtol, gtol = h[_XTOL], h[_GTOL]
    undo = undo_always or went_up
    finite = True
    g_converged = True
    x_converged = xtol_on
    moved = False
    bracketed = bracket_on
    max_step = 0.0
    # Written without branches that the data decide (selects and
    # unconditional stores), so that the compiler can vectorise the loop.
    for i in range(start, stop):
        xi = x[i]
        lo = hi = last = 0.0  # (defined on every path: numba's inliner needs it)
        if bounded:
            lo, hi = lower[i], upper[i]
        if backtracks:
            last = dx_prev[i]
        was_flipped = flipped[i] if bracket_on else 0
        r = _rprop_coordinate(xi, g[i], sign[i], step[i], lo, hi, scale[i], last, was_flipped,
                              eta_minus, eta_plus, step_min, step_max, xtol, gtol,
                              run_time(undo), run_time(continues), run_time(backtracks),
                              run_time(bounded))
        step[i], sign[i], x_next[i] = r[0], r[1], r[2]
        if backtracks:
            dx_prev[i] = r[2] - xi
        moved |= r[2] != xi
        if check_finite:
            finite &= r[3]
        if gtol_on:
            g_converged &= r[4]
        if xtol_on:
            x_converged &= r[5]
        if ftol_on:
            max_step = max(max_step, r[6])
        if bracket_on:
            flipped[i] = r[7]
            bracketed &= r[8]
    return finite, g_converged, x_converged, moved, bracketed, max_step


# The same update as a function object of its own, for the in-place call
# (``x_next`` is ``x``), a loop of its own: where the two may be one array, the
# compiler's check for overlap fails and only its scalar loop runs (measured at
# n = 1e5: every sample in the scalar loop; own cost 2.9 passes, 1.0 with this
# loop). (Not one function inlined twice: numba warns about that. Not a
# function the factory makes: a tell that closes over a compiled function
# misses the disk cache in every new process.)
_rprop_update_in_place = inline(renamed_copy(_rprop_update, "_rprop_update_in_place"))
# And as a call of its own, for the generic tell (measured side by side, fresh
# processes, 8 each: its first call with an empty cache 5.0-5.7 s against
# 5.4-6.6 s inlined; the step at n = 10 and 64 within noise).
_rprop_update_called = cached(renamed_copy(_rprop_update, "_rprop_update_called"))


def _make_tell(variant, bounded, xtol_on, ftol_on, bracket_on, accel_on, parallel, gtol_on):
    """``tell`` for one variant, with or without bounds, xtol, ftol, the
    bracket rule's row of sign changes (the rule stops the run once every sign
    has changed, while the header's flag is on), pattern moves and a gtol
    above 0; or, with ``variant`` None, the generic ``tell`` (see
    :func:`tell_of`), which reads those choices from the run's header.

    The arguments are compile-time constants of the function made here: each
    combination compiles to its own loop, and a branch they decide is not in
    it. Every combination, and the generic one, comes from this one source.
    """
    generic = variant is None
    if generic:
        fixed = (False,) * 10
    else:
        fixed = _choices_of(variant, bounded, xtol_on, ftol_on, bracket_on, accel_on, gtol_on)

    def tell(state_or_address, g, f, calls, handed_over):
        """Absorb ``f`` and ``g`` at the current iterate and propose the next one.

        The state comes itself or as its address (see :func:`state_address`).
        ``calls`` is the calls of ``fun`` the evaluation took (0 when the
        driver tells the previous f and g again after ``REPEAT``).
        ``handed_over`` says that nothing but the caller holds g (see
        :func:`handed_over`): the state may then keep g itself. The proposal
        is written in place, or into the other x buffer when the current
        iterate becomes the best point. Returns ``CONTINUE``, ``REPEAT`` or
        the Status that ends the run.
        """
        state = _as_state(state_or_address)
        h = _borrowed(state.header)
        g_given = g
        # (numba prunes the branch not taken: ``generic`` is a constant.)
        if generic:
            choices = _choices(h)
        else:
            choices = fixed
        (backtracks, continues, undo_always, spare, bounded, xtol_on, ftol_on, bracket_on,
         accel_on, gtol_on) = choices
        g = _borrowed(g)
        _count(h, f, calls)
        if not math.isfinite(f):
            # Not a step: the run ends at the best point before it.
            return STOP_NONFINITE
        h[_NIT] += 1.0
        cur = int(h[_CUR])
        best = int(h[_BEST])
        # Where a proposal from a best point goes: the row that is neither
        # the current nor the best one (spare), else the previous best's.
        to = 3 - cur - best if spare and best >= 0 else 1 - cur
        # (Selects, not _x_row: indexing a tuple of rows, or a call, cost
        # 0.1-0.28 of the bare loop at n = 10.)
        x_a, x_b, x_c = _borrowed(state.x_a), _borrowed(state.x_b), _borrowed(state.x_c)
        x = x_a if cur == 0 else (x_b if cur == 1 else x_c)
        other = x_a if to == 0 else (x_b if to == 1 else x_c)
        x_next = x
        in_place = True
        is_best = f < h[_F_BEST]
        if is_best:
            if not spare:
                # (Checked first: a gradient that is not finite ends the run
                # at the previous best point, which the proposal overwrites.)
                if not (_all_finite_parallel(g) if parallel else _all_finite(g)):
                    return STOP_NONFINITE
                _become_best(state, h, g_given, handed_over, f, cur, to)
            # The best point stays where it is; the proposal goes to another row.
            x_next = other
            in_place = False
        else:
            h[_SINCE_BEST] += 1.0
        if accel_on:
            if h[_MODE] != 0.0:
                if is_best:
                    # The trial beat the best: go twice as far along d.
                    _pattern_point(state, x, x_next, h[_ALPHA])
                    h[_ALPHA] *= 2.0
                    h[_GAINED] = 1.0
                    return _budget_status(h)
                # The last trial failed: the Rprop step resumes from the best
                # point (x_next here), with its gradient and signs.
                _end_pattern(state, h, other)
                x, g, f, x_next = other, state.g_best, h[_F_BEST], x
                in_place = False
            elif is_best and h[_SINCE_PATTERN] >= h[_PERIOD] and _start_pattern(state, x):
                _pattern_point(state, x, x_next, 1.0)
                h[_MODE], h[_ALPHA], h[_GAINED] = 1.0, 1.0, 0.0
                h[_F_PREV] = f
                return _budget_status(h)
            h[_SINCE_PATTERN] += 1.0
        went_up = f > h[_F_PREV]
        h[_F_PREV] = f
        n = x.shape[0]
        if parallel:
            # Chunks of a fixed size, whatever the threads: each coordinate's
            # update is its own, and the rules combine by and, or and max,
            # which no order changes, so the run is bit-identical to the
            # single-thread loop.
            chunks = (n + PARALLEL_CHUNK - 1) // PARALLEL_CHUNK
            flags = np.empty((chunks, 5), dtype=np.bool_)
            steps = np.empty(chunks)
            for c in numba.prange(chunks):
                a = c * PARALLEL_CHUNK
                b = min(n, a + PARALLEL_CHUNK)
                if in_place:
                    r = _rprop_update_in_place(state, h, x, g, x, went_up, a, b, backtracks,
                                               continues, undo_always, bounded, xtol_on,
                                               ftol_on, bracket_on, gtol_on, True)
                else:
                    r = _rprop_update(state, h, x, g, x_next, went_up, a, b, backtracks,
                                      continues, undo_always, bounded, xtol_on, ftol_on,
                                      bracket_on, gtol_on, spare)
                flags[c, 0], flags[c, 1], flags[c, 2], flags[c, 3], flags[c, 4] = r[:5]
                steps[c] = r[5]
            finite, g_converged = flags[:, 0].all(), flags[:, 1].all()
            x_converged, moved = flags[:, 2].all(), flags[:, 3].any()
            bracketed, max_step = flags[:, 4].all(), steps.max()
        else:
            # (The proposal goes to another row only from a best point, whose
            # gradient is known finite unless it goes to the spare row.)
            # (The generic tell calls one loop, compiled on its own: with its
            # choices known only at run time, neither numba's inlining nor the
            # in-place copy buys it anything, and they cost seconds of its
            # compile, which every first call in a new environment waits for.)
            if generic:
                r = _rprop_update_called(state, h, x, g, x_next, went_up, 0, n, backtracks,
                                         continues, undo_always, bounded, xtol_on, ftol_on,
                                         bracket_on, gtol_on, spare or in_place)
            elif in_place:
                r = _rprop_update_in_place(state, h, x, g, x, went_up, 0, n, backtracks,
                                           continues, undo_always, bounded, xtol_on, ftol_on,
                                           bracket_on, gtol_on, True)
            else:
                r = _rprop_update(state, h, x, g, x_next, went_up, 0, n, backtracks, continues,
                                  undo_always, bounded, xtol_on, ftol_on, bracket_on, gtol_on,
                                  spare)
            finite, g_converged, x_converged, moved, bracketed, max_step = r
        if not finite:
            return STOP_NONFINITE
        if spare and is_best:
            # (Only now that g is known finite: else the run ends at the
            # previous best point, untouched in its row.)
            _become_best(state, h, g_given, handed_over, f, cur, to)
        if not gtol_on:
            # gtol 0: a gradient that is zero (projected) moves nothing, so
            # only a step that moved nothing needs the test.
            g_converged = not moved and _gradient_is_zero(state, x, g, bounded)
        ftol_met = False
        if ftol_on:
            ftol_met = _ftol_window(h, f, max_step)
        if g_converged:
            return STOP_GTOL
        if x_converged:
            return STOP_XTOL
        if ftol_met:
            return STOP_FTOL
        if bracketed and h[_BRACKET] != 0.0:
            return STOP_BRACKETED
        if _stalled(h):
            return STOP_NO_PROGRESS
        if h[_NIT] > h[_MAXITER]:
            return STOP_MAXITER
        if not moved:
            return REPEAT
        return _budget_status(h)

    # A name of its own for each kind (its cache files and its machine code's
    # symbol): numba names a compiled function by its qualified name and a
    # counter of the process that compiled it, so two kinds of tell of one name,
    # compiled by two processes, could share a symbol, and a third process that
    # loaded both from the disk cache would run one's code for the other (seen
    # here: a test run's compiled driver stepped unlike the Python one, and LLVM
    # aborted another, until the cache was deleted).
    kind = "generic" if generic else "{}_{:x}{}".format(
        ("rprop_plus", "rprop_minus", "irprop_plus", "irprop_minus")[variant],
        int(_choice_bits((variant, bounded, xtol_on, ftol_on, bracket_on, accel_on, parallel,
                          gtol_on))),
        "_parallel" if parallel else "")
    tell.__name__ = f"tell_{kind}"
    tell.__qualname__ = f"{_make_tell.__qualname__}.{tell.__name__}"
    return cached(parallel=parallel)(tell)


def _choices_of(variant, bounded, xtol_on, ftol_on, bracket_on, accel_on, gtol_on):
    # What a tell decides by: (backtracks, continues, undo_always, spare,
    # bounded, xtol_on, ftol_on, bracket_on, accel_on, gtol_on).
    return (variant in BACKTRACKING, variant == RPROP_MINUS, variant == RPROP_PLUS,
            has_spare_row(bounded, accel_on), bounded, xtol_on, ftol_on, bracket_on, accel_on,
            gtol_on)


def _choice_bits(spec):
    # A spec's choices (all but ``parallel``, which the generic tell never is) as
    # the bits of one header slot, which the generic tell reads (see _choices).
    variant, bounded, xtol_on, ftol_on, bracket_on, accel_on, _, gtol_on = spec
    choices = _choices_of(variant, bounded, xtol_on, ftol_on, bracket_on, accel_on, gtol_on)
    return float(sum(1 << k for k, on in enumerate(choices) if on))


@cached
def _choices(h):
    bits = int(h[_CHOICES])
    return ((bits & 1) != 0, (bits & 2) != 0, (bits & 4) != 0, (bits & 8) != 0,
            (bits & 16) != 0, (bits & 32) != 0, (bits & 64) != 0, (bits & 128) != 0,
            (bits & 256) != 0, (bits & 512) != 0)


@cached
def _gradient_is_zero(state, x, g, bounded):
    lower, upper = state.lower, state.upper
    for i in range(x.shape[0]):
        gi = g[i]
        if gi != 0.0 and not (bounded and _blocked(x[i], gi, lower[i], upper[i])):
            return False
    return True


@cached
def _stalled(h):
    # The first told point is the first best; later ones are improvements.
    window = h[_STALL_WINDOW] if h[_IMPROVEMENTS] > 1.0 else h[_STALL_START]
    return h[_SINCE_BEST] >= window


@cached
def _budget_status(h):
    if _stalled(h):
        return STOP_NO_PROGRESS
    if h[_NIT] > h[_MAXITER]:
        return STOP_MAXITER
    # Stop before an evaluation that could pass maxfev.
    if h[_NFEV] + h[_EVAL_COST] > h[_MAXFEV]:
        return STOP_MAXFEV
    return CONTINUE


# Pattern moves (Hooke & Jeeves 1961), decided by f comparisons alone: every
# PERIOD Rprop steps that end on a new best point, the net displacement d since
# the anchor is tried as a move from the best point, then twice, four times ...
# as far while f keeps falling. Where the Rprop steps of several coordinates
# zigzag along a curved valley, d points down the valley. As in Hooke and
# Jeeves' method, a move that gained leaves the anchor where it started, so
# the next d is that move plus the Rprop steps after it: moves along a valley
# grow from one to the next, where an anchor at the move's end would make the
# next d the few steps of a search whose signs were just reset. A failed move
# sets the anchor to the best point. The trial points are made of x values
# only, so every invariance of the sign method holds. The period starts at n,
# halves after a move that gained and doubles after one that did not, within
# [2, PATTERN_PERIOD_MAX n]: over a long period, the displacement of a search
# converging geometrically overshoots what is left. Measured on the MGH
# problems of benchmarks/robustness.py (median evaluations at stop ÷ BFGS's,
# polish=False, xtol 1e-10): anchors at the end of each move, periods in
# [2, 16 n] from 2 n: 21.1x; the anchor left at the move's start: 15.5x; and
# periods within 4 n: 13.8x (from n: 14.1x; with xtol 1e-8, 10.4x from 2 n
# and 9.3x from n), as many problems solved.


# (Loops, not slice assignments: ``a[:] = b`` brings in numba's broadcasting
# checks and their error messages, 3.8 s of the first compile. Calls, not
# inlined: off the loop.)
@cached
def _fill(out, value):
    for i in range(out.shape[0]):
        out[i] = value


@cached
def _copy_into(out, values):
    for i in range(out.shape[0]):
        out[i] = values[i]


@cached
def _start_pattern(state, x):
    """Turn the anchor row into d = x - anchor; False (anchor set to x) if d = 0."""
    anchor = state.anchor
    nonzero = False
    for i in range(x.shape[0]):
        d = x[i] - anchor[i]
        anchor[i] = d
        nonzero |= d != 0.0
    if not nonzero:
        _copy_into(anchor, x)
    return nonzero


@cached
def _pattern_point(state, x, out, alpha):
    """out = x + alpha * d, inside the box."""
    d, lower, upper = state.anchor, state.lower, state.upper
    bounded = lower.shape[0] > 0
    for i in range(x.shape[0]):
        v = x[i] + alpha * d[i]
        if bounded:
            v = min(max(v, lower[i]), upper[i])
        out[i] = v


@cached
def _end_pattern(state, h, x_best):
    if h[_GAINED] != 0.0:
        h[_PERIOD] = max(2.0, h[_PERIOD] // 2.0)
        # The signs and last steps belong to the point the move left: a sign
        # change against them is no overshoot, and nothing is to be undone.
        _fill(state.sign, 0)
        _fill(state.dx_prev, 0.0)
        # The move went (ALPHA / 2) d: steps far below that would let xtol
        # take a point the move had just passed through for converged.
        moved = 0.5 * h[_ALPHA]
        step, d = state.step, state.anchor
        for i in range(step.shape[0]):
            step[i] = max(step[i], min(PATTERN_STEP * moved * abs(d[i]), h[_STEP_MAX]))
            # The anchor goes back to where the move started.
            d[i] = x_best[i] - moved * d[i]
    else:
        h[_PERIOD] = min(h[_PERIOD_MAX], 2.0 * h[_PERIOD])
        _copy_into(state.anchor, x_best)
    h[_MODE] = 0.0
    h[_SINCE_PATTERN] = 0.0


@cached
def _count(h, f, calls):
    # The one place calls are counted: calls of fun as the evaluator reports
    # them, calls of jac by the form's rule (a repeated point costs nothing).
    if calls > 0:
        h[_NFEV] += calls
        h[_NJEV] += h[_JAC_CALLS] if math.isfinite(f) else h[_JAC_CALLS_NONFINITE]


@cached
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


def stop_bracketing(run):
    """Turn the bracket rule off for the rest of the run (it goes on after a
    finish), with the same ``tell``: its loop still keeps the row of sign
    changes, at a fraction of a compile's cost."""
    run.header[_BRACKET] = 0.0


def start_bracketing(run):
    """Turn the bracket rule (back) on, every sign as yet unchanged."""
    run.flipped[:] = 0
    run.header[_BRACKET] = 1.0


def tell_for(spec):
    """The ``tell`` specialised for ``spec`` (from :func:`new_state`), made once."""
    tell = _TELLS.get(spec)
    if tell is None:
        tell = _TELLS[spec] = _make_tell(*spec)
    return tell


#: Up to this many variables, the Python loop and the batch run the generic
#: ``tell``. Its loop costs about 8-10 ns a coordinate more than a specialised
#: one (its choices are branches, and it is not vectorised). Measured side by
#: side against the specialised tell (fresh processes alternated, 5,000 steps on
#: SciPy's ``rosen``, ``polish=False``): the Python loop's time a step 1.01 at
#: n = 10, 1.02 at 64; on a cheap quadratic, 1.31 at n = 256.
GENERIC_MAX_N = 64
_GENERIC_SPEC = (None, False, False, False, False, False, False, False)


def tell_of(run):
    """The ``tell`` the Python loop and the batch driver run for ``run``: the
    generic one for a small run, else the one specialised for its spec.

    One compile of the generic ``tell`` serves every kind of run (variant,
    bounds, rules, pattern moves), so that a new kind in a new environment
    waits for no compile (measured: 2.7-3.7 s with a specialised ``tell``,
    0.22-0.28 s, the loads from the disk cache, once the default has run). It
    takes the same steps as the specialised one, to the bit: the same
    arithmetic, its choices read instead of folded.
    """
    spec = run.spec
    parallel = spec[6]
    if parallel or run.step.shape[0] > GENERIC_MAX_N:
        return tell_for(spec)
    return tell_for(_GENERIC_SPEC)


# --- accessors: the rest of the package reads a run through these ---------------------


def run_arrays(run):
    """Every array of ``run``'s state by field name (the run's own): with its
    ``spec``, all there is to a run (see :func:`run_from_arrays`)."""
    arrays = {name: getattr(run, name) for name in _PYTHON_FIELDS}
    arrays["g_best"] = _best_gradient(run.state)
    return arrays


def restore(run, arrays):
    """Make copies of ``arrays`` (from :func:`run_arrays` of a run of the same spec)
    ``run``'s state: whoever holds ``run`` sees it (a driver takes ``run.state`` when
    it starts)."""
    run.hold({name: np.array(arrays[name], copy=True) for name in _FIELDS})


def options_of(run):
    """The options ``run`` was made with (a copy of the header's first slots)."""
    return run.header[:_CUR].copy()


def run_from_arrays(spec, arrays):
    """The :class:`Run` of ``spec`` over ``arrays`` (from :func:`run_arrays`: taken over)."""
    return Run(spec, **arrays)


def python_loop_view(run):
    """``(row_at, header, cur_slot, nit_slot)``: what the Python loop reads per step.

    The current iterate is ``row_at[header[cur_slot]]`` (keyed by the header's
    row numbers as it stores them, floats: no ``int()`` a step); after a tell,
    ``header[nit_slot] > 1`` says the point told was a step, not the start.
    """
    return {float(k): row for k, row in enumerate(_rows(run))}, run.header, _CUR, _NIT


def _rows(run):
    # The x rows, in the order the header's row numbers count them.
    return run.x_a, run.x_b, run.x_c


@cached
def current_x_compiled(state):
    """The iterate the next evaluation is for (in compiled code).

    A counted reference, not a borrowed view (see :func:`_borrowed`): it goes
    to the user's function, which may keep it.
    """
    return _x_row(state, int(state.header[_CUR]))


def current_x(run):
    """The iterate the next evaluation is for."""
    return _rows(run)[int(run.header[_CUR])]


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
    return _rows(run)[int(h[_BEST])], float(h[_F_BEST]), _best_gradient(run.state)


@cached
def _best_gradient(state):
    # Read from the state: tell may have replaced the row it started with.
    return state.g_best


def offer_best(run, f, x, g):
    """Make ``x`` (value ``f``, gradient ``g``), a point another phase evaluated,
    the best point if ``f`` is lower. Only once the run is over: the best
    point's row is overwritten."""
    h = run.header
    if h[_BEST] < 0.0 or not f < h[_F_BEST]:
        return
    _rows(run)[int(h[_BEST])][:] = x
    _best_gradient(run.state)[:] = g
    h[_F_BEST] = f


def step_size(run):
    """The step sizes Δ (the run's own array)."""
    return run.step


def scale(run):
    """Each variable's scale (float32), as tolerances and floors use it."""
    return run.scale


def xtol(run):
    """The xtol in force (0 when the rule is off)."""
    return float(run.header[_XTOL])


def set_xtol(run, value):
    """Put ``value`` in force as the xtol (where the rule was compiled in)."""
    run.header[_XTOL] = value


def count_evaluation(run, f, calls):
    """Count an evaluation made outside ``tell`` (a finish phase), as ``tell`` would."""
    # (As floats, the types tell gives it: an int would compile a second
    # specialisation on the first call, 0.1 s.)
    _count(run.header, float(f), float(calls))


def add_steps(run, steps):
    """Count ``steps`` iterations of another phase against ``maxiter``."""
    run.header[_NIT] += steps


def budget(run):
    """``(iterations, evaluations)`` left of ``maxiter`` and ``maxfev`` (may be inf)."""
    h = run.header
    iterations = h[_MAXITER] - max(h[_NIT] - 1.0, 0.0)
    evaluations = h[_MAXFEV] - h[_NFEV]
    if evaluations < np.inf:
        evaluations //= h[_EVAL_COST]
    return max(iterations, 0.0), max(evaluations, 0.0)


def jump(run, x, step):
    """Make ``x`` (a better point another phase found) the current iterate.

    The signs and last steps belong to the old point and are forgotten; each
    step size becomes at most ``step`` relative to its variable. Tell its f and
    g next (with ``calls=0``: already counted).
    """
    current_x(run)[:] = x
    run.sign[:] = 0
    run.dx_prev[:] = 0.0
    np.minimum(run.step, step * np.maximum(np.abs(x), run.scale), out=run.step)


# Compiled accessors, for a driver that runs many states in nopython mode (the
# batch driver takes them as function pointers, so that its cache never holds a
# copy of this module's code: numba checks a cached function against its own
# source file only).


@cached(nogil=True)
def state_like(template, x0, scale_rule, fraction):
    """A fresh state at ``x0`` with ``template``'s options (a state no ``tell``
    has seen), as :func:`new_state` makes it (in compiled code).

    Each variable's scale and initial step come from ``scale_rule(x0, lower,
    upper, fraction, scale, step)`` (the front door's rule), the step clipped
    to the step sizes.
    """
    t = template
    state = State(t.header.copy(), x0.copy(), t.x_b.copy(), t.x_c.copy(), t.g_best.copy(),
                  t.step.copy(), t.sign.copy(), t.dx_prev.copy(), t.lower.copy(),
                  t.upper.copy(), t.scale.copy(), t.flipped.copy(),
                  x0.copy() if t.anchor.shape[0] else t.anchor.copy())
    scale_rule(state.x_a, state.lower, state.upper, fraction, state.scale, state.step)
    h = state.header
    _clip_into(state.step, state.step, h[_STEP_MIN], h[_STEP_MAX])
    return state


@cached(nogil=True)
def best_x_compiled(state):
    """The best point (the state's own array; length 0 if no finite f was told)."""
    best = state.header[_BEST]
    if best < 0.0:
        return state.x_a[:0]
    return _x_row(state, int(best))


@cached(nogil=True)
def best_f_compiled(state):
    """The best f told (inf before the first finite one)."""
    return state.header[_F_BEST]

