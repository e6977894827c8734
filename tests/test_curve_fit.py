"""``signmin.curve_fit`` against ``scipy.optimize.curve_fit`` and ``least_squares``."""

import warnings
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import optimize
from scipy.optimize import Bounds, OptimizeWarning

import signmin
from signmin import curve_fit, datasets
from signmin.lsq import residuals as residuals_module

RTOL_POPT = 1e-6
RTOL_PCOV = 1e-3


def decay(x, a, b, c):
    return a * np.exp(-b * x) + c


def decay_jac(x, a, b, c):
    e = np.exp(-b * x)
    return np.column_stack([e, -a * x * e, np.ones_like(x)])


@pytest.fixture
def data():
    rng = np.random.default_rng(1)
    x = np.linspace(0, 4, 60)
    return x, decay(x, 2.5, 1.3, 0.5) + 0.05 * rng.normal(size=x.size)


@pytest.fixture
def outliers(data):
    x, y = data
    y = y.copy()
    y[::7] += 2.0
    return x, y


def assert_same_fit(ours, theirs):
    assert_allclose(ours[0], theirs[0], rtol=RTOL_POPT)
    assert_allclose(ours[1], theirs[1], rtol=RTOL_PCOV)


def test_is_exported_from_the_package():
    assert signmin.curve_fit is curve_fit
    assert "curve_fit" in signmin.__all__


def test_fit_and_covariance_match_scipy(data):
    x, y = data
    assert_same_fit(curve_fit(decay, x, y, p0=[1, 1, 1]),
                    optimize.curve_fit(decay, x, y, p0=[1, 1, 1]))


def test_fit_matches_scipy_without_the_polish(data):
    x, y = data
    popt, pcov, info, _, _ = curve_fit(decay, x, y, p0=[1, 1, 1], polish=False,
                                       full_output=True)
    assert not info["polished"] and info["polish"] is None
    assert_same_fit((popt, pcov), optimize.curve_fit(decay, x, y, p0=[1, 1, 1]))


def test_full_output_reports_residuals_cost_counts_and_the_stopping_rule(data):
    x, y = data
    calls = []

    def model(x, a, b, c):
        calls.append(1)
        return decay(x, a, b, c)

    popt, pcov, info, mesg, ier = curve_fit(model, x, y, p0=[1, 1, 1], full_output=True)
    assert_allclose(info["fvec"], model(x, *popt) - y)
    assert info["cost"] == pytest.approx(0.5 * np.sum(info["fvec"] ** 2))
    assert info["nfev"] == len(calls) - 1 and info["njev"] == 0
    # The rule that stopped Rprop's last run: a converged one, or (the first,
    # bracketing run, when the least-squares finish from its point is kept) the bracket.
    assert info["nit"] > 0 and info["status"] in (0, 1, 2, signmin.Status.BRACKETED)
    assert isinstance(info["message"], str) and info["message"] in mesg
    assert ier in (1, 2, 3, 4)


def first_call_recorder():
    """A model equal to ``decay`` that records the parameters of its first call."""
    starts = []

    def model(x, a, b, c):
        if not starts:
            starts.append((a, b, c))
        return decay(x, a, b, c)

    return model, starts


def test_p0_none_starts_from_ones_counted_from_the_signature(data):
    x, y = data
    model, starts = first_call_recorder()
    popt, pcov = curve_fit(model, x, y)
    assert starts == [(1.0, 1.0, 1.0)]
    assert_same_fit((popt, pcov), optimize.curve_fit(decay, x, y))


def test_p0_none_under_bounds_starts_where_scipy_does(data):
    x, y = data
    model, starts = first_call_recorder()

    curve_fit(model, x, y, bounds=([0, 0, -np.inf], [4, np.inf, 1]))
    assert starts == [(2.0, 1.0, 0.0)]


def test_p0_none_without_a_countable_signature_raises(data):
    x, y = data
    with pytest.raises(ValueError, match="number of fit parameters"):
        curve_fit(lambda *p: decay(*p), x, y)


