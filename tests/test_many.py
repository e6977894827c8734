"""``curve_fit_many``: many fits at once, compiled over the cores, and on dask.

The rows are specified against ``signmin.curve_fit`` on each data set; the
batch must not depend on threads, on the other rows or on the chunking; the
dask path must give the in-memory numbers, also on a two-process
``distributed.LocalCluster`` that loses a worker mid-run.
"""

import os
import re
import sys
import time
import warnings
from pathlib import Path

import numba
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import optimize
from scipy.optimize import OptimizeWarning

import signmin
from signmin import Status, datasets
from signmin.lsq import batch as B
from signmin.lsq.many import ManyFits, curve_fit_many
from signmin.rprop import kernel as K
from signmin.rprop.options import INITIAL_STEP_FRACTION, fill_scale_and_step, scale_and_step

HERE = Path(__file__).resolve().parent
# The models live in a module of their own that dask's worker processes can
# import by name (numba pickles a jitted function by reference to its module).
sys.path.insert(0, str(HERE))
import _many_models as models  # noqa: E402

RTOL_POPT = 1e-6
RTOL_PCOV = 1e-3
FIELDS = ("popt", "pcov", "cost", "status", "nfev", "njev")
X = np.linspace(0.0, 4.0, 60)
P0 = np.array([1.0, 1.0, 1.0])


def decay_data(m, seed=0, noise=0.05):
    """m noisy decays with parameters well away from 0 (their relative errors are small)."""
    rng = np.random.default_rng(seed)
    true = np.column_stack([rng.uniform(2, 4, m), rng.uniform(0.5, 2, m),
                            rng.uniform(0.5, 1, m)])
    y = true[:, :1] * np.exp(-true[:, 1:2] * X) + true[:, 2:]
    return y + noise * rng.normal(size=y.shape)


def assert_identical(a, b):
    for name in FIELDS:
        assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name, strict=True)


@pytest.fixture(scope="module")
def data():
    return decay_data(24)


@pytest.fixture(scope="module")
def fits(data):
    return curve_fit_many(models.decay, X, data, p0=P0)


def test_unpacks_like_curve_fit_and_reads_as_a_summary(fits):
    popt, pcov = fits
    assert popt.shape == (24, 3) and pcov.shape == (24, 3, 3)
    assert fits.cost.shape == fits.status.shape == fits.nfev.shape == (24,)
    assert fits.success.all() and not fits.lazy
    assert_allclose(fits.perr, np.sqrt(np.diagonal(pcov, axis1=1, axis2=2)))
    assert repr(fits).startswith("ManyFits: 24 fits of 3 parameters; 24 converged")


