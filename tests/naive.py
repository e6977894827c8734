"""The four Rprop variants written as plainly as the papers state them: a reference for tests.

Written for reading, not for speed: each function is the per-weight pseudo-code of
Igel & Hüsken (2003; Rprop+ is Riedmiller & Braun's 1993 method) in plain Python, one
coordinate at a time, sharing nothing with signmin. For coordinate i, ``g`` is the
partial derivative ∂f/∂x_i at the current iterate, ``g_prev`` the stored previous one
(0 at the start), ``delta`` the step size Δ_i and ``dx`` the last step Δx_i. The stored
and current derivatives are compared by sign, ``sign(g_prev) * sign(g)``, never as the
product ``g_prev * g`` (which underflows for tiny gradients).

Two kinds of line go beyond the papers, each marked where it stands, so that the
reference takes the same steps as ``signmin.minimize_rprop(..., polish=False,
accelerate=False)`` bit for bit on an unbounded problem:

* [floor] signmin's documented safeguard: a shrinking step never falls below
  ``eps * max(|x_i|, scale_i)`` (:func:`floor`), where ``scale_i`` is signmin's
  per-variable scale (``|x0_i|``, or 1 where that is 0). A smaller step would move
  nothing, and a step of 0 could never grow again.
* [taken] (the backtracking variants) ``dx`` is the step actually taken, ``x_new - x``,
  rather than the ``-sign(g) * Δ`` asked for: the two differ by rounding, and undoing the
  first returns to the previous iterate (exactly, when that lies within a factor 2 of the
  current one).

Bounds are not part of the papers, nor of this reference.

Every function takes ``fun(x) -> float``, ``grad(x) -> array``, the start ``x0``, the
number of ``steps``, the initial step sizes ``delta0`` and signmin's ``scale`` (one per
coordinate), ``etas = (eta_minus, eta_plus)`` and ``step_sizes = (delta_min, delta_max)``.
Each step evaluates the derivatives once, at the current iterate. Returns ``(xs, deltas)``,
arrays of shape ``(steps, n)``: the iterates x_1 ... x_steps and the step sizes after
each step.
"""

import numpy as np

EPS = np.finfo(np.float64).eps


def floor(x_i, scale_i):
    """[floor] The least size a shrinking step takes in signmin (not in the papers)."""
    return EPS * max(abs(x_i), scale_i)


def rprop_plus(fun, grad, x0, steps, *, delta0, scale, etas=(0.5, 1.2),
               step_sizes=(0.0, np.inf)):
    """Rprop+, with weight-backtracking: a sign change takes the last step back."""
    eta_minus, eta_plus = etas
    delta_min, delta_max = step_sizes
    x = np.array(x0, dtype=float)
    delta = np.array(delta0, dtype=float)
    g_prev = np.zeros_like(x)
    dx = np.zeros_like(x)
    xs, deltas = [], []
    for _ in range(steps):
        g = grad(x.copy())
        for i in range(x.size):
            if np.sign(g_prev[i]) * np.sign(g[i]) > 0:
                delta[i] = min(delta[i] * eta_plus, delta_max)
                step = -np.sign(g[i]) * delta[i]
                g_prev[i] = g[i]
            elif np.sign(g_prev[i]) * np.sign(g[i]) < 0:
                delta[i] = max(delta[i] * eta_minus, delta_min, floor(x[i], scale[i]))  # [floor]
                step = -dx[i]
                g_prev[i] = 0.0
            else:
                step = -np.sign(g[i]) * delta[i]
                g_prev[i] = g[i]
            x_new = x[i] + step
            dx[i] = x_new - x[i]  # [taken]
            x[i] = x_new
        xs.append(x.copy())
        deltas.append(delta.copy())
    return np.array(xs), np.array(deltas)


