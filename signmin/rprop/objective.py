"""The user's objective in its forms, evaluated as ``(f, g, calls)``, in Python and compiled.

Each form (``jac`` callable, ``jac=True``, finite differences) has a Python
evaluator and a compiled twin side by side here, and :func:`evaluator` is the
one place that picks them. Every evaluator returns ``f``, the gradient (a
placeholder when f is not finite: it is then not computed) and the number of
calls of ``fun`` it made; the kernel does all the counting from that.

The finite-difference gradient is written once, in plain Python that numba
also compiles, so that the Python driver and the compiled driver take the very
same steps (SciPy's ``approx_fprime`` cannot run inside nopython code, and it
neither respects bounds nor reuses f(x)).
"""

import math

import numba
import numpy as np
from numba.extending import register_jitable

from .._numerics import REL_STEP_2POINT, REL_STEP_3POINT, TINY

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
        # float(): the scale may be float32, and NumPy would keep h in float32.
        h = rel * max(abs(x[i]), float(x_scale[i]))
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
    # Each shifted point is clipped into the box as well: ``xi - (xi - lower)``
    # can round below ``lower`` (measured: 1e-8 - (1e-8 - 2e-162) is 0). The
    # quotient divides by the step actually taken.
    if three_point and h <= room_up and h <= room_down:
        xh[i] = min(xi + h, upper)
        f1 = float(fun(xh, *args))
        x1 = xh[i]
        xh[i] = max(xi - h, lower)
        f2 = float(fun(xh, *args))
        d, step, calls = f1 - f2, x1 - xh[i], 2
    elif three_point and 2.0 * h <= max(room_up, room_down):
        if 2.0 * h > room_up:
            h = -h
        xh[i] = min(max(xi + h, lower), upper)
        f1 = float(fun(xh, *args))
        d1 = xh[i] - xi
        xh[i] = min(max(xi + 2.0 * h, lower), upper)
        f2 = float(fun(xh, *args))
        d, step, calls = -3.0 * f0 + 4.0 * f1 - f2, 2.0 * d1, 2
    else:
        if h > room_up:
            h = -min(h, room_down) if room_down >= room_up else room_up
        xh[i] = min(max(xi + h, lower), upper)
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


#: Stands in for the gradient when f is not finite (the kernel never reads it).
_NO_GRADIENT = np.empty(0)


def jac_calls(jac_mode):
    """Calls of ``jac`` per evaluation: ``(when f is finite, when it is not)``."""
    return {JAC_CALLABLE: (1, 0), JAC_WITH_FUN: (1, 1)}.get(jac_mode, (0, 0))


def evaluator(jac_mode, compiled, fun=None, jac=None, args=(), lower=None, upper=None,
              x_scale=None):
    """The evaluator for ``jac_mode``: compiled for the compiled loop, else for the Python loop.

    The compiled ones are numba functions ``evaluate(fun, jac, args, x, lower,
    upper, x_scale, g_buffer, three_point) -> (f, g, calls)``, the Python ones
    closures ``evaluate(x) -> (f, g, calls)`` over the other arguments.
    """
    if compiled:
        return {JAC_CALLABLE: _compiled_callable,
                JAC_WITH_FUN: _compiled_with_fun}.get(jac_mode, _compiled_fd)
    return _python_evaluator(fun, jac, jac_mode, args, lower, upper, x_scale)


def _python_evaluator(fun, jac, jac_mode, args, lower, upper, x_scale):
    """``evaluate(x) -> (f, g, calls)`` for the Python loop.

    The driver hands over its own copy of the iterate (as SciPy does), so a
    function that keeps its argument cannot disturb the run; finite
    differences copy each shifted point for the same reason. The closure is
    built for the one form in use: the Python loop calls it every step, where
    attribute look-ups would cost more than the kernel's work on a small
    problem.
    """
    shape = x_scale.shape
    isfinite, ndarray, float64 = math.isfinite, np.ndarray, _FLOAT64
    # Without args, the user's functions are called as they are: a call with
    # ``*args`` builds a tuple each time (measured next to rosen at n = 10:
    # 0.5-0.7 us of the loop's 2.8 us a step).
    fun_x = _bind(fun, args)
    jac_x = _bind(jac, args) if jac_mode == JAC_CALLABLE else None

    def evaluate_callable(x):
        f = fun_x(x)
        if not isinstance(f, float):
            f = _as_scalar(f)
        if not isfinite(f):
            return f, _NO_GRADIENT, 1
        g = jac_x(x)
        if type(g) is ndarray and g.dtype is float64 and g.shape == shape:
            return f, g, 1
        return f, _gradient(g, shape), 1

    def evaluate_with_fun(x):
        out = fun_x(x)
        try:
            f, g = out
        except (TypeError, ValueError):
            raise ValueError(
                "with jac=True, fun must return a pair (f, g), got "
                f"{type(out).__name__}") from None
        if not isinstance(f, float):
            f = _as_scalar(f)
        if not isfinite(f):
            return f, _NO_GRADIENT, 1
        if type(g) is ndarray and g.dtype is float64 and g.shape == shape:
            return f, g, 1
        return f, _gradient(g, shape), 1

    def fun_copy(x, *args):
        return _as_scalar(fun(x.copy(), *args))

    def evaluate_fd(x):
        f = _as_scalar(fun_x(x))
        if not isfinite(f):
            return f, _NO_GRADIENT, 1
        g = np.empty(shape)
        calls = fd_gradient(fun_copy, args, x, f, lower, upper, x_scale,
                            jac_mode == JAC_3POINT, g)
        return f, g, 1 + calls

    return {JAC_CALLABLE: evaluate_callable,
            JAC_WITH_FUN: evaluate_with_fun}.get(jac_mode, evaluate_fd)


def _bind(fn, args):
    """``fn`` as a function of x alone."""
    if not args:
        return fn
    return lambda x: fn(x, *args)


# The compiled evaluators share one signature, so that one source of the compiled
# loop serves them all (each loop inlines its own); each is compiled only for the
# form it handles. They are specialised to the user's functions, whose numba
# types are keyed by object identity: no on-disk cache could ever be hit again,
# so none is written (cache=True here even fails when a user's dispatcher is
# collected).

@numba.njit(nogil=True, inline="always")
def _compiled_callable(fun, jac, args, x, lower, upper, x_scale, g_buffer, three_point):
    f = float(fun(x, *args))
    if not math.isfinite(f):
        return f, g_buffer, 1
    g = np.asarray(jac(x, *args), dtype=np.float64)
    if g.shape != x.shape:
        raise ValueError("jac must return an array of the shape of x0")
    return f, g, 1


@numba.njit(nogil=True, inline="always")
def _compiled_with_fun(fun, jac, args, x, lower, upper, x_scale, g_buffer, three_point):
    f, g = fun(x, *args)
    g = np.asarray(g, dtype=np.float64)
    if g.shape != x.shape:
        raise ValueError("with jac=True, fun must return (f, g) with g of the shape of x0")
    return float(f), g, 1


@numba.njit(nogil=True, inline="always")
def _compiled_fd(fun, jac, args, x, lower, upper, x_scale, g_buffer, three_point):
    f = float(fun(x, *args))
    if not math.isfinite(f):
        return f, g_buffer, 1
    calls = fd_gradient_compiled(fun, args, x, f, lower, upper, x_scale, three_point,
                                 g_buffer)
    return f, g_buffer, 1 + calls
