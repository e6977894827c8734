"""Specification of minimize_rprop: the SciPy contract, the variants, the stopping rules."""

import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import Bounds, OptimizeResult, OptimizeWarning, minimize, rosen, rosen_der

from signmin import minimize_rprop
from signmin._seed import SEED_FUNCTIONS, SEED_X0, seed_problem

VARIANTS = ["rprop+", "rprop-", "irprop+", "irprop-"]
FIXTURE = Path(__file__).parent / "fixtures" / "torch_rprop.npz"
X0 = np.array([1.3, 0.7, 0.8, 1.9, 1.2])
#: The textbook method: the four variants exactly as published, one evaluation a step.
TEXTBOOK = dict(polish=False, accelerate=False)


class Counted:
    """fun and jac that count their calls and record every point they see."""

    def __init__(self, fun=rosen, jac=rosen_der):
        self.f, self.g = fun, jac
        self.nf = self.ng = 0
        self.points = []

    def fun(self, x, *args):
        self.nf += 1
        self.points.append(np.array(x))
        return self.f(x)

    def jac(self, x, *args):
        self.ng += 1
        return self.g(x)

    def both(self, x):
        self.nf += 1
        self.points.append(np.array(x))
        return self.f(x), self.g(x)


def trajectory(fun, jac, x0, **options):
    points = [np.array(x0, dtype=float)]
    res = minimize_rprop(fun, x0, jac=jac, callback=lambda intermediate_result: points.append(
        intermediate_result.x), **options)
    return np.array(points), res


# --- the two ways in ---------------------------------------------------------------

@pytest.mark.parametrize("variant", VARIANTS)
def test_scipy_minimize_with_this_method_gives_the_direct_result(variant):
    direct = minimize_rprop(rosen, X0, jac=rosen_der, variant=variant, maxiter=500)
    via = minimize(rosen, X0, method=minimize_rprop, jac=rosen_der,
                   options={"variant": variant, "maxiter": 500})
    for key in ("x", "fun", "jac", "nit", "nfev", "njev", "status", "success", "step_size"):
        np.testing.assert_array_equal(direct[key], via[key])


def test_scipy_minimize_passes_bounds_callback_and_tol_through():
    bounds = [(None, 0.5), (0.0, None), (-1, 1), (None, None), (0, 2)]
    seen_direct, seen_via = [], []
    x0 = np.clip(X0, [-np.inf, 0, -1, -np.inf, 0], [0.5, np.inf, 1, np.inf, 2])
    direct = minimize_rprop(rosen, x0, jac=rosen_der, bounds=bounds, xtol=1e-6, ftol=1e-6,
                            callback=lambda xk: seen_direct.append(xk))
    via = minimize(rosen, x0, method=minimize_rprop, jac=rosen_der, bounds=bounds,
                   tol=1e-6, callback=lambda xk: seen_via.append(xk))
    np.testing.assert_array_equal(direct.x, via.x)
    assert direct.nit == via.nit == len(seen_direct) == len(seen_via)


def test_jac_true_through_scipy_counts_the_same_calls():
    c1, c2 = Counted(), Counted()
    direct = minimize_rprop(c1.both, X0, jac=True, maxiter=200, **TEXTBOOK)
    via = minimize(c2.both, X0, method=minimize_rprop, jac=True,
                   options={"maxiter": 200, **TEXTBOOK})
    np.testing.assert_array_equal(direct.x, via.x)
    assert direct.nfev == c1.nf == 201 and direct.njev == 201
    assert c2.nf == 201


def test_hess_is_ignored_and_constraints_are_refused():
    res = minimize(rosen, X0, method=minimize_rprop, jac=rosen_der, hess=lambda x: None,
                   options={"maxiter": 5})
    assert res.nit == 5
    with pytest.raises(ValueError, match="constraints"):
        minimize(rosen, X0, method=minimize_rprop, jac=rosen_der,
                 constraints={"type": "ineq", "fun": lambda x: x[0]})


def test_unknown_options_warn_as_scipy_methods_do():
    with pytest.warns(OptimizeWarning, match="Unknown solver options: bogus"):
        minimize_rprop(rosen, X0, jac=rosen_der, maxiter=3, bogus=1)


# --- the variants and torch parity -------------------------------------------------------