def test_two_predictors_reach_the_model_in_their_own_shape():
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 2, size=(2, 40))

    def plane(x, a, b, c):
        assert x.shape == (2, 40)
        return a * x[0] + b * np.exp(-c * x[1])

    y = plane(x, 1.5, 2.0, 0.7) + 0.01 * rng.normal(size=40)
    assert_same_fit(curve_fit(plane, x, y, p0=[1, 1, 1]),
                    optimize.curve_fit(plane, x, y, p0=[1, 1, 1]))


def test_xdata_that_is_not_an_array_reaches_the_model_untouched(data):
    x, y = data
    box = {"x": x}

    def model(xd, a, b, c):
        assert xd is box
        return decay(xd["x"], a, b, c)

    popt, _ = curve_fit(model, box, y, p0=[1, 1, 1])
    assert_allclose(popt, optimize.curve_fit(decay, x, y, p0=[1, 1, 1])[0], rtol=RTOL_POPT)


def test_one_dimensional_sigma_weights_the_residuals_like_scipy(data):
    x, y = data
    sigma = np.linspace(0.5, 2.0, x.size)
    assert_same_fit(curve_fit(decay, x, y, p0=[1, 1, 1], sigma=sigma),
                    optimize.curve_fit(decay, x, y, p0=[1, 1, 1], sigma=sigma))


def test_two_dimensional_sigma_is_a_covariance_like_scipy(data):
    x, y = data
    i = np.arange(x.size)
    cov = 0.01 * 0.6 ** np.abs(i[:, None] - i[None, :])
    ours = curve_fit(decay, x, y, p0=[1, 1, 1], sigma=cov, full_output=True)
    theirs = optimize.curve_fit(decay, x, y, p0=[1, 1, 1], sigma=cov, full_output=True)
    assert_same_fit(ours, theirs)
    assert_allclose(ours[2]["fvec"], theirs[2]["fvec"], rtol=1e-5, atol=1e-9)


def test_a_covariance_that_is_not_positive_definite_is_refused(data):
    x, y = data
    with pytest.raises(ValueError, match="positive definite"):
        curve_fit(decay, x, y, p0=[1, 1, 1], sigma=-np.eye(x.size))


@pytest.mark.parametrize("sigma", [0.3, "vector", "matrix"])
def test_absolute_sigma_leaves_pcov_unscaled_like_scipy(data, sigma):
    x, y = data
    sigma = {"vector": np.full(x.size, 0.05), "matrix": 0.0025 * np.eye(x.size)}.get(
        sigma, sigma)
    ours = curve_fit(decay, x, y, p0=[1, 1, 1], sigma=sigma, absolute_sigma=True)
    theirs = optimize.curve_fit(decay, x, y, p0=[1, 1, 1], sigma=sigma, absolute_sigma=True)
    assert_same_fit(ours, theirs)
    relative = curve_fit(decay, x, y, p0=[1, 1, 1], sigma=sigma)[1]
    assert not np.allclose(ours[1], relative)


@pytest.mark.parametrize("as_bounds_object", [False, True])
def test_active_bounds_give_scipys_constrained_fit(data, as_bounds_object):
    x, y = data
    lb, ub = 0, [3.0, 1.0, 0.5]
    bounds = Bounds(lb, ub) if as_bounds_object else (lb, ub)
    popt, pcov = curve_fit(decay, x, y, p0=[1, 0.5, 0.2], bounds=bounds)
    spopt, spcov = optimize.curve_fit(decay, x, y, p0=[1, 0.5, 0.2], bounds=(lb, ub))
    assert popt[1] == 1.0
    assert_allclose(popt, spopt, rtol=RTOL_POPT)
    assert_allclose(pcov, spcov, rtol=RTOL_PCOV, atol=1e-12)


def test_rprop_alone_stops_at_an_active_bound(data):
    x, y = data
    popt, _ = curve_fit(decay, x, y, p0=[1, 0.5, 0.2], bounds=(0, [3.0, 1.0, 0.5]),
                        polish=False)
    spopt, _ = optimize.curve_fit(decay, x, y, p0=[1, 0.5, 0.2], bounds=(0, [3.0, 1.0, 0.5]))
    assert_allclose(popt, spopt, rtol=RTOL_POPT)


