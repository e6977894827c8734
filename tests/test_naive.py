"""The textbook mode of minimize_rprop takes the naive reference's steps (tests/naive.py).

Both run STEPS steps on each problem of a table, in each variant and set of options, with
every stopping rule off but the one that cannot be (an exactly zero gradient, where the
textbook method stands still for good); the iterates minimize_rprop hands its callback
must equal the reference's bit for bit: the reference does the same arithmetic in the same
order (Δ·η clamped by min/max, x + (-sign(g)·Δ), the backtracking step ``x_new - x``), and
on an unbounded problem the one safeguard of signmin's that bites, the floor on shrinking
steps, is mirrored in the reference (marked [floor] there). The last tests check that the
table does reach what it is meant to cover: both step-size clamps, that floor, and steps
where nothing moves (which signmin tells again without evaluating the same point twice).
"""

import functools

import naive
import numpy as np
import pytest
from scipy.optimize import rosen, rosen_der

from signmin import Status, minimize_rprop

STEPS = 200
#: The textbook method: no pattern moves, no L-BFGS-B finish.
TEXTBOOK = dict(polish=False, accelerate=False)
#: Every rule that could end a run before maxiter is off.
NO_EARLY_STOP = dict(maxiter=STEPS, xtol=0.0, ftol=0.0, gtol=0.0, stall_window=0)


def quadratic(x):
    # Separable, its curvatures 1e-4 ... 1e4 apart: a sign method does not see them.
    return float(np.sum(QUADRATIC_CURVATURE * (x - QUADRATIC_MIN) ** 2))


def quadratic_der(x):
    return 2.0 * QUADRATIC_CURVATURE * (x - QUADRATIC_MIN)


QUADRATIC_CURVATURE = np.array([1e-4, 1.0, 1e4])
QUADRATIC_MIN = np.array([1.5, 0.5, -3.0])


def beale(x):
    a, b = x
    return float((1.5 - a + a * b) ** 2 + (2.25 - a + a * b**2) ** 2
                 + (2.625 - a + a * b**3) ** 2)


def beale_der(x):
    a, b = x
    t1, t2, t3 = 1.5 - a + a * b, 2.25 - a + a * b**2, 2.625 - a + a * b**3
    return np.array([2 * t1 * (b - 1) + 2 * t2 * (b**2 - 1) + 2 * t3 * (b**3 - 1),
                     2 * t1 * a + 4 * t2 * a * b + 6 * t3 * a * b**2])


#: name: (fun, grad, x0). Every |x0_i| is at most 10, so that the default initial step,
#: 0.1 * |x0_i|, lies within the clamped step sizes below (signmin would clamp it).
PROBLEMS = {
    "rosenbrock-2": (rosen, rosen_der, [-1.2, 1.0]),
    "rosenbrock-5": (rosen, rosen_der, [1.3, 0.7, 0.8, 1.9, 1.2]),
    # x0_1 = 0: its scale, and so its default initial step, come from the rule's fallback 1.
    "misscaled-quadratic": (quadratic, quadratic_der, [0.0, -2.0, 7.0]),
    "vanishing-gradient": (lambda x: 1e-8 * float(np.sum(x**2)), lambda x: 2e-8 * x,
                           [3.0, -2.0]),
    # Every product g_prev * g underflows to 0: only a comparison of signs sees a change.
    "underflowing-gradient": (lambda x: 1e-200 * float(np.sum(x**2)), lambda x: 2e-200 * x,
                              [-4.0, 0.5, 9.0]),
    "beale": (beale, beale_der, [1.0, 1.0]),
    "one-variable": (lambda x: float((x[0] - 0.3) ** 2), lambda x: 2.0 * (x - 0.3), [2.0]),
}

CONFIGS = {
    "defaults": {},
    "clamped-steps": dict(step_sizes=(1e-6, 1.0)),
    "explicit-initial-step-and-etas": dict(initial_step=0.05, etas=(0.3, 1.5)),
}


