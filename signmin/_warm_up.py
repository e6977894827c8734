"""Compile ahead of time what a deployment will run: ``python -m signmin --warm-up``.

The kernel is compiled once for the small runs of the Python loop, and per run
specification (variant, bounds, which stopping rules are on) for the compiled
loop and larger runs, and saved in numba's disk cache, so the first call of
each kind in a new environment waits for a compile (seconds each) and every
later process loads it (milliseconds). A Docker image, a CI cache or a Dask worker can pay
for the compiles once, at build time, by running this module: it runs a tiny
problem through each entry point in the forms users most often call, and
reports what each took.

With ``jobs`` above 1 (``--jobs``; default: one per core), that many processes
take the kinds of call from one list, each the next one not yet taken. They
share the cache and its compile lock (`signmin._jit`): a function two kinds
need is compiled by one process and loaded by the other. The list starts with
the longest compile (the batch driver of `curve_fit_many`, about two thirds of
the whole) and ends with the other kind that needs it, so that the rest of the
list runs beside it instead of waiting for it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path

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


def _runs(all_variants):
    """Every kind of call, in the order the processes take them (see the module's docstring)."""
    fits = list(_fit_runs())
    many = [run for run in fits if run[0].startswith("curve_fit_many")]
    others = [run for run in fits if run not in many]
    variants = VARIANTS if all_variants else VARIANTS[:1]
    return [*many[:1], *_minimize_runs(variants), *others, *many[1:]]


def _time(run):
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run()
    return time.perf_counter() - t


def default_jobs() -> int:
    """One process per core this one may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def warm_up(all_variants: bool = False,
            report: Callable[[str], object] | None = print,
            jobs: int = 1) -> list[tuple[str, float]]:
    """Compile (or load from numba's disk cache) what the common calls run.

    Parameters
    ----------
    all_variants : bool, optional
        Every variant of `minimize_rprop`, not only the default ``'irprop+'``.
    report : callable or None, optional
        Called with a line per item as it is done (default: print).
    jobs : int, optional
        Processes that share the work (default 1: this one alone); see the
        module's docstring.

    Returns
    -------
    list of (str, float)
        What was run and the seconds it took (a compile, or a load from the
        cache, or a wait for another process's compile), in the order they ended.
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"`jobs` must be a positive integer; got {jobs!r}")
    runs = _runs(all_variants)
    done = []
    start = time.perf_counter()

    def ended(label, seconds):
        done.append((label, seconds))
        if report is not None:
            report(f"[{len(done)}/{len(runs)}] {seconds:6.2f} s  {label}")

    if jobs == 1:
        for label, run in runs:
            ended(label, _time(run))
    else:
        _in_processes(all_variants, min(jobs, len(runs)), ended)
    if report is not None:
        report(f"warm-up done: {len(runs)} kinds of call in {time.perf_counter() - start:.1f} s "
               f"({jobs} {'process' if jobs == 1 else 'processes'}; in the cache now: each "
               "loads in milliseconds in a new process)")
    return done


_CHILD = "from signmin._warm_up import _take_and_run; _take_and_run({folder!r}, {all_variants!r})"


def _in_processes(all_variants, jobs, ended):
    """Run the kinds of call in `jobs` new processes; `ended(label, seconds)` as each ends."""
    with tempfile.TemporaryDirectory(prefix="signmin-warm-up-") as folder:
        # (stderr to files: a full pipe would stall a process that may hold a lock
        # another one waits for.)
        errors = [Path(folder) / f"stderr-{k}" for k in range(jobs)]
        procs = []
        for error in errors:
            with error.open("w") as err:
                procs.append(subprocess.Popen(
                    [sys.executable, "-c", _CHILD.format(folder=folder,
                                                         all_variants=all_variants)],
                    stdout=subprocess.PIPE, stderr=err, text=True))
        lock = threading.Lock()

        def read(proc):
            for line in proc.stdout:
                label, seconds = json.loads(line)
                with lock:
                    ended(label, seconds)

        readers = [threading.Thread(target=read, args=(proc,)) for proc in procs]
        for reader in readers:
            reader.start()
        for reader, proc in zip(readers, procs, strict=True):
            reader.join()
            proc.wait()
        failed = [error for proc, error in zip(procs, errors, strict=True) if proc.returncode]
        if failed:
            raise RuntimeError("a warm-up process failed:\n" + failed[0].read_text()[-3000:])


def _take_and_run(folder, all_variants):
    """A warm-up process: take each kind of call no other has taken (a file made
    once, by whichever process comes first), run it, print its label and seconds."""
    for i, (label, run) in enumerate(_runs(all_variants)):
        try:
            (Path(folder) / f"{i}.taken").touch(exist_ok=False)
        except FileExistsError:
            continue
        print(json.dumps([label, _time(run)]), flush=True)