def test_each_row_is_what_curve_fit_finds_on_its_data_set(data, fits):
    for i in range(0, 24, 3):
        popt, pcov, info, _, _ = signmin.curve_fit(models.decay, X, data[i], p0=P0,
                                                  full_output=True)
        assert_allclose(fits.popt[i], popt, rtol=1e-12, atol=0)
        assert_allclose(fits.pcov[i], pcov, rtol=1e-12, atol=0)
        assert_allclose(fits.cost[i], info["cost"], rtol=1e-12, atol=0)
        assert fits.nfev[i] == info["nfev"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_curve_fit_of_a_compiled_model_is_the_row_of_curve_fit_many_on_random_data_sets(seed):
    # One core: curve_fit on an @njit model runs the batch's compiled fit, so
    # each row is curve_fit's to the last bit, by construction (it was 3.5e-7
    # relative while the two were separate implementations). Peaks anywhere
    # on the data from one generic start, noise and sigma per set, a bound.
    rng = np.random.default_rng(seed)
    m, x = 8, np.linspace(0.0, 10.0, 64)
    true = np.column_stack([rng.uniform(1, 5, m), rng.uniform(2, 8, m), rng.uniform(0.3, 3, m),
                            rng.uniform(-0.5, 0.5, m), rng.uniform(-0.05, 0.05, m)])
    y = (true[:, :1] * np.exp(-0.5 * ((x - true[:, 1:2]) / true[:, 2:3]) ** 2)
         + true[:, 3:4] + true[:, 4:] * x)
    sigma = rng.uniform(0.05, 0.2, size=y.shape)
    y += sigma * rng.normal(size=y.shape)
    p0 = [1.0, 5.0, 1.0, 0.0, 0.0]
    for kwargs in ({}, {"sigma": sigma}, {"bounds": ([0, 0, 0.1, -1, -1], [10, 10, 5, 1, 1])}):
        fits = curve_fit_many(models.peak, x, y, p0=p0, **kwargs)
        for i in range(m):
            one = {key: (v[i] if key == "sigma" else v) for key, v in kwargs.items()}
            popt, pcov, info, _, _ = signmin.curve_fit(models.peak, x, y[i], p0=p0,
                                                      full_output=True, **one)
            assert_allclose(popt, fits.popt[i], rtol=1e-12, atol=0)
            assert_allclose(pcov, fits.pcov[i], rtol=1e-12, atol=0)
            assert_allclose(info["cost"], fits.cost[i], rtol=1e-12, atol=0)


def test_a_fit_to_a_large_residual_minimum_does_not_crawl():
    # Peaks far from the generic start that the fit takes for a dip elsewhere
    # (benchmarks/many_fits.py's harder family, seed 0): at such a minimum the
    # residuals stay large, J^T J misjudges the curvature and Levenberg-
    # Marquardt zigzagged down the valley for 409-851 calls of the model
    # (MINPACK's crawls as long). With the secant term S (batch.HYBRID_AFTER)
    # these take 177-305, to a point no tighter least-squares run improves.
    m, x = 2000, np.linspace(0.0, 10.0, 64)
    rng = np.random.default_rng(0)
    true = np.column_stack([rng.uniform(1, 5, m), rng.uniform(0.5, 9.5, m),
                            rng.uniform(0.3, 3.0, m), rng.uniform(-0.5, 0.5, m),
                            rng.uniform(-0.05, 0.05, m)])
    y = (true[:, :1] * np.exp(-0.5 * ((x - true[:, 1:2]) / true[:, 2:3]) ** 2)
         + true[:, 3:4] + true[:, 4:5] * x) + 0.1 * rng.normal(size=(m, x.size))
    rows = [91, 474, 1362, 1548, 1967]
    fits = curve_fit_many(models.peak, x, y[rows], p0=[1.0, 5.0, 1.0, 0.0, 0.0])
    assert fits.success.all()
    assert fits.nfev.max() <= 320, fits.nfev
    for i, row in enumerate(rows):
        def residuals(p, row=row):
            return models.peak(x, *p) - y[row]
        tight = optimize.least_squares(residuals, fits.popt[i], method="lm", xtol=1e-15,
                                       ftol=1e-15, gtol=1e-15)
        assert fits.cost[i] <= tight.cost * (1 + 1e-9), (row, fits.cost[i], tight.cost)
        assert fits.cost[i] > 1.0  # the large-residual minimum, not the peak


def test_rows_do_not_depend_on_threads_or_on_the_other_rows(data, fits):
    one_thread = curve_fit_many(models.decay, X, data, p0=P0, threads=1)
    assert_identical(one_thread, fits)
    head = curve_fit_many(models.decay, X, data[:7], p0=P0,
                          threads=min(2, numba.config.NUMBA_NUM_THREADS))
    tail = curve_fit_many(models.decay, X, data[7:][::-1], p0=P0)
    for name in FIELDS:
        joined = np.concatenate([getattr(head, name), getattr(tail, name)[::-1]])
        assert_array_equal(joined, getattr(fits, name), err_msg=name)


def test_per_set_inputs_equal_to_the_shared_ones_give_the_same_bits(data, fits):
    m = data.shape[0]
    per_set = curve_fit_many(models.decay, np.tile(X, (m, 1)), data, p0=np.tile(P0, (m, 1)),
                             sigma=np.ones((m, X.size)))
    shared_sigma = curve_fit_many(models.decay, X, data, p0=P0, sigma=np.ones(X.size))
    assert_identical(per_set, shared_sigma)
    assert_allclose(per_set.popt, fits.popt, rtol=1e-12)


def test_sigma_and_absolute_sigma_as_curve_fit_takes_them(data):
    rng = np.random.default_rng(5)
    sigma = rng.uniform(0.02, 0.1, size=data.shape)
    for absolute in (False, True):
        fits = curve_fit_many(models.decay, X, data[:4], p0=P0, sigma=sigma[:4],
                              absolute_sigma=absolute)
        for i in range(4):
            popt, pcov = signmin.curve_fit(models.decay, X, data[i], p0=P0, sigma=sigma[i],
                                           absolute_sigma=absolute)
            assert_allclose(fits.popt[i], popt, rtol=RTOL_POPT)
            assert_allclose(fits.pcov[i], pcov, rtol=RTOL_PCOV)


def test_a_compiled_jacobian_is_used_and_gives_the_same_fit(data, fits):
    with_jac = curve_fit_many(models.decay, X, data, p0=P0, jac=models.decay_jac)
    assert_allclose(with_jac.popt, fits.popt, rtol=RTOL_POPT)
    assert_allclose(with_jac.pcov, fits.pcov, rtol=RTOL_PCOV)
    assert (with_jac.njev > 0).all() and (fits.njev == 0).all()
    assert with_jac.nfev.sum() < fits.nfev.sum()


def test_bounds_hold_every_fit_and_an_active_bound_is_reached(data):
    bounds = ([0.0, 0.0, 0.0], [10.0, 10.0, 0.6])
    fits = curve_fit_many(models.decay, X, data[:6], p0=[1.0, 1.0, 0.5], bounds=bounds)
    assert fits.success.all()
    assert ((fits.popt >= bounds[0]) & (fits.popt <= bounds[1])).all()
    for i in range(6):
        popt, _ = signmin.curve_fit(models.decay, X, data[i], p0=[1.0, 1.0, 0.5],
                                    bounds=bounds)
        assert_allclose(fits.popt[i], popt, rtol=RTOL_POPT)
    assert (fits.popt[:, 2] == 0.6).any()


def test_a_plain_python_model_runs_curve_fit_on_each_data_set(data):
    fits = curve_fit_many(models.decay_numpy, X, data[:3], p0=P0)
    for i in range(3):
        popt, pcov = signmin.curve_fit(models.decay_numpy, X, data[i], p0=P0)
        assert_array_equal(fits.popt[i], popt)
        assert_array_equal(fits.pcov[i], pcov)
    assert fits.success.all()


def test_a_data_set_with_nan_fails_alone_when_data_are_not_checked(data):
    y = data[:5].copy()
    y[2, 10] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        curve_fit_many(models.decay, X, y, p0=P0)
    fits = curve_fit_many(models.decay, X, y, p0=P0, check_finite=False)
    assert fits.status[2] == Status.NONFINITE and not fits.success[2]
    assert np.isinf(fits.cost[2]) and np.isinf(fits.pcov[2]).all()
    assert_array_equal(fits.popt[2], P0)
    good = curve_fit_many(models.decay, X, data[[0, 1, 3, 4]], p0=P0)
    assert_array_equal(fits.popt[[0, 1, 3, 4]], good.popt)


def test_an_undetermined_parameter_gives_inf_covariance_with_a_warning():
    y = np.tile(2.0 + 0.01 * np.sin(7 * X), (3, 1))

    @numba.njit
    def flat(x, a, b):
        return a + 0.0 * b * x

    with pytest.warns(OptimizeWarning, match="3 of 3 fits"):
        fits = curve_fit_many(flat, X, y, p0=[1.0, 1.0])
    assert np.isinf(fits.pcov).all()
    # curve_fit on the compiled model: its own warning, the row's numbers.
    with pytest.warns(OptimizeWarning, match="Covariance of the parameters could not be"):
        popt, pcov, info, mesg, ier = signmin.curve_fit(flat, X, y[0], p0=[1.0, 1.0],
                                                        full_output=True)
    assert_array_equal(popt, fits.popt[0])
    assert np.isinf(pcov).all() and info["compiled"] and info["nfev"] == fits.nfev[0]
    assert ier in (1, 2, 3, 4) and mesg == Status(fits.status[0]).message


@pytest.mark.parametrize("call, error, match", [
    (lambda: curve_fit_many(models.decay, X, np.ones(60), p0=P0), ValueError, "shape"),
    (lambda: curve_fit_many(models.decay, X[:10], np.ones((2, 60)), p0=P0), ValueError,
     "xdata"),
    (lambda: curve_fit_many(models.decay, X, np.ones((2, 60)), p0=np.ones((3, 3))),
     ValueError, "p0"),
    (lambda: curve_fit_many(models.decay, X, np.ones((2, 60)), p0=P0, bounds=(2, 3)),
     ValueError, "infeasible"),
    (lambda: curve_fit_many(models.decay, X, np.ones((2, 60)), p0=P0, polish=False),
     TypeError, "polish"),
    (lambda: curve_fit_many(models.wrong_length, X, np.ones((2, 60)), p0=[1.0, 1.0]),
     ValueError, r"\(60,\)"),
    (lambda: curve_fit_many(models.decay, X, np.ones((2, 60)), p0=[1.0, 1.0]), TypeError,
     "numba could not compile"),
])
def test_bad_input_is_refused_before_any_fit(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_read_only_inputs_are_taken_as_they_are(data, fits):
    # xarray hands out its coordinates read-only, and dask may hand out read-only blocks.
    x, y = X.copy(), data.copy()
    x.setflags(write=False)
    y.setflags(write=False)
    assert_identical(curve_fit_many(models.decay, x, y, p0=P0), fits)


@pytest.mark.parametrize("name", ["MGH09", "Thurber", "MGH10", "Eckerle4", "Rat43", "Bennett5",
                                  "ENSO", "BoxBOD"])
def test_nist_higher_difficulty_problems_reach_six_certified_digits_from_both_starts(name):
    # Both starts as one batch of two rows (per-set p0): the fast way, and the
    # robust rounds where the fast way's point is not trusted (MGH10 from start 1);
    # BoxBOD from start 1 ends on a plateau with its rate lost to the residuals,
    # and the finish from there with the rate put back to p0 fits it.
    problem = datasets.load_nist(name)
    starts = np.array(problem.starts, dtype=float)
    y = np.tile(np.asarray(problem.ydata, dtype=float), (starts.shape[0], 1))
    fits = curve_fit_many(numba.njit(problem.model), problem.xdata, y, p0=starts)
    assert fits.success.all()
    for popt in fits.popt:
        assert datasets.lre(popt, problem.certified) >= 6


def test_an_indefinite_secant_model_leaves_the_damping_alone():
    # MGH10 from NIST's start 2 (y = b1 exp(b2 / (x + b3)), ill-conditioned): after
    # batch.HYBRID_AFTER the model J^T J + S is often indefinite at the damping in
    # use. Raising the damping until it was positive definite multiplied it by up
    # to 1e6 at once and the fit crawled, 4,350 calls of the model; taking
    # Gauss-Newton's step instead, 760 (578 before S was added).
    problem = datasets.load_nist("MGH10")
    fits = curve_fit_many(numba.njit(problem.model), problem.xdata,
                          np.asarray(problem.ydata, dtype=float)[None, :],
                          p0=np.asarray(problem.starts[1], dtype=float))
    assert fits.success.all()
    assert fits.nfev[0] <= 1000, fits.nfev
    assert datasets.lre(fits.popt[0], problem.certified) >= 6



def test_a_parameter_lost_from_the_start_is_walked_as_in_curve_fit():
    # A saturation curve whose start has the rate 10,000 times too large (see
    # test_curve_fit's saturation_lost_at_the_start): the compiled core walks it too.
    x = np.linspace(10, 800, 30)
    rng = np.random.default_rng(0)
    y = 240.0 * (1 - np.exp(-5.5e-4 * x)) * (1 + 0.01 * rng.normal(size=x.size))
    best = optimize.least_squares(lambda p: p[0] * (1 - np.exp(-p[1] * x)) - y,
                                  [240.0, 5.5e-4], method="lm", xtol=1e-15, ftol=1e-15).x
    model = numba.njit(lambda x, b1, b2: b1 * (1 - np.exp(-b2 * x)))
    fits = curve_fit_many(model, x, y[None, :], p0=[24.0, 5.5])
    assert fits.success.all()
    assert_allclose(fits.popt[0], best, rtol=1e-6)


def test_lanczos_from_start_1_is_the_certified_fit_up_to_the_order_of_its_terms():
    # Lanczos1-3 are three exponentials: b1 exp(-b2 x) + b3 exp(-b4 x) + b5 exp(-b6 x).
    # From NIST's start 1 the first steps decide which term ends where: with
    # batch.LM_LAMBDA0 at 1e-3 the compiled core ended at the certified fit with
    # the second and third terms in each other's places (the same function, and
    # NIST's LRE of 0.1 in the certified order), at 0.1 in NIST's order. Either is
    # the fit: to six digits once the terms are ordered by rate, its cost no worse
    # than the certified values'.
    model = numba.njit(datasets.load_nist("Lanczos1").model)
    for name in ("Lanczos1", "Lanczos2", "Lanczos3"):
        problem = datasets.load_nist(name)
        x, y = np.asarray(problem.xdata, float), np.asarray(problem.ydata, float)
        fit = curve_fit_many(model, x, y[None, :], p0=np.asarray(problem.starts[0], float))
        terms = fit.popt[0].reshape(3, 2)
        certified = np.asarray(problem.certified, float).reshape(3, 2)
        assert datasets.lre(terms[np.argsort(terms[:, 1])].ravel(),
                            certified[np.argsort(certified[:, 1])].ravel()) >= 6, name
        certified_cost = 0.5 * np.sum((problem.model(x, *problem.certified) - y) ** 2)
        assert fit.cost[0] <= certified_cost * (1 + 1e-6) + 1e-30, name


def test_no_data_sets_give_an_empty_result():
    fits = curve_fit_many(models.decay, X, np.empty((0, X.size)), p0=P0)
    assert fits.popt.shape == (0, 3) and fits.pcov.shape == (0, 3, 3) and fits.cost.size == 0


def test_p0_defaults_to_ones_from_the_signature(data):
    fits = curve_fit_many(models.decay, X, data[:2])
    assert_array_equal(fits.popt, curve_fit_many(models.decay, X, data[:2], p0=P0).popt)


def test_each_fit_starts_from_the_state_the_kernel_would_make():
    # The driver makes each fit's state from a template by the kernel's compiled
    # state_like: every field must be what new_state makes at x0.
    lower, upper = np.array([-1.0, 0.0, -np.inf]), np.array([5.0, np.inf, np.inf])
    template_x0, x0 = np.array([1.0, 2.0, 3.0]), np.array([0.5, 4.0, 0.0])
    options = dict(variant=K.IRPROP_PLUS, eta_minus=0.5, eta_plus=1.2, step_min=1e-3,
                   step_max=1.0, xtol=1e-10, ftol=0.0, gtol=0.0, maxiter=2000,
                   maxfev=np.inf, eval_cost=1, stall_window=1150, jac_calls=1,
                   jac_calls_nonfinite=1, until_bracketed=True)

    def fresh(start):
        scale, step = scale_and_step(start, lower, upper)
        return K.new_state(x0=start.copy(), lower=lower.copy(), upper=upper.copy(),
                           scale=scale, step0=step, **options)

    ours = K.state_like(fresh(template_x0).state, x0, fill_scale_and_step,
                        INITIAL_STEP_FRACTION)
    namespace = {}
    exec(f"def fields(s):\n    return ({''.join(f's.{name}, ' for name in K._FIELDS)})",
         namespace)
    ours = dict(zip(K._FIELDS, numba.njit(namespace["fields"])(ours), strict=True))
    kernels = fresh(x0)
    for name in K._FIELDS:
        if name in ("x_b", "g_best"):
            continue  # not read before they are written
        assert_array_equal(ours[name], getattr(kernels, name), err_msg=name, strict=True)


def test_the_batch_driver_reads_the_state_only_through_the_kernels_accessors():
    # Issue 10's rule: only _kernel.py knows the state's layout. The driver takes
    # the accessors as function pointers (no inlined copy of the kernel in its
    # cache); it names no private name of the kernel, no field of the state and
    # no kernel function but those it hands over as pointers.
    source = Path(B.__file__).read_text()
    assert not re.findall(r"\bK\._\w+", source)
    fields = "|".join(K._FIELDS)
    assert not re.findall(rf"\.({fields})\b", source)
    named = set(re.findall(r"\bK\.(\w+)", source))
    accessors, repeat = B.kernel_accessors()
    assert named == {f.__name__ for f in accessors} | {"REPEAT"}
    assert repeat == K.REPEAT


# --------------------------------------------------------------------------- dask

dask_array = pytest.importorskip("dask.array")


def test_a_dask_input_gives_lazy_arrays_with_the_in_memory_numbers(data, fits):
    lazy = curve_fit_many(models.decay, X, dask_array.from_array(data, chunks=(5, -1)),
                          p0=P0)
    assert lazy.lazy and "lazy" in repr(lazy)
    assert lazy.popt.chunks[0] == (5, 5, 5, 5, 4)
    assert_identical(lazy.compute(scheduler="threads"), fits)
    p0 = np.tile(P0, (24, 1))
    per_set = curve_fit_many(models.decay, X, dask_array.from_array(data, chunks=(7, -1)),
                             p0=dask_array.from_array(p0, chunks=(3, -1)))
    assert_identical(per_set.compute(scheduler="sync"), curve_fit_many(
        models.decay, X, data, p0=p0))


def _fit_tasks_by_state(dask_scheduler, part):
    """``{state: [worker address or None, ...]}`` of the scheduler's tasks whose name has `part`."""
    states = {}
    for key, task in dask_scheduler.tasks.items():
        name = key[0] if isinstance(key, tuple) else key
        if part in str(name):
            worker = task.processing_on or (next(iter(task.who_has)) if task.who_has else None)
            states.setdefault(task.state, []).append(None if worker is None else worker.address)
    return states


def test_a_local_cluster_that_loses_a_worker_mid_run_gives_identical_numbers():
    distributed = pytest.importorskip("distributed")
    m = 480
    data = decay_data(m, seed=3)
    expected = curve_fit_many(models.decay, X, data, p0=P0)
    env = {"PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the lost worker's and the nanny's complaints
        with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                      dashboard_address=None, env=env) as cluster, \
                distributed.Client(cluster) as client:
            lazy = curve_fit_many(models.decay, X,
                                  dask_array.from_array(data, chunks=(20, -1)), p0=P0)
            futures = client.compute([getattr(lazy, name) for name in FIELDS])
            # Kill a worker once some blocks are done and it is running another.
            deadline = time.monotonic() + 120
            victim = None
            while victim is None and time.monotonic() < deadline:
                states = client.run_on_scheduler(_fit_tasks_by_state, part="fit_block")
                running = [w for w in states.get("processing", []) if w]
                if states.get("memory") and running:
                    victim = running[0]
                else:
                    time.sleep(0.02)
            assert victim is not None, f"no block was running: {states}"
            with pytest.raises(Exception):  # noqa: B017 - the worker dies mid-call
                client.run(os._exit, 1, workers=[victim])
            got = client.gather(futures)
            # The nanny replaced the killed worker; the blocks it held were run again.
            # (The scheduler drops the dead worker when it sees its connection close,
            # which on a loaded machine can come after the last result: wait for it.)
            deadline = time.monotonic() + 60
            while (victim in client.scheduler_info()["workers"]
                   and time.monotonic() < deadline):
                time.sleep(0.1)
            assert victim not in client.scheduler_info()["workers"]
    for name, value in zip(FIELDS, got, strict=True):
        assert_array_equal(value, getattr(expected, name), err_msg=name, strict=True)


def test_result_type_computes_to_itself_when_in_memory(fits):
    assert fits.compute() is fits
    assert isinstance(fits, ManyFits)


def test_the_driver_needs_no_compile_for_a_second_model_of_the_same_layout(data):
    # The driver takes the model as a function pointer: a new model of another
    # parameter count reuses it (one driver per kernel state layout).
    curve_fit_many(models.decay, X, data[:2], p0=P0)
    drivers = len(B._DRIVERS)
    curve_fit_many(models.peak, np.linspace(0, 10, 40), np.ones((2, 40)),
                   p0=[1.0, 5.0, 1.0, 0.0, 0.0])
    assert len(B._DRIVERS) == drivers


def test_numbas_warning_on_function_pointers_does_not_reach_the_user(data):
    # The driver takes the model and its own pieces as function pointers, which
    # numba calls experimental, warning at every call that passes them: a note
    # to us, nothing the user can act on.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        curve_fit_many(models.decay, X, data[:2], p0=P0)
        signmin.curve_fit(models.decay, X, data[0], p0=P0)
    experimental = numba.core.errors.NumbaExperimentalFeatureWarning
    assert [str(w.message) for w in caught if issubclass(w.category, experimental)] == []


def _peak_at_the_edge():
    """Data set 272 of benchmarks/many_fits.py's harder family (seed 0): a narrow
    peak (centre 0.61, width 0.34) at the edge of 64 points on [0, 10], a
    sloped background, from that family's generic start."""
    m, rng = 2000, np.random.default_rng(0)
    true = np.column_stack([rng.uniform(1, 5, m), rng.uniform(0.5, 9.5, m),
                            rng.uniform(0.3, 3.0, m), rng.uniform(-0.5, 0.5, m),
                            rng.uniform(-0.05, 0.05, m)])
    x = np.linspace(0.0, 10.0, 64)
    y = models.peak(x, *true[272]) + 0.1 * rng.normal(size=(m, 64))[272]
    return x, y, np.array([1.0, 5.0, 1.0, 0.0, 0.0])


def test_where_the_fast_finish_runs_off_the_finish_from_p0_is_tried_on_both_paths():
    # From Rprop's bracketing point, Levenberg-Marquardt runs the peak off the
    # data (a parabola, amplitude ~1e6) and spends its budget; from p0 it
    # converges, as in SciPy, to a point it vouches for. That point ends the
    # search: before, the robust rounds followed the runaway (18,516 calls in
    # the batch; 38,000 and RuntimeError in Python) to a worse cost.
    x, y, p0 = _peak_at_the_edge()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        scipy_popt = optimize.curve_fit(models.peak.py_func, x, y, p0=p0)[0]
    best = 0.5 * np.sum((models.peak(x, *scipy_popt) - y) ** 2)
    popt, _, info, mesg, _ = signmin.curve_fit(models.peak.py_func, x, y, p0=p0,
                                               full_output=True)
    assert info["cost"] == pytest.approx(best, rel=1e-9)
    assert "finish's from p0" in mesg and info["nfev"] < 2000
    row = curve_fit_many(models.peak, x, y[np.newaxis], p0=p0)
    assert row.cost[0] == pytest.approx(best, rel=1e-9) and row.nfev[0] < 2000


def test_an_exception_in_the_model_ends_the_call_instead_of_giving_a_row():
    # The driver takes some of its own pieces through numba's C wrapper, which
    # cannot pass an exception on (batch._Pointer); the model, and what calls
    # it, must not be among them: a fit whose model raised must not yield a row.
    y = np.array([2.0 * np.exp(-X), 0.5 * np.exp(-X)])
    with pytest.raises((SystemError, RuntimeError, ValueError)):
        curve_fit_many(models.raises_past, X, y, p0=[1.0, 1.0])
