"""signmin as other people's software calls it, with their defaults and their data.

statsmodels and scikit-learn come with the test extra; where they are missing
(a bare install) their tests skip.
"""

import numpy as np
import pytest
from scipy.optimize import basinhopping, rosen, rosen_der

from signmin import minimize_rprop


def test_statsmodels_fits_a_logit_through_min_method():
    sm = pytest.importorskip("statsmodels.api")
    data = sm.datasets.spector.load_pandas()
    model = sm.Logit(data.endog, sm.add_constant(data.exog))
    newton = model.fit(disp=0)
    res = model.fit(method="minimize", min_method=minimize_rprop, disp=0, maxiter=1000)
    assert res.mle_retvals["converged"]
    np.testing.assert_allclose(res.params, newton.params, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("model", ["Logit", "Probit", "Poisson"])
def test_statsmodels_converges_within_its_own_default_maxiter(model):
    # statsmodels' fit(method='minimize') allows 35 iterations; BFGS converges in
    # 21-26 on these. The sign phase's bracketing before the finish used to take
    # the run past 35 (Logit 40 iterations, Poisson 50).
    sm = pytest.importorskip("statsmodels.api")
    data = (sm.datasets.randhie if model == "Poisson" else sm.datasets.spector).load_pandas()
    fitted = getattr(sm, model)(data.endog, sm.add_constant(data.exog))
    newton = fitted.fit(disp=0)
    res = fitted.fit(method="minimize", min_method=minimize_rprop, disp=0)
    assert res.mle_retvals["converged"] and res.mle_retvals["iterations"] <= 35
    assert res.llf >= newton.llf - 1e-9 * abs(newton.llf)


def test_scikit_learn_gp_regressor_takes_it_as_its_optimizer():
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_diabetes
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, WhiteKernel

    X, y = load_diabetes(return_X_y=True)
    X, y = X[:80, :3], y[:80] / 100

    def rprop(obj_func, initial_theta, bounds):
        res = minimize_rprop(obj_func, initial_theta, jac=True, bounds=bounds)
        return res.x, res.fun

    kernel = RBF(np.ones(3)) + WhiteKernel()
    ours = GaussianProcessRegressor(kernel, optimizer=rprop, normalize_y=True).fit(X, y)
    theirs = GaussianProcessRegressor(kernel, normalize_y=True).fit(X, y)
    assert ours.log_marginal_likelihood_value_ >= theirs.log_marginal_likelihood_value_ - 1e-6


def test_basinhopping_uses_it_as_its_local_minimizer():
    res = basinhopping(rosen, [1.3, 0.7], niter=3, seed=1,
                       minimizer_kwargs=dict(method=minimize_rprop, jac=rosen_der))
    np.testing.assert_allclose(res.x, 1.0, atol=1e-6)
