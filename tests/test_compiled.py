"""The compiled path: numba objectives run the whole loop in nopython mode, same steps."""

from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import pytest
from _problems import nb_rosen, nb_rosen_der
from scipy.optimize import rosen as np_rosen

from signmin import minimize_rprop
from signmin.rprop.kernel import PARALLEL_THRESHOLD

X0 = np.array([1.3, 0.7, 0.8, 1.9, 1.2])
VARIANTS = ["rprop+", "rprop-", "irprop+", "irprop-"]
NO_STOP = dict(xtol=0, ftol=0, gtol=0, stall_window=0, polish=False, accelerate=False)


# The numba Rosenbrock function and its gradient, shared with other test modules.
rosen, rosen_der = nb_rosen, nb_rosen_der


@numba.njit(cache=True)
def rosen_both(x):
    return rosen(x), rosen_der(x)


@numba.njit(cache=True)
def shifted(x, centre, weight):
    return weight * np.sum((x - centre) ** 2)


@numba.njit(cache=True)
def shifted_der(x, centre, weight):
    return 2.0 * weight * (x - centre)


@numba.njit(cache=True)
def nan_beyond(x):
    # A NaN once x[0] drops below 1.05 (the second step from X0 does that):
    # the run must end at the best finite point.
    if x[0] < 1.05:
        return np.nan
    return rosen(x)


def python_versions(fun, jac):
    """The same functions behind plain Python lambdas: the Python loop runs them."""
    return (lambda x, *a: fun(x, *a)), (lambda x, *a: jac(x, *a)) if callable(jac) else jac


def both_paths(fun, jac, x0=X0, **options):
    compiled = minimize_rprop(fun, x0, jac=jac, driver="compiled", **options)
    py_fun, py_jac = python_versions(fun, jac)
    python = minimize_rprop(py_fun, x0, jac=py_jac, driver="python", **options)
    return compiled, python


def assert_same_result(a, b):
    for key in ("x", "fun", "jac", "nit", "nfev", "njev", "status", "success", "message",
                "step_size"):
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.fixture
def no_python_loop(monkeypatch):
    """Fail if the Python loop runs: the compiled path must carry the whole run."""
    def refuse(*args, **kwargs):
        raise AssertionError("the Python loop ran")
    monkeypatch.setattr("signmin.rprop.minimize.run_python", refuse)


def test_numba_functions_run_compiled_by_default(no_python_loop):
    res = minimize_rprop(rosen, X0, jac=rosen_der)
    assert res.success and res.fun < 1e-10
    res = minimize_rprop(rosen_both, X0, jac=True, maxiter=50, **NO_STOP)
    assert res.nit == 50
    res = minimize_rprop(rosen, X0, maxiter=50, **NO_STOP)
    assert res.nfev == 51 * (1 + X0.size)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("jac", ["callable", "with fun", "2-point", "3-point"])
def test_compiled_and_python_loops_take_identical_steps(variant, jac):
    fun, jac_arg = {"callable": (rosen, rosen_der), "with fun": (rosen_both, True)}.get(
        jac, (rosen, jac))
    compiled, python = both_paths(fun, jac_arg, variant=variant, maxiter=300, **NO_STOP)
    assert compiled.nit == 300
    assert_same_result(compiled, python)


@pytest.mark.parametrize("variant", VARIANTS)
def test_bounds_and_default_stopping_rules_agree_on_both_paths(variant):
    bounds = [(1.1, 2.0), (None, 0.9), (-1.0, 1.0), (None, None), (0.0, 1.15)]
    with pytest.warns(Warning):  # x0 lies outside the bounds and is clipped
        compiled, python = both_paths(rosen, rosen_der, bounds=bounds, variant=variant)
    assert_same_result(compiled, python)
    assert compiled.success
    lo = np.array([1.1, -np.inf, -1.0, -np.inf, 0.0])
    hi = np.array([2.0, 0.9, 1.0, np.inf, 1.15])
    assert np.all(compiled.x >= lo) and np.all(compiled.x <= hi)


