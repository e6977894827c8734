"""Compile ahead of time what a deployment will run: ``python -m signmin --warm-up``.

The kernel is compiled once for the small runs of the Python loop, and per run
specification (variant, bounds, which stopping rules are on) for the compiled
loop and larger runs, and saved in numba's disk cache, so the first call of
each kind in a new environment waits for a compile (seconds each) and every
later process loads it (milliseconds). A Docker image, a CI cache or a Dask worker can pay
for the compiles once, at build time, by running this module: it runs a tiny
problem through each entry point in the forms users most often call, and
reports what each took.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable

import numpy as np

VARIANTS = ("irprop+", "irprop-", "rprop+", "rprop-")


def _quadratic(x):
    return float(np.sum((x - 1.0) ** 2))


def _quadratic_jac(x):
    return 2.0 * (x - 1.0)


def _minimize_runs(variants):
    from scipy.optimize import minimize

    from .rprop.kernel import GENERIC_MAX_N
    from .rprop.minimize import minimize_rprop

    x0 = np.array([3.0, -2.0])
    box = [(-5.0, 5.0)] * 2
    for variant in variants:
        for bounds in (None, box):
            where = "bounded" if bounds else "unbounded"
            for label, options in (("defaults", {}), ("polish=False", {"polish": False})):
                yield (f"minimize_rprop {variant}, {label}, {where}",
                       lambda o=options, b=bounds, v=variant: minimize_rprop(
                           _quadratic, x0, jac=_quadratic_jac, bounds=b, variant=v, **o))
            yield (f"scipy.optimize.minimize(method=minimize_rprop, tol=1e-8), {variant}, {where}",
                   lambda b=bounds, v=variant: minimize(
                       _quadratic, x0, jac=_quadratic_jac, bounds=b, tol=1e-8,
                       method=minimize_rprop, options={"variant": v}))
            # (Over GENERIC_MAX_N variables the loop is specialised to the kind of run.)
            n = GENERIC_MAX_N + 1
            yield (f"minimize_rprop {variant}, defaults, {where}, n = {n}",
                   lambda b=bounds, v=variant, n=n: minimize_rprop(
                       _quadratic, np.full(n, 3.0), jac=_quadratic_jac,
                       bounds=None if b is None else b[:1] * n, variant=v))


def _fit_runs():
    from .lsq.curve_fit import curve_fit
    from .lsq.many import curve_fit_many

    x = np.linspace(0.0, 4.0, 20)
    y = 2.0 * np.exp(-1.3 * x)

    def decay(x, a, b):
        return a * np.exp(-b * x)

    yield "curve_fit, unbounded", lambda: curve_fit(decay, x, y, p0=[1.0, 1.0])
    yield "curve_fit, bounded", lambda: curve_fit(decay, x, y, p0=[1.0, 1.0], bounds=(0, 10))
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a dependency
        return
    decay_nb = numba.njit(decay)
    rows = np.vstack([y, 1.5 * y])
    yield "curve_fit_many, unbounded", lambda: curve_fit_many(decay_nb, x, rows, p0=[1.0, 1.0])
    yield "curve_fit_many, bounded", lambda: curve_fit_many(decay_nb, x, rows, p0=[1.0, 1.0],
                                                             bounds=(0, 10))


def warm_up(all_variants: bool = False,
            report: Callable[[str], object] | None = print) -> list[tuple[str, float]]:
    """Compile (or load from numba's disk cache) what the common calls run.

    Parameters
    ----------
    all_variants : bool, optional
        Every variant of `minimize_rprop`, not only the default ``'irprop+'``.
    report : callable or None, optional
        Called with a line per item as it is done (default: print).

    Returns
    -------
    list of (str, float)
        What was run and the seconds it took (a compile, or a load from the cache).
    """
    variants = VARIANTS if all_variants else VARIANTS[:1]
    done = []
    start = time.perf_counter()
    runs = [*_minimize_runs(variants), *_fit_runs()]
    for i, (label, run) in enumerate(runs, 1):
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run()
        seconds = time.perf_counter() - t
        done.append((label, seconds))
        if report is not None:
            report(f"[{i}/{len(runs)}] {seconds:6.2f} s  {label}")
    if report is not None:
        report(f"warm-up done: {len(runs)} kinds of call in {time.perf_counter() - start:.1f} s "
               "(in the cache now: each loads in milliseconds in a new process)")
    return done