@pytest.mark.parametrize("problem", ["rosenbrock", "scaled_quadratic"])
def test_irprop_minus_takes_the_iterates_of_torch_optim_rprop(problem):
    reference = np.load(FIXTURE)[problem]
    if problem == "rosenbrock":
        fun, jac = rosen, rosen_der
    else:
        scales = np.array([1e-4, 1.0, 1e3, 10.0])
        centre = np.array([0.3, -1.7, 2.2, 0.05])
        fun = lambda x: float(np.sum(scales * (x - centre) ** 2))  # noqa: E731
        jac = lambda x: 2.0 * scales * (x - centre)  # noqa: E731
    steps = reference.shape[0] - 1
    points, res = trajectory(fun, jac, reference[0], variant="irprop-", initial_step=0.01,
                             etas=(0.5, 1.2), step_sizes=(1e-6, 50), maxiter=steps,
                             xtol=0, ftol=0, gtol=0, stall_window=0, **TEXTBOOK)
    assert res.nit == steps
    np.testing.assert_allclose(points, reference, rtol=0, atol=1e-12)


def _one_coordinate_run(variant, grads, fs):
    """Feed a scripted sequence of f and g to one coordinate; return the points."""
    it = iter(range(len(grads)))
    state = {}

    def fun(x):
        state["k"] = next(it)
        return fs[state["k"]]

    def jac(x):
        return np.array([grads[state["k"]]])

    points, _ = trajectory(fun, jac, [0.0], variant=variant, initial_step=1.0,
                           etas=(0.5, 2.0), maxiter=len(grads) - 1, xtol=0, ftol=0,
                           **TEXTBOOK)
    return points[:, 0]


def test_variants_follow_igel_and_huesken_on_a_sign_change():
    # Steps: +1 (g<0), grow to +2, then the sign flips at the third point.
    grads = [-1.0, -1.0, 1.0, 1.0, 1.0]
    f_up = [3.0, 2.0, 5.0, 4.0, 3.0]      # f went up at the flip
    f_down = [3.0, 2.0, 1.0, 0.5, 0.2]    # f went down at the flip
    # rprop+: undo the +2 step, forget g, then move with the halved step 1.
    np.testing.assert_array_equal(_one_coordinate_run("rprop+", grads, f_down),
                                  [0, 1, 3, 1, 0])
    # irprop+: undo only because f went up; otherwise stay.
    np.testing.assert_array_equal(_one_coordinate_run("irprop+", grads, f_up), [0, 1, 3, 1, 0])
    np.testing.assert_array_equal(_one_coordinate_run("irprop+", grads, f_down), [0, 1, 3, 3, 2])
    # rprop-: move on with the halved step at once, and grow it again after.
    np.testing.assert_array_equal(_one_coordinate_run("rprop-", grads, f_down),
                                  [0, 1, 3, 2, 0])
    # irprop-: do not move at the flip, then continue with the halved step.
    np.testing.assert_array_equal(_one_coordinate_run("irprop-", grads, f_down),
                                  [0, 1, 3, 3, 2])


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_solves_the_rosenbrock_function_in_five_dimensions(variant):
    res = minimize_rprop(rosen, X0, jac=rosen_der, variant=variant, maxiter=20000)
    assert res.fun < 1e-8
    np.testing.assert_allclose(res.x, 1.0, atol=1e-3)


def test_the_default_variant_is_irprop_plus():
    a = minimize_rprop(rosen, X0, jac=rosen_der, maxiter=300)
    b = minimize_rprop(rosen, X0, jac=rosen_der, maxiter=300, variant="irprop+")
    np.testing.assert_array_equal(a.x, b.x)


# --- step sizes --------------------------------------------------------------------------

def test_default_initial_step_is_a_tenth_of_each_variables_scale():
    # Misra1a-like scales: the first step moves each variable by 10% of itself.
    x0 = np.array([500.0, 1e-4, 0.0])
    points, _ = trajectory(lambda x: float(np.sum(x)), lambda x: np.ones(3), x0, maxiter=1,
                           polish=False)
    np.testing.assert_allclose(points[1], [450.0, 0.9e-4, -0.1])


def test_default_initial_step_takes_the_bounds_width_when_it_is_smaller():
    # At x0 = 0 the width may narrow the unbounded run's unit scale, never widen it.
    points, _ = trajectory(lambda x: float(np.sum(x)), lambda x: np.ones(3), [1000.0, 0.0, 0.0],
                           bounds=[(999, 1001), (-0.3, 0.2), (-3, 7)], maxiter=1)
    np.testing.assert_allclose(points[1], [999.8, -0.05, -0.1])