def test_finite_differences_never_leave_the_bounds(data):
    x, y = data

    def model(x, a, b, c):
        assert 0.9 <= b <= 1.0, "stepped outside the bounds"
        return decay(x, a, b, c)

    popt, _ = curve_fit(model, x, y, p0=[1, 0.95, 0.2],
                        bounds=([-np.inf, 0.9, -np.inf], [np.inf, 1.0, np.inf]))
    assert popt[1] == 1.0


def test_a_start_outside_the_bounds_is_refused_as_in_scipy(data):
    x, y = data
    with pytest.raises(ValueError, match="infeasible"):
        curve_fit(decay, x, y, p0=[1, 2, 1], bounds=(0, 1.5))


def test_a_callable_jacobian_is_used_and_gives_the_same_fit(data):
    x, y = data
    sigma = np.linspace(0.5, 2.0, x.size)
    popt, pcov, info, _, _ = curve_fit(decay, x, y, p0=[1, 1, 1], sigma=sigma, jac=decay_jac,
                                       full_output=True)
    assert info["njev"] > 0
    assert_same_fit((popt, pcov), optimize.curve_fit(decay, x, y, p0=[1, 1, 1], sigma=sigma,
                                                     jac=decay_jac))


@pytest.mark.parametrize("scheme", ["2-point", "3-point"])
def test_named_difference_schemes_give_the_same_fit(data, scheme):
    x, y = data
    assert_same_fit(curve_fit(decay, x, y, p0=[1, 1, 1], jac=scheme),
                    optimize.curve_fit(decay, x, y, p0=[1, 1, 1]))


def test_an_unknown_jac_is_refused(data):
    x, y = data
    with pytest.raises(ValueError, match="jac"):
        curve_fit(decay, x, y, p0=[1, 1, 1], jac="5-point")


def test_nan_in_the_data_is_a_value_error_by_default(data):
    x, y = data
    y = y.copy()
    y[3] = np.nan
    with pytest.raises(ValueError, match="infs or NaNs"):
        curve_fit(decay, x, y, p0=[1, 1, 1])
    x = x.copy()
    x[5] = np.inf
    with pytest.raises(ValueError, match="infs or NaNs"):
        curve_fit(decay, x, data[1], p0=[1, 1, 1])


def test_check_finite_false_lets_nan_reach_the_model(data):
    x, y = data
    y = y.copy()
    y[3] = np.nan
    with pytest.raises(RuntimeError, match="non-finite"):
        curve_fit(decay, x, y, p0=[1, 1, 1], check_finite=False)


def test_nan_policy_raise_refuses_nan(data):
    x, y = data
    y = y.copy()
    y[3] = np.nan
    with pytest.raises(ValueError, match="contains nan"):
        curve_fit(decay, x, y, p0=[1, 1, 1], nan_policy="raise")


def test_nan_policy_raise_passes_clean_data(data):
    x, y = data
    popt, _ = curve_fit(decay, x, y, p0=[1, 1, 1], nan_policy="raise")
    assert_allclose(popt, optimize.curve_fit(decay, x, y, p0=[1, 1, 1])[0], rtol=RTOL_POPT)


@pytest.mark.parametrize("sigma_ndim", [0, 1, 2])
def test_nan_policy_omit_drops_those_points_like_scipy(data, sigma_ndim):
    x, y = data
    x, y = x.copy(), y.copy()
    x[4] = np.nan
    y[10] = np.nan
    sigma = [None, np.linspace(0.5, 2.0, x.size), 0.01 * np.eye(x.size)][sigma_ndim]
    kw = dict(p0=[1, 1, 1], sigma=sigma, nan_policy="omit")
    assert_same_fit(curve_fit(decay, x, y, **kw), optimize.curve_fit(decay, x, y, **kw))


@pytest.mark.parametrize("policy", ["propagate", "ignore"])
def test_nan_policies_scipy_refuses_are_refused(data, policy):
    x, y = data
    with pytest.raises(ValueError, match="nan_policy"):
        curve_fit(decay, x, y, p0=[1, 1, 1], nan_policy=policy)


