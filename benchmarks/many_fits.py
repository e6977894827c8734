"""Many fits: ``curve_fit_many`` against a loop of ``scipy.optimize.curve_fit`` (and xarray).

The problem of issue 14: a Gaussian peak on a sloped background, 5 parameters
(amplitude 1-5, centre 2.5-7.5, width 0.5-1.5, offset and slope), 64 points on
[0, 10], noise 0.1, every data set started from one generic p0 = (1, 5, 1, 0, 0);
the model is a ``@numba.njit`` function for signmin and the same NumPy
expression for SciPy and xarray. Beside it, a harder family (issue 25): the
same peaks with centres anywhere on the data (0.5-9.5) and widths 0.3-3, from
the same p0, so that a share of them start far from their peak. Reported,
measured side by side in one run:

* fits per second for m = 1,000, 2,000, 10,000 and 100,000 data sets:
  ``curve_fit_many`` on all of numba's threads, against the SciPy loop (one
  core, its rate taken on the first 1,000 data sets next to each signmin run)
  and xarray's ``DataArray.curvefit`` (the same, where installed); with
  finite differences (the default) and with an analytic Jacobian for both;
  the harder family at m = 2,000;
* calls of the model per fit (finite differences included), median, 90th and
  99th percentile, for signmin (all fits) and SciPy (its sample);
* the fraction of data sets at the best cost either method found (within
  1e-8 relative), and how far signmin's rows are from ``signmin.curve_fit``;
* CPU time per fit on one thread each (less moved by other load than wall
  time: the rate an idle machine would give is this ratio times the threads);
* peak memory per fit (a fresh process; the inputs excluded);
* the latency of the first call in a fresh process: with numba's cache as the
  package leaves it, and with an empty cache (everything compiles).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402  (first: it sets the BLAS threads before numpy loads)
import numba  # noqa: E402
import numpy as np  # noqa: E402

K = 64
X = np.linspace(0.0, 10.0, K)
P0 = np.array([1.0, 5.0, 1.0, 0.0, 0.0])
NOISE = 0.1
#: A cost within this (relative) of the best one either method found counts as the best.
AT_BEST = 1e-8


@numba.njit
def peak(x, a, mu, s, c0, c1):
    return a * np.exp(-0.5 * ((x - mu) / s) ** 2) + c0 + c1 * x


@numba.njit
def peak_jac(x, a, mu, s, c0, c1):
    J = np.empty((x.shape[0], 5))
    for j in range(x.shape[0]):
        u = (x[j] - mu) / s
        e = np.exp(-0.5 * u * u)
        J[j, 0] = e
        J[j, 1] = a * e * u / s
        J[j, 2] = a * e * u * u / s
        J[j, 3] = 1.0
        J[j, 4] = x[j]
    return J


def peak_np(x, a, mu, s, c0, c1):
    return a * np.exp(-0.5 * ((x - mu) / s) ** 2) + c0 + c1 * x


def peak_jac_np(x, a, mu, s, c0, c1):
    u = (x - mu) / s
    e = np.exp(-0.5 * u * u)
    return np.column_stack([e, a * e * u / s, a * e * u * u / s, np.ones_like(x), x])


#: The families: ranges of the peaks' centres and widths.
FAMILIES = {"well-posed": ((2.5, 7.5), (0.5, 1.5)), "harder": ((0.5, 9.5), (0.3, 3.0))}


def data_sets(m, seed=0, family="well-posed"):
    """m noisy peaks of `family` and their true parameters."""
    centres, widths = FAMILIES[family]
    rng = np.random.default_rng(seed)
    true = np.column_stack([rng.uniform(1, 5, m), rng.uniform(*centres, m),
                            rng.uniform(*widths, m), rng.uniform(-0.5, 0.5, m),
                            rng.uniform(-0.05, 0.05, m)])
    y = (true[:, :1] * np.exp(-0.5 * ((X - true[:, 1:2]) / true[:, 2:3]) ** 2)
         + true[:, 3:4] + true[:, 4:5] * X)
    return true, y + NOISE * rng.normal(size=y.shape)


def cost_of(y, popt):
    """0.5 * sum(r**2) per row (inf where popt is NaN)."""
    r = np.array([peak_np(X, *p) for p in popt]) - y
    c = 0.5 * np.sum(r * r, axis=1)
    return np.where(np.isfinite(c), c, np.inf)


def signmin_fit(y, jac=None):
    from signmin import curve_fit_many

    return curve_fit_many(peak, X, y, p0=P0, jac=jac)


def scipy_loop(y, jac=None):
    """``scipy.optimize.curve_fit`` on each data set: popt (NaN where it raises) and
    the calls of the model per fit (0 where it raises)."""
    from scipy.optimize import curve_fit

    out = np.full((y.shape[0], 5), np.nan)
    calls = np.zeros(y.shape[0], dtype=int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(y.shape[0]):
            try:
                out[i], _, info, _, _ = curve_fit(peak_np, X, y[i], p0=P0, jac=jac,
                                                  full_output=True)
                calls[i] = info["nfev"]
            except RuntimeError:
                pass
    return out, calls


def percentiles(calls):
    """Median / p90 / p99 of calls per fit, as text."""
    return "{:.0f} / {:.0f} / {:.0f}".format(*np.percentile(calls, [50, 90, 99]))


def xarray_curvefit(y):
    """xarray's ``DataArray.curvefit`` over the data sets (it loops over SciPy)."""
    import xarray as xr

    da = xr.DataArray(y, dims=("set", "x"), coords={"x": X})
    names = ("a", "mu", "s", "c0", "c1")

    def model(x, a, mu, s, c0, c1):
        return peak_np(x, a, mu, s, c0, c1)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = da.curvefit("x", model, p0=dict(zip(names, P0, strict=True)), errors="ignore")
    return fit.curvefit_coefficients.values


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def throughput(sizes, scipy_sample, reps, xr_module, family="well-posed"):
    """fits/s per m: signmin on all m, the loops on the first `scipy_sample` sets, side by side."""
    rates = {"signmin": {}, "scipy": {}, "xarray": {}}
    quality = {}
    for m in sizes:
        _, y = data_sets(m, seed=m, family=family)
        sample = y[:min(m, scipy_sample)]
        for name in rates:
            rates[name][m] = []
        fits = None
        for rep in range(reps if m <= 10_000 else 1):
            order = ["signmin", "scipy", "xarray"][::(1 if rep % 2 == 0 else -1)]
            for name in order:
                if name == "signmin":
                    t, fits = timed(signmin_fit, y)
                    rates[name][m].append(m / t)
                elif name == "scipy":
                    t, (scipy_popt, scipy_calls) = timed(scipy_loop, sample)
                    rates[name][m].append(sample.shape[0] / t)
                elif xr_module is not None and rep == 0:
                    t, _ = timed(xarray_curvefit, sample)
                    rates[name][m].append(sample.shape[0] / t)
        ours = fits.cost[:sample.shape[0]]
        theirs = cost_of(sample, scipy_popt)
        best = np.minimum(ours, theirs)
        quality[m] = dict(signmin=np.mean(ours <= best * (1 + AT_BEST)),
                          scipy=np.mean(theirs <= best * (1 + AT_BEST)),
                          converged=np.mean(fits.success), sample=sample.shape[0],
                          nfev=np.mean(fits.nfev), calls=fits.nfev,
                          scipy_calls=scipy_calls[scipy_calls > 0])
    return rates, quality


