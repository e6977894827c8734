"""Objectives of real models, from packages no one here wrote, for ``benchmarks/real_models.py``.

Every problem is a fit that a user of statsmodels or scikit-learn runs, with
data that ship inside the package (nothing is downloaded, nothing outside the
installed packages is read) and the start the package's own ``fit`` would
take (each builder says which). The test problems of ``robustness.py`` are
textbook functions with known minima; these are the objectives signmin is
meant for, with their scaling faults left in: raw unscaled features (areas
in the thousands beside smoothness near 0.1), counts over 20,000 rows, GLM
coefficients from 1e-7 to 1e-2 side by side.

* statsmodels likelihoods: f = -loglike(x) / nobs and g = -score(x) / nobs,
  what ``LikelihoodModel.fit`` minimises (it divides by nobs too). The
  negative binomial's dispersion enters as log(alpha), as its own fit does
  it. GLMs with the scale fixed at 1, as statsmodels' gradient fits of a GLM
  do, from one IRLS step rather than the default three (``_glm`` says why).
* scikit-learn's Gaussian process regression: f = -log_marginal_likelihood
  over the kernel's log-hyperparameters theta, in the kernel's own bounds,
  from the kernel's initial theta, what ``GaussianProcessRegressor.fit``
  hands to L-BFGS-B. These are the bounded problems.
* Logistic and softmax regression on scikit-learn's bundled data sets, raw
  features, written here in numpy: the loss sklearn's lbfgs solver minimises
  for ``LogisticRegression(C=1)``, mean log-loss + ||W||² / (2 C n_samples),
  intercepts not penalised; x0 = 0 (sklearn's own start).

Gradients. Each problem's gradient is checked against Ridders-extrapolated
central differences of f, coordinate by coordinate, at x0 (`gradient_error`;
``real_models.py`` prints the figures, and with ``--reference`` also halfway
from x0 to the minimum). Two statsmodels gradients are replaced (the
problem keeps the package's one as ``jac_package``, and the check shows it
too):

* statsmodels state-space models (SARIMAX, ARIMA, UnobservedComponents):
  ``score(u, transformed=False)``, the gradient ``MLEModel.fit`` itself
  optimises with, is ``J @ s`` where the chain rule wants ``J.T @ s`` (J the
  Jacobian of ``transform_params`` at u, s the score in the constrained
  parameters). The two agree only while J is diagonal: AR and MA orders of
  at most 1 (ARMA(1,1) on the sunspots: relative error 1e-8; the
  local-linear-trend model's three variances: 8e-9). With SARIMAX(2,0,1) on
  the sunspots the error is 0.35 at the start (AR(2): 1.0, AR(3): 0.9;
  ARIMA(3,0,0) of ``statsmodels.tsa.arima``: 1.2). Here g = J.T @ s from
  statsmodels' own J (made centred) and s (complex step): error 8e-10.
* ``OrderedModel.score`` is right (6e-10 to 8e-10) but is a centred finite
  difference of the whole log-likelihood (``GenericLikelihoodModel``), 2n
  log-likelihoods a gradient, 7 to 8 times the time of the analytic
  derivative of statsmodels' own loglike written here (2e-13 to 4e-13),
  which is used instead.

Dropped: ARIMA of ``statsmodels.tsa.arima`` (the same state-space score, the
same fault and fix as SARIMAX: one of the two is enough).

Reference values. ``FSTAR`` holds, for each problem, the lowest f found by
`reference_minimum`: BFGS (gtol 1e-12) then L-BFGS-B with ftol = gtol = 0
from its point, L-BFGS-B the same way round, trust-constr (gtol 1e-12),
and for the GLMs L-BFGS-B from statsmodels' own IRLS fit. They were
computed with statsmodels 0.15.0, scikit-learn 1.9.1, numpy 2.4.6 and scipy
1.17.1 (``python benchmarks/real_models.py --reference`` recomputes and
prints them); a problem missing from ``FSTAR`` has its f* computed when it
is built.

Every problem is built on request: statsmodels and scikit-learn are imported
only then, and a missing package makes `build` skip its problems with a
printed note.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class RealProblem:
    """One objective: ``fun(x) -> float``, ``jac(x) -> ndarray``, a start and maybe a box."""

    name: str
    package: str
    data: str  # which bundled data set, and which part of it
    start: str  # where x0 comes from
    fun: Callable
    jac: Callable
    x0: np.ndarray
    bounds: list | None = None  # (low, high) pairs, or None
    fstar: float = np.nan
    jac_package: Callable | None = None  # the package's own gradient, where it was replaced
    #: () -> x: the package's own fit by another method, one more start for `reference_minimum`
    known: Callable | None = None
    n: int = field(init=False)

    def __post_init__(self):
        self.x0 = np.asarray(self.x0, dtype=float)
        self.n = self.x0.size

    @property
    def bounded(self) -> bool:
        return self.bounds is not None


#: The lowest f of `reference_minimum` for each problem (see the module docstring).
FSTAR: dict[str, float] = {
    "Logit spector": 0.40280106944160654,
    "Probit spector": 0.40058762715279495,
    "Poisson randhie": 3.0916091413793416,
    "NegativeBinomial randhie": 2.1487697908140477,
    "GeneralizedPoisson randhie": 2.1345471296998024,
    "ZeroInflatedPoisson randhie": 2.7403476731595653,
    "MNLogit anes96": 1.5486469780171037,
    "OrderedModel logit fair": 1.229921602272342,
    "OrderedModel probit anes96": 1.7041133115060538,
    "GLM Gamma scotland": 5.111060580633323,
    "GLM Binomial star98": 9.896411085788678,
    "SARIMAX(2,0,1) sunspots": 4.22374950090077,
    "UnobservedComponents nile": 6.298581908490079,
    "GP ARD diabetes": 168.36783365251807,
    "GP Mauna Loa co2": 94.35384133722206,
    "LogisticRegression breast_cancer": 0.09454237474601616,
    "Softmax iris": 0.19257544402728324,
    "Softmax wine": 0.06223571989679362,
    "Softmax digits": 0.009478214903668531,
}


# --------------------------------------------------------------------------- helpers
def _float_x(x):
    return np.asarray(x, dtype=float)


class _OnePoint:
    """f and g from one call of ``fg`` at the last x asked for.

    scikit-learn's GP computes its value and gradient in one call: without
    this, an optimiser that asks for f and then g at the same x pays two
    Cholesky factorisations. Evaluation counts are taken outside, so this
    changes the time of a run, not its count.
    """

    def __init__(self, fg):
        self.fg, self.x, self.value = fg, None, None

    def _at(self, x):
        x = _float_x(x)
        if self.x is None or not np.array_equal(self.x, x):
            self.value = self.fg(x)
            self.x = x.copy()
        return self.value

    def fun(self, x):
        return self._at(x)[0]

    def jac(self, x):
        return self._at(x)[1].copy()


def _quiet(fn):
    """``fn`` with warnings off: overflow and domain notes from trial points are expected."""
    def wrapped(x):
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return fn(x)
    return wrapped


def _likelihood(model, nobs=None, **kwargs):
    """f = -loglike / nobs and g = -score / nobs of a statsmodels model (as its fit does)."""
    nobs = model.endog.shape[0] if nobs is None else nobs

    def fun(x):
        return -float(model.loglike(_float_x(x), **kwargs)) / nobs

    def jac(x):
        return -np.asarray(model.score(_float_x(x), **kwargs), dtype=float).ravel() / nobs
    return _quiet(fun), _quiet(jac)


def _poisson_start(sm, endog, exog):
    """The preliminary Poisson fit that statsmodels' NB and GP ``fit`` start from."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sm.Poisson(endog, exog).fit(disp=0, skip_hessian=True, warn_convergence=False)


