"""The compiled batch driver: many independent curve fits, one per ``prange`` task.

Each fit does what :func:`signmin.curve_fit` does with one data set, compiled:

1. Rprop (the kernel's ``tell``) on the cost ``0.5 * sum(r**2)`` of the weighted
   residuals ``r = (f(x, *p) - y) / sigma``, with the gradient ``J^T r`` (J from
   the user's ``jac`` or forward differences), until every parameter's partial
   derivative has changed sign once (the minimum is bracketed);
2. Levenberg-Marquardt on the p x p normal equations from Rprop's best point
   (to a loose tolerance with forward differences);
3. where that converged: the accurate Jacobian (``jac``, or central differences),
   ``pcov`` from it as SciPy computes it, and, where the point is stationary and J
   of full rank, a Gauss-Newton step with that J (by QR), a second one (with the
   same J after a short step) if the step still moved the point, and, if that
   one did too, again after a tight Levenberg-Marquardt run;
4. where Levenberg-Marquardt did not converge: 2 and 3 from p0 itself, as SciPy's
   ``curve_fit`` would, kept if 3 vouches for its point;
5. otherwise the robust way, in rounds: Rprop to its own stop, Levenberg-Marquardt
   from its point, again from the better point while a round lowers the cost by
   a thousandth of it (`common.another_round`); then the finish of 3;
6. where the point kept converged but is not trusted: 2 and 3 once more from it,
   with the parameters the residuals no longer see (`common.lost`) put back to
   p0, or walked from p0 until the residuals see them, kept where that
   converged to a lower cost (:func:`_revive`).

A fit owns its state and work arrays; tasks share only read-only inputs, so a
row's result does not depend on the number of threads or on how the data sets
are split between calls (or dask chunks). Dot products are reassociated for the
processor's vectors in an order fixed by the compiled code, so this holds on one
machine (and between machines with the same processor). Nothing raises inside
the parallel loop (``error_model='numpy'``): an exception could not leave a task
through a function pointer.

Compile time. The driver does not depend on the user's model: it takes the model,
its Jacobian, the kernel's ``tell`` and the front door's scale rule as numba
first-class functions (function pointers of fixed signatures), so it is compiled
once per state layout and cached on disk, and a new model costs only the compile
of a two-line adapter (:func:`model_adapter`). For the same reason the driver
never links the kernel's code and never reads its state: it makes, reads and
advances a fit's state only through the kernel's compiled accessors, which come
in as function pointers too (:func:`kernel_accessors`), and the kernel's REPEAT
code comes in as a value, so a change of the kernel cannot leave a stale copy
of it in this module's cache.
"""

from __future__ import annotations

import contextlib
import math
import warnings
import weakref

import numba
import numpy as np
from numba import types
from numba.core.errors import NumbaExperimentalFeatureWarning
from numba.experimental.function_type import _get_wrapper_address

from .._jit import batch_jit, cached, locked, run_time
from .._numerics import EPS, REL_STEP_2POINT, REL_STEP_3POINT
from .._status import Status
from ..rprop import kernel as K
from .common import (
    MAX_ROUNDS,
    WALK_FACTORS,
    against_bound,
    another_round,
    full_rank,
    lm_max_nfev,
    lost_parameters,
    rank_tolerance,
    revive_start,
    stationary_column,
    step_settled,
)

__all__ = ["fit_all", "kernel_accessors", "model_adapter", "jacobian_adapter",
           "NO_JACOBIAN"]

_GTOL, _FTOL = int(Status.GTOL), int(Status.FTOL)
_MAXITER, _NONFINITE = int(Status.MAXITER), int(Status.NONFINITE)
_SUCCESS = np.array(sorted(int(s) for s in Status if s.success), dtype=np.int64)

#: Levenberg-Marquardt's budget of iterations, per parameter, on the robust way
#: (the fast way has MINPACK's, see `_levenberg_marquardt`). MINPACK's budget is
#: too short for this one there: on NIST's MGH10 and Bennett5, both cost more
#: calls in the end and MGH10 from its first start is lost (measured).
LM_MAX_ITER = 1000
#: Initial damping, relative to the diagonal of J^T J (Marquardt's scaling).
#: Rprop's bracket point can be far from the minimum, and there an undamped
#: Gauss-Newton step lands anywhere (a peak thrown off the data). Measured,
#: 1e-3 / 1e-2 / 0.03 / 0.1 / 0.3 / 1, on many_fits.py's harder peaks (2,000,
#: seeds 0, 1, 2, 2,000), p99 / median calls: 2.48, 2.81, 2.60, 6.45 at 1e-3;
#: 2.24, 2.53, 2.26, 2.88 at 0.1; on seed 2,000 at most 4.05 from 0.1 up, at
#: least 6.45 below; fits at cost >= 1 (a peak fitted as a dip) 4.1-4.8 % ->
#: 3.9-4.7 %. The well-posed peaks' costs move by 4e-13 at most, 0.4-1 % fewer
#: calls; from 0.3 up their mean grows (median 83 at 1). NIST's numba-model path:
#: 56,622 calls in all against 49,210 at 1e-3 (Lanczos1 4,000 a start, not 900).
LM_LAMBDA0 = 0.1
#: The most a successful step shrinks the damping (Nielsen's rule has 1/3; 0.1
#: measured on the peak problem of benchmarks/many_fits.py: 2 % fewer calls, the
#: same points).
LM_SHRINK = 0.1
#: After this many iterations' worth of calls (n + 1 each), Levenberg-Marquardt
#: may add the second-order term S of the Hessian that Gauss-Newton leaves out
#: (see `_secant_update`). Where the residuals stay large at the minimum (a
#: peak fitted as a dip elsewhere), J^T J misjudges the curvature and the
#: damped steps zigzag down a long valley, 300-700 calls (MINPACK's crawls as
#: long on the same fits, its own differences counted); a small-residual fit has
#: converged by then. Measured on many_fits.py's harder family (2,000 peaks,
#: seeds 0-2; `LM_LAMBDA0` then 1e-3): calls per fit p99 / median 4.2, 5.9,
#: 4.7 -> 2.5, 2.8, 2.6, mean 4-6 % lower, the same fits at cost >= 1; from the
#: first step (0 here) the p99 was 233, 265, 290 against 223, 257, 239: S learned
#: from the first steps, far from the minimum, misleads more often than it helps.
HYBRID_AFTER = 8
#: Levenberg-Marquardt has converged when the next step gains less than this,
#: relative to the cost, by the Gauss-Newton model: the cost's rounding
#: (MINPACK's ftol test at eps) ...
LM_TIGHT = 16 * EPS
#: ... or, on the fast way, this first (forward differences converge slowly at the
#: end, and their fixed point is only about sqrt(eps) accurate anyway): the
#: Gauss-Newton step with the accurate Jacobian that follows finishes the job.
LM_LOOSE = 1e-12
#: A loose run also stops after a step that gained at most this, relative to the
#: cost, without the Jacobian at its point (which the accurate one replaces):
#: 4 % fewer calls on the peak problem, the points as near the true minimum.
LM_LOOSE_GAIN = 1e-9
#: Where the first step moved a parameter by at most this (relative), the second
#: is taken with the same J (its fixed point is off the minimum by about the
#: first step times the change of J it made, times the residuals' curvature:
#: within 1e-6 even on NIST's ENSO, where that factor is 0.35), else with a fresh
#: one. Measured on the peak problem of benchmarks/many_fits.py: 73 % of the
#: second steps, 5 calls fewer per fit on average, the same distance to the true
#: minimum.
CHORD_MAX = 1e-6
#: That second step settles the fit only if it is at most this fraction of the
#: first (Gauss-Newton converging fast: the distance left is below a tenth of it).
GN_CONTRACTION = 0.1
#: Below this bound on J's condition number pcov comes from the Cholesky factor
#: of J^T J, above it from the SVD of J (see `_covariance`).
FAST_CONDITION = 1e4


