"""The residuals of one data set: weighted, with their Jacobian, losses and cost.

What `curve_fit` minimizes, in SciPy's terms: ``r(p) = L^-1 (f(xdata, *p) -
ydata)`` with ``L`` from `sigma`, the cost ``0.5 * sum(rho(r**2))`` of a
`least_squares` loss ``rho``, and the Jacobian of r by the user's `jac` or by
finite differences that keep to the bounds. Every call of the model is
counted here, finite differences included.
"""

from __future__ import annotations

import math
import weakref

import numpy as np
from scipy.linalg import solve_triangular

# least_squares' own finite-difference engine: it keeps every step inside the
# bounds and takes steps relative to |p|, which the public approx_fprime does not.
from scipy.optimize._numdiff import approx_derivative

from .._numerics import EPS
from .._numerics import REL_STEP as _REL_STEP

__all__ = ["LOSSES", "Residuals"]

#: The rounding error of the cost, in units of ``eps |r| |y|`` (see `cost_noise`).
COST_NOISE = 4
#: The largest array (rows x residuals) the model is asked for in one call.
VECTORIZE_MAX_SIZE = 2 ** 20


def _soft_l1(z):
    t = 1 + z
    return np.array([2 * (t ** 0.5 - 1), t ** -0.5, -0.5 * t ** -1.5])


def _huber(z):
    inner = z <= 1
    zz = np.where(inner, 1.0, z)  # keeps the unused branch finite
    return np.array([np.where(inner, z, 2 * zz ** 0.5 - 1),
                     np.where(inner, 1.0, zz ** -0.5),
                     np.where(inner, 0.0, -0.5 * zz ** -1.5)])


def _cauchy(z):
    t = 1 + z
    return np.array([np.log1p(z), 1 / t, -1 / t ** 2])


def _arctan(z):
    t = 1 + z ** 2
    return np.array([np.arctan(z), 1 / t, -2 * z / t ** 2])


#: rho(z), rho'(z), rho''(z) of `least_squares`' losses, z the squared residual.
LOSSES = {"linear": None, "soft_l1": _soft_l1, "huber": _huber, "cauchy": _cauchy,
          "arctan": _arctan}


def _norm(v):
    """``float(np.linalg.norm(v))`` of a float array, by its own sum, to the bit,
    without its dispatch (a third of a small array's time)."""
    v = v.ravel(order="K")
    return math.sqrt(v.dot(v))