# --------------------------------------------------------------------------- statsmodels
def _spector(sm):
    d = sm.datasets.spector.load()
    return d.endog, sm.add_constant(d.exog, prepend=False)


def _randhie(sm):
    d = sm.datasets.randhie.load()
    return d.endog, sm.add_constant(d.exog, prepend=False)


def _binary_spector(kind):
    import statsmodels.api as sm

    y, X = _spector(sm)
    fun, jac = _likelihood(getattr(sm, kind)(y, X))
    # Logit and Probit have no start_params: LikelihoodModel.fit starts from zeros.
    return RealProblem(f"{kind} spector", "statsmodels", "spector (32 rows), GPA TUCE PSI + const",
                       "zeros (LikelihoodModel.fit)", fun, jac, np.zeros(X.shape[1]))


def logit_spector():
    return _binary_spector("Logit")


def probit_spector():
    return _binary_spector("Probit")


def poisson_randhie():
    import statsmodels.api as sm

    y, X = _randhie(sm)
    model = sm.Poisson(y, X)
    fun, jac = _likelihood(model)
    # What CountModel.fit starts from: 0.001 everywhere, log(mean y) for the constant.
    x0 = 0.001 * np.ones(X.shape[1])
    x0[model.data.const_idx] = model._get_start_params_null()[0]
    return RealProblem("Poisson randhie", "statsmodels",
                       "randhie (20,190 rows), mdvis on 9 + const",
                       "CountModel.fit: 0.001, const log(mean)", fun, jac, x0)


