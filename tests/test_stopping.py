"""Every run ends by a rule of its own: zero partial derivatives, finite-difference
noise floors and stalls stop it, long before maxiter."""

import warnings

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import minimize

from signmin import Status, minimize_rprop

OWN_RULES = {Status.GTOL, Status.XTOL, Status.FTOL, Status.NO_PROGRESS}
SUCCESSES = OWN_RULES | {Status.BRACKETED}


def rastrigin(x):
    return float(10 * x.size + np.sum(x**2 - 10 * np.cos(2 * np.pi * x)))


def assert_own_stop(res, budget):
    assert Status(res.status) in OWN_RULES, res.message
    assert res.success
    assert res.nit <= budget, res.nit


def test_status_codes_are_a_public_enum_with_scipy_numbers():
    assert [int(s) for s in Status] == [0, 1, 2, 3, 4, 5, 6, 7, 98, 99]
    assert Status.CALLBACK == 99 and Status.CALLBACK.message.startswith("`callback`")
    assert {s for s in Status if s.success} == SUCCESSES


def test_a_variable_the_objective_ignores_does_not_hold_the_run_open():
    # The reproducer: the second partial derivative is exactly 0.
    res = minimize_rprop(lambda x: (x[0] - 0.3) ** 2, [1.0, 1.0],
                         jac=lambda x: np.array([2 * (x[0] - 0.3), 0.0]))
    assert_own_stop(res, 5000)
    assert res.x[0] == pytest.approx(0.3, abs=1e-8) and res.x[1] == 1.0


def test_a_derivative_that_underflows_to_zero_does_not_hold_the_run_open():
    # exp(-1e3 t^2) and its derivative are exactly 0 for |t| > ~0.9, as in a GP
    # kernel with an extreme length scale.
    def fun(x):
        return float((x[0] - 0.3) ** 2 - np.exp(-1e3 * (x[1] - 2.0) ** 2))

    def jac(x):
        t = x[1] - 2.0
        return np.array([2 * (x[0] - 0.3), 2e3 * t * np.exp(-1e3 * t**2)])

    res = minimize_rprop(fun, [1.0, 0.0], jac=jac)
    assert_own_stop(res, 5000)
    lbfgsb = minimize(fun, [1.0, 0.0], jac=jac, method="L-BFGS-B")
    assert res.fun <= lbfgsb.fun + 1e-12


def test_a_negative_zero_derivative_at_a_bound_counts_as_no_information():
    res = minimize_rprop(lambda x: (x[0] - 0.3) ** 2, [1.0, 0.0],
                         jac=lambda x: np.array([2 * (x[0] - 0.3), -0.0]),
                         bounds=[(-5, 5), (0, 1)])
    assert_own_stop(res, 5000)
    assert res.x[0] == pytest.approx(0.3, abs=1e-8)


@pytest.mark.parametrize("polish", [True, False])
def test_finite_differences_stop_at_their_noise_floor_no_higher_than_lbfgsb(polish):
    # The reproducer: Rastrigin 5-D, no jac; L-BFGS-B ends at f = 29.848635,
    # the sign phase from x0 at the same minimum; the default run's finish from x0
    # reaches a lower one (23.878952).
    x0 = [4.226617111323871, 1.0919503438559222, 2.350044784476144, 0.44671991260593025,
          4.455141619586747]
    res = minimize_rprop(rastrigin, x0, polish=polish)
    assert_own_stop(res, 20_000)
    lbfgsb = minimize(rastrigin, x0, method="L-BFGS-B")
    assert lbfgsb.fun == pytest.approx(29.848635, abs=1e-6)
    assert res.fun == pytest.approx(29.848635 if not polish else 23.878952, abs=1e-6)
    assert_fd_local_minimum(res)


def test_random_restarts_with_finite_differences_all_end_by_their_own_rule():
    rng = np.random.default_rng(0)
    for _ in range(10):
        x0 = rng.uniform(-5.12, 5.12, 5)
        res = minimize_rprop(rastrigin, x0)
        assert_own_stop(res, 20_000)
        assert_fd_local_minimum(res)


def assert_fd_local_minimum(res):
    # No coordinate direction lowers f at the finite differences' floor's scale.
    for i in range(res.x.size):
        for h in (1e-5, -1e-5):
            x = res.x.copy()
            x[i] += h * max(abs(x[i]), 1)
            assert rastrigin(x) >= res.fun - 1e-9


def test_a_run_without_any_progress_stops_after_the_stall_window():
    # f is flat while the gradient keeps pointing one way: the best f never
    # improves on the first value.
    res = minimize_rprop(lambda x: 1.0, [0.0], jac=lambda x: np.ones(1), stall_window=50,
                         polish=False)
    assert res.status == Status.NO_PROGRESS and res.success
    assert res.nit == 50 and res.nfev == 51
    assert "No further progress" in res.message
    assert res.x[0] == 0.0  # the best point is the first one: nothing beat it


