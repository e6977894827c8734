"""The L-BFGS-B finish: counted evaluations, the budget, the best point, bounds, scaling."""

import numpy as np
import pytest
from scipy.optimize import OptimizeResult, minimize, rosen, rosen_der

from signmin.rprop.finish import MAXLS, FinishResult, lbfgsb_finish


class Recorder:
    """The caller's counted evaluator: f and g at each point, every point kept."""

    def __init__(self, fun, jac):
        self.fun, self.jac = fun, jac
        self.points, self.values = [], []

    def __call__(self, x):
        self.points.append(x.copy())
        f = float(self.fun(x))
        self.values.append(f)
        return (f, self.jac(x)) if np.isfinite(f) else (f, None)

    @property
    def calls(self):
        return len(self.points)


def finish(recorder, x0, lower=None, upper=None, x_scale=None, **options):
    x0 = np.asarray(x0, dtype=float)
    n = x0.size
    lower = np.full(n, -np.inf) if lower is None else lower
    upper = np.full(n, np.inf) if upper is None else upper
    x_scale = np.ones(n) if x_scale is None else x_scale
    options.setdefault("max_evaluations", 1000)
    options.setdefault("max_iterations", 1000)
    # The start's value and gradient come from the caller, outside the count.
    return lbfgsb_finish(recorder, x0, float(recorder.fun(x0)), recorder.jac(x0), lower, upper,
                         x_scale, **options)


def rosen_recorder():
    return Recorder(rosen, rosen_der)


def index_of(points, x):
    matches = [i for i, p in enumerate(points) if np.array_equal(p, x)]
    assert matches, "not an evaluated point"
    return matches[0]


def test_each_point_lbfgsb_asks_for_is_evaluated_once_and_the_start_never_again():
    x0 = np.array([-1.2, 1.0])
    seen_by_scipy = []

    def both(x):
        seen_by_scipy.append(x.copy())
        return rosen(x), rosen_der(x)

    plain = minimize(both, x0, jac=True, method="L-BFGS-B", options=dict(ftol=0, gtol=0))
    rec = rosen_recorder()
    res = finish(rec, x0)
    assert res.evaluations == rec.calls
    # Unit scale: the same iterates as plain L-BFGS-B, minus its evaluation of x0.
    assert np.array_equal(seen_by_scipy[0], x0)
    assert rec.calls == plain.nfev - 1 and res.iterations == plain.nit
    assert all(np.array_equal(p, q) for p, q in zip(rec.points, seen_by_scipy[1:], strict=True))

    rec = rosen_recorder()
    res = finish(rec, x0, x_scale=np.array([1.2, 0.3]))
    assert res.evaluations == rec.calls > 0
    assert not any(np.array_equal(p, x0) for p in rec.points)


def test_the_evaluation_budget_is_never_exceeded():
    x0 = np.array([-1.2, 1.0])
    unlimited = finish(rosen_recorder(), x0, x_scale=np.array([1.2, 1.0]))
    assert unlimited.reason == "converged"
    needed = unlimited.evaluations
    for k in (0, 1, 2, 3, 7, 20, needed - 1, needed, needed + 5):
        rec = rosen_recorder()
        res = finish(rec, x0, x_scale=np.array([1.2, 1.0]), max_evaluations=k)
        assert rec.calls == res.evaluations == min(k, needed), k
        assert res.reason == ("budget" if k < needed else "converged"), k
        assert res.f == min([rosen(x0), *rec.values])