def test_empty_ydata_is_refused():
    with pytest.raises(ValueError, match="empty"):
        curve_fit(decay, [], [], p0=[1, 1, 1])


@pytest.mark.parametrize("loss", ["linear", "soft_l1", "huber", "cauchy", "arctan"])
def test_robust_losses_reach_least_squares_optimum_and_scipys_pcov(outliers, loss):
    x, y = outliers
    ls = optimize.least_squares(lambda p: decay(x, *p) - y, [1, 1, 1], loss=loss,
                                f_scale=0.1, method="trf", x_scale="jac", ftol=1e-15,
                                xtol=1e-15, gtol=1e-15)
    popt, pcov, info, _, _ = curve_fit(decay, x, y, p0=[1, 1, 1], loss=loss, f_scale=0.1,
                                       full_output=True)
    assert_allclose(popt, ls.x, rtol=RTOL_POPT)
    assert info["cost"] == pytest.approx(ls.cost, rel=1e-9)
    _, spcov = optimize.curve_fit(decay, x, y, p0=[1, 1, 1], loss=loss, f_scale=0.1,
                                  method="trf", x_scale="jac", ftol=1e-15, xtol=1e-15,
                                  gtol=1e-15)
    assert_allclose(pcov, spcov, rtol=RTOL_PCOV)


def test_rprop_alone_reaches_the_robust_optimum(outliers):
    x, y = outliers
    ls = optimize.least_squares(lambda p: decay(x, *p) - y, [1, 1, 1], loss="soft_l1",
                                f_scale=0.1, ftol=1e-15, xtol=1e-15, gtol=1e-15)
    popt, _ = curve_fit(decay, x, y, p0=[1, 1, 1], loss="soft_l1", f_scale=0.1, polish=False)
    assert_allclose(popt, ls.x, rtol=RTOL_POPT)


def test_a_callable_loss_follows_least_squares_convention(outliers):
    x, y = outliers

    def soft_l1(z):
        t = 1 + z
        return np.vstack([2 * (t ** 0.5 - 1), t ** -0.5, -0.5 * t ** -1.5])

    ours = curve_fit(decay, x, y, p0=[1, 1, 1], loss=soft_l1, f_scale=0.1)
    named = curve_fit(decay, x, y, p0=[1, 1, 1], loss="soft_l1", f_scale=0.1)
    assert_allclose(ours[0], named[0], rtol=1e-12)


def test_an_unknown_loss_is_refused(data):
    x, y = data
    with pytest.raises(ValueError, match="loss"):
        curve_fit(decay, x, y, p0=[1, 1, 1], loss="l1")


def test_as_many_parameters_as_points_gives_inf_pcov_and_a_warning_like_scipy():
    x, y = np.array([0.0, 1.0, 2.0]), np.array([3.0, 1.5, 1.0])
    with pytest.warns(OptimizeWarning, match="Covariance"):
        popt, pcov = curve_fit(decay, x, y, p0=[2, 1, 1])
    with pytest.warns(OptimizeWarning, match="Covariance"):
        spopt, spcov = optimize.curve_fit(decay, x, y, p0=[2, 1, 1], method="trf")
    assert_allclose(popt, spopt, rtol=1e-6)
    assert np.all(np.isinf(pcov)) and np.all(np.isinf(spcov))


@pytest.mark.parametrize("redundancy", ["ignored", "product"])
def test_a_parameter_the_data_do_not_determine_gives_inf_pcov_and_a_warning(data, redundancy):
    x, y = data

    def model(x, a, b, c, d):
        # d either does nothing or only ever appears in the product a * d.
        return decay(x, a * d, b, c) if redundancy == "product" else decay(x, a, b, c) + 0 * d

    with pytest.warns(OptimizeWarning, match="Covariance"):
        popt, pcov = curve_fit(model, x, y, p0=[1, 1, 1, 1])
    assert np.all(np.isinf(pcov))
    assert_allclose(model(x, *popt), model(x, *optimize.curve_fit(decay, x, y)[0], 1),
                    rtol=1e-6)
    if redundancy == "ignored":
        # SciPy's default path agrees.
        with pytest.warns(OptimizeWarning, match="Covariance"):
            _, spcov = optimize.curve_fit(model, x, y, p0=[1, 1, 1, 1])
        assert np.all(np.isinf(spcov))