def test_initial_step_per_coordinate_and_step_size_warm_start():
    # Textbook steps: a pattern move (accelerate) may take the second step.
    points, res = trajectory(lambda x: float(np.sum(x)), lambda x: np.ones(2), [0.0, 0.0],
                             initial_step=[1.0, 0.01], maxiter=2, **TEXTBOOK)
    np.testing.assert_allclose(points[1], [-1.0, -0.01])
    np.testing.assert_allclose(res.step_size, [1.44, 0.0144])
    warm, _ = trajectory(lambda x: float(np.sum(x)), lambda x: np.ones(2), [0.0, 0.0],
                         initial_step=res.step_size, maxiter=1, **TEXTBOOK)
    np.testing.assert_allclose(warm[1], [-1.44, -0.0144])


def test_step_sizes_clamp_the_steps():
    _, res = trajectory(lambda x: float(np.sum(x)), lambda x: np.ones(2), [0.0, 0.0],
                        initial_step=1.0, step_sizes=(0.5, 1.5), maxiter=10, **TEXTBOOK)
    np.testing.assert_array_equal(res.step_size, [1.5, 1.5])


# --- gradients -------------------------------------------------------------------------

@pytest.mark.parametrize("jac", [None, "2-point", "3-point"])
def test_finite_differences_count_every_call_in_nfev(jac):
    c = Counted()
    res = minimize_rprop(c.fun, X0, jac=jac, maxiter=50, xtol=0, ftol=0, **TEXTBOOK)
    assert res.nfev == c.nf
    assert res.njev == 0
    per_point = 1 + (2 if jac == "3-point" else 1) * X0.size
    assert res.nfev == per_point * (res.nit + 1)
    np.testing.assert_allclose(res.jac, rosen_der(res.x), rtol=1e-5, atol=1e-4)


def test_callable_jac_counts_calls_exactly():
    c = Counted()
    res = minimize_rprop(c.fun, X0, jac=c.jac, maxiter=77, **TEXTBOOK)
    assert (res.nfev, res.njev) == (c.nf, c.ng) == (78, 78)


@pytest.mark.parametrize("jac", ["2-point", "3-point"])
def test_finite_differences_never_step_outside_the_bounds(jac):
    c = Counted()
    lb, ub = np.array([0.0, 0.5, -1.0, 1.9, 1.2]), np.array([0.0, 0.6, 1.0, 3.0, 1.2 + 1e-12])
    with pytest.warns(OptimizeWarning):
        minimize_rprop(c.fun, X0, jac=jac, bounds=Bounds(lb, ub), maxiter=30)
    pts = np.array(c.points)
    assert np.all(pts >= lb) and np.all(pts <= ub)


def test_finite_differences_agree_with_the_gradient_in_the_interior():
    for jac, tol in (("2-point", 1e-6), ("3-point", 1e-8)):
        res = minimize_rprop(rosen, X0, jac=jac, maxiter=0)
        np.testing.assert_allclose(res.jac, rosen_der(X0), rtol=tol)


# --- bounds ----------------------------------------------------------------------------

def test_iterates_stay_in_the_box_and_stop_on_the_projected_gradient():
    c = Counted()
    bounds = Bounds([2.0, -np.inf, -np.inf, -np.inf, -np.inf], [np.inf, 0.5, np.inf, 2, np.inf])
    with pytest.warns(OptimizeWarning, match="clipped"):
        res = minimize_rprop(c.fun, X0, jac=c.jac, bounds=bounds, gtol=1e-8)
    pts = np.array(c.points)
    assert np.all(pts >= bounds.lb) and np.all(pts <= bounds.ub)
    # The constrained minimum: x0 pinned at 2 and x1 at 0.5 by the box.
    ref = minimize(rosen, np.clip(X0, bounds.lb, bounds.ub), jac=rosen_der, bounds=bounds,
                   method="L-BFGS-B", options={"ftol": 1e-15, "gtol": 1e-12})
    np.testing.assert_allclose(res.x, ref.x, atol=1e-6)
    assert res.x[0] == 2.0 and res.x[1] == 0.5


def test_bounds_accept_pairs_with_none_and_bounds_objects_alike():
    a = minimize_rprop(rosen, [0.1, 0.1], jac=rosen_der, bounds=[(None, 0.5), (0, None)])
    b = minimize_rprop(rosen, [0.1, 0.1], jac=rosen_der,
                       bounds=Bounds([-np.inf, 0], [0.5, np.inf]))
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_allclose(a.x, [0.5, 0.25], atol=1e-7)


