"""curve_fit per fit: `signmin.curve_fit` against `scipy.optimize.curve_fit`, time and cost.

Families of fits, each with its data, a model and a start (seeded, so every run
fits the same data):

* well-posed peaks: 200 Gaussian peaks a exp(-(x - mu)^2 / (2 s^2)) + c on 64
  points in [-5, 5], a in [0.5, 3], mu in [-2, 2], s in [0.4, 1.5], c in
  [-0.5, 0.5], noise 0.05, all from the one generic start (1, 0, 1, 0);
* harder peaks (issue 25): 100 Gaussian peaks as above but with centres
  across the data, mu in [-4.5, 4.5], and widths s in [0.3, 3], from the
  same generic start: a share of them far from it;
* badly started, three families of 60: peaks off centre (|mu| in [2.2, 3.5],
  s in [0.3, 1.2]) from the same generic start; decays a exp(-k t) + c on 50
  points in [0, 10] with rates k over three decades (1e-2 to 10) from the
  start (1, 1, 0); saturation curves b1 (1 - exp(-b2 x)) (NIST's Misra1a and
  BoxBOD) on 30 points in [10, 800], b1 in 1e1-1e3 and b2 in 1e-4-1e-2, from
  a start off by a factor of up to 100 either way in each parameter.

Solvers: `scipy.optimize.curve_fit` and `signmin.curve_fit`, each with its
defaults and no Jacobian (finite differences); signmin also with
``vectorize=False`` (the model called once per parameter point, as SciPy does)
and with ``until_bracketed=False`` (Rprop to its own stop before the first
polish: the way signmin fitted before the fast way in); and `signmin.curve_fit`
on the same model compiled with ``numba.njit`` (the compiled core that
`curve_fit_many` runs per data set).

Time per fit: every fit is timed for every solver in turn, the order rotated
from one repetition to the next, with the garbage collector held off; a
solver's time on a fit is the least of its repetitions (the machine is shared:
the least is the one least disturbed). Reported: the mean over the fits (what
a batch of fits costs), its ratio to SciPy's mean, and the median of the
per-fit ratios. A fit that takes a solver over 20 ms is timed once. Calls of
the model per fit (finite differences included, each solver's own count):
median, 90th and 99th percentile. BLAS
(numpy's and SciPy's OpenBLAS) is pinned to one thread with threadpoolctl (and
``OPENBLAS_NUM_THREADS=1``).

Fits at the best cost: a fit counts if its cost 0.5 sum(r^2) is within a
relative 1e-6 of the lowest cost seen on that data by any solver or by a
reference fit (``least_squares``, Levenberg-Marquardt to full precision)
started at the true parameters. A fit that raises counts as not reaching it.

Usage::

    python benchmarks/curve_fit_speed.py            # all fits, 5 repetitions
    python benchmarks/curve_fit_speed.py --quick    # 5 fits per family, seconds
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402  (first: it pins BLAS threads before numpy loads)
import numba  # noqa: E402
import numpy as np  # noqa: E402
from scipy import optimize  # noqa: E402

import signmin  # noqa: E402

#: A fit that takes longer than this (seconds) is timed once.
SLOW = 0.02
#: Fits per family in quick mode.
QUICK_FITS = 5
#: Relative margin within which a cost is the best.
BEST_RTOL = 1e-6
TARGET = 1.5


def peak(x, a, mu, s, c):
    return a * np.exp(-0.5 * ((x - mu) / s) ** 2) + c


def decay(t, a, k, c):
    return a * np.exp(-k * t) + c


def saturation(x, b1, b2):
    return b1 * (1 - np.exp(-b2 * x))


def _peaks(count, rng, centres, widths):
    x = np.linspace(-5, 5, 64)
    fits = []
    for _ in range(count):
        p = [rng.uniform(0.5, 3), rng.uniform(*centres), rng.uniform(*widths),
             rng.uniform(-0.5, 0.5)]
        fits.append((peak, x, peak(x, *p) + 0.05 * rng.normal(size=x.size), p, [1, 0, 1, 0]))
    return fits


def well_posed_peaks(count, rng):
    return _peaks(count, rng, centres=(-2, 2), widths=(0.4, 1.5))


def harder_peaks(count, rng):
    return _peaks(count, rng, centres=(-4.5, 4.5), widths=(0.3, 3))


def off_centre_peaks(count, rng):
    x = np.linspace(-5, 5, 64)
    fits = []
    for _ in range(count):
        p = [rng.uniform(0.5, 3), rng.choice([-1, 1]) * rng.uniform(2.2, 3.5),
             rng.uniform(0.3, 1.2), rng.uniform(-0.5, 0.5)]
        fits.append((peak, x, peak(x, *p) + 0.05 * rng.normal(size=x.size), p, [1, 0, 1, 0]))
    return fits


def decays(count, rng):
    t = np.linspace(0, 10, 50)
    fits = []
    for _ in range(count):
        p = [rng.uniform(0.5, 5), 10 ** rng.uniform(-2, 1), rng.uniform(-1, 1)]
        fits.append((decay, t, decay(t, *p) + 0.02 * rng.normal(size=t.size), p, [1, 1, 0]))
    return fits


def saturations(count, rng):
    x = np.linspace(10, 800, 30)
    fits = []
    for _ in range(count):
        p = [10 ** rng.uniform(1, 3), 10 ** rng.uniform(-4, -2)]
        p0 = [p[0] * 10 ** rng.uniform(-2, 2), p[1] * 10 ** rng.uniform(-2, 2)]
        y = saturation(x, *p) * (1 + 0.01 * rng.normal(size=x.size))
        fits.append((saturation, x, y, p, p0))
    return fits


FAMILIES = {  # name -> (maker, fits in full mode, seed)
    "well-posed peaks": (well_posed_peaks, 200, 12),
    "harder peaks (centres anywhere, widths 0.3-3)": (harder_peaks, 100, 25),
    "off-centre peaks": (off_centre_peaks, 60, 7),
    "decays, rates over 3 decades": (decays, 60, 8),
    "saturation, start off by up to 100x": (saturations, 60, 9),
}

SOLVERS = {
    "scipy.optimize.curve_fit": optimize.curve_fit,
    "signmin.curve_fit": signmin.curve_fit,
    "signmin, vectorize=False": lambda *a, **k: signmin.curve_fit(*a, vectorize=False, **k),
    "signmin, until_bracketed=False": lambda *a, **k: signmin.curve_fit(
        *a, until_bracketed=False, **k),
    "signmin.curve_fit, @njit model": lambda model, *a, **k: signmin.curve_fit(
        COMPILED[model], *a, **k),
}
#: The models compiled by numba, for the compiled core.
COMPILED = {model: numba.njit(model) for model in (peak, decay, saturation)}
SCIPY = "scipy.optimize.curve_fit"
SIGNMIN = "signmin.curve_fit"


def one_thread():
    """Pin every BLAS (and OpenMP) pool to one thread; say what was found."""
    try:
        import threadpoolctl
    except ImportError:
        C.say("Threads: threadpoolctl is not installed; OPENBLAS_NUM_THREADS="
              f"{C.os.environ.get('OPENBLAS_NUM_THREADS')} only.")
        return None
    limits = threadpoolctl.threadpool_limits(limits=1)
    found = [f"{Path(lib['filepath']).name} ({lib['internal_api']}) {lib['num_threads']} "
             f"thread{'s' * (lib['num_threads'] != 1)}" for lib in threadpoolctl.threadpool_info()]
    C.say("Threads: BLAS pinned to one thread with threadpoolctl: " + "; ".join(found) + ".")
    return limits


def fit_cost(fit, model, x, y, p0):
    """The cost of `fit`'s answer and its calls of the model; inf and 0 if it raises."""
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            popt, _, info, *_ = fit(model, x, y, p0=p0, full_output=True)
        r = model(x, *popt) - y
        return 0.5 * float(r @ r), info["nfev"]
    except (RuntimeError, ValueError, np.linalg.LinAlgError):
        return np.inf, 0