def test_the_result_is_the_best_point_seen_and_never_worse_than_the_start():
    x0 = np.array([-1.2, 1.0])
    rec = rosen_recorder()
    res = finish(rec, x0, x_scale=np.array([1.2, 1.0]), max_evaluations=25)
    best = int(np.argmin(rec.values))
    assert res.improved and res.f == rec.values[best] < rosen(x0)
    assert np.array_equal(res.x, rec.points[best])
    assert np.array_equal(res.g, rosen_der(rec.points[best]))

    # A start claimed lower than anything the finish can reach stays the result.
    rec = rosen_recorder()
    g0 = rosen_der(x0)
    res = lbfgsb_finish(rec, x0, -1.0, g0, np.full(2, -np.inf), np.full(2, np.inf), np.ones(2),
                        max_evaluations=100, max_iterations=100)
    assert rec.calls > 0 and not res.improved
    assert (res.f, res.x.tolist(), res.g.tolist()) == (-1.0, x0.tolist(), g0.tolist())
    assert res.x is not x0 and res.g is not g0


def test_a_gradient_pointing_uphill_ends_with_no_progress_at_the_start():
    rec = Recorder(rosen, lambda x: -rosen_der(x))
    x0 = np.array([-1.2, 1.0])
    res = finish(rec, x0)
    assert res.reason == "no progress"
    assert "ABNORMAL" in res.message and "line search" in res.message
    assert not res.improved and np.array_equal(res.x, x0)
    assert 0 < res.evaluations <= 2 * MAXLS


def test_evaluated_points_never_leave_the_box_even_where_scaling_rounds():
    # Bounds whose scaled value, scaled back, rounds outside the box.
    pairs = [(lo, s) for lo in np.linspace(0.1, 0.9, 9) for s in (3.0, 7.0, 0.3, 11.0)
             if (lo / s) * s < lo]
    assert len(pairs) >= 2
    lower = np.array([lo for lo, _ in pairs])
    x_scale = np.array([s for _, s in pairs])
    upper = lower + 2.0
    target = lower - 1.0  # the minimum lies below the box: the iterates press on the bound

    rec = Recorder(lambda x: np.sum((x - target) ** 2) + np.sum(x) ** 2,
                   lambda x: 2 * (x - target) + 2 * np.sum(x))
    res = finish(rec, lower + 1.5, lower, upper, x_scale)
    points = np.array(rec.points)
    assert np.all(points >= lower) and np.all(points <= upper)
    assert np.array_equal(res.x, lower)


def badly_scaled_quadratic():
    s = np.logspace(-3, 3, 7)
    rec = Recorder(lambda x: np.sum((x / s) ** 2), lambda x: 2 * x / s**2)
    return rec, s, s * np.array([3.0, -2.0, 1.5, -1.0, 2.5, -0.5, 1.0])


def test_scaling_makes_a_badly_scaled_quadratic_converge():
    rec, s, x0 = badly_scaled_quadratic()
    res = finish(rec, x0, x_scale=s, max_evaluations=15)
    assert res.f <= 1e-20
    # The same budget without the scaling gets nowhere.
    rec, s, x0 = badly_scaled_quadratic()
    assert finish(rec, x0, max_evaluations=15).f > 1e-3


def test_a_nonfinite_point_asked_for_by_lbfgsb_is_never_evaluated():
    # Measured: once f underflows to 0 while g does not, L-BFGS-B asks for a NaN point.
    rec, s, x0 = badly_scaled_quadratic()
    res = finish(rec, x0, x_scale=s, max_evaluations=100)
    assert np.isfinite(np.array(rec.points)).all()
    assert res.reason in ("no progress", "converged") and res.f == min(rec.values)


def test_rosenbrock_from_near_the_minimum_converges_to_1e_8():
    x0 = np.array([1.1, 0.9, 1.05, 0.95, 1.2])
    res = finish(rosen_recorder(), x0, x_scale=np.maximum(np.abs(x0), 1.0), max_evaluations=60)
    assert np.max(np.abs(res.x - 1.0)) <= 1e-8