# --- stopping and the result --------------------------------------------------------------

@pytest.mark.parametrize("name", [name for name, _, _ in SEED_FUNCTIONS])
def test_defaults_reach_every_seed_minimum_to_1e_minus_6(name):
    fun, jac = seed_problem(name)
    res = minimize_rprop(fun, SEED_X0, jac=jac)
    assert res.success, res.message
    # (No stop at the start, where the gradient is tiny or huge: the start is 3 away.)
    assert np.max(np.abs(res.x)) <= 1e-6


def test_status_and_message_name_the_rule_that_stopped():
    res = minimize_rprop(rosen, X0, jac=rosen_der, maxiter=10)
    assert (res.status, res.success, res.nit) == (3, False, 10)
    assert "iterations" in res.message
    res = minimize_rprop(rosen, X0, jac=rosen_der, maxfev=25)
    assert (res.status, res.success, res.nfev) == (4, False, 25)
    res = minimize_rprop(rosen, X0, jac=rosen_der, gtol=1e-3)
    assert res.status == 0 and res.success and np.max(np.abs(res.jac)) <= 1e-3 or res.status == 0
    res = minimize_rprop(lambda x: float(np.sum(x**2)), [1.0, 2.0], jac=lambda x: 2 * x,
                         **TEXTBOOK)
    assert res.status == 1 and "xtol" in res.message


def test_ftol_stops_at_the_noise_floor_of_f():
    # f is flat to rounding near its minimum: xtol alone would take much longer.
    fun = lambda x: 1.0 + float(np.sum((x - 0.5) ** 2))  # noqa: E731
    res = minimize_rprop(fun, [3.0], jac=lambda x: 2 * (x - 0.5), xtol=0, ftol=1e-15,
                         **TEXTBOOK)
    assert res.status == 2 and res.success
    assert abs(res.x[0] - 0.5) < 1e-7


def test_zero_tolerances_switch_the_rules_off():
    res = minimize_rprop(lambda x: float(np.sum(x**2)), [1.0], jac=lambda x: 2 * x,
                         xtol=0, ftol=0, gtol=0, stall_window=0, maxiter=3000,
                         **TEXTBOOK)
    assert res.status == 3 and res.nit == 3000


def test_tol_sets_xtol_and_ftol():
    loose = minimize_rprop(rosen, X0, jac=rosen_der, tol=1e-3)
    tight = minimize_rprop(rosen, X0, jac=rosen_der)
    assert loose.nit < tight.nit
    assert loose.status in (1, 2)


def test_result_is_the_best_point_seen_with_its_own_jac():
    fs = []

    def fun(x):
        fs.append(rosen(x))
        return fs[-1]

    res = minimize_rprop(fun, X0, jac=rosen_der, variant="rprop-", maxiter=400)
    assert res.fun == min(fs)
    np.testing.assert_array_equal(res.jac, rosen_der(res.x))
    assert fun(res.x) == res.fun
    assert isinstance(res, OptimizeResult)


def test_result_fields_are_independent_copies():
    res = minimize_rprop(rosen, X0, jac=rosen_der, maxiter=5)
    fields = (res.x, res.jac, res.step_size)
    # Each owns its memory (numpy's, or the run's through numba's MemInfo): no
    # view of a larger array, none shared with another field.
    assert not any(isinstance(a.base, np.ndarray) for a in fields)
    assert not any(np.shares_memory(a, b) for i, a in enumerate(fields) for b in fields[i + 1:])


# --- callback --------------------------------------------------------------------------

def test_callback_receives_each_iterate_new_style_and_legacy():
    new, old = [], []
    r1 = minimize_rprop(rosen, X0, jac=rosen_der, maxiter=20,
                        callback=lambda intermediate_result: new.append(intermediate_result))
    r2 = minimize_rprop(rosen, X0, jac=rosen_der, maxiter=20, callback=lambda xk: old.append(xk))
    assert len(new) == len(old) == r1.nit == r2.nit == 20
    assert all(isinstance(r, OptimizeResult) for r in new)
    np.testing.assert_array_equal([r.x for r in new], old)
    assert new[-1].fun == rosen(new[-1].x)