def test_args_reach_the_jitted_functions():
    centre = np.array([0.5, -1.5, 2.0])
    compiled, python = both_paths(shifted, shifted_der, x0=np.zeros(3), args=(centre, 3.0))
    assert_same_result(compiled, python)
    np.testing.assert_allclose(compiled.x, centre, atol=1e-8)


def test_maxiter_and_maxfev_end_the_compiled_run_as_they_end_the_python_run():
    for options in (dict(maxiter=12), dict(maxfev=20), dict(maxfev=40, jac="2-point")):
        jac = options.pop("jac", rosen_der)
        compiled, python = both_paths(rosen, jac, **options)
        assert_same_result(compiled, python)
        assert compiled.status in (3, 4)


def test_a_nan_mid_run_ends_the_compiled_run_at_the_best_finite_point():
    # (The sign phase meets the NaN: the default finish from x0 backs off from it.)
    compiled, python = both_paths(nan_beyond, rosen_der, polish=False)
    assert_same_result(compiled, python)
    assert compiled.status == 5 and not compiled.success and compiled.nit == 1
    assert np.isfinite(compiled.fun) and compiled.x[0] >= 1.05


def test_a_callback_runs_the_python_loop_and_compiled_refuses_one():
    seen = []
    res = minimize_rprop(rosen, X0, jac=rosen_der, maxiter=20, callback=lambda xk: seen.append(xk))
    assert len(seen) == res.nit == 20
    with pytest.raises(ValueError, match="callback"):
        minimize_rprop(rosen, X0, jac=rosen_der, driver="compiled", callback=print)


def test_compiled_driver_needs_numba_functions():
    with pytest.raises(ValueError, match="numba"):
        minimize_rprop(np_rosen, X0, driver="compiled")
    with pytest.raises(ValueError, match="numba"):
        minimize_rprop(rosen, X0, jac=lambda x: rosen_der(x), driver="compiled")


def test_a_python_jac_with_a_numba_fun_runs_the_python_loop():
    res = minimize_rprop(rosen, X0, jac=lambda x: rosen_der(x), maxiter=30)
    ref = minimize_rprop(rosen, X0, jac=rosen_der, maxiter=30)
    assert_same_result(res, ref)


@numba.njit
def returns_array(x):
    return x * 2.0


@numba.njit
def wrong_length_jac(x):
    return np.ones(x.size + 1)


def test_a_jitted_fun_of_the_wrong_kind_gets_the_python_paths_message():
    with pytest.raises(ValueError, match="fun must return a real scalar"):
        minimize_rprop(returns_array, X0, jac=rosen_der)
    with pytest.raises(TypeError, match="driver='compiled'"):
        minimize_rprop(returns_array, X0, jac=rosen_der, driver="compiled", polish=False)
    # (The default run's finish evaluates x0 first, through the Python evaluator.)
    with pytest.raises(ValueError, match="fun must return a real scalar"):
        minimize_rprop(returns_array, X0, jac=rosen_der, driver="compiled")
    with pytest.raises(ValueError, match="jac must return"):
        minimize_rprop(rosen, X0, jac=wrong_length_jac)


@numba.njit
def raises_inside(x):
    if x[0] < 1.2:
        raise ZeroDivisionError("raised by the user's jitted function")
    return np.sum(x**2)


def test_exceptions_raised_in_jitted_functions_propagate():
    with pytest.raises(ZeroDivisionError, match="user's jitted"):
        minimize_rprop(raises_inside, X0, jac=rosen_der)


def test_compiled_runs_in_threads_give_identical_results():
    expected = minimize_rprop(rosen, X0, jac=rosen_der, maxiter=5000, **NO_STOP)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(
            lambda _: minimize_rprop(rosen, X0, jac=rosen_der, maxiter=5000, **NO_STOP),
            range(4)))
    for r in results:
        assert_same_result(r, expected)


