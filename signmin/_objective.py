"""The user's objective in its three forms, evaluated as ``(f, g)`` with exact counts.

The finite-difference gradient is written once, in plain Python that numba
also compiles, so that the Python driver and the compiled driver take the very
same steps (SciPy's ``approx_fprime`` cannot run inside nopython code, and it
neither respects bounds nor reuses f(x)).
"""

import math

import numba
import numpy as np

EPS = np.finfo(float).eps
REL_STEP_2POINT = EPS ** 0.5
REL_STEP_3POINT = EPS ** (1 / 3)

_FLOAT64 = np.dtype(np.float64)

JAC_CALLABLE, JAC_WITH_FUN, JAC_2POINT, JAC_3POINT = range(4)


def fd_gradient(fun, args, x, f0, lower, upper, x_scale, three_point, g):
    """Finite-difference gradient of ``fun`` at ``x`` into ``g``; returns the call count.

    Steps are relative, ``h_i = r * max(|x_i|, x_scale_i)`` (r = eps^(1/2) for
    two points, eps^(1/3) for three), and never leave ``[lower, upper]``: a step
    that would cross a bound is taken the other way, and where a central step
    does not fit a one-sided three-point formula is used. The difference is
    divided by the step actually represented in floating point.
    """
    n = x.shape[0]
    xh = x.copy()
    calls = 0
    for i in range(n):
        xi = x[i]
        room_up = upper[i] - xi
        room_down = xi - lower[i]
        if room_up <= 0.0 and room_down <= 0.0:
            g[i] = 0.0  # a fixed variable
            continue
        rel = REL_STEP_3POINT if three_point else REL_STEP_2POINT
        h = rel * max(abs(xi), x_scale[i])
        if three_point and h <= room_up and h <= room_down:
            xh[i] = xi + h
            f1 = float(fun(xh, *args))
            x1 = xh[i]
            xh[i] = xi - h
            f2 = float(fun(xh, *args))
            g[i] = (f1 - f2) / (x1 - xh[i])
            calls += 2
        elif three_point and 2.0 * h <= max(room_up, room_down):
            if 2.0 * h > room_up:
                h = -h
            xh[i] = xi + h
            f1 = float(fun(xh, *args))
            d1 = xh[i] - xi
            xh[i] = xi + 2.0 * h
            f2 = float(fun(xh, *args))
            g[i] = (-3.0 * f0 + 4.0 * f1 - f2) / (2.0 * d1)
            calls += 2
        else:
            if h > room_up:
                h = -min(h, room_down) if room_down >= room_up else room_up
            xh[i] = xi + h
            f1 = float(fun(xh, *args))
            g[i] = (f1 - f0) / (xh[i] - xi)
            calls += 1
        xh[i] = xi
    return calls


fd_gradient_compiled = numba.njit(cache=True, nogil=True)(fd_gradient)


def fd_max_calls(n, jac_mode):
    """The most calls of ``fun`` one gradient can take (for ``maxfev``)."""
    return 2 * n if jac_mode == JAC_3POINT else n


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


class Objective:
    """``(f, g) = objective(x)`` over the user's forms, counting every call.

    The driver hands over its own copy of the iterate (as SciPy does), so a
    function that keeps its argument cannot disturb the run; finite
    differences copy each shifted point for the same reason. A non-finite f is
    returned without evaluating the gradient (g is then ``None``).
    """

    def __init__(self, fun, jac, jac_mode, args, lower, upper, x_scale):
        self.fun, self.jac, self.jac_mode, self.args = fun, jac, jac_mode, args
        self.lower, self.upper, self.x_scale = lower, upper, x_scale
        self.shape = lower.shape
        self.nfev = 0
        self.njev = 0

    def _fun_counted(self, x, *args):
        self.nfev += 1
        return _as_scalar(self.fun(x.copy(), *args))

    def _gradient(self, value):
        if (type(value) is np.ndarray and value.dtype is _FLOAT64
                and value.shape == self.shape):
            return value
        try:
            g = np.ascontiguousarray(value, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(
                f"jac must return an array of shape {self.shape}, got "
                f"{type(value).__name__}") from None
        if g.shape != self.shape:
            raise ValueError(
                f"jac must return an array of shape {self.shape}, got shape "
                f"{g.shape}")
        return g

    def __call__(self, x):
        mode = self.jac_mode
        if mode == JAC_CALLABLE:
            self.nfev += 1
            f = self.fun(x, *self.args)
            if not isinstance(f, float):
                f = _as_scalar(f)
            if not math.isfinite(f):
                return f, None
            self.njev += 1
            g = self.jac(x, *self.args)
            if type(g) is np.ndarray and g.dtype is _FLOAT64 and g.shape == self.shape:
                return f, g
            return f, self._gradient(g)
        if mode == JAC_WITH_FUN:
            self.nfev += 1
            self.njev += 1
            out = self.fun(x, *self.args)
            try:
                f, g = out
            except (TypeError, ValueError):
                raise ValueError(
                    "with jac=True, fun must return a pair (f, g), got "
                    f"{type(out).__name__}") from None
            return _as_scalar(f), self._gradient(g)
        self.nfev += 1
        f = _as_scalar(self.fun(x, *self.args))
        if not math.isfinite(f):
            return f, None
        g = np.empty(self.shape)
        fd_gradient(self._fun_counted, self.args, x, f, self.lower, self.upper,
                    self.x_scale, mode == JAC_3POINT, g)
        return f, g