# --------------------------------------------------------------------------- types

ARR = types.float64[::1]
ARR2 = types.float64[:, ::1]
MODEL = types.FunctionType(ARR(ARR, ARR))
JACOBIAN = types.FunctionType(ARR2(ARR, ARR))
SCALE_RULE = types.FunctionType(types.none(ARR, ARR, ARR, types.float64, types.float32[::1],
                                           ARR))


def kernel_accessors():
    """The kernel's compiled accessors the driver calls, as it takes them:
    ``(state_like, current_x, best_x, best_f)``, and the kernel's REPEAT code.

    Handed to the compiled driver at run time rather than compiled into it (see
    the module's docstring).
    """
    return (K.state_like, K.current_x_compiled, K.best_x_compiled, K.best_f_compiled), K.REPEAT


def _accessor_types(state_type):
    """The function-pointer types of :func:`kernel_accessors`, for ``state_type``."""
    return types.Tuple((
        types.FunctionType(state_type(state_type, ARR, SCALE_RULE, types.float64)),
        types.FunctionType(ARR(state_type)),
        types.FunctionType(ARR(state_type)),
        types.FunctionType(types.float64(state_type))))


# --------------------------------------------------------------------------- adapters

def _compile(name, source, namespace):
    exec(compile(source, f"<signmin.lsq.batch.{name}>", "exec"), namespace)  # noqa: S102
    return batch_jit(namespace[name])


_ADAPTERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _adapter(kind, f, n):
    per_function = _ADAPTERS.setdefault(f, {})
    adapter = per_function.get((kind, n))
    if adapter is None:
        args = ", ".join(f"p[{i}]" for i in range(n))
        # np.asarray: a model written with a scalar expression still gives an array.
        source = (f"def {kind}(x, p):\n"
                  f"    return np.ascontiguousarray(np.asarray(f(x, {args}), "
                  f"dtype=np.float64))\n")
        adapter = per_function[(kind, n)] = _compile(kind, source, {"f": f, "np": np})
    return adapter


def model_adapter(f, n):
    """``model(x, p) = f(x, p[0], ..., p[n-1])`` as a contiguous float64 array, compiled.

    numba cannot unpack an array into arguments, so the call is written out,
    once per model and number of parameters.
    """
    return _adapter("model", f, n)


def jacobian_adapter(jac, n):
    """``jac(x, p[0], ..., p[n-1])`` as a contiguous (k, n) float64 array, compiled."""
    return _adapter("jacobian", jac, n)


@cached(nogil=True, error_model="numpy")
def _no_jacobian(x, p):
    return np.empty((0, 0))


#: Stands in for the Jacobian when differences are taken.
NO_JACOBIAN = _no_jacobian


# --------------------------------------------------------------------------- residuals


@batch_jit
def _residuals(model, x, y, sigma, p, r):
    """``r = (model(x, p) - y) * (1 / sigma)`` (sigma of length 0: unweighted).

    Returns the cost ``0.5 * sum(r**2)`` (summed as `_dot` sums); inf if it is not
    finite (a residual that is not) or the model's output has the wrong length.
    """
    values = model(x, p)
    k = y.shape[0]
    if values.shape[0] != k:
        return np.inf
    if sigma.shape[0] > 0:
        for j in range(k):
            r[j] = (values[j] - y[j]) * (1.0 / sigma[j])
    else:
        for j in range(k):
            r[j] = values[j] - y[j]
    cost = 0.5 * _dot(r, r)
    return cost if math.isfinite(cost) else np.inf


@batch_jit(fastmath={"reassoc", "contract"})
def _dot(a, b):
    """``sum(a * b)``, in an order the compiler picks for the processor's vectors
    (fixed for a compiled function: the same bits on every call of it)."""
    s = 0.0
    for j in range(a.shape[0]):
        s += a[j] * b[j]
    return s


@batch_jit
def _two_points(model, x, y, sigma, shifted, i, a, b, r1, r2):
    """The residuals with parameter ``i`` at ``a`` into r1 and at ``b`` into r2
    (``shifted[i]`` is left at ``b``); whether both are finite."""
    shifted[i] = a
    finite = _residuals(model, x, y, sigma, shifted, r1) < np.inf
    shifted[i] = b
    return finite & (_residuals(model, x, y, sigma, shifted, r2) < np.inf)


def _jacobian(model, jac, with_jac, three_point, x, y, sigma, p, r, lower, upper, Jt, work):
    """The Jacobian of the residuals at ``p`` (where they are ``r``), transposed, into
    ``Jt`` (n x k: a row per parameter).

    From ``jac`` (weighted as the residuals), or by differences as SciPy's
    ``approx_derivative`` takes them with ``rel_step`` (eps**(1/3) central,
    eps**(1/2) forward) inside ``[lower, upper]``; ``work`` holds two rows of
    k. Each parameter is shifted in place in ``p`` and restored exactly; the
    differences are multiplied by the reciprocal of the step actually taken.
    Returns the calls of the model, and whether J is finite.
    """
    n, k = Jt.shape
    if with_jac:
        values = jac(x, p)
        if values.shape[0] != k or values.shape[1] != n:
            return 0, False
        total = 0.0
        weighted = sigma.shape[0] > 0
        for j in range(k):
            w = (1.0 / sigma[j]) if weighted else 1.0
            for i in range(n):
                v = values[j, i] * w if weighted else values[j, i]
                Jt[i, j] = v
                total += v
        return 0, math.isfinite(total)
    rel = REL_STEP_3POINT if three_point else REL_STEP_2POINT
    shifted = p  # each parameter is shifted in place and restored exactly
    r1, r2 = work[0], work[1]
    calls = 0
    finite = True
    for i in range(n):
        pi = p[i]
        sign = 1.0 if pi >= 0.0 else -1.0
        h = rel * sign * abs(pi)
        if (pi + h) - pi == 0.0:
            h = rel * sign * max(1.0, abs(pi))
        lower_dist, upper_dist = pi - lower[i], upper[i] - pi
        row = Jt[i]
        if three_point:
            h = abs(h)
            one_sided = False
            if not (lower_dist >= h and upper_dist >= h):
                h = min(h, 0.5 * upper_dist) if upper_dist >= lower_dist else -min(
                    h, 0.5 * lower_dist)
                one_sided = True
                min_dist = min(upper_dist, lower_dist)
                if abs(h) <= min_dist:
                    h = min_dist
                    one_sided = False
            if one_sided:
                finite &= _two_points(model, x, y, sigma, shifted, i, pi + h, pi + 2.0 * h,
                                      r1, r2)
                scale = 1.0 / (pi + 2.0 * h - pi)
                for j in range(k):
                    row[j] = (-3.0 * r[j] + 4.0 * r1[j] - r2[j]) * scale
            else:
                finite &= _two_points(model, x, y, sigma, shifted, i, pi - h, pi + h, r1, r2)
                scale = 1.0 / ((pi + h) - (pi - h))
                for j in range(k):
                    row[j] = (r2[j] - r1[j]) * scale
            calls += 2
        else:
            if pi + h < lower[i] or pi + h > upper[i]:
                if abs(h) <= max(lower_dist, upper_dist):
                    h = -h
                elif upper_dist >= lower_dist:
                    h = upper_dist
                else:
                    h = -lower_dist
            shifted[i] = pi + h
            dx = shifted[i] - pi
            finite &= _residuals(model, x, y, sigma, shifted, r1) < np.inf
            scale = 1.0 / dx
            for j in range(k):
                row[j] = (r1[j] - r[j]) * scale
            calls += 1
        shifted[i] = pi
    return calls, finite


