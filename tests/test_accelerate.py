"""Pattern moves: fewer evaluations by f comparisons alone, every invariance kept."""

import numpy as np
import pytest
from _problems import nb_rosen, nb_rosen_der
from scipy.optimize import rosen, rosen_der

from signmin import minimize_rprop
from signmin._seed import SEED_FUNCTIONS, SEED_X0, seed_problem

VARIANTS = ["rprop+", "rprop-", "irprop+", "irprop-"]
X0 = np.array([-1.2, 1.0, -0.5, 0.8])


def trajectory(fun, jac, maxiter=3000, **options):
    points = []
    res = minimize_rprop(fun, X0, jac=jac, accelerate=True, polish=False, maxiter=maxiter,
                         callback=lambda intermediate_result: points.append(
                             intermediate_result.x), **options)
    return np.array(points), res


@pytest.mark.parametrize("variant", VARIANTS)
def test_pattern_moves_cut_the_evaluations_on_rosenbrock(variant):
    # Two dimensions: from n = 4 on, Rosenbrock has a second local minimum.
    # Both to the same xtol: the pattern moves alone make the difference. With
    # anchors at the end of each move instead of its start (the schedule
    # before Hooke and Jeeves' rule), irprop+ saved only 9x here.
    x0 = [-1.2, 1.0]
    plain = minimize_rprop(rosen, x0, jac=rosen_der, variant=variant, polish=False,
                           accelerate=False, xtol=1e-10)
    fast = minimize_rprop(rosen, x0, jac=rosen_der, variant=variant, polish=False,
                          xtol=1e-10)
    assert fast.success and np.allclose(fast.x, 1.0, atol=1e-6)
    assert fast.nfev < plain.nfev / 11, (fast.nfev, plain.nfev)


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_iterates_ignore_positive_rescaling_of_each_partial_derivative_and_of_f(variant):
    factors = np.array([1e-8, 3.0, 1e8, 0.5])
    a_points, a = trajectory(rosen, rosen_der, variant=variant)
    b_points, b = trajectory(lambda x: 2.0**-30 * rosen(x), lambda x: factors * rosen_der(x),
                             variant=variant)
    np.testing.assert_array_equal(a_points, b_points)
    assert (a.nit, a.nfev, a.status) == (b.nit, b.nfev, b.status)


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_iterates_ignore_any_increasing_transform_of_f(variant):
    # Pattern moves and the stall rule compare values of f, nothing more (the
    # transform must keep the values apart in floating point: 300 steps do).
    a_points, a = trajectory(rosen, rosen_der, variant=variant, maxiter=300)
    b_points, b = trajectory(lambda x: np.log1p(rosen(x)) ** 3, rosen_der, variant=variant,
                             maxiter=300)
    np.testing.assert_array_equal(a_points, b_points)
    assert (a.nit, a.nfev) == (b.nit, b.nfev)


def test_python_and_compiled_drivers_take_the_same_accelerated_steps():
    for variant in VARIANTS:
        compiled = minimize_rprop(nb_rosen, X0, jac=nb_rosen_der, accelerate=True,
                                  variant=variant, driver="compiled")
        python = minimize_rprop(lambda x: nb_rosen(x), X0, jac=lambda x: nb_rosen_der(x),
                                accelerate=True, variant=variant, driver="python")
        for key in ("x", "fun", "jac", "nit", "nfev", "njev", "status", "step_size"):
            np.testing.assert_array_equal(compiled[key], python[key], err_msg=key)


@pytest.mark.parametrize("name", [name for name, _, _ in SEED_FUNCTIONS])
@pytest.mark.parametrize("shift", [0.0, 1.0])
def test_every_seed_function_is_still_solved(name, shift):
    fun, jac = seed_problem(name)
    centre = np.array([shift, -2.0 * shift])
    res = minimize_rprop(lambda x: fun(x - centre), SEED_X0, jac=lambda x: jac(x - centre),
                         accelerate=True)
    assert res.success and np.max(np.abs(res.x - centre)) < 1e-6, (name, res.x)


def test_pattern_moves_stay_in_the_box_and_count_exactly():
    seen = []
    calls = {"f": 0, "g": 0}

    def fun(x):
        calls["f"] += 1
        seen.append(x.copy())
        return rosen(x)

    def jac(x):
        calls["g"] += 1
        return rosen_der(x)

    bounds = [(-2, 1.05)] * 4
    res = minimize_rprop(fun, X0, jac=jac, bounds=bounds, accelerate=True)
    pts = np.array(seen)
    assert np.all(pts >= -2) and np.all(pts <= 1.05)
    assert (res.nfev, res.njev) == (calls["f"], calls["g"])
    assert res.fun == min(rosen(p) for p in pts)


def test_the_pure_accelerated_mode_stops_at_its_own_xtol_where_none_is_given():
    pure = dict(jac=rosen_der, polish=False)
    default = minimize_rprop(rosen, X0, **pure)
    looser = minimize_rprop(rosen, X0, xtol=1e-8, **pure)
    tighter = minimize_rprop(rosen, X0, xtol=1e-10, **pure)
    assert default.status == 1
    assert (default.nfev, default.fun) == (looser.nfev, looser.fun)
    # The same path, stopped later: never a worse point.
    assert tighter.nfev > default.nfev and tighter.fun <= default.fun
    # tol still sets it; the other modes keep 1e-10.
    loose = minimize_rprop(rosen, X0, tol=1e-6, **pure)
    assert loose.nfev == minimize_rprop(rosen, X0, xtol=1e-6, ftol=1e-6, **pure).nfev
    for mode in (dict(accelerate=False), dict(polish=True)):
        options = {**pure, **mode}
        assert (minimize_rprop(rosen, X0, **options).nfev
                == minimize_rprop(rosen, X0, xtol=1e-10, **options).nfev)