def test_options_reach_minimize_rprop(data):
    x, y = data
    seen = []
    # 3 steps: fewer than the first run takes to bracket the minimum (5 here).
    popt, _, info, _, _ = curve_fit(decay, x, y, p0=[1, 1, 1], variant="rprop-",
                                    maxiter=3, callback=lambda xk: seen.append(xk),
                                    full_output=True)
    assert len(seen) == 3 == info["nit"]
    assert info["status"] == 3 and info["polished"]


def test_args_is_refused_as_in_scipy(data):
    x, y = data
    with pytest.raises(ValueError, match="args"):
        curve_fit(decay, x, y, p0=[1, 1, 1], args=(1,))


def test_a_run_that_converges_nowhere_raises_runtime_error(data):
    x, y = data
    with pytest.raises(RuntimeError, match="Optimal parameters not found"):
        curve_fit(decay, x, y, p0=[1, 1, 1], maxiter=3, polish=False)


def test_a_worse_polished_point_is_never_returned(data, monkeypatch):
    x, y = data
    rprop_only = curve_fit(decay, x, y, p0=[1, 1, 1], polish=False)[0]

    def worse(fun, x0, **kwargs):
        x_bad = np.asarray(x0) * 1.01
        return optimize.OptimizeResult(x=x_bad, fun=fun(x_bad), success=True, status=1,
                                       message="moved away")

    # Both finishes: least_squares' trust region and MINPACK's Levenberg-Marquardt.
    # (Patched where curve_fit looks them up: pytest's doctest collection can
    # import signmin/lsq/curve_fit.py a second time, as another module object.)
    for name in ("least_squares", "_levenberg_marquardt"):
        monkeypatch.setitem(curve_fit.__globals__, name, worse)
    popt, _, info, mesg, _ = curve_fit(decay, x, y, p0=[1, 1, 1], full_output=True)
    assert_allclose(popt, rprop_only, rtol=0)
    assert not info["polished"] and "discarded" in mesg


def test_every_nist_model_reproduces_its_certified_residual_sum_of_squares():
    for name in datasets.NIST_NAMES:
        d = datasets.load_nist(name)
        rss = np.sum((d.ydata - d.model(d.xdata, *d.certified)) ** 2)
        if name == "Lanczos1":
            # Certified values carry 11 digits; the exact data leave ~1e-21.
            assert rss < 1e-19
        else:
            assert rss == pytest.approx(d.certified_rss, rel=1e-9), name


def test_lre_counts_correct_digits_of_the_worst_parameter():
    assert datasets.lre([1.0001, 2.0], [1.0, 2.0]) == pytest.approx(4.0)
    assert datasets.lre([1.0, 2.0], [1.0, 2.0]) == 11.0
    assert datasets.lre([3.0, 2.0], [1.0, 2.0]) == 0.0
    assert datasets.lre([np.nan, 2.0], [1.0, 2.0]) == 0.0


def test_rprop_and_polish_take_turns_where_neither_converges_alone():
    # From MGH10's first start Rprop's steps collapse in a curved valley and
    # the polish runs out of evaluations; fresh Rprop runs between polishes get there.
    d = datasets.load_nist("MGH10")
    with np.errstate(over="ignore"):  # exp overflows on the way
        popt, _, info, mesg, _ = curve_fit(d.model, d.xdata, d.ydata, p0=d.starts[0],
                                           full_output=True)
    assert info["rounds"] > 1 and "Round" in mesg
    assert datasets.lre(popt, d.certified) >= 6