def negbin_randhie():
    import statsmodels.api as sm

    y, X = _randhie(sm)
    model = sm.NegativeBinomial(y, X)
    nobs = y.shape[0]
    # As NegativeBinomial.fit does for its gradient methods (_transparams): the
    # last parameter is log(alpha), so alpha > 0 holds without a bound.
    def params(u):
        u = _float_x(u)
        return np.append(u[:-1], np.exp(u[-1]))

    def fun(u):
        return -float(model.loglike(params(u))) / nobs

    def jac(u):
        p = params(u)
        g = -np.asarray(model.score(p), dtype=float) / nobs
        g[-1] *= p[-1]  # d/d log(alpha) = alpha d/d alpha
        return g
    poi = _poisson_start(sm, y, X)
    a = model._estimate_dispersion(poi.predict(), poi.resid, df_resid=poi.df_resid)
    x0 = np.append(poi.params, np.log(max(0.05, a)))
    return RealProblem("NegativeBinomial randhie", "statsmodels",
                       "randhie, mdvis on 9 + const; NB2, log(alpha)",
                       "NegativeBinomial.fit: Poisson fit, log(moment alpha)", _quiet(fun),
                       _quiet(jac), x0)


def genpoisson_randhie():
    import statsmodels.api as sm

    y, X = _randhie(sm)
    model = sm.GeneralizedPoisson(y, X)
    fun, jac = _likelihood(model)
    poi = _poisson_start(sm, y, X)
    a = model._estimate_dispersion(poi.predict(), poi.resid, df_resid=poi.df_resid)
    x0 = np.append(poi.params, max(-0.1, a))  # GeneralizedPoisson.fit's own start
    return RealProblem("GeneralizedPoisson randhie", "statsmodels",
                       "randhie, mdvis on 9 + const; p = 1",
                       "GeneralizedPoisson.fit: Poisson fit, moment alpha", fun, jac, x0)