def scale_and_initial_step(x0, options):
    """signmin's per-variable scale and initial step (minimize_rprop's docs, unbounded)."""
    x0 = np.asarray(x0, dtype=float)
    scale = np.where(x0 == 0.0, 1.0, np.abs(x0))
    delta0 = np.broadcast_to(options.get("initial_step", 0.1 * scale), x0.shape)
    lo, hi = options.get("step_sizes", (0.0, np.inf))
    # signmin clamps the initial step into step_sizes; the papers do not say.
    assert np.all((lo <= delta0) & (delta0 <= hi)), "the table must not need that clamp"
    # signmin keeps the scale, which only sets tolerances and floors, in float32.
    return scale.astype(np.float32).astype(float), delta0


@functools.cache
def reference(variant, problem, config):
    """The naive run: ``(xs, deltas)`` with x0 and Δ0 in their first rows."""
    fun, grad, x0 = PROBLEMS[problem]
    options = dict(CONFIGS[config])
    scale, delta0 = scale_and_initial_step(x0, options)
    options.pop("initial_step", None)
    xs, deltas = naive.VARIANTS[variant](fun, grad, x0, STEPS, delta0=delta0, scale=scale,
                                         **options)
    return np.vstack([x0, xs]), np.vstack([delta0, deltas])


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("variant", naive.VARIANTS)
def test_textbook_mode_takes_the_naive_steps_bit_for_bit(variant, problem, config):
    fun, grad, x0 = PROBLEMS[problem]
    iterates = [np.array(x0, dtype=float)]
    res = minimize_rprop(fun, x0, jac=grad, variant=variant,
                         callback=lambda intermediate_result: iterates.append(
                             intermediate_result.x),
                         **TEXTBOOK, **NO_EARLY_STOP, **CONFIGS[config])
    xs, _ = reference(variant, problem, config)
    k = res.nit
    np.testing.assert_array_equal(np.array(iterates), xs[:k + 1])
    if res.status == Status.GTOL:
        # The gradient is exactly 0 at x_k (every coordinate landed on its minimizer's
        # float): the textbook method stands there for good, and signmin stops.
        assert not np.any(grad(xs[k]))
        np.testing.assert_array_equal(xs[k:], np.broadcast_to(xs[k], xs[k:].shape))
    else:
        assert (res.status, k) == (Status.MAXITER, STEPS), res.message
    # The result is the first best of the iterates.
    f = [fun(x) for x in xs[:k + 1]]
    assert res.fun == min(f)
    np.testing.assert_array_equal(res.x, xs[np.argmin(f)])


def _every_run(config=None):
    return [reference(variant, problem, c) for variant in naive.VARIANTS
            for problem in PROBLEMS for c in CONFIGS if config in (None, c)]


def test_the_clamped_runs_reach_both_step_size_limits():
    lo, hi = CONFIGS["clamped-steps"]["step_sizes"]
    deltas = np.concatenate([d.ravel() for _, d in _every_run("clamped-steps")])
    assert deltas.min() == lo and deltas.max() == hi


def test_the_table_reaches_the_floor_on_shrinking_steps():
    # Where the floor bit, the new Δ is the floor at the previous iterate, above Δ·η-.
    bites = 0
    for variant in naive.VARIANTS:
        for problem, (_, _, x0) in PROBLEMS.items():
            for config, options in CONFIGS.items():
                xs, deltas = reference(variant, problem, config)
                scale, _ = scale_and_initial_step(x0, options)
                eta_minus = options.get("etas", (0.5, 1.2))[0]
                floor = naive.EPS * np.maximum(np.abs(xs[:-1]), scale)
                bites += np.sum((deltas[1:] == floor) & (deltas[:-1] * eta_minus < floor))
    assert bites > 0


def test_the_table_has_steps_where_nothing_moves():
    # (iRprop- on a sign change of every coordinate, iRprop+ when f went down: signmin
    # then tells the same f and g again instead of evaluating the point twice.)
    assert any(np.any(np.all(xs[1:] == xs[:-1], axis=1)) for xs, _ in _every_run())