def per_core(m, scipy_sample, reps):
    """CPU seconds per fit on one thread (``time.thread_time``): signmin with one
    numba thread, SciPy's loop; less moved by other load on the machine than wall time."""
    from signmin import curve_fit_many

    _, y = data_sets(m, seed=m)
    sample = y[:min(m, scipy_sample)]
    ours, theirs = [], []
    for _ in range(reps):
        t0 = time.thread_time()
        curve_fit_many(peak, X, y, p0=P0, threads=1)
        ours.append((time.thread_time() - t0) / m)
        t0 = time.thread_time()
        scipy_loop(sample)
        theirs.append((time.thread_time() - t0) / sample.shape[0])
    return np.array(ours), np.array(theirs)


def with_jacobian(m, scipy_sample, reps):
    """fits/s with an analytic Jacobian for both, at one m."""
    _, y = data_sets(m, seed=m)
    sample = y[:min(m, scipy_sample)]
    signmin_fit(y[:2], jac=peak_jac)
    ours, theirs = [], []
    for _ in range(reps):
        t, fits = timed(signmin_fit, y, peak_jac)
        ours.append(m / t)
        t, _ = timed(scipy_loop, sample, peak_jac_np)
        theirs.append(sample.shape[0] / t)
    return np.array(ours), np.array(theirs), fits