# --------------------------------------------------------------------------- small linear algebra


@batch_jit
def _copy(src, dst):
    for i in range(src.shape[0]):
        dst[i] = src[i]


@batch_jit
def _normal_equations(Jt, r, A, g):
    """``A = J^T J`` and ``g = J^T r``."""
    n = Jt.shape[0]
    for a in range(n):
        g[a] = _dot(Jt[a], r)
        for b in range(a + 1):
            A[a, b] = A[b, a] = _dot(Jt[a], Jt[b])


@batch_jit
def _solve_damped(A, g, D, lam, free, L, d):
    """Solve ``(A + lam diag(D)) d = -g`` over the free parameters by Cholesky;
    d is 0 elsewhere. False if the matrix is not positive definite."""
    n = g.shape[0]
    for a in range(n):
        for b in range(a + 1):
            if free[a] and free[b]:
                L[a, b] = A[a, b] + (lam * D[a] if a == b else 0.0)
            else:
                L[a, b] = 1.0 if a == b else 0.0
    for a in range(n):
        s = L[a, a]
        for c in range(a):
            s -= L[a, c] * L[a, c]
        if not s > 0.0:
            return False
        s = math.sqrt(s)
        L[a, a] = s
        for b in range(a + 1, n):
            t = L[b, a]
            for c in range(a):
                t -= L[b, c] * L[a, c]
            L[b, a] = t / s
    for a in range(n):
        t = -g[a] if free[a] else 0.0
        for c in range(a):
            t -= L[a, c] * d[c]
        d[a] = t / L[a, a]
    for a in range(n - 1, -1, -1):
        t = d[a]
        for c in range(a + 1, n):
            t -= L[c, a] * d[c]
        d[a] = t / L[a, a]
    for a in range(n):
        if not free[a]:
            d[a] = 0.0
    return True


@batch_jit
def _householder(Q, rhs):
    """Householder QR of J (k x n, k >= n), given transposed in ``Q`` and reduced in
    place: on return ``Q[b, a]`` is ``R[a, b]`` for ``a <= b``. The reflections are
    applied to ``rhs`` too (``Q^T rhs``), unless it has length 0."""
    n, k = Q.shape
    apply = rhs.shape[0] > 0
    for c in range(n):
        qc = Q[c]
        tail = 0.0
        for j in range(c + 1, k):
            tail += qc[j] * qc[j]
        norm = math.sqrt(qc[c] * qc[c] + tail)
        if norm == 0.0:
            continue
        alpha = -norm if qc[c] >= 0.0 else norm
        v0 = qc[c] - alpha
        scale = 2.0 / (v0 * v0 + tail)
        for b in range(c + 1, n + (1 if apply else 0)):
            w = Q[b] if b < n else rhs
            t = v0 * w[c]
            for j in range(c + 1, k):
                t += qc[j] * w[j]
            t *= scale
            w[c] -= t * v0
            for j in range(c + 1, k):
                w[j] -= t * qc[j]
        qc[c] = alpha


@batch_jit
def _singular_values(Jt, V, s):
    """Singular values of J (k x n, k >= n; given transposed) into ``s`` and its right
    singular vectors into the columns of ``V``: Householder QR, then one-sided
    Jacobi rotations of R (Hestenes) until its columns are orthogonal. Small
    loops, accurate to rounding, and quick to compile, unlike LAPACK's wrappers."""
    n, k = Jt.shape
    Q = Jt.copy()
    _householder(Q, Q[0, :0])
    U = np.zeros((n, n))  # U[b] is column b of R
    for b in range(n):
        for a in range(b + 1):
            U[b, a] = Q[b, a]
    for a in range(n):
        for b in range(n):
            V[a, b] = 1.0 if a == b else 0.0
    for _ in range(60):
        rotated = False
        for a in range(n - 1):
            for b in range(a + 1, n):
                alpha = _dot(U[a], U[a])
                beta = _dot(U[b], U[b])
                gamma = _dot(U[a], U[b])
                if gamma == 0.0 or abs(gamma) <= EPS * math.sqrt(alpha * beta):
                    continue
                rotated = True
                zeta = (beta - alpha) / (2.0 * gamma)
                t = (1.0 if zeta >= 0.0 else -1.0) / (abs(zeta) + math.sqrt(1.0 + zeta * zeta))
                c = 1.0 / math.sqrt(1.0 + t * t)
                sn = c * t
                for j in range(n):
                    ua, ub = U[a, j], U[b, j]
                    U[a, j] = c * ua - sn * ub
                    U[b, j] = sn * ua + c * ub
                    va, vb = V[j, a], V[j, b]
                    V[j, a] = c * va - sn * vb
                    V[j, b] = sn * va + c * vb
        if not rotated:
            break
    for a in range(n):
        s[a] = math.sqrt(_dot(U[a], U[a]))


@batch_jit
def _covariance(Jt, cost, absolute_sigma, pcov, A, L, V, s):
    """SciPy's pcov into ``pcov``: ``inv(J^T J)``, times ``2 cost / (k - n)`` unless
    ``absolute_sigma``; inf where it cannot be estimated (J not of full rank by
    SciPy's test, or ``k <= n`` without ``absolute_sigma``). Returns whether J
    has full rank.

    SciPy inverts by the SVD of J. Where the Cholesky factor of ``J^T J`` shows
    J far from rank-deficient (the ratio of its diagonal's extremes, a lower
    bound on J's condition number, below `FAST_CONDITION`; SciPy's test fails
    only near 1 / (eps k)) the inverse is taken from that factor instead, to
    the same digits and at a fraction of the cost; else by the SVD (`V`, `s`).
    """
    n, k = Jt.shape
    if k < n:
        determined = False
    else:
        for a in range(n):
            for b in range(a + 1):
                A[a, b] = A[b, a] = _dot(Jt[a], Jt[b])
        fast = _cholesky(A, L)
        if fast:
            low, high = np.inf, 0.0
            for a in range(n):
                low, high = min(low, L[a, a]), max(high, L[a, a])
            fast = high < FAST_CONDITION * low
        if fast:
            determined = True
            # inv(A) = inv(L)^T inv(L); inv(L) into the upper triangle of V, transposed.
            for a in range(n):
                for b in range(n):
                    V[a, b] = 0.0
            for c in range(n):
                V[c, c] = 1.0 / L[c, c]
                for a in range(c + 1, n):
                    t = 0.0
                    for b in range(c, a):
                        t -= L[a, b] * V[c, b]
                    V[c, a] = t / L[a, a]
            for a in range(n):
                for b in range(n):
                    t = 0.0
                    for c in range(max(a, b), n):
                        t += V[a, c] * V[b, c]
                    pcov[a, b] = t
        else:
            _singular_values(Jt, V, s)
            determined = full_rank(s, k)
            if determined:
                for a in range(n):
                    for b in range(n):
                        t = 0.0
                        for i in range(n):
                            t += V[a, i] * V[b, i] / (s[i] * s[i])
                        pcov[a, b] = t
    if not (determined and (absolute_sigma or k > n)):
        for a in range(n):
            for b in range(n):
                pcov[a, b] = np.inf
        return determined
    factor = 1.0 if absolute_sigma else 2.0 * cost / (k - n)
    for a in range(n):
        for b in range(n):
            pcov[a, b] *= factor
    return determined