@pytest.mark.parametrize("bad", ["nan f", "inf f", "inf in g"])
def test_a_nonfinite_value_ends_the_finish_at_the_best_finite_point(bad):
    calls = []

    def fun(x):
        calls.append(1)
        if len(calls) >= 6 and bad != "inf in g":
            return np.nan if bad == "nan f" else np.inf
        # In the g case the bad point claims the lowest f of all: it must not count.
        return -1e300 if len(calls) >= 6 else rosen(x)

    def jac(x):
        g = rosen_der(x)
        return np.array([np.inf, 0.0]) if len(calls) >= 6 else g

    rec = Recorder(fun, jac)
    x0 = np.array([-1.2, 1.0])
    res = lbfgsb_finish(rec, x0, rosen(x0), rosen_der(x0), np.full(2, -np.inf),
                        np.full(2, np.inf), np.ones(2), max_evaluations=100, max_iterations=100)
    assert res.reason == "nonfinite" and res.evaluations == rec.calls == 6
    assert res.improved and res.f == min(rec.values[:5]) and np.isfinite(res.g).all()
    assert np.array_equal(res.x, rec.points[int(np.argmin(rec.values[:5]))])


def test_the_callback_sees_each_iteration_with_the_unscaled_iterate_and_cannot_disturb_it():
    x0, x_scale = np.array([-1.2, 1.0]), np.array([10.0, 0.1])
    lower, upper = np.array([-2.0, -0.5]), np.array([2.0, 3.0])
    seen = []

    def callback(intermediate_result):
        assert isinstance(intermediate_result, OptimizeResult)
        seen.append((intermediate_result.x.copy(), intermediate_result.fun))
        intermediate_result.x[:] = 1e9  # a callback that scribbles on what it got

    rec = rosen_recorder()
    res = finish(rec, x0, lower, upper, x_scale, max_evaluations=40, callback=callback)
    assert len(seen) == res.iterations > 0
    for x, f in seen:
        assert rec.values[index_of(rec.points, x)] == f
    untouched = finish(rosen_recorder(), x0, lower, upper, x_scale, max_evaluations=40)
    assert untouched == res._replace(x=untouched.x, g=untouched.g)
    assert np.array_equal(untouched.x, res.x)


def test_stopiteration_from_the_callback_ends_the_finish_keeping_the_best():
    def callback(intermediate_result):
        if len(counted) == 3:
            raise StopIteration
        counted.append(intermediate_result.fun)

    counted = []
    rec = rosen_recorder()
    res = finish(rec, [-1.2, 1.0], callback=callback)
    assert res.reason == "callback" and res.iterations == 4
    assert res.evaluations == rec.calls and res.f == min(rec.values)


def test_an_old_style_callback_gets_a_copy_of_the_iterate():
    seen = []

    def callback(xk):
        seen.append(xk.copy())
        xk[:] = np.nan
        if len(seen) == 5:
            raise StopIteration

    rec = rosen_recorder()
    res = finish(rec, [-1.2, 1.0], callback=callback, new_style_callback=False)
    assert res.reason == "callback" and len(seen) == res.iterations == 5
    assert all(isinstance(x, np.ndarray) and x.shape == (2,) for x in seen)
    for x in seen:
        index_of(rec.points, x)


def test_the_iteration_limit_is_respected():
    for k in (0, 1, 3, 10):
        rec = rosen_recorder()
        res = finish(rec, [-1.2, 1.0], max_iterations=k)
        assert res.iterations == k and res.reason == "budget"
        assert res.evaluations == rec.calls and (k > 0 or rec.calls == 0)


def test_the_reason_tells_an_exactly_zero_gradient_from_a_stall():
    c = np.array([1 / 3, -2 / 7, 5 / 11])
    res = finish(Recorder(lambda x: np.sum((x - c) ** 2), lambda x: 2 * (x - c)), c + 0.5)
    assert res.reason == "converged" and not np.any(res.g)
    # f is at its rounding floor while g still points somewhere: L-BFGS-B stops, unimproved.
    rec = Recorder(lambda x: 1.0 + 1e-14 * np.sum((x - c) ** 2), lambda x: 2e-14 * (x - c))
    res = finish(rec, c + 0.5)
    assert res.reason == "no progress" and not res.improved and np.any(res.g)
    # Its one trial point tied f0: a tie is no improvement, the start stays the result.
    assert rec.values == [rec.fun(c + 0.5)] and not np.array_equal(rec.points[0], c + 0.5)
    assert np.array_equal(res.x, c + 0.5)