#: Per model, per shapes of the data: whether it broadcasts parameter columns
#: (see `Residuals.columns`), as the first fit found out; later fits skip the check.
_BROADCASTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class Residuals:
    """Weighted residuals ``r(p) = L^-1 (f(xdata, *p) - ydata)``, their Jacobian and cost.

    ``L`` is 1/sigma for a 1-D `sigma` and the Cholesky factor of a 2-D one, as in
    SciPy. Every call of the model is counted, finite differences included.
    """

    def __init__(self, f, xdata, ydata, transform, jac, fd, loss, f_scale, bounds,
                 vectorize=None):
        self.f, self.xdata, self.ydata, self.transform = f, xdata, ydata, transform
        self.jac, self.fd, self.bounds = jac, fd, bounds
        self.loss, self.f_scale = loss, f_scale
        self.unbounded = not (np.isfinite(bounds[0]).any() or np.isfinite(bounds[1]).any())
        #: Whether the model takes parameters as columns (None: not known yet).
        self.vectorized = vectorize
        self._checked = vectorize is not None
        if vectorize is None:
            # What an earlier fit found out about this model with data of these shapes.
            self.vectorized = _BROADCASTS.get(f, {}).get(self._shapes())
            self._checked = self.vectorized is not None
        self.nfev = 0
        self.njev = 0
        self._y_size = None
        self._last = None

    def _shapes(self):
        t = self.transform
        return (np.shape(self.xdata), self.ydata.size, None if t is None else t.ndim)

    def _remember(self):
        try:
            _BROADCASTS.setdefault(self.f, {})[self._shapes()] = self.vectorized
        except TypeError:  # a model that cannot be weakly referenced is checked every fit
            pass

    def _weigh(self, v):
        t = self.transform
        if t is None:
            return v
        if t.ndim < 2:
            return v * (t if v.ndim == 1 else t.reshape(-1, 1))
        return solve_triangular(t, v, lower=True)

    def __call__(self, p):
        self.nfev += 1
        r = np.asarray(self.f(self.xdata, *p), dtype=float) - self.ydata
        r = r if self.transform is None else self._weigh(r)
        self._last = (p.copy(), r)
        return r

    def at(self, p):
        """The residuals at `p`: those of the last call if it was there (MINPACK's
        last call is usually at the point it returns), else a new call."""
        last = self._last
        # (Lists compare as np.array_equal does here, 1-D floats, at a fraction of its cost.)
        if last is not None and last[0].shape == p.shape and last[0].tolist() == p.tolist():
            return last[1]
        return self(p)

    def columns(self, Pt):
        """The residuals at each column of `Pt` (n x k, C-contiguous: each parameter's
        k values a row), as a k x m array.

        One call of the model with each parameter a column of k values, where
        the model broadcasts them (NumPy code usually does: ``a * np.exp(-b *
        x)`` with ``a`` and ``b`` of shape (k, 1) is k rows); else, or where
        the array would be large, one call per row. Whether the model
        broadcasts is found out on the first call: the columns must give each
        row's single call (to 64 ulps; a SIMD loop may round a row's last
        digit differently), or the model is only ever called row by row. The
        residuals weighted by a covariance's factor are always row by row.
        """
        k, m = Pt.shape[1], self.ydata.size
        t = self.transform
        # (With a covariance's factor, solving for all rows at once would round
        # differently from solving for each.)
        if (self.vectorized is not False and k * m <= VECTORIZE_MAX_SIZE
                and (t is None or t.ndim < 2)):
            try:
                F = np.asarray(self.f(self.xdata, *Pt[:, :, np.newaxis]), dtype=float)
                if F.shape != (k, m):
                    F = np.broadcast_to(F, (k, m))
            except Exception:  # noqa: BLE001 - any failure means: call it row by row
                self.vectorized, self._checked = False, True
                self._remember()
            else:
                self.nfev += 1
                F = F - self.ydata if t is None else (F - self.ydata) * t
                if self._checked:
                    return F
                each = np.array([self(p) for p in Pt.T])
                self._checked = True
                finite = np.isfinite(each)
                size = np.max(np.abs(each[finite]), initial=0.0)
                self.vectorized = bool(
                    np.array_equal(F[~finite], each[~finite], equal_nan=True)
                    and np.all(np.abs(F[finite] - each[finite]) <= 64 * EPS * size))
                self._remember()
                # The values every later call will give, to the last bit.
                return F if self.vectorized else each
        return np.array([self(p) for p in Pt.T])

    def jacobian(self, p, r, scheme=None):
        """The m x n Jacobian of the weighted residuals at `p`, where they are `r`.

        `scheme` overrides the difference scheme (a callable `jac` is always
        used); `r` may be None.
        """
        if callable(self.jac):
            self.njev += 1
            return self._weigh(np.atleast_2d(np.asarray(self.jac(self.xdata, *p), dtype=float)))
        scheme = scheme or self.fd
        if self.unbounded:
            return self._differences(p, r, scheme)[1]
        return approx_derivative(self, p, method=scheme, rel_step=_REL_STEP[scheme], f0=r,
                                 bounds=self.bounds)

    def _steps(self, p, scheme):
        """`approx_derivative`'s steps at `p` (in Python floats, which round as float64)."""
        rel = _REL_STEP[scheme]
        x = p.tolist()
        h = []
        for pj in x:
            sign = 1.0 if pj >= 0 else -1.0
            hj = rel * sign * abs(pj)
            if (pj + hj) - pj == 0:
                hj = rel * sign * max(1.0, abs(pj))
            h.append(hj)
        return x, h

    def _forward(self, p, with_center):
        """Forward differences at `p`: ``(F, dx)``, F the residuals at ``p + h_j e_j``
        (after those at `p` itself if `with_center`), called as `columns`."""
        h = self._steps(p, "2-point")[1]
        n = p.size
        moved = p + np.array(h)
        first = 1 if with_center else 0
        # The points as the columns `columns` takes, made in place.
        Pt = np.empty((n, n + first))
        Pt[...] = p[:, np.newaxis]
        Pt.reshape(-1)[first::n + first + 1] = moved
        return self.columns(Pt), moved - p

    def _differences(self, p, r, scheme):
        """`approx_derivative`'s dense differences without bounds: ``(r, J)``.

        The same steps, points and quotients, called as `columns`: all at once
        where the model broadcasts, else one by one in `approx_derivative`'s
        order, to the same Jacobian to the last bit. A forward scheme
        evaluates `r` too if it is None (in the same call).
        """
        if scheme == "2-point":
            F, dx = self._forward(p, r is None)
            if r is None:
                r, F = F[0], F[1:]
            return r, ((F - r) / dx[:, np.newaxis]).T
        n = p.size
        h = np.array(self._steps(p, scheme)[1])
        below, above = p - h, p + h
        Pt = np.empty((n, 2 * n))
        Pt[...] = p[:, np.newaxis]
        flat = Pt.reshape(-1)
        flat[0::2 * n + 2] = below
        flat[1::2 * n + 2] = above
        F = self.columns(Pt)
        return r, ((F[1::2] - F[0::2]) / (above - below)[:, np.newaxis]).T

    def rho(self, r):
        """``rho``, ``rho'`` and ``rho''`` at ``z = r**2``, scaled as `least_squares` does."""
        if self.loss is None:
            return np.array([r ** 2, np.ones_like(r), np.zeros_like(r)])
        c2 = self.f_scale ** 2
        rho = np.array(self.loss(r ** 2 / c2), dtype=float)
        rho[0] *= c2
        rho[2] /= c2
        return rho

    def cost(self, r):
        """``0.5 * sum(rho(r**2))``: `least_squares`' cost."""
        # (np.add.reduce is np.sum's own reduction, to the bit, without its dispatch.)
        if self.loss is None:
            return 0.5 * float(np.add.reduce(r * r))
        return 0.5 * float(np.add.reduce(self.rho(r)[0]))

    def cost_noise(self, r):
        """The rounding error of the cost near residuals `r`: ``|r| * eps * |weighted y|``.

        The residuals are differences of the model and the data, each
        rounded at ``eps`` times their size; where the fit is close, that is
        far above ``eps`` times the cost.
        """
        if self._y_size is None:
            self._y_size = _norm(self._weigh(np.abs(self.ydata)))
        return COST_NOISE * EPS * self._y_size * _norm(r)

    def cost_and_gradient(self, p, scheme=None):
        """The cost and its gradient ``J^T (rho'(r**2) * r)``, for `minimize_rprop`."""
        r = self(p)
        if not np.isfinite(r).all():
            return np.inf, np.zeros(p.size)
        J = self.jacobian(p, r, scheme)
        if self.loss is None:
            return 0.5 * float(np.sum(r * r)), J.T @ r
        rho = self.rho(r)
        return 0.5 * float(np.sum(rho[0])), J.T @ (rho[1] * r)

    def coarse_cost_and_gradient(self, p):
        """The same by forward differences, n + 1 calls instead of 2n + 1, or one.

        Far from the minimum, which is where the bracketing run works, the
        signs of the gradient do not need the accuracy of central
        differences. Where the model broadcasts (see `columns`), the residuals
        and their n differences come from one call, and the gradient from
        them directly, ``g_j = (r(p + h_j e_j) - r) . w / dx_j`` with ``w =
        rho' r``, without forming J.
        """
        if callable(self.jac) or not self.unbounded or self.vectorized is False:
            return self.cost_and_gradient(p, "2-point")
        if self.vectorized is None:
            # Not known yet: the model's first call is as its author wrote it.
            r = self(p)
            if not np.isfinite(r).all():
                return np.inf, np.zeros(p.size)
            F, dx = self._forward(p, False)
        else:
            F, dx = self._forward(p, True)
            r, F = F[0], F[1:]
        if self.loss is None:
            cost = 0.5 * float(r @ r)
            if not math.isfinite(cost):
                return np.inf, np.zeros(p.size)
            return cost, ((F - r) @ r) / dx
        if not np.isfinite(r).all():
            return np.inf, np.zeros(p.size)
        rho = self.rho(r)
        return 0.5 * float(np.sum(rho[0])), ((F - r) @ (rho[1] * r)) / dx

    def scaled_jacobian(self, p, r, J=None):
        """The Jacobian whose ``J^T J`` is the Gauss-Newton Hessian of the cost.

        For a robust loss it is scaled by ``sqrt(rho' + 2 rho'' r**2)``, floored
        at eps, exactly as `least_squares` returns it (SciPy's pcov uses it).
        `J`, if given, is the plain Jacobian at `p`.
        """
        J = self.jacobian(p, r) if J is None else J
        if self.loss is None:
            return J
        rho = self.rho(r)
        scale = np.maximum(rho[1] + 2 * rho[2] * r ** 2, EPS) ** 0.5
        return J * scale[:, np.newaxis]

    def weighted(self, r):
        """``rho'(r**2) * r``: the residuals as the gradient ``J^T (rho' r)`` sees them."""
        return r if self.loss is None else self.rho(r)[1] * r
