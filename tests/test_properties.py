"""Properties of minimize_rprop, checked on random problems with hypothesis.

Sign invariance, the box, the best point and the counts, convergence on convex
quadratics, and the Python and compiled drivers taking the very same steps.
"""

import math
import warnings

import numba
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, OptimizeWarning

from signmin import minimize_rprop

VARIANTS = ["rprop+", "rprop-", "irprop+", "irprop-"]
MINUS_VARIANTS = ["rprop-", "irprop-"]
JAC_MODES = ["callable", "true", "2-point", "3-point"]
# Stopping rules off: maxiter=N gives N steps.
OFF = dict(xtol=0.0, ftol=0.0, gtol=0.0, stall_window=0, polish=False, accelerate=False)


# --- a family of smooth test functions -------------------------------------------------
#
# f(x) = 1 + sum(w * (x - c)^2) + rho * sum((x[1:] - x[:-1]^2)^2): a Rosenbrock-like
# valley, so the iterates overshoot, backtrack and flip signs; f >= 1, so log f is defined.

def f_valley(x, c, w, rho):
    r = x[1:] - x[:-1] ** 2
    return 1.0 + float(np.sum(w * (x - c) ** 2)) + rho * float(np.sum(r * r))


def g_valley(x, c, w, rho):
    r = x[1:] - x[:-1] ** 2
    g = 2.0 * w * (x - c)
    g[1:] += 2.0 * rho * r
    g[:-1] -= 4.0 * rho * r * x[:-1]
    return g


class Recorder:
    """The user's side of a run: every point fun sees, every value, every call."""

    def __init__(self, c, w, rho, f_map=None, g_map=None):
        self.c, self.w, self.rho = c, w, rho
        self.f_map = f_map or (lambda f: f)
        self.g_map = g_map or (lambda f, g: g)
        self.points, self.values = [], []
        self.nf = self.ng = 0

    def _f(self, x):
        return self.f_map(f_valley(x, self.c, self.w, self.rho))

    def _g(self, x):
        return self.g_map(f_valley(x, self.c, self.w, self.rho),
                          g_valley(x, self.c, self.w, self.rho))

    def fun(self, x):
        self.nf += 1
        self.points.append(np.array(x))
        self.values.append(self._f(x))
        return self.values[-1]

    def jac(self, x):
        self.ng += 1
        return self._g(x)

    def both(self, x):
        return self.fun(x), self._g(x)

    def call(self, jac_mode, x0, **options):
        if jac_mode == "callable":
            return minimize_rprop(self.fun, x0, jac=self.jac, **options)
        if jac_mode == "true":
            return minimize_rprop(self.both, x0, jac=True, **options)
        return minimize_rprop(self.fun, x0, jac=jac_mode, **options)


def vectors(n, lo=-3.0, hi=3.0):
    return st.lists(st.floats(lo, hi), min_size=n, max_size=n).map(np.array)


@st.composite
def problems(draw, max_n=6):
    n = draw(st.integers(1, max_n))
    return dict(n=n, c=draw(vectors(n)), w=draw(vectors(n, 0.1, 10.0)),
                rho=draw(st.sampled_from([0.0, 0.5, 5.0])), x0=draw(vectors(n)),
                initial_step=draw(st.one_of(st.none(), st.floats(1e-3, 1.0))))


@st.composite
def boxes(draw, n):
    """Random boxes: free, one-sided, fixed, one ulp wide, far from 0, tiny and wide."""
    lower, upper = np.full(n, -np.inf), np.full(n, np.inf)
    for i in range(n):
        kind = draw(st.sampled_from(["free", "lower", "upper", "both", "both", "fixed", "ulp"]))
        # Large offsets make upper - x round, the classic way to step over a bound.
        a = draw(st.floats(-3.0, 3.0)) * 10.0 ** draw(st.integers(-3, 8))
        width = max(abs(a), 1.0) * 10.0 ** draw(st.integers(-14, 1)) * draw(st.floats(0.1, 1))
        if kind in ("lower", "both"):
            lower[i] = a
        if kind == "upper":
            upper[i] = a
        if kind == "both":
            upper[i] = a + width
        if kind == "fixed":
            lower[i] = upper[i] = a
        if kind == "ulp":
            a = a or 1.0  # at 0 one ulp is subnormal, which the tests below cover
            lower[i], upper[i] = a, np.nextafter(a, np.inf)
    return lower, upper