def test_the_inputs_are_never_modified_and_the_result_owns_its_arrays():
    buffer = np.empty(2)

    def evaluate(x):
        f = rosen(x)
        buffer[:] = rosen_der(x)  # one gradient array, reused
        x[:] = np.nan  # an evaluator that scribbles on its argument
        return f, buffer

    x0, g0 = np.array([-1.2, 1.0]), rosen_der(np.array([-1.2, 1.0]))
    lower, upper, x_scale = np.array([-2.0, -1.0]), np.array([2.0, 3.0]), np.array([1.2, 1.0])
    inputs = [x0, g0, lower, upper, x_scale]
    before = [a.copy() for a in inputs]
    res = lbfgsb_finish(evaluate, x0, rosen(x0), g0, lower, upper, x_scale,
                        max_evaluations=30, max_iterations=100)
    for a, b in zip(inputs, before, strict=True):
        assert np.array_equal(a, b)
    assert res.improved and res.f == rosen(res.x)
    assert np.array_equal(res.g, rosen_der(res.x))
    assert all(res.x is not a and res.g is not a for a in [*inputs, buffer])


@pytest.mark.parametrize("change, match", [
    (dict(x0=np.array([3.0, 1.0])), "within"),
    (dict(x_scale=np.array([1.0, 0.0])), "x_scale"),
    (dict(f0=np.nan), "finite"),
    (dict(g0=np.ones(3)), "shape"),
])
def test_inconsistent_inputs_are_refused(change, match):
    args = dict(x0=np.array([-1.2, 1.0]), f0=24.2, g0=np.ones(2), lower=np.full(2, -2.0),
                upper=np.full(2, 2.0), x_scale=np.ones(2))
    args.update(change)
    with pytest.raises(ValueError, match=match):
        lbfgsb_finish(rosen_recorder(), **args, max_evaluations=10, max_iterations=10)


def test_measure_rosenbrock_evaluations_against_plain_lbfgsb():
    """Printed, not asserted (run with -s): evaluations to f <= 1e-8 and at the stop."""
    x0 = np.array([-1.2, 1.0])

    def first_below(values, level=1e-8, offset=0):
        hits = np.flatnonzero(np.asarray(values) <= level)
        return int(hits[0]) + 1 + offset if hits.size else None

    rows = []
    for name, x_scale in (("unit", np.ones(2)), ("max(|x0|, 1)", np.maximum(np.abs(x0), 1))):
        rec = rosen_recorder()
        res = finish(rec, x0, x_scale=x_scale)
        assert isinstance(res, FinishResult) and res.f <= 1e-8
        # The finish does not pay for x0; plain L-BFGS-B counts it as its first evaluation.
        rows.append((f"finish, scale {name}", first_below(rec.values), res.evaluations,
                     res.reason))
    for name, options in (("defaults", {}), ("ftol=gtol=0", dict(ftol=0, gtol=0))):
        values = []

        def both(x, values=values):
            values.append(rosen(x))
            return values[-1], rosen_der(x)

        plain = minimize(both, x0, jac=True, method="L-BFGS-B", options=options)
        rows.append((f"plain L-BFGS-B, {name}", first_below(values[1:]), plain.nfev - 1,
                     plain.message))
    print("\nrosen 2-D from (-1.2, 1), evaluations after x0:")
    for row in rows:
        print(f"  {row[0]:32s} to f<=1e-8: {row[1]!s:>4}   at stop: {row[2]:>4}   {row[3]}")