@batch_jit
def _cholesky(A, L):
    """The Cholesky factor of ``A`` into the lower triangle of ``L``; False if ``A``
    is not positive definite."""
    n = A.shape[0]
    for a in range(n):
        for b in range(a + 1):
            t = A[a, b]
            for c in range(b):
                t -= L[a, c] * L[b, c]
            if a == b:
                if not t > 0.0:
                    return False
                L[a, a] = math.sqrt(t)
            else:
                L[a, b] = t / L[b, b]
    return True


@batch_jit
def _stationary(Jt, r, p, lower, upper):
    """Whether the point is stationary, as ``curve_fit`` judges it: every column of
    J passes `stationary_column`, but for a parameter `against_bound`."""
    n = Jt.shape[0]
    r_norm = math.sqrt(_dot(r, r))
    for i in range(n):
        g = _dot(Jt[i], r)
        if not (stationary_column(g, math.sqrt(_dot(Jt[i], Jt[i])), r_norm)
                or against_bound(p[i], g, lower[i], upper[i])):
            return False
    return True


# --------------------------------------------------------------------------- the phases


@batch_jit
def _rprop(tell, state, kernel, repeat, jacobian, model, jac, with_jac, three_point, x, y,
           sigma, lower, upper, r, Jt, g, work, r_best, Jt_best):
    """The sign phase, as the compiled driver runs it, with the gradient ``J^T r``
    (J from ``jac`` or differences, central if ``three_point``). The residuals and
    J at the best point are kept in ``r_best`` and ``Jt_best`` (the finish starts
    there). ``kernel`` and ``repeat`` are those of :func:`kernel_accessors`.
    Returns ``(status, calls of the model, Jacobians)``.

    (Measured and left out: differences at every third evaluation only, Broyden's
    update in between, cut the calls by a fifth on the peak problem, but on NIST's
    ENSO from its first start the run then bracketed another minimum.)
    """
    current_x, best_f = kernel[1], kernel[3]
    status = repeat - 1  # anything but REPEAT: evaluate first
    calls_f = 0
    jacobians = 0
    cost = np.inf
    while True:
        calls = 0
        if status != repeat:
            p = current_x(state)
            calls_f += 1
            calls = 1
            cost = _residuals(model, x, y, sigma, p, r)
            if cost < np.inf:
                c, finite = jacobian(model, jac, with_jac, three_point, x, y, sigma, p, r,
                                     lower, upper, Jt, work)
                calls_f += c
                jacobians += 1
                if finite:
                    for i in range(g.shape[0]):
                        g[i] = _dot(Jt[i], r)
                    if cost < best_f(state):
                        # tell makes this point the best (the same test).
                        _copy(r, r_best)
                        for i in range(g.shape[0]):
                            _copy(Jt[i], Jt_best[i])
                else:
                    cost = np.inf
            if cost == np.inf:
                for i in range(g.shape[0]):
                    g[i] = 0.0
        # (g is this fit's buffer: the state copies it.)
        status = tell(state, g, cost, calls, False)
        if status >= 0:
            return status, calls_f, jacobians


@batch_jit
def _secant_update(S, step, g, g_old, h, v):
    """Dennis, Gay & Welsch's structured secant update of ``S`` (NL2SOL), in place.

    ``S`` models ``sum r_i H_i``, the part of the cost's Hessian that J^T J
    leaves out, from the last ``step``: the gradients before and after it
    (``g_old``, ``g``) and ``h``, the old J^T times the new residuals, so that
    ``S step`` matches ``g - h`` (the change of J, against the new residuals).
    Scaled down first where its curvature along the step exceeds that seen
    (their sizing); skipped without positive curvature ``(g - g_old) . step``.
    ``v`` is work space.
    """
    n = step.shape[0]
    ys = 0.0
    for i in range(n):
        ys += (g[i] - g_old[i]) * step[i]
    if not ys > 0.0:
        return
    sSs = 0.0
    sy = 0.0
    for a in range(n):
        sSs += step[a] * _row_dot(S, a, step)
        sy += step[a] * (g[a] - h[a])
    if sSs != 0.0:
        tau = min(1.0, abs(sy) / abs(sSs))
        for a in range(n):
            for b in range(n):
                S[a, b] *= tau
    vs = 0.0
    for a in range(n):
        v[a] = g[a] - h[a] - _row_dot(S, a, step)
        vs += v[a] * step[a]
    for a in range(n):
        ya = g[a] - g_old[a]
        for b in range(n):
            yb = g[b] - g_old[b]
            S[a, b] += (v[a] * yb + ya * v[b]) / ys - vs * ya * yb / (ys * ys)


@batch_jit
def _row_dot(M, a, v):
    """Row ``a`` of ``M`` times ``v``, summed in index order (`_dot` lets the
    compiler reorder the sum: its bits would differ from the loop this replaced)."""
    t = 0.0
    for b in range(v.shape[0]):
        t += M[a, b] * v[b]
    return t