def test_x0_is_not_mutated_by_the_compiled_path():
    x0 = X0.copy()
    minimize_rprop(rosen, x0, jac=rosen_der, maxiter=100)
    np.testing.assert_array_equal(x0, X0)


@numba.njit(cache=True)
def _quadratic(x):
    return 0.5 * np.sum((x - 1.0) ** 2)


@numba.njit(cache=True)
def _quadratic_der(x):
    return x - 1.0  # a new array each call, as a user's jac makes


def _rss_kib(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def test_compiled_loop_holds_one_gradient_at_a_time():
    # Resident memory, not allocations: numba's arrays are invisible to
    # tracemalloc. Linux only (peak RSS reset through /proc/self/clear_refs).
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pytest.skip("needs Linux's /proc/self/clear_refs to reset the peak RSS")
    # Each array above glibc's largest dynamic mmap threshold (32 MiB): its own
    # mapping, returned when freed, whatever earlier tests left in the heap
    # (at n = 2e6 the full suite measured 6.5 x where a run alone gives 5.6 x).
    n = 5_000_000
    options = dict(maxiter=5, variant="irprop-", **NO_STOP)
    # Compiled first, so that the compiler's memory is not in the peak.
    assert n < PARALLEL_THRESHOLD
    minimize_rprop(_quadratic, np.linspace(-2.0, 3.0, 1000), jac=_quadratic_der, **options)
    x0 = np.linspace(-2.0, 3.0, n)
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    base = _rss_kib("VmRSS")
    res = minimize_rprop(_quadratic, x0, jac=_quadratic_der, **options)
    peak = (_rss_kib("VmHWM") - base) * 1024 / x0.nbytes
    assert res.nit == 5
    # The run's own rows (x three times, see kernel.has_spare_row; g_best, the
    # steps: 5; the signs: 1/8; the float32 scale: 1/2) and one gradient: 6.6 x.
    # A loop that kept the last gradient while making the next one would reach 7.6 x.
    assert peak < 7.2, f"peak {peak:.2f} x the size of x"


# --- the best point's gradient: kept as jac made it, copied when jac keeps it --------------

@numba.njit(cache=True)
def _recording_der(x, seen):
    # Notes where each gradient lives (an address, not the array: keeping the
    # array would make it shared).
    g = rosen_der(x)
    k = int(seen[0])
    if k + 1 < seen.shape[0]:
        seen[k + 1] = g.ctypes.data
        seen[0] = k + 1
    return g


@numba.njit(cache=True)
def _rosen_with(x, seen):
    return rosen(x)


@numba.njit(cache=True)
def _der_into(x, buffer):
    # A jac that fills its own buffer and returns it: the next call writes it again.
    g = rosen_der(x)
    for i in range(g.shape[0]):
        buffer[i] = g[i]
    return buffer


def test_the_best_gradient_is_the_array_jac_returned_not_a_copy():
    seen = np.zeros(200, dtype=np.int64)
    res = minimize_rprop(_rosen_with, X0, jac=_recording_der, args=(seen,), maxiter=60,
                         **NO_STOP)
    addresses = set(seen[1:int(seen[0]) + 1].tolist())
    assert res.jac.ctypes.data in addresses
    np.testing.assert_array_equal(res.jac, rosen_der(res.x))


@pytest.mark.parametrize("accelerate", [False, True])
def test_a_jac_that_reuses_its_buffer_still_reports_the_best_points_gradient(accelerate):
    buffer = np.zeros(X0.size)
    options = dict(NO_STOP, accelerate=accelerate)
    # Rosenbrock from X0: the last point evaluated is not the best one.
    res = minimize_rprop(_rosen_with, X0, jac=_der_into, args=(buffer,), maxiter=60,
                         **options)
    np.testing.assert_array_equal(res.jac, rosen_der(res.x))
    assert res.jac.ctypes.data != buffer.ctypes.data
    reference = minimize_rprop(rosen, X0, jac=rosen_der, maxiter=60, **options)
    np.testing.assert_array_equal(res.x, reference.x)
    np.testing.assert_array_equal(res.jac, reference.jac)