def test_stop_iteration_in_the_callback_ends_the_run_with_a_result():
    def callback(intermediate_result):
        if intermediate_result.fun < 1.0:
            raise StopIteration

    res = minimize_rprop(rosen, X0, jac=rosen_der, callback=callback)
    assert res.status == 99 and not res.success and "StopIteration" in res.message
    assert res.fun < 1.0


# --- bad input -----------------------------------------------------------------------------

def never(*args):
    raise AssertionError("evaluated before validation")


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(x0=[[1.0, 2.0]]), ValueError, "x0"),
    (dict(x0=[]), ValueError, "x0"),
    (dict(x0=[1.0, np.nan]), ValueError, "x0"),
    (dict(x0=[1.0, np.inf]), ValueError, "x0"),
    (dict(x0=["a", "b"]), TypeError, "x0"),
    (dict(x0=[1 + 2j]), TypeError, "x0"),
    (dict(x0=np.array([1.0, None], dtype=object)), TypeError, "x0"),
    (dict(bounds=[(0, 1)]), ValueError, "bounds"),
    (dict(bounds=[(0, 1), (2, 1)]), ValueError, "bounds"),
    (dict(bounds=Bounds([0, 0, 0], [1, 1, 1])), ValueError, "bounds"),
    (dict(bounds=[(0, 1), (0, "x")]), ValueError, "bounds"),
    (dict(etas=(1.5, 1.2)), ValueError, "etas"),
    (dict(etas=(0.5, 1.0)), ValueError, "etas"),
    (dict(etas=0.5), TypeError, "etas"),
    (dict(step_sizes=(1.0, 0.5)), ValueError, "step_sizes"),
    (dict(step_sizes=(-1.0, 0.5)), ValueError, "step_sizes"),
    (dict(initial_step=0.0), ValueError, "initial_step"),
    (dict(initial_step=-1.0), ValueError, "initial_step"),
    (dict(initial_step=[1.0, 2.0, 3.0]), ValueError, "initial_step"),
    (dict(initial_step="big"), TypeError, "initial_step"),
    (dict(variant="adam"), ValueError, "variant"),
    (dict(maxiter=-1), ValueError, "maxiter"),
    (dict(maxiter=2.5), TypeError, "maxiter"),
    (dict(maxfev=0), ValueError, "maxfev"),
    (dict(xtol=-1.0), ValueError, "xtol"),
    (dict(ftol=np.nan), ValueError, "ftol"),
    (dict(gtol="0"), TypeError, "gtol"),
    (dict(jac="cs"), ValueError, "jac"),
    (dict(driver="gpu"), ValueError, "driver"),
    (dict(callback=3), TypeError, "callback"),
])
def test_bad_input_is_refused_before_any_evaluation(kwargs, error, match):
    call = dict(fun=never, x0=[1.0, 2.0], jac=never)
    call.update(kwargs)
    with pytest.raises(error, match=match):
        minimize_rprop(**call)


def test_fun_must_return_a_scalar_and_jac_the_right_shape():
    with pytest.raises(ValueError, match="fun must return a real scalar"):
        minimize_rprop(lambda x: x, [1.0, 2.0], jac=lambda x: x)
    with pytest.raises(ValueError, match=r"jac must return an array of shape \(2,\)"):
        minimize_rprop(lambda x: 1.0, [1.0, 2.0], jac=lambda x: np.ones(3))
    with pytest.raises(ValueError, match="pair"):
        minimize_rprop(lambda x: 1.0, [1.0, 2.0], jac=True)
    # A size-1 array is a scalar, as in SciPy.
    res = minimize_rprop(lambda x: np.array([np.sum(x**2)]), [1.0, 2.0], jac=lambda x: 2 * x)
    assert res.success


def test_non_finite_values_mid_run_end_at_the_best_finite_point():
    calls = []

    def fun(x):
        calls.append(1)
        return np.nan if len(calls) > 30 else rosen(x)

    res = minimize_rprop(fun, X0, jac=rosen_der, **TEXTBOOK)
    assert res.status == 5 and not res.success and "non-finite" in res.message
    assert np.isfinite(res.fun) and res.nit == 29

    def jac(x):
        return np.full(x.size, np.inf) if x[0] < 1.0 else rosen_der(x)

    res = minimize_rprop(rosen, X0, jac=jac)
    assert res.status == 5 and np.all(np.isfinite(res.jac)) and res.x[0] >= 1.0