def zip_randhie():
    import statsmodels.api as sm

    y, X = _randhie(sm)
    model = sm.ZeroInflatedPoisson(y, X)
    fun, jac = _likelihood(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x0 = model._get_start_params()  # what ZeroInflatedPoisson.fit starts from
    return RealProblem("ZeroInflatedPoisson randhie", "statsmodels",
                       "randhie, mdvis on 9 + const; inflation: const",
                       "ZIP.fit: Nelder-Mead Poisson fit, inflation 0.1", fun, jac, x0)


def mnlogit_anes96():
    import statsmodels.api as sm

    d = sm.datasets.anes96.load_pandas().data
    X = sm.add_constant(d[["logpopul", "selfLR", "age", "educ", "income"]], prepend=False)
    model = sm.MNLogit(d["PID"], X)
    fun, jac = _likelihood(model)
    x0 = np.zeros(X.shape[1] * (model.J - 1))  # MNLogit.fit's own start
    return RealProblem("MNLogit anes96", "statsmodels",
                       "anes96 (944 rows), PID (7) on logpopul selfLR age educ income + const",
                       "zeros (MNLogit.fit)", fun, jac, x0)


def _ordered(model):
    """f, g of an OrderedModel: g is the derivative of statsmodels' own loglike.

    loglike = sum log(max(F(upp) - F(low), 0) + 1e-20), with low/upp the
    observation's thresholds minus x'beta; the thresholds are
    cut_1 = t_0 and cut_k = t_0 + exp(t_1) + ... + exp(t_{k-1}).
    """
    nobs = model.endog.shape[0]
    levels = model.k_levels
    k = model.k_vars
    exog = np.asarray(model.exog, dtype=float)
    codes = np.asarray(model.endog, dtype=int)

    def fun(x):
        return -float(model.loglike(_float_x(x))) / nobs

    def jac(x):
        x = _float_x(x)
        low, upp = model._bounds(x)
        prob = model.prob(low, upp) + 1e-20
        dens_up = np.where(np.isfinite(upp), model.pdf(np.where(np.isfinite(upp), upp, 0)), 0)
        dens_lo = np.where(np.isfinite(low), model.pdf(np.where(np.isfinite(low), low, 0)), 0)
        w_up, w_lo = dens_up / prob, dens_lo / prob
        g_beta = -exog.T @ (w_up - w_lo)
        # d loglike / d cut_j for the inner cut points j = 1..levels-1: an
        # observation in class c has cut_c below and cut_{c+1} above it.
        d_cut = (np.bincount(codes + 1, weights=w_up, minlength=levels + 1)
                 - np.bincount(codes, weights=w_lo, minlength=levels + 1))[1:levels]
        t = x[k:]
        tail = np.cumsum(d_cut[::-1])[::-1]  # sum over cut_j, j >= i
        g_t = np.concatenate(([tail[0]], np.exp(t[1:]) * tail[1:]))
        return -np.concatenate((g_beta, g_t)) / nobs
    return _quiet(fun), _quiet(jac)


def ordered_logit_fair():
    import statsmodels.api as sm
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    d = sm.datasets.fair.load_pandas().data
    model = OrderedModel(d["rate_marriage"].astype(int),
                         d[["age", "yrs_married", "children", "religious", "educ"]],
                         distr="logit")
    fun, jac = _ordered(model)
    return RealProblem("OrderedModel logit fair", "statsmodels",
                       "fair (6,366 rows), rate_marriage (5) on age yrs_married children "
                       "religious educ", "OrderedModel.start_params", fun, jac,
                       model.start_params, jac_package=_likelihood(model)[1])


def ordered_probit_anes96():
    import statsmodels.api as sm
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    d = sm.datasets.anes96.load_pandas().data
    model = OrderedModel(d["selfLR"].astype(int), d[["logpopul", "age", "educ", "income"]],
                         distr="probit")
    fun, jac = _ordered(model)
    return RealProblem("OrderedModel probit anes96", "statsmodels",
                       "anes96, selfLR (7) on logpopul age educ income",
                       "OrderedModel.start_params", fun, jac, model.start_params,
                       jac_package=_likelihood(model)[1])


def _glm(name, data, endog, exog, family):
    import statsmodels.api as sm

    model = sm.GLM(endog, exog, family=family)
    fun, jac = _likelihood(model, scale=1.0)
    # GLM.fit(method="bfgs") fixes the scale at 1 and starts from three IRLS
    # iterations, which leave f within 1e-10 of f* on both data sets (IRLS is
    # Fisher scoring): every method would "solve" them at x0. Without IRLS it
    # starts from zeros, where Gamma's inverse link puts every mean at
    # infinity. So x0 is its start with max_start_irls=1.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x0 = np.asarray(model.fit(maxiter=1, scale=1.0).params, dtype=float)

    def irls():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(model.fit(scale=1.0, tol=1e-12, maxiter=1000).params)
    return RealProblem(name, "statsmodels", data, "1 IRLS step (GLM.fit, max_start_irls=1)",
                       fun, jac, x0, known=irls)


def glm_gamma_scotland():
    import statsmodels.api as sm

    d = sm.datasets.scotland.load()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the inverse link's DomainWarning
        return _glm("GLM Gamma scotland", "scotland (32 rows), YES on 7 + const; inverse link, "
                    "scale 1", d.endog, sm.add_constant(d.exog, prepend=False),
                    sm.families.Gamma())


def glm_binomial_star98():
    import statsmodels.api as sm

    d = sm.datasets.star98.load()
    return _glm("GLM Binomial star98", "star98 (303 rows), (NABOVE, NBELOW) on 20 + const, "
                "scale 1", d.endog, sm.add_constant(d.exog, prepend=False),
                sm.families.Binomial())


def _state_space(model):
    """f, g of a statsmodels state-space model in its unconstrained parameters u.

    f is what MLEModel.fit minimises, -loglike(u, transformed=False) / nobs.
    g = J.T @ s: statsmodels' own ``score(u, transformed=False)`` forms J @ s
    (see the module docstring); J and s are statsmodels' own.
    """
    nobs = model.nobs

    def fun(u):
        return -float(model.loglike(_float_x(u), transformed=False)) / nobs

    def jac(u):
        u = _float_x(u)
        J = model.transform_jacobian(u, approx_centered=True)
        s = model.score(model.transform_params(u), transformed=True)
        return -(J.T @ s) / nobs

    def jac_package(u):
        return -np.asarray(model.score(_float_x(u), transformed=False)) / nobs
    return _quiet(fun), _quiet(jac), _quiet(jac_package)


def sarimax_sunspots():
    import statsmodels.api as sm
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    y = sm.datasets.sunspots.load_pandas().data["SUNACTIVITY"].to_numpy(dtype=float)
    model = SARIMAX(y, order=(2, 0, 1), trend="c")
    fun, jac, jac_package = _state_space(model)
    x0 = model.untransform_params(model.start_params)  # MLEModel.fit's own start
    return RealProblem("SARIMAX(2,0,1) sunspots", "statsmodels",
                       "sunspots (309 years), ARMA(2,1) + const", "start_params, untransformed",
                       fun, jac, x0, jac_package=jac_package)


def unobserved_nile():
    import statsmodels.api as sm

    y = sm.datasets.nile.load_pandas().data["volume"].to_numpy(dtype=float)
    model = sm.tsa.UnobservedComponents(y, "local linear trend")
    fun, jac, jac_package = _state_space(model)
    x0 = model.untransform_params(model.start_params)
    return RealProblem("UnobservedComponents nile", "statsmodels",
                       "nile (100 years), local linear trend: 3 variances",
                       "start_params, untransformed", fun, jac, x0, jac_package=jac_package)


# --------------------------------------------------------------------------- scikit-learn
def _gp(name, data, X, y, kernel, normalize_y):
    from sklearn.gaussian_process import GaussianProcessRegressor

    # optimizer=None: fit only stores the data; the objective is the one
    # GaussianProcessRegressor.fit would hand to L-BFGS-B.
    gp = GaussianProcessRegressor(kernel=kernel, optimizer=None, normalize_y=normalize_y)
    gp.fit(X, y)

    def fg(theta):
        lml, grad = gp.log_marginal_likelihood(theta, eval_gradient=True, clone_kernel=False)
        return -float(lml), -np.asarray(grad, dtype=float)
    memo = _OnePoint(_quiet(fg))
    theta = gp.kernel_.theta
    bounds = [(float(lo), float(hi)) for lo, hi in gp.kernel_.bounds]
    return RealProblem(name, "scikit-learn", data, "kernel.theta (GaussianProcessRegressor.fit)",
                       memo.fun, memo.jac, theta, bounds=bounds)


def gp_diabetes():
    from sklearn.datasets import load_diabetes
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    X, y = load_diabetes(return_X_y=True)
    # 150 rows keep an evaluation at a few milliseconds; one length scale per feature (ARD).
    kernel = ConstantKernel(1.0) * RBF(length_scale=np.ones(X.shape[1])) + WhiteKernel(1.0)
    return _gp("GP ARD diabetes", "load_diabetes, first 150 rows; C*RBF(10 scales)+White, "
               "normalize_y", X[:150], y[:150], kernel, True)


def gp_co2():
    import statsmodels.api as sm
    from sklearn.gaussian_process.kernels import (
        RBF,
        ConstantKernel,
        ExpSineSquared,
        RationalQuadratic,
        WhiteKernel,
    )

    # Mauna Loa CO2 as shipped with statsmodels, monthly means, every third
    # month (175 points); the kernel of Rasmussen & Williams (2006), sec. 5.4.3:
    # long-term trend, seasonal cycle that may decay, medium-term
    # irregularities, noise. Periodicity fixed at one year.
    co2 = sm.datasets.co2.load_pandas().data["co2"].resample("MS").mean().dropna()[::3]
    t = (co2.index.year + (co2.index.month - 1) / 12).to_numpy(dtype=float)[:, None]
    y = co2.to_numpy(dtype=float)
    kernel = (ConstantKernel(50.0**2) * RBF(50.0)
              + ConstantKernel(2.0**2) * RBF(100.0)
              * ExpSineSquared(1.0, 1.0, periodicity_bounds="fixed")
              + ConstantKernel(0.5**2) * RationalQuadratic(1.0, 1.0)
              + ConstantKernel(0.1**2) * RBF(0.1)
              + WhiteKernel(0.1**2, noise_level_bounds=(1e-5, np.inf)))
    return _gp("GP Mauna Loa co2", "statsmodels co2, monthly, every 3rd (175); R&W 5.4.3 kernel",
               t, y - y.mean(), kernel, False)


def _logistic(X, y, C=1.0):
    """Binary logistic regression, sklearn's loss: mean log-loss + ||w||² / (2 C n)."""
    n, d = X.shape
    y = y.astype(float)

    def fun(x):
        z = X @ x[:d] + x[d]
        return float(np.mean(np.logaddexp(0.0, z) - y * z) + x[:d] @ x[:d] / (2 * C * n))

    def jac(x):
        z = X @ x[:d] + x[d]
        r = (0.5 * (1 + np.tanh(0.5 * z)) - y) / n  # sigmoid, without overflow
        return np.concatenate((X.T @ r + x[:d] / (C * n), [r.sum()]))
    return _quiet(fun), _quiet(jac)


def _softmax(X, y, C=1.0):
    """Multinomial logistic regression, sklearn's loss; x = (W row by row, b)."""
    n, d = X.shape
    K = int(y.max()) + 1
    Y = np.eye(K)[y]

    def split(x):
        return x[:K * d].reshape(K, d), x[K * d:]

    def fg(x):
        W, b = split(_float_x(x))
        Z = X @ W.T + b
        Zmax = Z.max(axis=1, keepdims=True)
        E = np.exp(Z - Zmax)
        S = E.sum(axis=1, keepdims=True)
        lse = np.log(S) + Zmax
        f = float(np.mean(lse[:, 0] - np.sum(Y * Z, axis=1)) + np.sum(W * W) / (2 * C * n))
        R = (E / S - Y) / n
        return f, np.concatenate(((R.T @ X + W / (C * n)).ravel(), R.sum(axis=0)))
    memo = _OnePoint(_quiet(fg))
    return memo.fun, memo.jac, K * (d + 1)


def logreg_breast_cancer():
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    fun, jac = _logistic(X, y)
    return RealProblem("LogisticRegression breast_cancer", "scikit-learn",
                       "load_breast_cancer (569 rows), 30 raw features + intercept, C=1",
                       "zeros (sklearn's start)", fun, jac, np.zeros(X.shape[1] + 1))


def _softmax_problem(name, loader, what):
    X, y = loader(return_X_y=True)
    fun, jac, n = _softmax(np.asarray(X, dtype=float), np.asarray(y))
    return RealProblem(name, "scikit-learn", f"{what}, raw features, C=1",
                       "zeros (sklearn's start)", fun, jac, np.zeros(n))


def softmax_iris():
    from sklearn.datasets import load_iris

    return _softmax_problem("Softmax iris", load_iris,
                            "load_iris (150 rows, 4 features, 3 classes)")


def softmax_wine():
    from sklearn.datasets import load_wine

    return _softmax_problem("Softmax wine", load_wine,
                            "load_wine (178 rows, 13 features, 3 classes)")


def softmax_digits():
    from sklearn.datasets import load_digits

    return _softmax_problem("Softmax digits", load_digits,
                            "load_digits (1,797 rows, 64 pixels, 10 classes)")


# --------------------------------------------------------------------------- the library
#: name -> (package to import, builder), in the order of the tables.
BUILDERS = {
    "Logit spector": ("statsmodels", logit_spector),
    "Probit spector": ("statsmodels", probit_spector),
    "Poisson randhie": ("statsmodels", poisson_randhie),
    "NegativeBinomial randhie": ("statsmodels", negbin_randhie),
    "GeneralizedPoisson randhie": ("statsmodels", genpoisson_randhie),
    "ZeroInflatedPoisson randhie": ("statsmodels", zip_randhie),
    "MNLogit anes96": ("statsmodels", mnlogit_anes96),
    "OrderedModel logit fair": ("statsmodels", ordered_logit_fair),
    "OrderedModel probit anes96": ("statsmodels", ordered_probit_anes96),
    "GLM Gamma scotland": ("statsmodels", glm_gamma_scotland),
    "GLM Binomial star98": ("statsmodels", glm_binomial_star98),
    "SARIMAX(2,0,1) sunspots": ("statsmodels", sarimax_sunspots),
    "UnobservedComponents nile": ("statsmodels", unobserved_nile),
    "GP ARD diabetes": ("sklearn", gp_diabetes),
    "GP Mauna Loa co2": ("sklearn statsmodels", gp_co2),
    "LogisticRegression breast_cancer": ("sklearn", logreg_breast_cancer),
    "Softmax iris": ("sklearn", softmax_iris),
    "Softmax wine": ("sklearn", softmax_wine),
    "Softmax digits": ("sklearn", softmax_digits),
}

_MISSING_NOTED: set[str] = set()


def missing_packages(names=None) -> list[str]:
    """The packages the problems ``names`` (default all) need that do not import."""
    import importlib

    out = []
    needed = {pkg for name in (names or BUILDERS) for pkg in BUILDERS[name][0].split()}
    for pkg in sorted(needed):
        try:
            importlib.import_module(pkg)
        except Exception:  # noqa: BLE001 - a broken install is "not installed" too
            out.append(pkg)
    return out


def build(names=None, say=print) -> list[RealProblem]:
    """The problems called ``names`` (default all) whose packages import; notes the rest."""
    names = list(BUILDERS) if names is None else list(names)
    unknown = [n for n in names if n not in BUILDERS]
    if unknown:
        raise KeyError(f"unknown problems {unknown}; known: {list(BUILDERS)}")
    missing = set(missing_packages(names))
    for pkg in sorted(missing - _MISSING_NOTED):
        _MISSING_NOTED.add(pkg)
        say(f"note: {pkg} is not installed; the problems that need it are skipped")
    out = []
    for name in names:
        packages, builder = BUILDERS[name]
        if missing.intersection(packages.split()):
            continue
        p = builder()
        assert p.name == name, (p.name, name)
        p.fstar = FSTAR.get(name, np.nan)
        if not np.isfinite(p.fstar):
            say(f"note: {name}: no stored f*, computing it now")
            p.fstar = reference_minimum(p)[0]
        out.append(p)
    return out


# --------------------------------------------------------------------------- checks
def _ridders(phi, h, shrink=1.4, levels=10):
    """phi'(0) from central differences at h, h/shrink, ...: Richardson's tableau (Ridders).

    Returns the entry whose neighbours in the tableau agree best, and that
    disagreement as its error estimate. Stops when the higher orders grow
    worse (rounding has set in).
    """
    best, err = np.nan, np.inf
    prev = None
    for i in range(levels):
        row = [(phi(h) - phi(-h)) / (2 * h)]
        fac = shrink**2
        for j in range(1, i + 1):
            row.append((row[j - 1] * fac - prev[j - 1]) / (fac - 1))
            fac *= shrink**2
            e = max(abs(row[j] - row[j - 1]), abs(row[j] - prev[j - 1]))
            if e <= err:
                err, best = e, row[j]
        if prev is not None and abs(row[i] - prev[i - 1]) >= 2 * err:
            break
        prev = row
        h /= shrink
    return best, err


def gradient_error(fun, jac, x, coords=None):
    """max_j |g_j - d_j| / max_j |g_j|, d_j Ridders' difference of f along coordinate j.

    The steps are relative, multiples of |x_j| (or of 1 where x_j = 0): the
    coordinates of these problems differ in scale by up to 1e10, so one
    absolute step does not fit them all. Ridders' tableau starts from each of
    1e-1 ... 1e-5 times that, and d_j is the one of the five that agrees best
    with g_j: no single start suits every coordinate (a raw feature of 1,000
    times a weight step of 0.1 is far too long; on the Gamma GLM a step short
    enough for the curvature drowns in rounding), while a wrong gradient, such
    as the state-space one of the module docstring, misses all five.
    ``coords`` limits the check to some coordinates (large n). The points may
    leave a problem's box (none of these objectives is undefined outside it).
    """
    x = _float_x(x)
    g = np.asarray(jac(x), dtype=float)
    coords = range(x.size) if coords is None else coords
    err, scale = 0.0, 0.0
    for j in coords:
        width = abs(x[j]) if x[j] != 0 else 1.0
        e = np.zeros(x.size)
        e[j] = width
        ds = np.array([_ridders(lambda t, e=e: fun(x + t * e), h0)[0]
                       for h0 in 10.0 ** -np.arange(1, 6)]) / width
        err = max(err, np.nanmin(np.abs(g[j] - ds)))
        scale = max(scale, abs(g[j]))
    return err / scale if scale > 0 else np.inf


def reference_minimum(p, maxiter=20_000):
    """(f*, x*): the lowest f of three tight runs (see the module docstring)."""
    from scipy.optimize import minimize

    def run(method, x, **options):
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return minimize(p.fun, x, jac=p.jac, method=method, bounds=p.bounds,
                            options={"maxiter": maxiter, **options})

    tight = dict(ftol=0.0, gtol=0.0, maxfun=10 * maxiter)
    results = []
    if p.bounds is None:
        first = run("BFGS", p.x0, gtol=1e-12)
        results += [first, run("L-BFGS-B", first.x, **tight)]
    first = run("L-BFGS-B", p.x0, **tight)
    results.append(first)
    if p.bounds is None:
        results.append(run("BFGS", first.x, gtol=1e-12))
    results.append(run("trust-constr", p.x0, gtol=1e-12, xtol=1e-14))
    if p.known is not None:
        results.append(run("L-BFGS-B", p.known(), **tight))
    fs = [float(p.fun(r.x)) for r in results]
    best = int(np.nanargmin(fs))
    return fs[best], results[best].x
