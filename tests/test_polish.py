"""The polish: the sign phase until the minimum is bracketed, L-BFGS-B from the best
point, the sign phase again; counts, budgets, callbacks and bounds cover every phase."""

import numpy as np
import pytest
from _problems import nb_rosen, nb_rosen_der
from scipy.optimize import minimize, rosen, rosen_der

from signmin import Status, minimize_rprop
from signmin._seed import SEED_FUNCTIONS, SEED_X0, seed_problem


class Counted:
    """fun and jac that count their calls and keep every point they saw."""

    def __init__(self, fun, jac):
        self.fun_, self.jac_ = fun, jac
        self.nfev = self.njev = 0
        self.points = []

    def fun(self, x):
        self.nfev += 1
        self.points.append(x.copy())
        return float(self.fun_(x))

    def jac(self, x):
        self.njev += 1
        return self.jac_(x)


def test_the_polish_solves_rosenbrock_in_a_few_times_bfgs_evaluations():
    pure = minimize_rprop(rosen, [-1.2, 1.0], jac=rosen_der, polish=False)
    polished = minimize_rprop(rosen, [-1.2, 1.0], jac=rosen_der, polish=True)
    bfgs = minimize(rosen, [-1.2, 1.0], jac=rosen_der, method="BFGS")
    assert polished.success and polished.fun < 1e-20
    assert polished.nfev < 3 * bfgs.nfev < pure.nfev


def test_counts_cover_every_phase_exactly():
    c = Counted(rosen, rosen_der)
    res = minimize_rprop(c.fun, [-1.2, 1.0, 0.5], jac=c.jac, polish=True)
    assert (res.nfev, res.njev) == (c.nfev, c.njev)
    # The best point is one that was evaluated, with its own f.
    assert any(np.array_equal(p, res.x) for p in c.points)
    assert res.fun == rosen(res.x)
    np.testing.assert_array_equal(res.jac, rosen_der(res.x))


@pytest.mark.parametrize("maxfev", [5, 12, 30, 45, 60])
def test_maxfev_holds_across_the_phases(maxfev):
    c = Counted(rosen, rosen_der)
    res = minimize_rprop(c.fun, [-1.2, 1.0], jac=c.jac, polish=True, maxfev=maxfev)
    assert c.nfev <= maxfev and res.nfev == c.nfev


@pytest.mark.parametrize("maxiter", [3, 20, 35, 50])
def test_maxiter_holds_across_the_phases(maxiter):
    res = minimize_rprop(rosen, [-1.2, 1.0], jac=rosen_der, polish=True, maxiter=maxiter)
    assert res.nit <= maxiter
    if res.status == Status.MAXITER:
        assert res.nit == maxiter


def test_the_callback_sees_every_phase_and_can_stop_the_finish():
    seen = []
    res = minimize_rprop(rosen, [-1.2, 1.0], jac=rosen_der, polish=True,
                         callback=lambda intermediate_result: seen.append(
                             intermediate_result.fun))
    assert len(seen) >= res.nit - 1 and min(seen) == pytest.approx(res.fun, abs=1e-12)

    bracketed = minimize_rprop(rosen, [-1.2, 1.0], jac=rosen_der, until_bracketed=True)
    calls = []

    def stop_in_finish(intermediate_result):
        calls.append(intermediate_result.fun)
        if len(calls) == bracketed.nit + 2:
            raise StopIteration

    res = minimize_rprop(rosen, [-1.2, 1.0], jac=rosen_der, polish=True,
                         callback=stop_in_finish)
    assert res.status == Status.CALLBACK and not res.success
    assert res.fun <= min(calls)


def test_the_polish_never_leaves_the_bounds():
    c = Counted(rosen, rosen_der)
    bounds = [(-2.0, 0.5), (-1.0, 0.3), (0.0, 2.0)]
    res = minimize_rprop(c.fun, [-1.2, 0.0, 1.0], jac=c.jac, bounds=bounds, polish=True)
    lo, hi = np.array(bounds).T
    points = np.array(c.points)
    assert np.all(points >= lo) and np.all(points <= hi)
    ref = minimize(rosen, [-1.2, 0.0, 1.0], jac=rosen_der, bounds=bounds, method="L-BFGS-B")
    assert res.fun <= ref.fun + 1e-10


@pytest.mark.parametrize("name", [name for name, _, _ in SEED_FUNCTIONS])
@pytest.mark.parametrize("shift", [0.0, 1.0])
def test_the_polish_keeps_every_seed_function_solved(name, shift):
    # Shifted too: the plain family's minimum lies on the ray from x0 to 0,
    # which Rprop's first steps follow.
    fun, jac = seed_problem(name)
    centre = np.array([shift, -2.0 * shift])
    res = minimize_rprop(lambda x: fun(x - centre), SEED_X0, jac=lambda x: jac(x - centre),
                         polish=True)
    assert res.success and np.max(np.abs(res.x - centre)) < 1e-6, (name, res.x, res.message)