def agreement(n_sets):
    """signmin.curve_fit against curve_fit_many on the first n_sets data sets.

    The model is even in the width s (s and -s fit alike): |s| is compared.
    """
    import signmin

    _, y = data_sets(n_sets, seed=12345)
    fits = signmin_fit(y)
    rel, in_sigma = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(n_sets):
            p, c = signmin.curve_fit(peak, X, y[i], p0=P0)
            ours = fits.popt[i].copy()
            p, ours = p.copy(), ours
            p[2], ours[2] = abs(p[2]), abs(ours[2])
            rel.append(np.max(np.abs(ours - p) / np.abs(p)))
            in_sigma.append(np.max(np.abs(ours - p) / np.sqrt(np.diag(c))))
    return np.array(rel), np.array(in_sigma)


def child_memory(m):
    """In a fresh process: peak RSS of one call beyond the inputs, per fit (bytes)."""
    _, y = data_sets(m, seed=1)
    signmin_fit(y[:4])
    rss_before = C.rss_kib("VmRSS")
    C.reset_peak_rss()
    signmin_fit(y)
    peak_kib = C.rss_kib("VmHWM")
    print(json.dumps(dict(per_fit=(peak_kib - rss_before) * 1024 / m,
                          outputs=(5 + 25 + 4) * 8, inputs=K * 8)))


def child_latency():
    """In a fresh process: import time, first and second call on 10 data sets."""
    t0 = time.perf_counter()
    from signmin import curve_fit_many

    t1 = time.perf_counter()
    _, y = data_sets(10, seed=2)
    curve_fit_many(peak, X, y, p0=P0)
    t2 = time.perf_counter()
    curve_fit_many(peak, X, y, p0=P0)
    t3 = time.perf_counter()
    print(json.dumps(dict(import_s=t1 - t0, first_s=t2 - t1, second_s=t3 - t2)))


def latency(quick):
    rows = []
    runs = [("new process, the package's numba cache", None)]
    if not quick:
        cache = tempfile.mkdtemp(prefix="signmin-numba-cache-")
        runs += [("new process, empty numba cache (everything compiles)", cache),
                 ("new process, that cache filled by the run above", cache)]
    for label, cache in runs:
        env = {"NUMBA_CACHE_DIR": cache} if cache else None
        out = json.loads(C.run_child([__file__, "--child-latency"], env=env,
                                     timeout=1200).splitlines()[-1])
        rows.append([label, f"{out['import_s']:.2f}", f"{out['first_s']:.2f}",
                     f"{out['second_s'] * 1e3:.1f}"])
    C.table(["process", "import s", "first call s (10 fits)", "second call ms"], rows,
            title="Latency of the first call (target: first call <= 3 s)")
    return rows