def test_the_nist_data_ship_inside_the_package(monkeypatch, tmp_path):
    # Nothing is read from beside the repository: a fresh clone or an installed
    # wheel has all 27 files, wherever it is run from.
    data = resources.files("signmin.datasets") / "nist_strd"
    shipped = sorted(p.name for p in data.iterdir() if p.name.endswith(".dat"))
    assert shipped == sorted(f"{name}.dat" for name in datasets.NIST_NAMES)
    assert Path(str(data)).resolve().is_relative_to(Path(signmin.__file__).resolve().parent)
    monkeypatch.chdir(tmp_path)
    d = datasets.load_nist("Misra1a")
    assert d.difficulty == "lower" and d.starts.shape == (2, 2)
    assert_allclose(d.certified_std, [2.7070075241e00, 7.2668688436e-06], rtol=1e-12)
    with pytest.raises(ValueError, match="unknown NIST data set"):
        datasets.load_nist("misra1a")


@pytest.mark.parametrize("start", [0, 1], ids=["start1", "start2"])
@pytest.mark.parametrize("name", datasets.NIST_DIFFICULTY["lower"])
def test_lower_difficulty_nist_problems_are_solved_to_six_digits(name, start):
    d = datasets.load_nist(name)
    popt, _ = curve_fit(d.model, d.xdata, d.ydata, p0=d.starts[start])
    assert datasets.lre(popt, d.certified) >= 6


# --- The fast way in: Rprop until bracketed, then the least-squares finish ---------------

def peak(x, a, mu, s, c):
    return a * np.exp(-0.5 * ((x - mu) / s) ** 2) + c


def test_the_fast_way_brackets_then_finishes_with_levenberg_marquardt(data):
    x, y = data
    popt, pcov, info, mesg, ier = curve_fit(decay, x, y, p0=[1, 1, 1], full_output=True)
    assert info["rounds"] == 1 and info["status"] == signmin.Status.BRACKETED
    assert info["polished"] and info["polish"].method == "lm" and ier in (1, 2, 3, 4)
    assert "bracketed" in mesg and "Levenberg-Marquardt" in mesg
    assert_same_fit((popt, pcov), optimize.curve_fit(decay, x, y, p0=[1, 1, 1]))


def test_the_fast_way_takes_few_calls_of_the_model(data):
    # A guard on the speed that does not depend on the machine: the calls of
    # the model (a call with columns of parameters counts once). Rprop to its
    # own stop first, as before the fast way, takes 127 here.
    x, y = data
    for vectorize, most in ((None, 45), (False, 85)):
        info = curve_fit(decay, x, y, p0=[1, 1, 1], vectorize=vectorize, full_output=True)[2]
        assert info["nfev"] <= most, (vectorize, info["nfev"])


def test_until_bracketed_false_runs_rprop_to_its_own_stop_first(data):
    x, y = data
    popt, pcov, info, _, _ = curve_fit(decay, x, y, p0=[1, 1, 1], until_bracketed=False,
                                       full_output=True)
    assert info["status"] in (0, 1, 2) and info["polish"].get("method") != "lm"
    assert_same_fit((popt, pcov), optimize.curve_fit(decay, x, y, p0=[1, 1, 1]))


def test_a_finish_that_does_not_converge_hands_over_to_rprop_to_its_own_stop(data, monkeypatch):
    x, y = data
    robust = curve_fit(decay, x, y, p0=[1, 1, 1], until_bracketed=False, full_output=True)

    def stuck(fun, x0, **kwargs):
        return optimize.OptimizeResult(x=x0, fun=fun(x0), success=False, status=0,
                                       message="stuck", method="lm", exact=False)

    monkeypatch.setitem(curve_fit.__globals__, "_levenberg_marquardt", stuck)
    popt, _, info, mesg, _ = curve_fit(decay, x, y, p0=[1, 1, 1], full_output=True)
    # The robust way from p0 again, exactly, after the first, bracketing run.
    assert_allclose(popt, robust[0], rtol=0)
    assert info["rounds"] == robust[2]["rounds"] + 1 and info["nit"] > robust[2]["nit"]
    assert "did not converge" in mesg