def test_the_stall_window_is_on_by_default_and_zero_switches_it_off():
    flat = dict(jac=lambda x: np.ones(1), maxiter=20_000, step_sizes=(0, 1))
    assert minimize_rprop(lambda x: 1.0, [0.0], **flat).status == Status.NO_PROGRESS
    res = minimize_rprop(lambda x: 1.0, [0.0], stall_window=0, **flat)
    assert res.status == Status.MAXITER


def test_the_stall_rule_keeps_the_sign_invariance():
    # f comparisons only: a positive rescaling of f and of each partial
    # derivative gives the very same run, stop included.
    def fun(x):
        return float(np.sum(np.abs(x - 1.0) ** 1.5))

    def jac(x):
        return 1.5 * np.sign(x - 1.0) * np.abs(x - 1.0) ** 0.5

    scales = np.array([1e-8, 1e6, 3.0])
    a = minimize_rprop(fun, [3.0, -2.0, 0.5], jac=jac, stall_window=40, polish=False)
    b = minimize_rprop(lambda x: 1e5 * fun(x), [3.0, -2.0, 0.5],
                       jac=lambda x: scales * jac(x), stall_window=40, polish=False)
    np.testing.assert_array_equal(a.x, b.x)
    assert (a.nit, a.status) == (b.nit, b.status)


def test_x0_outside_the_bounds_warns_once_per_call_site_under_default_filters():
    # Compiled first, with x0 inside: numba's compiler resets the warnings
    # filters, so a warning after a compile (an empty cache) shows again.
    minimize_rprop(lambda x: float(x[0] ** 2), [0.5], jac=lambda x: 2 * x, bounds=[(-1, 1)],
                   maxiter=3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        for start in np.linspace(2, 3, 20):
            minimize_rprop(lambda x: float(x[0] ** 2), [start], jac=lambda x: 2 * x,
                           bounds=[(-1, 1)], maxiter=3)
    assert len(caught) == 1 and "outside the bounds" in str(caught[0].message)


@given(n=st.integers(1, 6), seed=st.integers(0, 2**32 - 1),
       zeros=st.lists(st.booleans(), min_size=6, max_size=6),
       variant=st.sampled_from(["irprop+", "irprop-", "rprop+", "rprop-"]))
def test_random_smooth_problems_with_exact_zero_partials_end_by_their_own_rule(
        n, seed, zeros, variant):
    # Budget: the xtol rule halves a step from ~|x| to 1e-10 |x| in ~35 flips,
    # a coupled quadratic needs a few hundred steps per variable at most.
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, n))
    H = A @ A.T + n * np.eye(n)
    c = rng.normal(size=n)
    dead = np.array(zeros[:n])
    H[dead, :] = 0.0
    H[:, dead] = 0.0

    def fun(x):
        d = x - c
        return float(d @ H @ d)

    def jac(x):
        g = 2 * H @ (x - c)
        g[dead] = 0.0  # exactly zero, of either sign
        g[dead & (rng.random(n) < 0.5)] = -0.0
        return g

    res = minimize_rprop(fun, rng.normal(size=n) * 3, jac=jac, variant=variant)
    assert_own_stop(res, 5000)
    live = ~dead
    if live.any():
        np.testing.assert_allclose(res.x[live], c[live], atol=1e-6)


@numba.njit
def _bowl(x):
    return np.sum((x - 1.0) ** 2)


@numba.njit
def _bowl_grad(x):
    return 2.0 * (x - 1.0)


# With gtol = 0 (the default) the kernel tests the gradient only after a step that
# moved nothing (a zero projected gradient moves nothing): both kinds of zero must
# still stop the run with status 0, in either loop.
@pytest.mark.parametrize("driver", ["python", "compiled"])
@pytest.mark.parametrize("variant", ["irprop-", "rprop+"])
def test_a_zero_gradient_stops_the_run_at_once_with_gtol_zero(driver, variant):
    res = minimize_rprop(_bowl, np.ones(3), jac=_bowl_grad, driver=driver, variant=variant,
                         stall_window=0, polish=False, maxiter=1000)
    assert res.status == Status.GTOL and res.nit == 0 and res.nfev == 1


@pytest.mark.parametrize("driver", ["python", "compiled"])
@pytest.mark.parametrize("variant", ["irprop-", "rprop+"])
def test_a_gradient_the_box_blocks_everywhere_stops_the_run_with_gtol_zero(driver, variant):
    # The minimum (1, 1, 1) lies outside the box: at its corner (0, 0, 0)
    # every partial derivative points out of it.
    res = minimize_rprop(_bowl, np.full(3, -0.5), jac=_bowl_grad, bounds=[(-1.0, 0.0)] * 3,
                         driver=driver, variant=variant, stall_window=0, polish=False,
                         maxiter=1000)
    assert res.status == Status.GTOL and res.nit < 100, (res.status, res.nit)
    np.testing.assert_array_equal(res.x, np.zeros(3))