def reference_cost(model, x, y, true):
    with np.errstate(all="ignore"):
        ls = optimize.least_squares(lambda p: model(x, *p) - y, true, method="lm",
                                    ftol=1e-15, xtol=1e-15, gtol=1e-15)
    return ls.cost


def quiet(fit):
    def run(*args, **kwargs):
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            try:
                fit(*args, **kwargs)
            except (RuntimeError, ValueError, np.linalg.LinAlgError):
                pass
    return run


def measure(fits, solvers, reps):
    """``{solver: (seconds per fit, cost per fit, calls per fit)}`` and the best cost
    per fit."""
    names = list(solvers)
    seconds = {name: np.full(len(fits), np.inf) for name in names}
    costs = {name: np.empty(len(fits)) for name in names}
    calls = {name: np.zeros(len(fits), dtype=int) for name in names}
    best = np.empty(len(fits))
    runs = {name: quiet(fit) for name, fit in solvers.items()}
    for i, (model, x, y, true, p0) in enumerate(fits):
        for name, fit in solvers.items():
            costs[name][i], calls[name][i] = fit_cost(fit, model, x, y, p0)
        best[i] = min(reference_cost(model, x, y, true), *(costs[n][i] for n in names))
        for rep in range(reps):
            shift = (i + rep) % len(names)
            for name in names[shift:] + names[:shift]:
                if rep and seconds[name][i] > SLOW:
                    continue  # one timing is enough for a slow fit
                t = C.timed(runs[name], model, x, y, p0=p0)
                seconds[name][i] = min(seconds[name][i], t)
    return {name: (seconds[name], costs[name], calls[name]) for name in names}, best


