"""The user's objective in its three forms, evaluated as ``(f, g)`` with exact counts.

The finite-difference gradient is written once, in plain Python that numba
also compiles, so that the Python driver and the compiled driver take the very
same steps (SciPy's ``approx_fprime`` cannot run inside nopython code, and it
neither respects bounds nor reuses f(x)).
"""

import math

import numba
import numpy as np
from numba.extending import register_jitable

EPS = np.finfo(float).eps
REL_STEP_2POINT = EPS ** 0.5
REL_STEP_3POINT = EPS ** (1 / 3)
TINY = np.finfo(float).tiny

_FLOAT64 = np.dtype(np.float64)

JAC_CALLABLE, JAC_WITH_FUN, JAC_2POINT, JAC_3POINT = range(4)


def fd_gradient(fun, args, x, f0, lower, upper, x_scale, three_point, g):
    """Finite-difference gradient of ``fun`` at ``x`` into ``g``; returns the call count.

    Steps are relative, ``h_i = r * max(|x_i|, x_scale_i)`` (r = eps^(1/2) for
    two points, eps^(1/3) for three), and never leave ``[lower, upper]``: a step
    that would cross a bound is taken the other way, and where a central step
    does not fit a one-sided three-point formula is used. The difference is
    divided by the step actually represented in floating point. Where f does
    not change at all over the step, it is taken once more at SciPy's scale,
    ``r * max(|x_i|, 1)``, if that is longer: a start like 1e-12 for a variable
    of order one would otherwise give a zero gradient and no move.
    """
    n = x.shape[0]
    xh = x.copy()
    calls = 0
    rel = REL_STEP_3POINT if three_point else REL_STEP_2POINT
    for i in range(n):
        h = rel * max(abs(x[i]), x_scale[i])
        d, c = _fd_partial(fun, args, xh, i, f0, lower[i], upper[i], h, three_point)
        calls += c
        h_wide = rel * max(abs(x[i]), 1.0)
        if d == 0.0 and h_wide > h:
            d, c = _fd_partial(fun, args, xh, i, f0, lower[i], upper[i], h_wide, three_point)
            calls += c
        g[i] = d
    return calls


@register_jitable
def _fd_partial(fun, args, xh, i, f0, lower, upper, h, three_point):
    """One partial derivative at ``xh`` (restored on return) and its call count."""
    xi = xh[i]
    room_up = upper - xi
    room_down = xi - lower
    if room_up <= 0.0 and room_down <= 0.0:
        return 0.0, 0  # a fixed variable
    # A step that underflows would divide by zero.
    h = max(h, TINY)
    if three_point and h <= room_up and h <= room_down:
        xh[i] = xi + h
        f1 = float(fun(xh, *args))
        x1 = xh[i]
        xh[i] = xi - h
        f2 = float(fun(xh, *args))
        d, step, calls = f1 - f2, x1 - xh[i], 2
    elif three_point and 2.0 * h <= max(room_up, room_down):
        if 2.0 * h > room_up:
            h = -h
        xh[i] = xi + h
        f1 = float(fun(xh, *args))
        d1 = xh[i] - xi
        xh[i] = xi + 2.0 * h
        f2 = float(fun(xh, *args))
        d, step, calls = -3.0 * f0 + 4.0 * f1 - f2, 2.0 * d1, 2
    else:
        if h > room_up:
            h = -min(h, room_down) if room_down >= room_up else room_up
        xh[i] = xi + h
        f1 = float(fun(xh, *args))
        d, step, calls = f1 - f0, xh[i] - xi, 1
    xh[i] = xi
    return (d / step if step != 0.0 else 0.0), calls


# Not cached: like the compiled driver, it is specialised to the user's function.
fd_gradient_compiled = numba.njit(nogil=True)(fd_gradient)


def fd_max_calls(lower, upper, jac_mode):
    """The most calls of ``fun`` one gradient can take (for ``maxfev``), retries included."""
    free = int(np.count_nonzero(lower < upper))  # a fixed variable costs no call
    return 4 * free if jac_mode == JAC_3POINT else 2 * free


