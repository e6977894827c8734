"""The two loops around the kernel: one in Python, one compiled by numba.

Both do only this: evaluate ``(f, g)`` at the current iterate, hand it to
:func:`signmin._kernel.tell`, stop on the status it returns. Everything that
decides where to go and when to stop lives in the kernel, so the two loops take
identical steps.
"""

import math

import numba
import numpy as np

from . import _kernel as K
from ._objective import fd_gradient_compiled


def run_python(evaluate, state, S, P, callback=None, new_style_callback=True):
    """Run the Python loop.

    Returns ``(status, f, evaluations)``, f of the last evaluation; every
    evaluation but possibly the last (where f was not finite) gave a gradient.
    """
    from scipy.optimize import OptimizeResult

    # Local names: this loop's own cost must stay far below one call of a
    # cheap objective.
    tell, nit, nonfinite = K.tell, K.NIT, K.NONFINITE
    cur, x_a, x_b = K.CUR, S[K.X_A], S[K.X_B]
    while True:
        # One copy per iteration: the user's functions may keep their argument.
        x = (x_b if P[cur] else x_a).copy()
        f, g = evaluate(x)
        if g is None:
            return nonfinite, f, int(P[nit]) + 1
        status = tell(state, g, f)
        if callback is not None and P[nit] > 1.0 and status != nonfinite:
            try:
                if new_style_callback:
                    callback(intermediate_result=OptimizeResult(x=x.copy(), fun=f))
                else:
                    callback(x.copy())
            except StopIteration:
                return K.CALLBACK_STOP, f, int(P[nit])
        if status:
            return status, f, int(P[nit])


# The three evaluators share one signature, so that run_compiled takes any of
# them; each is compiled only for the form it handles. They and run_compiled
# are specialised to the user's functions, whose numba types are keyed by
# object identity: no on-disk cache could ever be hit again, so none is
# written (cache=True here even fails when a user's dispatcher is collected).

@numba.njit(nogil=True)
def evaluate_callable(fun, jac, args, x, S, g_buffer, three_point):
    f = float(fun(x, *args))
    if not math.isfinite(f):
        return f, g_buffer, 1, 0
    g = np.asarray(jac(x, *args), dtype=np.float64)
    if g.shape != x.shape:
        raise ValueError("jac must return an array of the shape of x0")
    return f, g, 1, 1


@numba.njit(nogil=True)
def evaluate_with_fun(fun, jac, args, x, S, g_buffer, three_point):
    f, g = fun(x, *args)
    g = np.asarray(g, dtype=np.float64)
    if g.shape != x.shape:
        raise ValueError("with jac=True, fun must return (f, g) with g of the shape of x0")
    return float(f), g, 1, 1


@numba.njit(nogil=True)
def evaluate_fd(fun, jac, args, x, S, g_buffer, three_point):
    f = float(fun(x, *args))
    if not math.isfinite(f):
        return f, g_buffer, 1, 0
    calls = fd_gradient_compiled(fun, args, x, f, S[K.LOWER], S[K.UPPER], S[K.X_SCALE],
                                 three_point, g_buffer)
    return f, g_buffer, 1 + calls, 0


@numba.njit(nogil=True)
def run_compiled(evaluate, fun, jac, args, state, three_point):
    """Run the compiled loop; return ``(status, f, evaluations, njev)``.

    The kernel counts the calls of ``fun`` (``P[NFEV]``), as in the Python loop.
    """
    P, S = K.views(state)
    g_buffer = np.empty(S.shape[1])
    x_a, x_b = S[K.X_A], S[K.X_B]
    evaluations = 0
    njev = 0
    while True:
        x = x_b if P[K.CUR] == K.X_B else x_a
        f, g, nf, nj = evaluate(fun, jac, args, x, S, g_buffer, three_point)
        evaluations += 1
        njev += nj
        if not math.isfinite(f):
            return K.NONFINITE, f, evaluations, njev
        P[K.NFEV] += nf - 1  # the finite differences' calls; tell counts f's
        status = K.tell(state, g, f)
        if status != K.CONTINUE:
            return status, f, evaluations, njev