def summarise(family, results, best):
    ref = results[SCIPY][0]
    rows = []
    for name, (sec, cost, calls) in results.items():
        at_best = int(np.sum(cost <= best * (1 + BEST_RTOL)))
        raised = int(np.sum(~np.isfinite(cost)))
        done = calls[np.isfinite(cost)]
        spread = ("{:.0f} / {:.0f} / {:.0f}".format(*np.percentile(done, [50, 90, 99]))
                  if done.size else "-")
        rows.append([name, f"{1e3 * sec.mean():.3f}", f"{1e3 * np.median(sec):.3f}",
                     f"{sec.mean() / ref.mean():.2f}", f"{np.median(sec / ref):.2f}",
                     f"{at_best}/{len(best)}", raised, spread])
    C.table(["solver", "ms per fit (mean)", "ms per fit (median)", "x SciPy (means)",
             "x SciPy (median of per-fit ratios)", "fits at the best cost", "raised",
             "calls of f per fit: median / p90 / p99"],
            rows, title=f"{family}: {len(best)} fits")
    sec, cost, _ = results[SIGNMIN]
    return sec.mean() / ref.mean(), np.median(sec / ref), (
        int(np.sum(cost <= best * (1 + BEST_RTOL))),
        int(np.sum(results[SCIPY][1] <= best * (1 + BEST_RTOL))), len(best))


def main():
    args = C.parse_args(__doc__)
    C.header(__doc__, args)
    limits = one_thread()  # noqa: F841 - the limits last while it is referenced
    reps = 1 if args.quick else 5
    C.say(f"Repetitions per fit and solver: {reps} (the least is kept).")
    solvers = dict(SOLVERS)
    if args.quick:
        del solvers["signmin, until_bracketed=False"]  # the slow one
    # Compile the kernel and warm the caches outside the timing.
    for maker, _, seed in FAMILIES.values():
        model, x, y, _, p0 = maker(1, np.random.default_rng(seed))[0]
        for fit in solvers.values():
            quiet(fit)(model, x, y, p0=p0)
    headline = None
    for family, (maker, count, seed) in FAMILIES.items():
        fits = maker(QUICK_FITS if args.quick else count, np.random.default_rng(seed))
        results, best = measure(fits, solvers, reps)
        summary = summarise(family, results, best)
        if headline is None:
            headline = summary
    mean_ratio, median_ratio, (ours, theirs, total) = headline
    met = "met" if mean_ratio <= TARGET and ours >= theirs else "not met"
    C.say(f"\nHEADLINE: signmin.curve_fit / scipy.optimize.curve_fit time per fit on well-posed "
          f"peaks: {mean_ratio:.2f}x (means; median per-fit ratio {median_ratio:.2f}x; target "
          f"<= {TARGET:g}x); fits at the best cost {ours}/{total} against SciPy's "
          f"{theirs}/{total}: target {met}")
    C.write_section("curve_fit_speed", "curve_fit per fit (curve_fit_speed.py)", __doc__, args)


if __name__ == "__main__":
    main()