def _as_scalar(value):
    if isinstance(value, float):
        return value
    try:
        arr = np.asarray(value)
        if arr.size != 1 or arr.dtype.kind not in "biuf":
            raise TypeError
        return float(arr.item())
    except (TypeError, ValueError):
        raise ValueError(
            "fun must return a real scalar, got "
            f"{type(value).__name__}"
            + (f" of shape {np.shape(value)}" if np.ndim(value) else "")
        ) from None


def _gradient(value, shape):
    try:
        # A cast to float would drop an imaginary part in silence.
        is_complex = np.iscomplexobj(value)
        g = None if is_complex else np.ascontiguousarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(
            f"jac must return an array of shape {shape}, got {type(value).__name__}") from None
    if is_complex:
        raise TypeError("jac must return real numbers, got complex ones")
    if g.shape != shape:
        raise ValueError(f"jac must return an array of shape {shape}, got shape {g.shape}")
    return g


class Objective:
    """``f, g = objective.evaluate(x)`` over the user's forms, counting every call.

    The driver hands over its own copy of the iterate (as SciPy does), so a
    function that keeps its argument cannot disturb the run; finite
    differences copy each shifted point for the same reason. A non-finite f is
    returned without evaluating the gradient (g is then ``None``).

    ``evaluate`` is a closure built for the one form in use: the Python driver
    calls it every iteration, where attribute look-ups and counter updates
    would cost more than the kernel's work on a small problem. So the
    closures with an analytic gradient count nothing: each evaluation is one
    call of ``fun`` (the kernel counts those it is told of) and, unless f was
    not finite, one of ``jac``; :meth:`njev` derives that total.
    """

    def __init__(self, fun, jac, jac_mode, args, lower, upper, x_scale, fd_calls):
        # fd_calls: a one-element array that finite differences add their
        # calls to (the kernel's count, which its maxfev rule reads).
        self.jac_mode = jac_mode
        shape = lower.shape
        isfinite, ndarray, float64 = math.isfinite, np.ndarray, _FLOAT64

        def evaluate_callable(x):
            f = fun(x, *args)
            if not isinstance(f, float):
                f = _as_scalar(f)
            if not isfinite(f):
                return f, None
            g = jac(x, *args)
            if type(g) is ndarray and g.dtype is float64 and g.shape == shape:
                return f, g
            return f, _gradient(g, shape)

        def evaluate_with_fun(x):
            out = fun(x, *args)
            try:
                f, g = out
            except (TypeError, ValueError):
                raise ValueError(
                    "with jac=True, fun must return a pair (f, g), got "
                    f"{type(out).__name__}") from None
            if not isinstance(f, float):
                f = _as_scalar(f)
            if not isfinite(f):
                return f, None
            if type(g) is ndarray and g.dtype is float64 and g.shape == shape:
                return f, g
            return f, _gradient(g, shape)

        def fun_counted(x, *args):
            fd_calls[0] += 1.0
            return _as_scalar(fun(x.copy(), *args))

        def evaluate_fd(x):
            f = _as_scalar(fun(x, *args))
            if not isfinite(f):
                return f, None
            g = np.empty(shape)
            fd_gradient(fun_counted, args, x, f, lower, upper, x_scale,
                        jac_mode == JAC_3POINT, g)
            return f, g

        self.evaluate = {JAC_CALLABLE: evaluate_callable,
                         JAC_WITH_FUN: evaluate_with_fun}.get(jac_mode, evaluate_fd)

    def njev(self, evaluations, gradients):
        """Calls of ``jac`` after ``evaluations`` calls of ``evaluate``, ``gradients``
        of which returned a gradient (the calls of ``fun`` the kernel counts)."""
        if self.jac_mode == JAC_CALLABLE:
            return gradients
        return evaluations if self.jac_mode == JAC_WITH_FUN else 0


