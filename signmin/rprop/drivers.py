"""The two loops around the kernel: one in Python, one compiled by numba.

Both do only this: evaluate ``(f, g, calls)`` at the current iterate, hand it
to the kernel's ``tell``, stop on the status it returns. Everything that
decides where to go, when to stop and what to count lives in the kernel, so the
two loops take identical steps and report identical counts. After ``REPEAT``
(no coordinate moved) both tell the same f and g again instead of evaluating
the same point twice.
"""

import time

import numba
import numpy as np

from .._status import Status
from . import kernel as K

_CALLBACK = int(Status.CALLBACK)
_NONFINITE = int(Status.NONFINITE)


_ENTRY_POINTS = {}


#: The gradient's type in the Python loop: every evaluator hands over a 1-D
#: float64 array, of any layout (a user's gradient may be a strided view).
_GRADIENT = numba.float64[:]


def entry_point(tell):
    """``tell`` compiled for the Python loop's argument types, without numba's dispatch.

    Calling a compiled overload's entry point skips the type resolution a
    dispatcher call does on every call (about a third of the kernel's cost
    for a small problem). The state goes as its address (see
    ``K.state_address``).
    """
    entry = _ENTRY_POINTS.get(tell)
    if entry is None:
        entry = _ENTRY_POINTS[tell] = tell.compile(
            (numba.intp, _GRADIENT, numba.float64, numba.float64, numba.boolean))
    return entry


def tell_from_python(run, tell, g, f):
    """Tell ``run`` an ``f`` and ``g`` already counted (another phase's point), as the
    Python loop does; returns the status."""
    # (Through the Python loop's entry point: a call with the state itself
    # would compile another specialisation of tell, seconds on first use.)
    return entry_point(tell)(K.state_address(run.state), g, f, 0, False)


def run_python(evaluate, run, tell, callback=None, new_style_callback=True, between=None):
    """Run the Python loop on ``run`` (a :class:`signmin.rprop.kernel.Run`);
    return ``(status, f)``, f of the last evaluation. ``between()``, if given, is
    called after each step that goes on to a new point (a checkpoint's moment:
    the state then holds all there is to the run)."""
    from scipy.optimize import OptimizeResult

    # Local names: this loop's own cost must stay far below one call of a
    # cheap objective.
    row_at, header, cur, nit = K.python_loop_view(run)
    # (Held here, so that the address stays valid while the loop runs.)
    state = run.state
    address = K.state_address(state)
    # Item reads through a memoryview give Python floats, at less than half
    # the cost of indexing the array.
    header = memoryview(header)
    repeat = K.REPEAT
    status = K.CONTINUE
    fast_tell = entry_point(tell)
    while True:
        if status != repeat:
            # One copy per iteration: the user's functions may keep their argument.
            x = row_at[header[cur]].copy()
            f, g, calls = evaluate(x)
        else:
            calls = 0
        # (The user's g is never handed over: Python may hold it anywhere.)
        status = fast_tell(address, g, f, calls, False)
        if callback is not None and header[nit] > 1.0 and status != _NONFINITE:
            try:
                if new_style_callback:
                    callback(intermediate_result=OptimizeResult(x=x.copy(), fun=f))
                else:
                    callback(x.copy())
            except StopIteration:
                return _CALLBACK, f
        if status >= 0:
            return status, f
        if status != repeat:
            # The kernel keeps what it needs of g: at large n, the user's next
            # gradient must not meet this one in memory.
            g = None
            if between is not None:
                between()


_COMPILED_LOOPS = {}


def compiled_loop(evaluate):
    """The compiled loop for one compiled evaluator (see ``_objective.evaluator``):
    ``loop(tell, fun, jac, args, state, lower, upper, three_point, max_steps) -> (status, f)``.

    It returns ``CONTINUE`` after ``max_steps`` steps (never right after a
    ``REPEAT``: the next call starts by evaluating the current iterate, as the
    loop itself would), so that its caller gets back to Python now and then:
    compiled code never sees a signal, and Ctrl-C takes effect only there
    (see :func:`drive_in_chunks`).

    One loop per evaluator, which it inlines: numba then prunes the reference
    counts that a call of a passed-in evaluator takes on its arguments
    (measured at n = 10: 147 -> 128 ns per step around a 64 ns fun + jac).
    Not cached on disk: like the evaluator, it is specialised to the user's
    functions.
    """
    loop = _COMPILED_LOOPS.get(evaluate)
    if loop is None:
        loop = _COMPILED_LOOPS[evaluate] = _make_compiled_loop(evaluate)
    return loop


def _make_compiled_loop(evaluate):
    @numba.njit(nogil=True)
    def loop(tell, fun, jac, args, state, lower, upper, three_point, max_steps):
        # Only finite differences write a gradient into the buffer, and only
        # they are given bounds of length n: for the other forms it is a
        # placeholder (returned with a non-finite f, never read).
        g_buffer = np.empty(lower.shape[0])
        x_scale = state.scale
        status = K.CONTINUE
        f = np.nan
        g = g_buffer
        steps = 0
        while True:
            calls = 0
            if status != K.REPEAT:
                f, g, calls = evaluate(fun, jac, args, K.current_x_compiled(state), lower,
                                       upper, x_scale, g_buffer, three_point)
            # A gradient jac made for this call alone is the state's to keep.
            status = tell(state, g, f, calls, K.handed_over(g))
            if status >= 0:
                return status, f
            if status != K.REPEAT:
                # The kernel keeps what it needs of g: let it go now, so that the
                # next gradient does not meet it in memory (n floats at peak).
                g = g_buffer
                steps += 1
                if steps >= max_steps:
                    return K.CONTINUE, f

    return loop


#: The first chunk of a compiled run, in steps; later ones last about CHUNK_SECONDS.
FIRST_CHUNK, CHUNK_SECONDS = 1000, 0.1


def drive_in_chunks(loop_chunk, between=None):
    """Run ``loop_chunk(max_steps) -> (status, f)`` (a compiled loop, see
    :func:`compiled_loop`) to its end in chunks of about `CHUNK_SECONDS`.

    Between two chunks Python runs, so a Ctrl-C (a signal) ends a compiled
    run within a chunk's time instead of at its end, and ``between()``, if
    given, is called (a checkpoint's moment); the steps, and so the run, are
    the same whatever the chunks.
    """
    chunk = FIRST_CHUNK
    while True:
        start = time.perf_counter()
        status, f = loop_chunk(chunk)
        elapsed = time.perf_counter() - start
        if status != K.CONTINUE:
            return status, f
        if between is not None:
            between()
        chunk = int(min(16.0 * chunk, max(1.0, chunk * CHUNK_SECONDS / max(elapsed, 1e-9))))