def test_the_sign_phase_after_the_finish_recovers_from_a_mis_scaled_gradient():
    # Each component of the gradient off by a factor between 1e-6 and 1e6:
    # L-BFGS-B trusts it and stops early; the sign phase after it does not care.
    factors = np.array([1e-6, 1e6, 1e3, 1e-3])
    res = minimize_rprop(rosen, [-1.2, 1.0, -1.2, 1.0],
                         jac=lambda x: factors * rosen_der(x), polish=True)
    np.testing.assert_allclose(res.x, 1.0, atol=1e-6)
    lbfgsb = minimize(rosen, [-1.2, 1.0, -1.2, 1.0], jac=lambda x: factors * rosen_der(x),
                      method="L-BFGS-B")
    assert np.max(np.abs(lbfgsb.x - 1.0)) > 1e-3  # the control: it fails alone


def test_python_and_compiled_drivers_give_the_same_polished_run():
    compiled = minimize_rprop(nb_rosen, np.array([-1.2, 1.0, 0.3]), jac=nb_rosen_der,
                              polish=True, driver="compiled")
    python = minimize_rprop(lambda x: nb_rosen(x), np.array([-1.2, 1.0, 0.3]),
                            jac=lambda x: nb_rosen_der(x), polish=True, driver="python")
    for key in ("x", "fun", "jac", "nit", "nfev", "njev", "status", "step_size"):
        np.testing.assert_array_equal(compiled[key], python[key], err_msg=key)


def test_until_bracketed_stops_once_every_sign_has_changed():
    res = minimize_rprop(lambda x: float(np.sum((x - 1) ** 2)), [3.0, -2.0, 10.0],
                         jac=lambda x: 2 * (x - 1), until_bracketed=True)
    assert res.status == Status.BRACKETED and res.success
    full = minimize_rprop(lambda x: float(np.sum((x - 1) ** 2)), [3.0, -2.0, 10.0],
                          jac=lambda x: 2 * (x - 1), polish=False)
    assert res.nit < full.nit


@pytest.mark.parametrize("bad", ["newton", 1.5, [True]])
def test_a_bad_polish_is_refused_naming_it(bad):
    with pytest.raises((ValueError, TypeError), match="polish"):
        minimize_rprop(rosen, [1.0, 2.0], jac=rosen_der, polish=bad)


def _logistic(n_samples=200, n_features=6, seed=0):
    """A logistic regression written as users write it: exp without a guard, so a long
    step overflows to inf (and 0 * inf to NaN), on features of very different sizes."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, n_features)) * np.logspace(0, 2, n_features)
    y = (X @ (1.0 / np.logspace(0, 2, n_features)) + rng.normal(size=n_samples) > 0) * 2.0 - 1

    def fun(w):
        return float(np.mean(np.log(1.0 + np.exp(-y * (X @ w)))))

    def jac(w):
        e = np.exp(-y * (X @ w))
        return -(X.T @ (y * e / (1.0 + e))) / n_samples

    return fun, jac, n_features


@pytest.mark.parametrize("polish", [True, "BFGS", "L-BFGS-B"])
def test_a_non_finite_value_inside_the_finish_ends_only_the_finish(polish):
    # Each component of the gradient off by up to 1e6: the finish's first steps are
    # huge, exp overflows, and the run must go on by signs from the best point.
    fun, jac, n = _logistic()
    factors = 10.0 ** np.random.default_rng(2).uniform(-6, 6, n)
    with np.errstate(over="ignore", invalid="ignore"):
        best = minimize(fun, np.zeros(n), jac=jac, method="BFGS", options=dict(gtol=1e-12))
        res = minimize_rprop(fun, np.zeros(n), jac=lambda w: factors * jac(w), polish=polish)
    assert res.status != Status.NONFINITE, res.message
    assert res.success and res.fun - best.fun <= 1e-8


def test_a_loose_box_around_zero_starts_with_an_unbounded_runs_step():
    # f overflows at x = 10, where a step of 0.1 x the box's width (the old rule) went.
    def fun(x):
        return float(np.sum(np.exp(100 * (x - 0.05)) - 100 * (x - 0.05)))

    def jac(x):
        return 100 * np.exp(100 * (x - 0.05)) - 100

    with np.errstate(over="ignore"):
        res = minimize_rprop(fun, np.zeros(3), jac=jac, bounds=[(-50, 50)] * 3)
    assert res.success, res.message
    np.testing.assert_allclose(res.x, 0.05, atol=1e-8)
    unbounded = minimize_rprop(fun, np.zeros(3), jac=jac, until_bracketed=True, maxiter=1)
    boxed = minimize_rprop(fun, np.zeros(3), jac=jac, bounds=[(-50, 50)] * 3,
                           until_bracketed=True, maxiter=1)
    np.testing.assert_array_equal(boxed.x, unbounded.x)