def rprop_minus(fun, grad, x0, steps, *, delta0, scale, etas=(0.5, 1.2),
                step_sizes=(0.0, np.inf)):
    """Rprop-, without backtracking: always move against the sign by the (adapted) step.

    (``fun`` is not used: the signature is the same for every variant.)
    """
    eta_minus, eta_plus = etas
    delta_min, delta_max = step_sizes
    x = np.array(x0, dtype=float)
    delta = np.array(delta0, dtype=float)
    g_prev = np.zeros_like(x)
    xs, deltas = [], []
    for _ in range(steps):
        g = grad(x.copy())
        for i in range(x.size):
            if np.sign(g_prev[i]) * np.sign(g[i]) > 0:
                delta[i] = min(delta[i] * eta_plus, delta_max)
            elif np.sign(g_prev[i]) * np.sign(g[i]) < 0:
                delta[i] = max(delta[i] * eta_minus, delta_min, floor(x[i], scale[i]))  # [floor]
            x[i] = x[i] - np.sign(g[i]) * delta[i]
            g_prev[i] = g[i]
        xs.append(x.copy())
        deltas.append(delta.copy())
    return np.array(xs), np.array(deltas)


def irprop_plus(fun, grad, x0, steps, *, delta0, scale, etas=(0.5, 1.2),
                step_sizes=(0.0, np.inf)):
    """iRprop+: as Rprop+, but a sign change takes the last step back only if f went up."""
    eta_minus, eta_plus = etas
    delta_min, delta_max = step_sizes
    x = np.array(x0, dtype=float)
    delta = np.array(delta0, dtype=float)
    g_prev = np.zeros_like(x)
    dx = np.zeros_like(x)
    f_prev = np.inf  # no f before the first step (no sign can change there anyway)
    xs, deltas = [], []
    for _ in range(steps):
        f = fun(x.copy())
        g = grad(x.copy())
        for i in range(x.size):
            if np.sign(g_prev[i]) * np.sign(g[i]) > 0:
                delta[i] = min(delta[i] * eta_plus, delta_max)
                step = -np.sign(g[i]) * delta[i]
                g_prev[i] = g[i]
            elif np.sign(g_prev[i]) * np.sign(g[i]) < 0:
                delta[i] = max(delta[i] * eta_minus, delta_min, floor(x[i], scale[i]))  # [floor]
                step = -dx[i] if f > f_prev else 0.0
                g_prev[i] = 0.0
            else:
                step = -np.sign(g[i]) * delta[i]
                g_prev[i] = g[i]
            x_new = x[i] + step
            dx[i] = x_new - x[i]  # [taken]
            x[i] = x_new
        f_prev = f
        xs.append(x.copy())
        deltas.append(delta.copy())
    return np.array(xs), np.array(deltas)


def irprop_minus(fun, grad, x0, steps, *, delta0, scale, etas=(0.5, 1.2),
                 step_sizes=(0.0, np.inf)):
    """iRprop-: a sign change sets g to 0, so that coordinate stays put this step.

    This is ``torch.optim.Rprop``. (``fun`` is not used: the signature is the same for
    every variant.)
    """
    eta_minus, eta_plus = etas
    delta_min, delta_max = step_sizes
    x = np.array(x0, dtype=float)
    delta = np.array(delta0, dtype=float)
    g_prev = np.zeros_like(x)
    xs, deltas = [], []
    for _ in range(steps):
        g = grad(x.copy())
        for i in range(x.size):
            g_i = g[i]
            if np.sign(g_prev[i]) * np.sign(g_i) > 0:
                delta[i] = min(delta[i] * eta_plus, delta_max)
            elif np.sign(g_prev[i]) * np.sign(g_i) < 0:
                delta[i] = max(delta[i] * eta_minus, delta_min, floor(x[i], scale[i]))  # [floor]
                g_i = 0.0
            x[i] = x[i] - np.sign(g_i) * delta[i]
            g_prev[i] = g_i
        xs.append(x.copy())
        deltas.append(delta.copy())
    return np.array(xs), np.array(deltas)


VARIANTS = {"rprop+": rprop_plus, "rprop-": rprop_minus, "irprop+": irprop_plus,
            "irprop-": irprop_minus}
