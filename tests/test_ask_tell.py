"""The ask/tell optimiser: the steps of minimize_rprop, driven from outside."""

import copy
import pickle

import numpy as np
import pytest
from scipy.optimize import rosen, rosen_der

from signmin import Rprop, Status, minimize_rprop

X0 = np.array([-1.2, 0.8, -0.5, 0.7])
BOX = [(-2.0, 0.9)] * 4


def _recorded_run(**options):
    """minimize_rprop's sign method on Rosenbrock, with every point it evaluated."""
    points = []

    def fun(x):
        points.append(x.copy())
        return rosen(x)

    res = minimize_rprop(fun, X0.copy(), jac=rosen_der, polish=False, driver="python",
                         **options)
    return res, points


def _ask_tell(opt, points=None, until=None):
    while not opt.done and (until is None or len(points) < until):
        x = opt.ask()
        if points is not None:
            points.append(x.copy())
        opt.tell(rosen(x), rosen_der(x))
    return opt


CASES = [dict(variant=v) for v in ("irprop+", "irprop-", "rprop+", "rprop-")] + [
    dict(bounds=BOX), dict(accelerate=False), dict(bounds=BOX, accelerate=False),
    dict(until_bracketed=True), dict(xtol=0.0, ftol=1e-12), dict(gtol=1e-3, maxiter=500)]


@pytest.mark.parametrize("options", CASES, ids=lambda o: ",".join(map(str, o.values())))
def test_ask_and_tell_take_the_steps_of_minimize_rprop_bit_for_bit(options):
    expected, expected_points = _recorded_run(**options)
    bounds = options.pop("bounds", None)
    points = []
    res = _ask_tell(Rprop(X0, bounds, **options), points).result
    assert len(points) == len(expected_points) == expected.nfev
    assert all(np.array_equal(a, b) for a, b in zip(points, expected_points, strict=True))
    for key in ("fun", "nit", "nfev", "njev", "status", "success", "message"):
        assert res[key] == expected[key], key
    for key in ("x", "jac", "step_size"):
        assert np.array_equal(res[key], expected[key]), key


@pytest.mark.parametrize("through", ["pickle", "deepcopy"])
def test_a_copy_taken_mid_run_continues_exactly_as_the_original(through):
    original = _ask_tell(Rprop(X0, BOX, variant="rprop+"), [], until=57)
    if through == "pickle":
        clone = pickle.loads(pickle.dumps(original))
    else:
        clone = copy.deepcopy(original)
    a, b = [], []
    _ask_tell(original, a)
    _ask_tell(clone, b)
    assert len(a) == len(b) > 0
    assert all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))
    ra, rb = original.result, clone.result
    assert (ra.fun, ra.nfev, ra.nit, ra.status) == (rb.fun, rb.nfev, rb.nit, rb.status)
    assert np.array_equal(ra.x, rb.x)


def test_the_result_mid_run_is_the_best_point_so_far_and_says_the_run_goes_on():
    opt = _ask_tell(Rprop(X0), [], until=20)
    res = opt.result
    assert not opt.done and opt.status is None
    assert res.status == -1 and not res.success and res.nfev == 20
    assert res.fun == rosen(res.x) <= rosen(X0)


def test_a_non_finite_value_ends_the_run_at_the_best_finite_point():
    opt = Rprop([1.0, 2.0])
    opt.tell(5.0, np.array([1.0, 1.0]))
    opt.tell(np.nan, np.array([1.0, 1.0]))
    assert opt.done and opt.status == Status.NONFINITE
    assert opt.result.fun == 5.0 and np.array_equal(opt.result.x, [1.0, 2.0])
    with pytest.raises(RuntimeError, match="NONFINITE"):
        opt.ask()


def test_bad_input_is_refused_with_its_name_before_any_step():
    with pytest.raises(ValueError, match="variant"):
        Rprop([1.0], variant="adam")
    opt = Rprop([1.0, 2.0])
    with pytest.raises(ValueError, match=r"g must have shape \(2,\)"):
        opt.tell(1.0, np.ones(3))
    assert opt.result.nfev == 0


def test_x0_and_the_asked_points_are_the_callers():
    x0 = np.array([3.0, -2.0])
    opt = Rprop(x0)
    x = opt.ask()
    x[:] = 99.0
    assert np.array_equal(opt.ask(), [3.0, -2.0]) and np.array_equal(x0, [3.0, -2.0])