def test_non_finite_value_at_the_start_returns_x0():
    res = minimize_rprop(lambda x: np.inf, [1.0, 2.0], jac=lambda x: x)
    assert res.status == 5 and "at x0" in res.message
    np.testing.assert_array_equal(res.x, [1.0, 2.0])


def test_user_exceptions_propagate_unchanged():
    class Mine(Exception):
        pass

    def fun(x):
        raise Mine("from the user")

    with pytest.raises(Mine, match="from the user"):
        minimize_rprop(fun, [1.0], jac=lambda x: x)
    with pytest.raises(KeyError):
        minimize_rprop(rosen, [1.0, 2.0], jac=lambda x: {}["missing"])


def test_x0_is_never_mutated_and_functions_get_private_copies():
    x0 = X0.copy()
    kept = []

    def fun(x):
        kept.append(x)
        return rosen(x)

    res = minimize_rprop(fun, x0, jac=rosen_der, maxiter=50)
    np.testing.assert_array_equal(x0, X0)
    assert len({id(x) for x in kept}) == len(kept)
    assert min(rosen(x) for x in kept) == res.fun


def test_an_initial_step_array_is_not_mutated_when_clipped_into_the_step_sizes():
    given = np.array([1e-9, 0.5, 100.0])
    res = minimize_rprop(lambda x: float(np.sum(x**2)), np.full(3, 100.0),
                         jac=lambda x: 2 * x, initial_step=given, step_sizes=(1e-6, 50.0),
                         maxiter=1, polish=False)
    np.testing.assert_array_equal(given, [1e-9, 0.5, 100.0])
    # The first step moved each variable by its clipped initial step.
    np.testing.assert_array_equal(res.x, 100.0 - np.array([1e-6, 0.5, 50.0]))


def test_integer_and_float32_inputs_are_computed_in_float64():
    res = minimize_rprop(lambda x: float(np.sum(x**2)), np.array([3, -2]), jac=lambda x: 2 * x)
    assert res.x.dtype == np.float64 and res.success
    res = minimize_rprop(lambda x: np.float32(np.sum(x**2)), np.array([3, -2], np.float32),
                         jac=lambda x: (2 * x).astype(np.float32))
    assert res.x.dtype == np.float64 and np.max(np.abs(res.x)) < 1e-6


def test_concurrent_calls_from_threads_give_identical_results():
    expected = minimize_rprop(rosen, X0, jac=rosen_der, maxiter=2000)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(
            lambda _: minimize_rprop(rosen, X0, jac=rosen_der, maxiter=2000), range(4)))
    for r in results:
        np.testing.assert_array_equal(r.x, expected.x)
        assert r.nfev == expected.nfev


def test_disp_prints_the_outcome(capsys):
    minimize_rprop(rosen, X0, jac=rosen_der, maxiter=3, disp=True)
    assert "Iterations: 3" in capsys.readouterr().out


def test_args_reach_fun_and_jac():
    fun = lambda x, a, b: float(np.sum((x - a) ** 2)) * b  # noqa: E731
    jac = lambda x, a, b: 2 * (x - a) * b  # noqa: E731
    res = minimize_rprop(fun, [0.0, 0.0], args=(np.array([1.0, -2.0]), 3.0), jac=jac)
    np.testing.assert_allclose(res.x, [1.0, -2.0], atol=1e-8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = minimize_rprop(lambda x, a: float(np.sum((x - a) ** 2)), [0.0], args=2.0,
                             jac=lambda x, a: 2 * (x - a))
    np.testing.assert_allclose(res.x, [2.0], atol=1e-8)


@pytest.mark.parametrize("jac", ["2-point", "3-point"])
def test_finite_difference_points_stay_in_a_box_narrower_than_their_step(jac):
    # Found by hypothesis: from x = 1e-8 the step back to a lower bound of
    # 2e-162 computes 1e-8 - (1e-8 - 2e-162), which rounds to 0, outside. (The
    # compiled driver takes the same points: the drivers are bit-identical.)
    lower = np.array([-np.inf, 1.99536151e-162])
    upper = np.array([np.inf, 1e-8])
    points = []

    def fun(x):
        points.append(x.copy())
        return float(x @ x)

    minimize_rprop(fun, [0.5, 1e-8], jac=jac, bounds=Bounds(lower, upper), maxiter=20,
                   polish=False, accelerate=False)
    points = np.array(points)
    assert len(points) > 20 and np.all(points >= lower) and np.all(points <= upper)