def as_bounds_argument(lower, upper, form):
    if form == "Bounds":
        return Bounds(lower, upper)
    return [(None if lo == -np.inf else lo, None if hi == np.inf else hi)
            for lo, hi in zip(lower, upper, strict=True)]


def start_near(draw, lower, upper):
    """A start inside the box, on its faces, or outside it."""
    x0 = []
    for lo, hi in zip(lower, upper, strict=True):
        centre = lo if np.isfinite(lo) else (hi if np.isfinite(hi) else 0.0)
        span = max(hi - lo if np.isfinite(hi - lo) else 1.0, 1.0)
        x0.append(centre + draw(st.floats(-1.5, 2.5)) * span)
    return np.array(x0)


# --- 1. sign invariance ----------------------------------------------------------------

class SignKeeping:
    """A ``g_map`` that scales each partial derivative, and notes whether the scaling,
    in floating point, changed a sign or the finiteness of one: a subnormal derivative
    times 0.1, or times 2**-60, rounds to 0 (found at c = 5e-324). The invariance
    holds for scalings that keep every sign; an example whose scaling did not is not
    one of them, and is rejected."""

    def __init__(self, scale):
        self.scale = scale  # scale(f, g) -> the scaled g
        self.kept = True

    def __call__(self, f, g):
        scaled = self.scale(f, g)
        self.kept &= bool(np.array_equal(np.sign(scaled), np.sign(g))
                          and np.array_equal(np.isfinite(scaled), np.isfinite(g)))
        return scaled


@settings(max_examples=20)
@given(problem=problems(), variant=st.sampled_from(VARIANTS),
       jac_mode=st.sampled_from(["callable", "true"]), steps=st.integers(1, 80), data=st.data())
def test_scaling_each_partial_derivative_by_its_own_positive_factor_changes_no_iterate(
        problem, variant, jac_mode, steps, data):
    exponents = np.array(data.draw(st.lists(st.floats(-8.0, 8.0), min_size=problem["n"],
                                            max_size=problem["n"])))
    factors = 10.0 ** exponents
    args = (problem["c"], problem["w"], problem["rho"])
    options = dict(variant=variant, initial_step=problem["initial_step"], maxiter=steps, **OFF)
    plain = Recorder(*args)
    g_map = SignKeeping(lambda f, g: factors * g)
    scaled = Recorder(*args, g_map=g_map)
    plain.call(jac_mode, problem["x0"], **options)
    scaled.call(jac_mode, problem["x0"], **options)
    assume(g_map.kept)
    assert np.array_equal(np.array(plain.points), np.array(scaled.points))


@settings(max_examples=20)
@given(problem=problems(), variant=st.sampled_from(VARIANTS),
       jac_mode=st.sampled_from(JAC_MODES), k=st.integers(-60, 60), steps=st.integers(1, 60))
def test_multiplying_f_and_its_gradient_by_a_power_of_two_changes_no_iterate(
        problem, variant, jac_mode, k, steps):
    # A power of two scales every value exactly, so even finite differences and
    # the f comparisons of the + variants see the same signs.
    args = (problem["c"], problem["w"], problem["rho"])
    options = dict(variant=variant, initial_step=problem["initial_step"], maxiter=steps, **OFF)
    plain = Recorder(*args)
    g_map = SignKeeping(lambda f, g: np.ldexp(g, k))
    scaled = Recorder(*args, f_map=lambda f: math.ldexp(f, k), g_map=g_map)
    plain.call(jac_mode, problem["x0"], **options)
    scaled.call(jac_mode, problem["x0"], **options)
    assume(g_map.kept)
    assert np.array_equal(np.array(plain.points), np.array(scaled.points))


TRANSFORMS = {
    # name: (h(f), h'(f)) for f >= 1, all strictly increasing
    "log f": (math.log, lambda f: 1.0 / f),
    "f^3": (lambda f: f ** 3, lambda f: 3.0 * f * f),
    "sqrt f": (math.sqrt, lambda f: 0.5 / math.sqrt(f)),
    "atan f - 7": (lambda f: math.atan(f) - 7.0, lambda f: 1.0 / (1.0 + f * f)),
}