def test_a_peak_scipy_misses_from_a_generic_start_is_found():
    # A peak near the edge of the window, from the generic start.
    x = np.linspace(-5, 5, 64)
    rng = np.random.default_rng(0)
    true = [1.3, -2.7, 1.4, -0.14]
    y = peak(x, *true) + 0.05 * rng.normal(size=x.size)
    best = optimize.least_squares(lambda p: peak(x, *p) - y, true, method="lm").cost
    popt, _, info, mesg, _ = curve_fit(peak, x, y, p0=[1, 0, 1, 0], full_output=True)
    assert info["cost"] == pytest.approx(best, rel=1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        spopt, _ = optimize.curve_fit(peak, x, y, p0=[1, 0, 1, 0])
    assert 0.5 * np.sum((peak(x, *spopt) - y) ** 2) > 2 * best


def test_a_model_that_does_not_broadcast_is_called_point_by_point(data):
    x, y = data
    shapes = []

    def scalar_only(x, a, b, c):
        shapes.append(np.shape(a))
        return float(a) * np.exp(-float(b) * x) + float(c)  # float() of 3 values raises

    popt, _, info, _, _ = curve_fit(scalar_only, x, y, p0=[1, 1, 1], full_output=True)
    # The first call is at p0 itself; one with the 3 forward-difference points
    # as columns fails; every other call is with scalars.
    assert shapes[0] == () and shapes.count((3, 1)) == 1 and len(set(shapes)) == 2
    assert_allclose(popt, curve_fit(decay, x, y, p0=[1, 1, 1], vectorize=False)[0], rtol=0)


def test_a_model_that_broadcasts_to_other_values_is_called_point_by_point(data):
    x, y = data

    def mixes_rows(x, a, b, c):
        # Right for one point; with columns, the mean mixes the rows.
        return np.mean(a) * np.exp(-b * x) + c

    popt, pcov = curve_fit(mixes_rows, x, y, p0=[1, 1, 1])
    assert_same_fit((popt, pcov), optimize.curve_fit(decay, x, y, p0=[1, 1, 1]))


def test_what_a_model_broadcasts_is_found_out_once_per_model_and_data_shapes(data):
    x, y = data
    shapes = []

    def model(x, a, b, c):
        shapes.append(np.shape(a))
        return decay(x, a, b, c)

    def scalar_only(x, a, b, c):
        shapes.append(np.shape(a))
        return float(a) * np.exp(-float(b) * x) + float(c)

    first = curve_fit(model, x, y, p0=[1, 1, 1])[0]
    assert shapes[0] == () and (3, 1) in shapes  # checked: scalars first, then columns
    shapes.clear()
    again = curve_fit(model, x, y, p0=[1, 1, 1])[0]
    assert shapes[0] == (4, 1)  # remembered: columns (the point and 3 steps) from the first call
    assert_allclose(again, first, rtol=1e-8)
    shapes.clear()
    curve_fit(model, x[:-1], y[:-1], p0=[1, 1, 1])
    assert shapes[0] == ()  # other data: checked again
    for _ in range(2):
        shapes.clear()
        curve_fit(scalar_only, x, y, p0=[1, 1, 1])
    assert set(shapes) == {()}  # a model that cannot broadcast is not tried again


def test_vectorize_false_only_ever_passes_scalars(data):
    x, y = data
    shapes = set()

    def model(x, a, b, c):
        shapes.add(np.shape(a))
        return decay(x, a, b, c)

    curve_fit(model, x, y, p0=[1, 1, 1], vectorize=False)
    assert shapes == {()}


def test_vectorized_differences_are_approx_derivatives_to_the_last_bit():
    rng = np.random.default_rng(3)
    x = np.linspace(-5, 5, 64)
    y = rng.normal(size=x.size)
    inf = np.full(4, np.inf)
    for scheme in ("2-point", "3-point"):
        for vectorize in (False, True):
            res = residuals_module.Residuals(peak, x, y, 1 / np.linspace(0.5, 2, x.size), None,
                                        scheme, None, 1.0, (-inf, inf), vectorize)
            for _ in range(50):
                p = rng.normal(size=4) * 10.0 ** rng.integers(-8, 5, size=4)
                p[rng.integers(4)] = 0.0
                with np.errstate(all="ignore"):  # a width of 0
                    expected = optimize._numdiff.approx_derivative(
                        res, p, method=scheme, rel_step=residuals_module._REL_STEP[scheme],
                        f0=res(p))
                    assert np.array_equal(res.jacobian(p, res(p)), expected, equal_nan=True)


def test_every_nist_problem_from_both_starts_to_six_digits():
    lre = []
    for name in datasets.NIST_NAMES:
        d = datasets.load_nist(name)
        for start in d.starts:
            # exp overflows on the way; a fit that misses has no covariance.
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", OptimizeWarning)
                try:
                    popt, _ = curve_fit(d.model, d.xdata, d.ydata, p0=start)
                except RuntimeError:
                    popt = np.full(d.certified.size, np.nan)
            lre.append(datasets.lre(popt, d.certified))
    assert all(v >= 6 for v in lre), lre


def test_a_parameter_run_off_until_the_residuals_no_longer_see_it_is_put_back_to_p0():
    # BoxBOD from NIST's first start (1, 1): the rate b2 of b1 (1 - exp(-b2 x))
    # runs off to about 33, where exp(-b2 x) is below rounding beside 1 and its
    # column of J is zero; every search ends on that plateau (b1 the mean of y,
    # cost 4886). With b2 put back to 1, the finish converges to the certified values.
    d = datasets.load_nist("BoxBOD")
    with np.errstate(all="ignore"):
        popt, pcov, info, mesg, ier = curve_fit(d.model, d.xdata, d.ydata, p0=d.starts[0],
                                                full_output=True)
    assert datasets.lre(popt, d.certified) >= 6, popt
    assert "put back to p0" in mesg and info["polished"]
    assert np.isfinite(pcov).all()


def saturation_lost_at_the_start():
    """Misra1a-like data, b1 (1 - exp(-b2 x)), and a start whose rate is 10,000 times
    too large: exp(-5.5 x) is below rounding beside 1 on all of x from the first
    call, so b2 never gets a sign; and the optimum, from a start at the truth."""
    x = np.linspace(10, 800, 30)
    rng = np.random.default_rng(0)
    y = 240.0 * (1 - np.exp(-5.5e-4 * x)) * (1 + 0.01 * rng.normal(size=x.size))
    best = optimize.least_squares(lambda p: p[0] * (1 - np.exp(-p[1] * x)) - y,
                                  [240.0, 5.5e-4], method="lm", xtol=1e-15, ftol=1e-15).x
    return x, y, [24.0, 5.5], best


def test_a_parameter_lost_from_the_start_is_walked_until_the_residuals_see_it():
    x, y, p0, best = saturation_lost_at_the_start()
    with np.errstate(all="ignore"):
        popt, _, info, mesg, _ = curve_fit(lambda x, b1, b2: b1 * (1 - np.exp(-b2 * x)), x, y,
                                           p0=p0, full_output=True)
    assert_allclose(popt, best, rtol=1e-6)
    assert "walked from p0" in mesg


def test_the_robust_rounds_end_when_a_round_gains_next_to_nothing(data, monkeypatch):
    # A finish that never converges and lowers the cost by a millionth each time
    # (a fit running off along a degenerate direction, each polish at its full
    # budget): the rounds stop after the first one that gains less than
    # ROUND_GAIN, instead of going on to MAX_ROUNDS.
    x, y = data
    polishes = []

    def creeping(fun, x0, **kwargs):
        polishes.append(1)
        r = fun(x0) * (1 - 1e-6 * len(polishes))
        return optimize.OptimizeResult(x=x0, fun=r, success=False, status=0,
                                       message="creeping", method="trf", exact=True)

    def stuck(fun, x0, **kwargs):
        return optimize.OptimizeResult(x=x0, fun=fun(x0), success=False, status=0,
                                       message="stuck", method="lm", exact=False)

    monkeypatch.setitem(curve_fit.__globals__, "_levenberg_marquardt", stuck)
    monkeypatch.setitem(curve_fit.__globals__, "least_squares", creeping)
    with pytest.raises(RuntimeError, match="Optimal parameters not found"):
        curve_fit(decay, x, y, p0=[1, 1, 1])
    # Two tries of the robust way (the second with pattern moves), two rounds each.
    assert len(polishes) == 4