def plot(sizes, rates):
    plt = C.pyplot()
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(7, 4.5))
    labels = {"signmin": f"signmin.curve_fit_many ({numba.get_num_threads()} threads)",
              "scipy": "scipy.optimize.curve_fit loop (1 core)",
              "xarray": "xarray DataArray.curvefit (1 core)"}
    for name, by_m in rates.items():
        ms = [m for m in sizes if by_m.get(m)]
        if not ms:
            continue
        med = [np.median(by_m[m]) for m in ms]
        line, = ax.plot(ms, med, "o-", lw=2 if name == "signmin" else 1.2, label=labels[name])
        ax.fill_between(ms, [np.min(by_m[m]) for m in ms], [np.max(by_m[m]) for m in ms],
                        color=line.get_color(), alpha=0.15)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("data sets m")
    ax.set_ylabel("fits per second")
    ax.set_title("Gaussian peak + slope, 5 parameters, 64 points (median, band = min-max)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    C.save_plot(fig, "many_fits_rate.png")


def parameter_map(side):
    """The docs' picture: a parameter map fitted from a synthetic spectral image stack.

    Every pixel of a side x side image holds a 64-point spectrum with a peak
    whose centre and width drift smoothly across the image (a lens-shaped
    shift and a ramp); one call fits all pixels.
    """
    plt = C.pyplot()
    if plt is None:
        return None
    from signmin import curve_fit_many

    rng = np.random.default_rng(7)
    u, v = np.meshgrid(np.linspace(-1, 1, side), np.linspace(-1, 1, side))
    centre = 5.0 + 1.5 * np.exp(-3 * (u ** 2 + v ** 2)) - 0.8 * v
    width = 0.7 + 0.3 * (u + 1) / 2
    amp = 3.0 + np.cos(3 * u) * np.sin(2 * v)
    true = np.stack([amp, centre, width, 0.2 * u, 0.01 * v], axis=-1).reshape(-1, 5)
    y = (true[:, :1] * np.exp(-0.5 * ((X - true[:, 1:2]) / true[:, 2:3]) ** 2)
         + true[:, 3:4] + true[:, 4:5] * X)
    y += 0.15 * rng.normal(size=y.shape)
    t, fits = timed(curve_fit_many, peak, X, y, P0)
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.4), constrained_layout=True)
    panels = [(fits.popt[:, 1], "fitted centre μ"), (np.abs(fits.popt[:, 2]), "fitted width |s|"),
              (fits.perr[:, 1], "standard error of μ")]
    for ax, (values, title) in zip(axes, panels, strict=True):
        image = ax.imshow(values.reshape(side, side), cmap="viridis", origin="lower")
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(image, ax=ax, shrink=0.8)
    fig.suptitle(f"{side} x {side} pixels, one 64-point spectrum each: one call, {t:.2f} s",
                 fontsize=10)
    C.save_plot(fig, "many_fits_map.png")
    return side * side, t, float(np.mean(fits.success))