@settings(max_examples=20)
@given(problem=problems(), variant=st.sampled_from(MINUS_VARIANTS),
       jac_mode=st.sampled_from(["callable", "true"]),
       transform=st.sampled_from(sorted(TRANSFORMS)), steps=st.integers(1, 60))
def test_minus_variants_ignore_any_increasing_transform_of_f(
        problem, variant, jac_mode, transform, steps):
    h, dh = TRANSFORMS[transform]
    args = (problem["c"], problem["w"], problem["rho"])
    options = dict(variant=variant, initial_step=problem["initial_step"], maxiter=steps, **OFF)
    plain = Recorder(*args)
    g_map = SignKeeping(lambda f, g: dh(f) * g)
    transformed = Recorder(*args, f_map=h, g_map=g_map)
    plain.call(jac_mode, problem["x0"], **options)
    transformed.call(jac_mode, problem["x0"], **options)
    assume(g_map.kept)
    assert np.array_equal(np.array(plain.points), np.array(transformed.points))


# --- 2. the box ------------------------------------------------------------------------

@settings(max_examples=40)
@given(problem=problems(max_n=5), variant=st.sampled_from(VARIANTS),
       jac_mode=st.sampled_from(JAC_MODES), form=st.sampled_from(["Bounds", "pairs"]),
       steps=st.integers(0, 40), data=st.data())
def test_no_evaluated_point_ever_leaves_the_box(problem, variant, jac_mode, form, steps, data):
    n = problem["n"]
    lower, upper = data.draw(boxes(n))
    x0 = start_near(data.draw, lower, upper)
    assume(np.all(np.isfinite(x0)))
    # The minimum of f lies anywhere, so the iterates press on the faces too.
    c = start_near(data.draw, lower, upper)
    rec = Recorder(c, problem["w"], problem["rho"])
    outside = np.any((x0 < lower) | (x0 > upper))
    options = dict(bounds=as_bounds_argument(lower, upper, form), variant=variant,
                   maxiter=steps, **OFF)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = rec.call(jac_mode, x0, **options)
    clipped = [w for w in caught if issubclass(w.category, OptimizeWarning)
               and "clipped" in str(w.message)]
    assert len(clipped) == (1 if outside else 0)
    points = np.array(rec.points)
    assert np.all(points >= lower) and np.all(points <= upper), (
        points[(points < lower) | (points > upper)])
    assert np.all(res.x >= lower) and np.all(res.x <= upper)


# --- 3. the best point and the counts ----------------------------------------------------

@settings(max_examples=40)
@given(problem=problems(), variant=st.sampled_from(VARIANTS),
       jac_mode=st.sampled_from(JAC_MODES), maxiter=st.integers(0, 300),
       maxfev=st.one_of(st.none(), st.integers(1, 400)), bounded=st.booleans(), data=st.data())
def test_the_result_is_the_best_iterate_with_its_own_gradient_and_true_counts(
        problem, variant, jac_mode, maxiter, maxfev, bounded, data):
    args = (problem["c"], problem["w"], problem["rho"])
    rec = Recorder(*args)
    bounds = None
    x0 = problem["x0"]
    if jac_mode in ("2-point", "3-point"):
        # From a tiny nonzero x0 the relative steps see no change of f and the
        # longer fallback step is only as accurate as SciPy's; the tolerance
        # below is for steps at the variable's own scale.
        x0 = np.where(np.abs(x0) < 1e-3, 0.0, x0)
    if bounded:
        lower, upper = data.draw(boxes(problem["n"]))
        bounds = Bounds(lower, upper)
        x0 = np.clip(x0, lower, upper)
    iterates = [x0]
    try:
        # The sign method's iterates (the polish's line searches evaluate points
        # that are not iterates; test_polish covers its best point and counts).
        res = rec.call(jac_mode, x0, bounds=bounds, variant=variant, maxiter=maxiter,
                       maxfev=maxfev, initial_step=problem["initial_step"], polish=False,
                       callback=lambda intermediate_result: iterates.append(
                           intermediate_result.x))
    except ValueError as exc:
        # maxfev below the cost of the first evaluation is refused up front.
        assert "maxfev" in str(exc) and rec.nf == 0
        return
    seen = {p.tobytes(): v for p, v in zip(rec.points, rec.values, strict=True)}
    at_iterates = [seen[x.tobytes()] for x in iterates]
    assert res.fun == min(at_iterates)
    assert seen[res.x.tobytes()] == res.fun
    assert res.nfev == rec.nf
    assert res.njev == {"callable": rec.ng, "true": rec.nf}.get(jac_mode, 0)
    assert res.nit == len(iterates) - 1
    if maxfev is not None:
        assert res.nfev <= maxfev
    exact = g_valley(res.x, *args)
    if jac_mode in ("callable", "true"):
        assert np.array_equal(res.jac, exact)
    elif not bounded:
        # In a random box the difference steps shrink with the box's width, so
        # their accuracy is only checked without one.
        np.testing.assert_allclose(res.jac, exact, rtol=1e-4,
                                   atol=1e-4 * (1.0 + float(np.max(np.abs(exact)))))