@batch_jit
def _levenberg_marquardt(jacobian, model, jac, with_jac, x, y, sigma, lower, upper, p, r,
                         cost, Jt, work, max_iter, max_calls, ftol, have_jacobian):
    """Levenberg-Marquardt from ``p`` (residuals ``r`` and their ``cost``, finite),
    in place, with J from ``jac`` or forward differences.

    Marquardt's scaling (the largest diagonal of J^T J seen) makes the steps
    invariant under rescaling a parameter (as ``x_scale='jac'``); Nielsen's
    update of the damping. A parameter at a bound that the gradient pushes out
    of the box is held there; steps are clipped into the box. After
    `HYBRID_AFTER` iterations' calls, the model of the cost adds ``S``
    (`_secant_update`) to J^T J whenever, on the last step, it predicted the
    gain better than J^T J alone (NL2SOL's choice of model) and the damped
    J^T J + S is positive definite.

    Stops when the next step's gain, as the model predicts it (J^T J, or with
    ``S``: positive either way, the damped matrix being positive definite), is
    at most ``ftol`` relative to the cost (status FTOL; MINPACK's ftol test), on
    a zero projected gradient (GTOL), after ``max_iter`` iterations or at
    ``max_calls`` calls of the model (MAXITER: on the fast way MINPACK's budget,
    as `curve_fit` gives it, `common.lm_max_nfev`; a run that needs more crawls
    along a degenerate valley, measured up to 23,000 calls on a peak run off
    the data, where the robust way does better); a loose
    run (``ftol`` above `LM_TIGHT`) also after a step that gained at most
    `LM_LOOSE_GAIN` (FTOL; ``Jt`` then is the previous point's). Otherwise
    ``Jt`` is J at ``p`` (transposed) on return; on entry if ``have_jacobian``. Returns
    ``(status, cost, calls of the model, Jacobians taken)``.
    """
    n = p.shape[0]
    A = np.empty((n, n))
    L = np.empty((n, n))
    g = np.empty(n)
    D = np.zeros(n)
    d = np.empty(n)
    free = np.empty(n, dtype=np.bool_)
    p_new = np.empty(n)
    r_new = np.empty(r.shape[0])
    # The secant term, J^T J + S when the steps take it, and the last accepted
    # step's data for the update.
    S = np.zeros((n, n))
    M = np.empty((n, n))
    h = np.empty(n)
    g_old = np.empty(n)
    step = np.empty(n)
    v = np.empty(n)
    stepped = False
    prefer_s = True
    coarse = run_time(False)
    calls = 0
    jacobians = 0
    take_jacobian = not have_jacobian
    loose = ftol > LM_TIGHT
    if have_jacobian:
        _normal_equations(Jt, r, A, g)
    lam = LM_LAMBDA0
    nu = 2.0
    status = _MAXITER
    for _ in range(max_iter):
        if calls >= max_calls:
            break
        if take_jacobian:
            c, finite = jacobian(model, jac, with_jac, coarse, x, y, sigma, p, r, lower, upper,
                                 Jt, work)
            calls += c
            jacobians += 1
            if not finite:
                status = _NONFINITE
                break
            take_jacobian = False
            _normal_equations(Jt, r, A, g)
            if stepped:
                _secant_update(S, step, g, g_old, h, v)
                stepped = False
        with_s = prefer_s and calls >= HYBRID_AFTER * (n + 1)
        if with_s:
            for a in range(n):
                for b in range(n):
                    M[a, b] = A[a, b] + S[a, b]
        moving = False
        for i in range(n):
            D[i] = max(D[i], A[i, i])
            free[i] = not against_bound(p[i], g[i], lower[i], upper[i]) and A[i, i] > 0.0
            moving |= free[i] and g[i] != 0.0
        if not moving:
            status = _GTOL
            break
        if with_s and not _solve_damped(M, g, D, lam, free, L, d):
            # J^T J + S is indefinite at this damping: the model's fault, so the step
            # is Gauss-Newton's. Raising the damping until J^T J + S is positive
            # definite instead multiplied it by up to 1e6 (NIST's MGH10) and 1e8
            # (Bennett5) at once, and the fits crawled (MGH10 from start 2: 4,350
            # calls, 760 with this).
            with_s = False
        if not with_s and not _solve_damped(A, g, D, lam, free, L, d):
            lam *= nu
            nu *= 2.0
            if not lam < 1e300:
                break
            continue
        for i in range(n):
            p_new[i] = min(max(p[i] + d[i], lower[i]), upper[i])
            d[i] = p_new[i] - p[i]
        # The gain the model in use predicts, -(g.d + d.H.d / 2).
        H = M if with_s else A
        predicted = 0.0
        d_s_d = 0.0
        for a in range(n):
            predicted -= d[a] * (g[a] + 0.5 * _row_dot(H, a, d))
            d_s_d += d[a] * _row_dot(S, a, d)
        if predicted <= ftol * cost:
            status = _FTOL
            break
        calls += 1
        cost_new = _residuals(model, x, y, sigma, p_new, r_new)
        if cost_new < np.inf:
            # What each model predicted (the one not in use differs by d.S.d / 2).
            with_term, without = ((predicted, predicted + 0.5 * d_s_d) if with_s
                                  else (predicted - 0.5 * d_s_d, predicted))
            gain = cost - cost_new
            prefer_s = abs(gain - with_term) < abs(gain - without)
        if cost_new < cost:
            rho = (cost - cost_new) / predicted
            small = cost - cost_new <= LM_LOOSE_GAIN * cost
            for i in range(n):
                h[i] = _dot(Jt[i], r_new)
                g_old[i] = g[i]
                step[i] = d[i]
            stepped = True
            _copy(p_new, p)
            _copy(r_new, r)
            cost = cost_new
            take_jacobian = True
            if small and loose:
                status = _FTOL
                take_jacobian = False
                break
            lam *= max(LM_SHRINK, 1.0 - (2.0 * rho - 1.0) ** 3)
            nu = 2.0
        else:
            lam *= nu
            nu *= 2.0
    if take_jacobian and status != _NONFINITE:
        c, _ = jacobian(model, jac, with_jac, coarse, x, y, sigma, p, r, lower, upper, Jt,
                        work)
        calls += c
        jacobians += 1
    return status, cost, calls, jacobians


@batch_jit
def _is_success(status):
    for s in _SUCCESS:
        if status == s:
            return True
    return False


@batch_jit
def _gauss_newton_step(Jt, r, cost, model, x, y, sigma, lower, upper, p, work, scratch):
    """One undamped Gauss-Newton step from ``p`` with ``Jt`` (J of full rank), clipped
    into the box and taken if the cost does not rise beyond rounding.

    Forward differences put Levenberg-Marquardt's fixed point where their own
    ``J^T r`` vanishes, about sqrt(eps) off the minimum; a step with the
    accurate J moves it there (as ``curve_fit`` does after MINPACK). The step
    solves ``min |J d + r|`` by Householder QR (errors in J's condition number,
    not its square as by the normal equations); a parameter that the gradient
    pushes against its bound is held there (by the normal equations of the
    others). Returns ``(cost, calls, settled, moved)``: settled if the step moved
    no parameter by more than `common.GN_SETTLED` (relative; `step_settled`); moved, the largest
    relative move (0 if no step was taken).
    """
    n, k = Jt.shape
    A, L, g, d, free, p_new = scratch
    _normal_equations(Jt, r, A, g)
    held = False
    for i in range(n):
        free[i] = not against_bound(p[i], g[i], lower[i], upper[i])
        held |= not free[i]
    if held or k < n:
        if not _solve_damped(A, g, g, 0.0, free, L, d):
            return cost, 0, True, 0.0
    else:
        Q = Jt.copy()
        qtr = work[1]
        for j in range(k):
            qtr[j] = -r[j]
        _householder(Q, qtr)
        for a in range(n - 1, -1, -1):
            t = qtr[a]
            for b in range(a + 1, n):
                t -= Q[b, a] * d[b]
            if Q[a, a] == 0.0:
                return cost, 0, True, 0.0
            d[a] = t / Q[a, a]
    settled = True
    moved = 0.0
    for i in range(n):
        p_new[i] = min(max(p[i] + d[i], lower[i]), upper[i])
        step = abs(p_new[i] - p[i])
        settled &= step_settled(step, p[i])
        moved = max(moved, step / abs(p[i]) if step > 0.0 else 0.0)
    r_new = work[0]
    cost_new = _residuals(model, x, y, sigma, p_new, r_new)
    if cost_new <= cost * (1.0 + LM_TIGHT):
        _copy(p_new, p)
        _copy(r_new, r)
        return cost_new, 1, settled, moved
    return cost, 1, True, 0.0


@batch_jit
def _settle(jacobian, model, jac, with_jac, three_point, x, y, sigma, lower, upper, p, r, cost,
            Jt, work, scratch, absolute_sigma, pcov, A, L, V, s):
    """At a converged point ``p`` (residuals ``r``): the accurate J (``jac`` or the
    scheme of ``three_point``), ``pcov`` from it, and whether the point is trusted:
    J of full rank and the point stationary (see `_stationary`); then, with
    differences and a trusted point, one Gauss-Newton step with that J (see
    `_gauss_newton_step`). Returns ``(cost, calls of the model, J finite,
    trusted, settled, moved)``.
    """
    calls, finite = jacobian(model, jac, with_jac, three_point, x, y, sigma, p, r, lower,
                             upper, Jt, work)
    if not finite:
        return cost, calls, False, False, True, 0.0
    determined = _covariance(Jt, cost, absolute_sigma, pcov, A, L, V, s)
    trusted = determined and _stationary(Jt, r, p, lower, upper)
    settled = True
    moved = 0.0
    if trusted and not with_jac:
        cost, c, settled, moved = _gauss_newton_step(Jt, r, cost, model, x, y, sigma, lower,
                                                     upper, p, work, scratch)
        calls += c
    return cost, calls, True, trusted, settled, moved


@batch_jit
def _buffers(n, k):
    """A fit's own work arrays: ``(r, Jt, g, work, p, r_best, Jt_best, A, L, V, s,
    scratch)``, allocated once per fit."""
    scratch = (np.empty((n, n)), np.empty((n, n)), np.empty(n), np.empty(n),
               np.empty(n, dtype=np.bool_), np.empty(n))
    return (np.empty(k), np.empty((n, k)), np.empty(n), np.empty((2, k)), np.empty(n),
            np.empty(k), np.empty((n, k)), np.empty((n, n)), np.empty((n, n)),
            np.empty((n, n)), np.zeros(n), scratch)