def main():
    args = C.parse_args(__doc__, lambda p: (
        p.add_argument("--child-latency", action="store_true", help="internal"),
        p.add_argument("--child-memory", type=int, default=0, help="internal")))
    if args.child_latency:
        child_latency()
        return
    if args.child_memory:
        child_memory(args.child_memory)
        return
    C.header(__doc__, args)
    xr_module = C.optional("xarray")
    threads = numba.get_num_threads()
    if args.quick:
        sizes, scipy_sample, reps, jac_m, agree_n, memory_m, side = (
            [300], 30, 1, 300, 3, 2_000, 16)
    else:
        sizes, scipy_sample, reps, jac_m, agree_n, memory_m, side = (
            [1_000, 2_000, 10_000, 100_000], 1_000, 3, 2_000, 200, 100_000, 128)
    # Compile (or load) once before any timing.
    _, warm = data_sets(4, seed=99)
    signmin_fit(warm)
    scipy_loop(warm[:1])

    rates, quality = throughput(sizes, scipy_sample, reps, xr_module)
    hard_m = sizes[0] if args.quick else 2_000
    hard_rates, hard_quality = throughput([hard_m], scipy_sample, reps, xr_module, "harder")
    for family, (family_rates, family_quality) in {
            "well-posed": (rates, quality), "harder": (hard_rates, hard_quality)}.items():
        rows = []
        for m in family_rates["signmin"]:
            ours = np.array(family_rates["signmin"][m])
            theirs = np.array(family_rates["scipy"][m])
            xr_rate = family_rates["xarray"][m]
            q = family_quality[m]
            rows.append([f"{m:,}", C.spread(ours), C.spread(theirs),
                         f"{np.median(xr_rate):.0f}" if xr_rate else "-",
                         C.spread(ours / np.median(theirs)),
                         f"{100 * q['signmin']:.1f} / {100 * q['scipy']:.1f} ({q['sample']})",
                         f"{100 * q['converged']:.2f}", f"{q['nfev']:.0f}",
                         percentiles(q["calls"]), percentiles(q["scipy_calls"])])
        C.table(["m", "signmin fits/s", "scipy loop fits/s", "xarray fits/s",
                 "signmin / scipy", "at best cost: signmin / scipy, % (sets)",
                 "signmin converged %", "signmin calls of f per fit (mean)",
                 "signmin calls: median / p90 / p99", "scipy calls: median / p90 / p99"],
                rows, title=f"Throughput, {family} peaks, finite differences (numba threads: "
                f"{threads})")

    ours, theirs = per_core(jac_m, scipy_sample, reps)
    C.table(["m", "signmin CPU µs per fit (1 thread)", "scipy loop CPU µs per fit",
             "scipy / signmin (per core)", f"that x {threads} threads"],
            [[f"{jac_m:,}", C.spread(ours * 1e6), C.spread(theirs * 1e6),
              C.spread(np.median(theirs) / ours), f"{threads * np.median(theirs / ours):.1f}"]],
            title="CPU time per fit, one thread each (what an idle machine would give)")

    ours, theirs, _ = with_jacobian(jac_m, scipy_sample, reps)
    C.table(["m", "signmin fits/s", "scipy loop fits/s", "signmin / scipy"],
            [[f"{jac_m:,}", C.spread(ours), C.spread(theirs),
              C.spread(ours / np.median(theirs))]],
            title="Throughput with an analytic Jacobian for both")

    rel, in_sigma = agreement(agree_n)
    C.table(["data sets", "popt within 1e-12 relative of signmin.curve_fit",
             "largest difference, relative", "largest difference, in standard errors"],
            [[agree_n, f"{100 * np.mean(rel <= 1e-12):.1f}%", f"{rel.max():.2g}",
              f"{in_sigma.max():.2g}"]],
            title="Each row against signmin.curve_fit on its data set")

    memory = json.loads(C.run_child([__file__, "--child-memory", str(memory_m)],
                                    timeout=1200).splitlines()[-1])
    C.table(["m", "peak memory per fit, bytes (inputs excluded)", "its outputs per fit",
             "its input (ydata) per fit"],
            [[f"{memory_m:,}", f"{memory['per_fit']:.0f}", memory["outputs"],
              memory["inputs"]]], title="Memory")
    latency(args.quick)

    if args.plot:
        plot(sizes, rates)
        shown = parameter_map(side)
        if shown:
            C.say(f"Parameter map for the docs: {shown[0]:,} pixels in {shown[1]:.2f} s, "
                  f"{100 * shown[2]:.1f}% converged.")
    m_target = 2_000 if 2_000 in sizes else sizes[-1]
    ratio = np.array(rates["signmin"][m_target]) / np.median(rates["scipy"][m_target])
    q = quality[m_target]
    hard = np.array(hard_rates["signmin"][hard_m]) / np.median(hard_rates["scipy"][hard_m])
    hq = hard_quality[hard_m]
    tail = np.percentile(hq["calls"], 99) / np.median(hq["calls"])
    C.say(f"HEADLINE: curve_fit_many / scipy curve_fit loop at m = {m_target:,}: median "
          f"{np.median(ratio):.1f}x [{ratio.min():.1f}, {ratio.max():.1f}] (target >= 20x); "
          f"at the best cost {100 * q['signmin']:.1f}% vs scipy {100 * q['scipy']:.1f}% "
          f"(target >= 99% and >= scipy). Harder family at m = {hard_m:,}: "
          f"{np.median(hard):.1f}x [{hard.min():.1f}, {hard.max():.1f}] (target >= 30x); "
          f"calls per fit median / p90 / p99 {percentiles(hq['calls'])}, p99 / median "
          f"{tail:.2f} (target <= 2.5); at the best cost {100 * hq['signmin']:.1f}% vs scipy "
          f"{100 * hq['scipy']:.1f}%")
    C.write_section("many_fits", "Many fits: curve_fit_many (many_fits.py)", __doc__, args)


if __name__ == "__main__":
    main()