@pytest.mark.parametrize("jac", ["2-point", "3-point"])
def test_finite_differences_see_the_slope_from_a_tiny_nonzero_start(jac):
    res = minimize_rprop(lambda x: float((x[0] - 1.0) ** 2), [1e-12], jac=jac)
    np.testing.assert_allclose(res.x, [1.0], atol=1e-6)


def test_finite_differences_stay_finite_in_a_box_one_subnormal_wide():
    res = minimize_rprop(lambda x: float(np.sum(x**2)) + 1.0, [0.0, 1.0], jac="2-point",
                         bounds=[(0.0, 5e-324), (None, None)], maxiter=0)
    assert np.all(np.isfinite(res.jac))


@numba.njit(cache=True)
def nb_bowl(x):
    return np.sum((x - 1.0) ** 2)


@pytest.mark.parametrize("driver", ["python", "compiled"])
def test_finite_differences_from_a_subnormal_start_give_a_finite_gradient(driver):
    fun = nb_bowl if driver == "compiled" else (lambda x: nb_bowl(x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = minimize_rprop(fun, [1e-320], jac="2-point", driver=driver, maxiter=0)
    assert np.all(np.isfinite(res.jac))


# --- 4. convergence ----------------------------------------------------------------------

@settings(max_examples=30)
@given(n=st.integers(1, 50), variant=st.sampled_from(VARIANTS),
       seed=st.integers(0, 2**32 - 1), condition=st.floats(1.0, 10.0))
def test_every_variant_solves_well_conditioned_convex_quadratics(n, variant, seed, condition):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    a = (q * np.geomspace(1.0, condition, n)) @ q.T
    a = 0.5 * (a + a.T)
    b = 10.0 * rng.standard_normal(n)
    solution = np.linalg.solve(a, b)
    x0 = 10.0 * rng.standard_normal(n)
    res = minimize_rprop(lambda x: 0.5 * float(x @ a @ x) - float(b @ x), x0,
                         jac=lambda x: a @ x - b, variant=variant)
    assert res.success, res.message
    # Tolerance: 1e-6 of the solution's size (1e-6 absolute below 1).
    scale = max(1.0, float(np.max(np.abs(solution))))
    assert np.max(np.abs(res.x - solution)) <= 1e-6 * scale


# --- 5. two drivers, one algorithm -------------------------------------------------------

@numba.njit(cache=True)
def nb_valley(x, c, w):
    r = x[1:] - x[:-1] ** 2
    return 1.0 + np.sum(w * (x - c) ** 2) + 2.0 * np.sum(r * r)


@numba.njit(cache=True)
def nb_valley_grad(x, c, w):
    r = x[1:] - x[:-1] ** 2
    g = 2.0 * w * (x - c)
    g[1:] += 4.0 * r
    g[:-1] -= 8.0 * r * x[:-1]
    return g


@numba.njit(cache=True)
def nb_valley_both(x, c, w):
    return nb_valley(x, c, w), nb_valley_grad(x, c, w)


@numba.njit(cache=True)
def nb_cliff(x, c, w):
    # Non-finite beyond the plane sum(x) = w[0]: a run that crosses it stops.
    if np.sum(x) > w[0]:
        return np.inf
    return np.sum((x - c) ** 2)


@numba.njit(cache=True)
def nb_cliff_grad(x, c, w):
    return 2.0 * (x - c)


@numba.njit(cache=True)
def nb_cliff_both(x, c, w):
    return nb_cliff(x, c, w), nb_cliff_grad(x, c, w)


def both_drivers(fun, jac, x0, args, **options):
    """The same numba functions run compiled and, wrapped in lambdas, in Python."""
    compiled = minimize_rprop(fun, x0, args=args, jac=jac, driver="compiled", **options)
    py_jac = (lambda x, *a: jac(x, *a)) if callable(jac) else jac
    python = minimize_rprop(lambda x, *a: fun(x, *a), x0, args=args, jac=py_jac,
                            driver="python", **options)
    return compiled, python


def assert_same_result(a, b):
    for key in ("x", "fun", "jac", "nit", "nfev", "njev", "status", "step_size"):
        assert np.array_equal(a[key], b[key], equal_nan=True), (key, a[key], b[key])


def _functions(jac_mode):
    return {"callable": (nb_valley, nb_valley_grad), "true": (nb_valley_both, True),
            "2-point": (nb_valley, "2-point"), "3-point": (nb_valley, "3-point")}[jac_mode]


@settings(max_examples=40)
@given(problem=problems(), variant=st.sampled_from(VARIANTS), bounded=st.booleans(),
       stopping=st.booleans(), maxiter=st.integers(0, 200),
       maxfev=st.one_of(st.none(), st.integers(60, 500)), data=st.data())
@pytest.mark.parametrize("jac_mode", JAC_MODES)
def test_python_and_compiled_drivers_take_identical_steps(
        jac_mode, problem, variant, bounded, stopping, maxiter, maxfev, data):
    fun, jac = _functions(jac_mode)
    x0, bounds = problem["x0"], None
    if bounded:
        lower, upper = data.draw(boxes(problem["n"]))
        bounds = Bounds(lower, upper)
        x0 = np.clip(x0, lower, upper)
    options = dict(variant=variant, bounds=bounds, maxiter=maxiter, maxfev=maxfev,
                   initial_step=problem["initial_step"], **({} if stopping else OFF))
    compiled, python = both_drivers(fun, jac, x0, (problem["c"], problem["w"]), **options)
    assert_same_result(compiled, python)


@settings(max_examples=20)
@given(problem=problems(), variant=st.sampled_from(VARIANTS), wall=st.floats(-2.0, 6.0))
@pytest.mark.parametrize("jac_mode", ["callable", "2-point", "3-point"])
def test_python_and_compiled_drivers_agree_when_f_turns_non_finite_mid_run(
        jac_mode, problem, variant, wall):
    # The minimum lies beyond the wall, so a sign phase that starts before it hits
    # it (a finish backs off from a non-finite point: the pure mode here).
    x0 = -np.abs(problem["x0"]) - 1.0
    assume(np.sum(x0) < wall)
    c = np.abs(problem["c"]) + abs(wall) + 4.0
    fun, jac = {"callable": (nb_cliff, nb_cliff_grad), "true": (nb_cliff_both, True)}.get(
        jac_mode, (nb_cliff, jac_mode))
    compiled, python = both_drivers(fun, jac, x0, (c, np.array([wall])),
                                    variant=variant, maxiter=500, polish=False)
    assert compiled.status == python.status == 5
    assert np.isfinite(compiled.fun)
    assert_same_result(compiled, python)


def test_python_and_compiled_drivers_count_the_same_iterations_when_jac_true_f_turns_inf():
    x0 = np.array([-1.0, -1.5])
    c = np.array([5.0, 5.0])
    compiled, python = both_drivers(nb_cliff_both, True, x0, (c, np.array([1.0])))
    callable_jac = minimize_rprop(nb_cliff, x0, args=(c, np.array([1.0])), jac=nb_cliff_grad)
    assert compiled.status == python.status == callable_jac.status == 5
    assert python.nit == compiled.nit == callable_jac.nit
    assert_same_result(compiled, python)


@pytest.mark.parametrize("jac_mode", ["callable", "2-point", "3-point"])
def test_python_and_compiled_drivers_agree_when_f_is_non_finite_at_x0(jac_mode):
    jac = nb_cliff_grad if jac_mode == "callable" else jac_mode
    x0 = np.array([1.0, 2.0, 3.0])
    compiled, python = both_drivers(nb_cliff, jac, x0, (np.zeros(3), np.array([0.0])))
    assert compiled.status == python.status == 5
    assert np.isnan(python.jac).all()
    assert_same_result(compiled, python)