@batch_jit
def _fast_way(tell, template, runs, problem, p0, buffers, popt, pcov, absolute_sigma):
    """Rprop until the minimum is bracketed (forward differences), then the finish
    (:func:`_finish`) from its best point.

    ``problem`` is ``(jacobian, model, jac, with_jac, three_point, x, y, sigma, lower,
    upper)``; ``runs`` the record of :func:`_fit_row`. Returns ``(cost, status,
    converged, trusted, pcov at popt, calls of the model, Jacobians)``.
    """
    _, _, _, _, kernel, repeat, scale_rule, fraction = runs
    jacobian, model, jac, with_jac, three_point, x, y, sigma, lower, upper = problem
    r, Jt, g, work, p, r_best, Jt_best, A, L, V, s, scratch = buffers
    n = p0.shape[0]
    coarse = run_time(False)
    have_jacobian = not coarse  # True, as a bool (not a literal): one specialisation
    state_like, best_x, best_f = kernel[0], kernel[2], kernel[3]
    state = state_like(template, p0, scale_rule, fraction)
    status, nfev, njev = _rprop(tell, state, kernel, repeat, jacobian, model, jac, with_jac,
                                coarse, x, y, sigma, lower, upper, r, Jt, g, work, r_best,
                                Jt_best)
    _copy(p0, popt)
    p_best, f_best = best_x(state), best_f(state)
    if p_best.shape[0] == 0:
        # Nothing finite was seen from p0: the robust way would start there too.
        return np.inf, status, False, True, False, nfev, njev
    # Levenberg-Marquardt starts from the best point, with its residuals and J.
    _copy(p_best, p)
    _copy(r_best, r)
    for c in range(n):
        _copy(Jt_best[c], Jt[c])
    cost, status, converged, trusted, covariance_at_popt, calls, jacobians = _finish(
        problem, buffers, f_best, have_jacobian, popt, pcov, absolute_sigma)
    return cost, status, converged, trusted, covariance_at_popt, nfev + calls, njev + jacobians


@batch_jit
def _finish(problem, buffers, cost, have_jacobian, popt, pcov, absolute_sigma):
    """Levenberg-Marquardt from the buffers' ``p`` (residuals ``r``, of finite
    ``cost``; ``Jt``, J there, if ``have_jacobian``), and, where that converged to a
    point that is stationary and where J has full rank, Gauss-Newton steps with the
    accurate Jacobian. The point ends in ``popt``. Returns ``(cost, status,
    converged, trusted, pcov at popt, calls of the model, Jacobians)``.
    """
    jacobian, model, jac, with_jac, three_point, x, y, sigma, lower, upper = problem
    r, Jt, g, work, p, r_best, Jt_best, A, L, V, s, scratch = buffers
    n = p.shape[0]
    max_iter = LM_MAX_ITER * n
    nfev = njev = 0
    status = _MAXITER
    converged = False
    trusted = False
    covariance_at_popt = False
    for tight in range(2):
        # An exact J converges fast and to the true point: tight at once.
        ftol = LM_TIGHT if tight or with_jac else LM_LOOSE
        lm_status, lm_cost, calls, jacobians = _levenberg_marquardt(
            jacobian, model, jac, with_jac, x, y, sigma, lower, upper, p, r, cost, Jt,
            work, max_iter, lm_max_nfev(n), ftol, have_jacobian and tight == 0)
        nfev += calls
        njev += jacobians
        status, cost = lm_status, lm_cost
        _copy(p, popt)
        converged = _is_success(status)
        if not converged:
            break
        # pcov at this point (as curve_fit: before the Gauss-Newton step); a
        # second step where the first still moved the point.
        moved = 0.0
        for attempt in range(2 if tight == 0 else 1):
            if attempt == 0 or moved > CHORD_MAX:
                cost, calls, covariance_at_popt, trusted, settled, moved = _settle(
                    jacobian, model, jac, with_jac, three_point, x, y, sigma, lower,
                    upper, p, r, cost, Jt, work, scratch, absolute_sigma, pcov, A, L, V,
                    s)
                njev += 1
            else:
                # A short first step: the same J (see CHORD_MAX), and the
                # fit settled only if this step contracted well.
                first = moved
                cost, calls, settled, moved = _gauss_newton_step(
                    Jt, r, cost, model, x, y, sigma, lower, upper, p, work, scratch)
                settled &= moved <= GN_CONTRACTION * first
            nfev += calls
            if not trusted or settled:
                break
        _copy(p, popt)
        if not trusted or settled:
            break
    return cost, status, converged, trusted, covariance_at_popt, nfev, njev


@batch_jit
def _robust_rounds(tell, template, runs, problem, p0, buffers):
    """Rounds from ``p0``: Rprop to its own stop (the accurate gradient),
    Levenberg-Marquardt from its best point, again from the better point while
    neither converged and the round lowered the cost by `common.ROUND_GAIN` of
    it. The point is left in the buffers' ``p``.
    Returns ``(cost, status, converged, calls of the model, Jacobians)``."""
    _, _, _, _, kernel, repeat, scale_rule, fraction = runs
    jacobian, model, jac, with_jac, three_point, x, y, sigma, lower, upper = problem
    r, Jt, g, work, p, r_best, Jt_best, A, L, V, s, scratch = buffers
    n = p0.shape[0]
    max_iter = LM_MAX_ITER * n
    have_jacobian = not run_time(False)
    state_like, best_x, best_f = kernel[0], kernel[2], kernel[3]
    nfev = njev = 0
    status = _MAXITER
    converged = False
    start = p0
    cost = np.inf
    for _ in range(MAX_ROUNDS):
        state = state_like(template, start, scale_rule, fraction)
        rprop_status, calls, jacobians = _rprop(
            tell, state, kernel, repeat, jacobian, model, jac, with_jac, three_point, x, y,
            sigma, lower, upper, r, Jt, g, work, r_best, Jt_best)
        nfev += calls
        njev += jacobians
        p_best, f_best = best_x(state), best_f(state)
        if p_best.shape[0] == 0:
            status = rprop_status
            break
        _copy(p_best, p)
        _copy(r_best, r)
        for c in range(n):
            _copy(Jt_best[c], Jt[c])
        lm_status, lm_cost, calls, jacobians = _levenberg_marquardt(
            jacobian, model, jac, with_jac, x, y, sigma, lower, upper, p, r, f_best, Jt,
            work, max_iter, max_iter * (n + 1), LM_TIGHT, have_jacobian)
        nfev += calls
        njev += jacobians
        last_cost = cost
        if lm_cost <= f_best:
            cost, status = lm_cost, lm_status
        else:
            cost, status = f_best, rprop_status
            _copy(p_best, p)
        start = p
        converged = _is_success(status)
        if converged or not another_round(cost, last_cost):
            break
    return cost, status, converged, nfev, njev


@batch_jit
def _settle_robust(problem, buffers, popt, pcov, absolute_sigma, converged, cost):
    """After the robust way's rounds, at ``popt``: as on the fast way, the accurate J,
    pcov and Gauss-Newton steps with it while they move the point (Levenberg-Marquardt's
    forward differences leave it about sqrt(eps) off); or, not converged, J for pcov.
    Returns ``(cost, pcov at popt, trusted, calls of the model, Jacobians)``."""
    jacobian, model, jac, with_jac, three_point, x, y, sigma, lower, upper = problem
    r, Jt, g, work, p, r_best, Jt_best, A, L, V, s, scratch = buffers
    nfev = njev = 0
    covariance_at_popt = False
    trusted = False
    if converged:
        nfev += 1
        cost = _residuals(model, x, y, sigma, popt, r)
        for _ in range(3):
            cost, calls, covariance_at_popt, trusted, settled, _ = _settle(
                jacobian, model, jac, with_jac, three_point, x, y, sigma, lower, upper,
                popt, r, cost, Jt, work, scratch, absolute_sigma, pcov, A, L, V, s)
            nfev += calls
            njev += 1
            if not trusted or settled:
                break
    elif cost < np.inf:
        nfev += 1
        _residuals(model, x, y, sigma, popt, r)
        calls, _ = jacobian(model, jac, with_jac, three_point, x, y, sigma, popt, r,
                            lower, upper, Jt, work)
        nfev += calls
        njev += 1
    return cost, covariance_at_popt, trusted, nfev, njev


@batch_jit
def _lost(Jt, p, p0, tol, seen, out):
    """Which parameters the residuals no longer see at ``p`` (J there, transposed,
    ``Jt``), into ``out`` (`common.lost_parameters`); ``seen`` is work space."""
    for c in range(p.shape[0]):
        seen[c] = math.sqrt(_dot(Jt[c], Jt[c]))
    lost_parameters(seen, p, p0, tol, out)


@batch_jit
def _revive(problem, buffers, p0, popt, pcov, absolute_sigma, cost):
    """At a converged point ``popt`` (of ``cost``) that is not trusted: the finish
    (:func:`_finish`) from it with the parameters the residuals no longer see
    (`common.lost`, by J at ``popt``) put back to ``p0``, or, where they are lost
    at ``p0`` too, walked from it to where the residuals see them
    (`common.revive_start`); the first that converged to a lower cost is kept (as
    curve_fit's ``_revive``). ``pcov`` is left at ``popt``. Returns ``(revived,
    cost, status, pcov at popt, calls of the model, Jacobians)``; ``popt`` and
    ``pcov`` are the revived fit's where it is kept.
    """
    jacobian, model, jac, with_jac, three_point, x, y, sigma, lower, upper = problem
    r, Jt, g, work, p, r_best, Jt_best, A, L, V, s, scratch = buffers
    n, k = Jt.shape
    nfev = 1
    _residuals(model, x, y, sigma, popt, r)
    calls, finite = jacobian(model, jac, with_jac, three_point, x, y, sigma, popt, r, lower,
                             upper, Jt, work)
    nfev += calls
    njev = 1
    if not finite:
        return False, cost, _MAXITER, False, nfev, njev
    _covariance(Jt, cost, absolute_sigma, pcov, A, L, V, s)
    tol = rank_tolerance(with_jac, three_point, k, n)
    gone = np.empty(n, dtype=np.bool_)
    still = np.empty(n, dtype=np.bool_)
    _lost(Jt, popt, p0, tol, g, gone)
    walkable = False
    for c in range(n):
        walkable |= gone[c] and p0[c] != 0.0
    kept_popt, kept_pcov = popt.copy(), pcov.copy()
    for attempt in range(1 + (len(WALK_FACTORS) if walkable else 0)):
        if not revive_start(attempt, gone, p0, kept_popt, lower, upper, p):
            continue
        nfev += 1
        start_cost = _residuals(model, x, y, sigma, p, r)
        if not start_cost < np.inf:
            continue
        if attempt:
            calls, finite = jacobian(model, jac, with_jac, three_point, x, y, sigma, p, r,
                                     lower, upper, Jt, work)
            nfev += calls
            njev += 1
            if not finite:
                continue
            _lost(Jt, p, p0, tol, g, still)
            seen = True
            for c in range(n):
                seen &= not (gone[c] and p0[c] != 0.0 and still[c])
            if not seen:
                continue
        new_cost, status, converged, _, covariance_at_popt, calls, jacobians = _finish(
            problem, buffers, start_cost, run_time(False), popt, pcov, absolute_sigma)
        nfev += calls
        njev += jacobians
        if converged and new_cost < cost:
            if not covariance_at_popt:
                _covariance(Jt, new_cost, absolute_sigma, pcov, A, L, V, s)
            return True, new_cost, status, True, nfev, njev
        _copy(kept_popt, popt)
        for a in range(n):
            _copy(kept_pcov[a], pcov[a])
    return False, cost, _MAXITER, True, nfev, njev


def _fit_row(row, runs, functions, data, outputs):
    """Fit data set ``row`` into that row of the outputs.

    The records (tuples, as :func:`fit_all` documents): ``runs``, how Rprop runs
    (``tell_bracket, tell_free, template, template_free, kernel, repeat,
    scale_rule, fraction``); ``functions``, ``(jacobian, model, jac, with_jac,
    three_point, absolute_sigma)``; ``data``, ``(xs, ys, sigmas, p0s, lower,
    upper)``, whose rows of ``xs``, ``sigmas`` and ``p0s`` are the data set's own,
    or shared if there is one row (sigma of width 0: no weights); ``outputs``,
    ``(popts, pcovs, costs, statuses, nfevs, njevs)``.

    The fast way first (:func:`_fast_way`); where its finish did not converge, the
    finish from p0 (:func:`_finish`), kept where trusted; where neither point is
    trusted, the robust way (:func:`_robust_rounds`); the better converged result
    of the fast and the robust way is kept, or, where it is not trusted, the
    finish from it with its lost parameters put back to p0 (:func:`_revive`) if
    that is better.
    """
    tell_bracket, tell_free, template, template_free = runs[0], runs[1], runs[2], runs[3]
    jacobian, model, jac, with_jac, three_point, absolute_sigma = functions
    xs, ys, sigmas, p0s, lower, upper = data
    popts, pcovs, costs, statuses, nfevs, njevs = outputs
    x = xs[0 if xs.shape[0] == 1 else row]
    y = ys[row]
    sigma = sigmas[0 if sigmas.shape[0] == 1 else row]
    p0 = p0s[0 if p0s.shape[0] == 1 else row]
    popt = popts[row]
    pcov = pcovs[row]
    n = p0.shape[0]
    buffers = _buffers(n, y.shape[0])
    problem = (jacobian, model, jac, with_jac, three_point, x, y, sigma, lower, upper)
    cost, status, converged, trusted, covariance_at_popt, nfev, njev = _fast_way(
        tell_bracket, template, runs, problem, p0, buffers, popt, pcov, absolute_sigma)
    if not (trusted or converged):
        # The finish from p0 itself, kept where it vouches for its point (see
        # curve_fit's _finish_from_p0).
        r, p = buffers[0], buffers[4]
        _copy(p0, p)
        start_cost = _residuals(model, x, y, sigma, p, r)
        nfev += 1
        if start_cost < np.inf:
            p0_cost, p0_status, p0_converged, p0_trusted, p0_covariance, calls, jacobians = (
                _finish(problem, buffers, start_cost, run_time(False), popt, pcov,
                        absolute_sigma))
            nfev += calls
            njev += jacobians
            if p0_trusted:
                cost, status, converged, trusted, covariance_at_popt = (
                    p0_cost, p0_status, p0_converged, p0_trusted, p0_covariance)
    if not trusted:
        fast_cost, fast_status, fast_converged = cost, status, converged
        cost, status, converged, calls, jacobians = _robust_rounds(
            tell_free, template_free, runs, problem, p0, buffers)
        nfev += calls
        njev += jacobians
        if fast_converged and (not converged or fast_cost <= cost):
            # The fast way's point stands, with its pcov.
            cost, status, converged = fast_cost, fast_status, fast_converged
        else:
            _copy(buffers[4], popt)
            cost, covariance_at_popt, trusted, calls, jacobians = _settle_robust(
                problem, buffers, popt, pcov, absolute_sigma, converged, cost)
            nfev += calls
            njev += jacobians
        if converged and not trusted:
            revived, new_cost, new_status, at_popt, calls, jacobians = _revive(
                problem, buffers, p0, popt, pcov, absolute_sigma, cost)
            nfev += calls
            njev += jacobians
            covariance_at_popt |= at_popt
            if revived:
                cost, status = new_cost, new_status
    if cost < np.inf and not covariance_at_popt:
        A, L, V, s = buffers[7], buffers[8], buffers[9], buffers[10]
        _covariance(buffers[1], cost, absolute_sigma, pcov, A, L, V, s)
    elif cost == np.inf:
        for a in range(n):
            for b in range(n):
                pcov[a, b] = np.inf
    costs[row] = cost
    statuses[row] = status
    nfevs[row] = nfev
    njevs[row] = njev if with_jac else 0


def _fit_all(fit_row, tell_bracket, tell_free, template, template_free, kernel, repeat,
             jacobian, model, jac, with_jac, three_point, scale_rule, fraction, absolute_sigma, x,
             y, sigma, p0, lower, upper, popt, pcov, cost, status, nfev, njev):
    """Every fit, one per ``prange`` task (``fit_row``: :func:`_fit_row`, compiled).

    (The records are made inside the loop: the parallel loop's own arguments
    cannot be tuples that hold function pointers.)
    """
    for task in numba.prange(y.shape[0]):
        fit_row(np.int64(task),
                (tell_bracket, tell_free, template, template_free, kernel, repeat, scale_rule,
                 fraction),
                (jacobian, model, jac, with_jac, three_point, absolute_sigma),
                (x, y, sigma, p0, lower, upper), (popt, pcov, cost, status, nfev, njev))


# The three compiled pieces call each other through function pointers, so that
# numba neither links nor re-optimises one inside the other: each is compiled
# (once, then loaded from the cache) on its own.
JACOBIAN_FN = types.FunctionType(types.Tuple((types.int64, types.boolean))(
    MODEL, JACOBIAN, types.boolean, types.boolean, ARR, ARR, ARR, ARR, ARR, ARR, ARR, ARR2,
    ARR2))
_DRIVERS: dict = {}


def _row_records(state_type):
    """The types of :func:`_fit_row`'s records, after the row."""
    tell = types.FunctionType(types.int64(state_type, ARR, types.float64, types.int64,
                                          types.boolean))
    i64 = types.int64[::1]
    runs = types.Tuple((tell, tell, state_type, state_type, _accessor_types(state_type),
                        types.int64, SCALE_RULE, types.float64))
    functions = types.Tuple((JACOBIAN_FN, MODEL, JACOBIAN, types.boolean, types.boolean,
                             types.boolean))
    data = types.Tuple((ARR2, ARR2, ARR2, ARR2, ARR, ARR))
    outputs = types.Tuple((ARR2, types.float64[:, :, ::1], ARR, i64, i64, i64))
    return runs, functions, data, outputs


def _all_arguments(state_type):
    """The types of :func:`_fit_all`'s arguments after ``fit_row``: the records' fields,
    in its order."""
    runs, functions, data, outputs = (r.types for r in _row_records(state_type))
    return (*runs[:6], *functions[:5], *runs[6:], functions[5], *data, *outputs)


def fit_all(state_type):
    """The compiled driver for states of numba type ``state_type``: compiled, or
    loaded from numba's cache, on first use.

    Returns ``run(tell_bracket, tell_free, template, template_free, model, jac,
    with_jac, three_point, scale_rule, fraction, absolute_sigma, x, y, sigma,
    p0, lower, upper, popt, pcov, cost, status, nfev, njev)``: the templates
    are the states (options) of the bracketing run and of the robust rounds;
    each fit's states are made from them at its start by the kernel's rule
    (``scale_rule``: the front door's, with ``fraction``); x, y, sigma and p0
    have a row per fit or one shared row (sigma of width 0: no weights); lower
    and upper are full arrays (+-inf where unbounded); the last six are the
    outputs, a row per fit.
    """
    pieces = _DRIVERS.get(state_type)
    if pieces is None:
        # error_model='numpy': a division by zero gives inf or nan, never an exception,
        # which could not leave a prange task through a function pointer.
        options = dict(nogil=True, cache=True, error_model="numpy")
        with _function_pointers():
            jacobian = _compiled(JACOBIAN_FN.signature, _jacobian, options)
            fit_row = _compiled(types.none(types.int64, *_row_records(state_type)), _fit_row,
                                options)
            row_fn = types.FunctionType(fit_row.nopython_signatures[0])
            fit = _compiled(types.none(row_fn, *_all_arguments(state_type)), _fit_all,
                            dict(options, parallel=True))
        pieces = _DRIVERS[state_type] = (fit, fit_row, jacobian)
    fit, fit_row, jacobian = pieces
    # The types the driver takes its tells, the kernel's accessors and the scale
    # rule as (its arguments 1, 2, 5 and 12; see _all_arguments).
    arg_types = fit.nopython_signatures[0].args
    tell_type, kernel_types, rule_type = arg_types[1], arg_types[5], arg_types[12]
    kernel, repeat = kernel_accessors()
    kernel = tuple(map(_pointer, kernel, kernel_types))

    def run(tell_bracket, tell_free, template, template_free, model, jac, with_jac,
            three_point, scale_rule, *args):
        with _function_pointers():
            fit(fit_row, _pointer(tell_bracket, tell_type), _pointer(tell_free, tell_type),
                template, template_free, kernel, repeat, jacobian, model, jac, with_jac,
                three_point, _pointer(scale_rule, rule_type), *args)

    return run


class _Pointer:
    """One of our compiled functions as a function pointer of a fixed type, its
    address found once.

    Passed a dispatcher, numba finds its addresses anew at every call (about
    30 µs for each of the driver's 11 function pointers: most of a single fit's
    time in the driver). A `_Pointer` gives numba its type and address as it
    asks (``_numba_type_``, numba's wrapper address protocol). Numba then
    calls it through its C wrapper, which cannot pass an exception on: only
    functions that raise none are taken this way (the tells, the kernel's
    accessors, the scale rule); the user's model, and the driver's pieces
    that call it, stay dispatchers, so that an exception there still ends
    the call.
    """

    __slots__ = ("function", "address", "_numba_type_")

    def __init__(self, function, function_type):
        self.function = function  # (which keeps the code at the address alive)
        self.address = _get_wrapper_address(function, function_type.signature)
        self._numba_type_ = function_type

    def __wrapper_address__(self):
        return self.address


_POINTERS: dict = {}


def _pointer(function, function_type):
    """`function` as a `_Pointer` of `function_type`, made once."""
    key = (id(function), id(function_type))
    pointer = _POINTERS.get(key)
    if pointer is None:
        # (The pointer holds both: their ids are not reused while the entry lives.)
        pointer = _POINTERS[key] = _Pointer(function, function_type)
    return pointer


@contextlib.contextmanager
def _function_pointers():
    """A context in which numba's warning that function pointers ("first-class
    function types") are experimental is not shown: it is numba's note to
    whoever writes the compiled code, here us, and nothing a user of
    `curve_fit_many` could act on. (Numba gives it at every compile and every
    call that passes them.)"""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NumbaExperimentalFeatureWarning)
        yield


def _compiled(signature, function, options):
    # numba.njit(signature, ...), locked before it compiles and saves to the disk
    # cache (see _jit.locked): compiled for that signature alone, as numba's
    # decorator does (a call with other types must not compile another).
    dispatcher = locked(numba.njit(**options)(function))
    dispatcher.compile(signature)
    dispatcher.disable_compile()
    return dispatcher

