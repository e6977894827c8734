"""Overhead of each optimiser over the objective calls it needs (Python objective).

Rosenbrock (``scipy.optimize.rosen`` / ``rosen_der``, plain numpy) in n = 2, 10,
100, 1000 dimensions from (-1.2, 1, -1.2, 1, ...). Each optimiser runs with its
stopping rules off for a fixed number of evaluations; its time is divided by
the time of the bare ``rosen`` + ``rosen_der`` calls it made (the same numbers
of each, at a fixed x), timed right next to it. A ratio of 1 means the
optimiser itself costs nothing; 1.05 means it adds 5 % to the objective's cost.

SciPy's L-BFGS-B and BFGS cannot be told to take a fixed number of steps (their
line searches end the run once no progress is possible in floating point); they
run with ftol = gtol = 0 and at most max(20, 20,000 / n) iterations (SciPy's
BFGS update costs O(n^3): 0.1-0.5 s an iteration at n = 1000), and their ratio
is over the calls they actually made; a run that ends early is repeated within
one timing up to that many evaluations ("evaluations" is the total).

"signmin ask/tell" is the same run as "signmin", driven from outside through
``signmin.Rprop`` (a Python loop of ``ask()`` and ``tell(f, g)``, the user's).

Headline: n = 10, 10,000 iterations (10,001 evaluations) of ``minimize_rprop``.

Checkpoints (``checkpoint=path``): the same run with a checkpoint armed but never
due (``checkpoint_every`` a day: the check between steps, paired with the run
without), and the cost of each checkpoint written (runs that write one after
every step, ``checkpoint_every=0``, paired with the run without, the difference
divided by the checkpoints written), for the sign method's own mode (the file is
the state) and the default mode (the file is the journal of what the run learned,
replayed on resume: it grows with the finish's evaluations).
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402  (first: it sets the BLAS threads before numpy loads)
import numba  # noqa: E402
import numpy as np  # noqa: E402
from scipy.optimize import minimize, rosen, rosen_der  # noqa: E402

from signmin import Rprop, minimize_rprop  # noqa: E402

HEADLINE_N = 10
HEADLINE_ITERS = 10_000


def x_start(n):
    return np.tile([-1.2, 1.0], n // 2 + 1)[:n].copy()


def bare(nf, nj, x):
    """``nf`` calls of rosen and ``nj`` of rosen_der at x: what any optimiser must pay."""
    def run():
        for _ in range(min(nf, nj)):
            rosen(x)
            rosen_der(x)
        for _ in range(nf - nj):
            rosen(x)
        for _ in range(nj - nf):
            rosen_der(x)
    return run


def signmin_run(x0, n_evals):
    return lambda: minimize_rprop(rosen, x0, jac=rosen_der, xtol=0.0, ftol=0.0, gtol=0.0,
                                  stall_window=0, polish=False, accelerate=False,
                                  maxiter=n_evals - 1)


def ask_tell_run(x0, n_evals):
    """The same run as :func:`signmin_run`, driven from outside (``signmin.Rprop``)."""
    def run():
        opt = Rprop(x0, xtol=0.0, ftol=0.0, gtol=0.0, stall_window=0, accelerate=False,
                    maxiter=n_evals - 1)
        while not opt.done:
            x = opt.ask()
            opt.tell(rosen(x), rosen_der(x))
        return opt.result
    return run


def scipy_budget(n, n_evals):
    return min(n_evals, max(20, 20_000 // n))


def scipy_run(method, x0, n_evals):
    # SciPy's BFGS updates its dense n x n inverse Hessian with matrix products,
    # O(n^3) per iteration: 0.1-0.5 s at n = 1000. The SciPy methods are held to
    # scipy_budget(n) evaluations (their cost per evaluation is what counts).
    iters = scipy_budget(x0.size, n_evals)
    options = dict(maxiter=iters, gtol=0.0)
    if method == "L-BFGS-B":
        options.update(maxfun=iters, ftol=0.0)

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return minimize(rosen, x0, jac=rosen_der, method=method, options=options)
    return run


def _counted(run):
    """``(run, calls of fun, calls of jac)``: a step where no variable moved is not
    evaluated again, so a run makes at most, not exactly, maxiter + 1 evaluations."""
    res = run()
    return run, res.nfev, res.njev


def optimisers(peers):
    """name -> factory(x0, n_evals) -> (run, calls of fun, calls of jac)."""
    out = {"signmin": lambda x0, e: _counted(signmin_run(x0, e)),
           "signmin ask/tell": lambda x0, e: _counted(ask_tell_run(x0, e))}
    for peer in peers:
        runner = C.PEER_RUNNERS[peer]
        out[C.PEER_LABELS[peer]] = (
            lambda x0, e, runner=runner: (lambda: runner(rosen, rosen_der, x0, e), e, e))
    for method in ("L-BFGS-B", "BFGS"):
        def make(x0, e, method=method):
            once = scipy_run(method, x0, e)
            res = once()  # deterministic: its counts are those of every timed run
            # A run that converges in a few dozen evaluations lasts a millisecond,
            # less than one time slice of a busy machine: repeat it so that each
            # timing covers about as many evaluations as the others'.
            k = max(1, scipy_budget(x0.size, e) // res.nfev)

            def run():
                for _ in range(k):
                    once()
            return run, k * res.nfev, k * res.njev
        out[method] = make
    return out


def measure(n, n_evals, reps, peers):
    x0 = x_start(n)
    pairs, counts = {}, {}
    for name, make in optimisers(peers).items():
        run, nf, nj = make(x0, n_evals)
        run()  # warm-up: numba dispatch, jax compilation, imports
        pairs[name] = (run, bare(nf, nj, x0.copy()))
        counts[name] = nf
    return C.paired_ratios(pairs, reps), counts


# ----------------------------------------------------------------- where signmin's time goes
@numba.njit(cache=True)
def _noop_kernel(address, g, f, calls, handed_over):
    """The kernel's call as the Python loop makes it, ``tell(address, g, f, calls,
    handed_over)``, doing nothing: the cost of crossing into compiled code."""
    return -1


def breakdown(n, iters, reps):
    """Per-iteration cost (µs) of signmin's driver with a free objective, and its floor.

    Uses the public API only: ``minimize_rprop`` on an objective that returns
    precomputed values costs (driver + kernel) per iteration; the pieces any
    Python loop around a compiled kernel must pay are timed alone for comparison.
    """
    x0 = x_start(n)
    g_const = rosen_der(x0)
    f_const = float(rosen(x0))
    free_f = lambda x: f_const  # noqa: E731
    free_g = lambda x: g_const  # noqa: E731
    # The loop calls tell's compiled entry point directly (no dispatch), with the
    # state's address: so does this.
    _noop_kernel(0, g_const, f_const, 1.0, False)
    noop = _noop_kernel.overloads[_noop_kernel.signatures[0]].entry_point

    def signmin_free():
        minimize_rprop(free_f, x0, jac=free_g, xtol=0.0, ftol=0.0, gtol=0.0,
                       stall_window=0, polish=False, accelerate=False,
                       maxiter=iters)

    def loop_only():
        for _ in range(iters + 1):
            free_f(x0)
            free_g(x0)

    def copy_only():
        for _ in range(iters + 1):
            x0.copy()

    def dispatch_only():
        for _ in range(iters + 1):
            noop(0, g_const, f_const, 1.0, False)

    def rosen_pair():
        for _ in range(iters + 1):
            rosen(x0)
            rosen_der(x0)

    # The same driver next to the real objective: the time outside fun and jac,
    # read by timers around them (the bare loop with the same timers gives the
    # timers' own share).
    inside = [0.0]
    clock = time.perf_counter

    def timed_inside(fn):
        def call(x):
            t = clock()
            out = fn(x)
            inside[0] += clock() - t
            return out
        return call

    timed_rosen, timed_rosen_der = timed_inside(rosen), timed_inside(rosen_der)

    spent = [0.0]

    def outside(fn):
        def run():
            inside[0] = 0.0
            t = clock()
            fn()
            spent[0] = clock() - t - inside[0]
        return run

    def signmin_rosen():
        minimize_rprop(timed_rosen, x0, jac=timed_rosen_der, xtol=0.0, ftol=0.0, gtol=0.0,
                       stall_window=0, polish=False, accelerate=False, maxiter=iters)

    def bare_rosen():
        for _ in range(iters + 1):
            timed_rosen(x0)
            timed_rosen_der(x0)

    in_situ = {"minimize_rprop with rosen/rosen_der: time outside fun and jac":
               outside(signmin_rosen),
               "bare rosen/rosen_der loop: time outside fun and jac (the timers)":
               outside(bare_rosen)}
    parts = {"minimize_rprop, free objective": signmin_free,
             "bare loop calling the free objective": loop_only,
             "x.copy() per iteration": copy_only,
             "call of a compiled no-op tell(address, g, f, calls, False)": dispatch_only,
             f"rosen + rosen_der (n={n})": rosen_pair}
    for fn in [*parts.values(), *in_situ.values()]:
        fn()
    times = {k: [] for k in [*parts, *in_situ]}
    for _ in range(reps):
        for k, fn in parts.items():
            times[k].append(C.timed(fn) / (iters + 1) * 1e6)
        for k, fn in in_situ.items():
            C.timed(fn)
            times[k].append(spent[0] / (iters + 1) * 1e6)
    rows = [[k, f"{np.median(v):.2f}", f"{np.min(v):.2f}"] for k, v in times.items()]
    C.table(["per iteration", "median µs", "min µs"], rows,
            title=f"Where signmin's time goes (n={n}, {iters} iterations, {reps} reps)")


def checkpoints(reps, quick):
    """The checkpoints' cost: armed but not due, and per checkpoint written."""
    import os
    import tempfile

    folder = tempfile.mkdtemp()
    path = os.path.join(folder, "run.npz")
    sign_mode = dict(xtol=0.0, ftol=0.0, gtol=0.0, stall_window=0, polish=False,
                     accelerate=False)
    rows = []
    steps = 100 if quick else HEADLINE_ITERS
    x0 = x_start(HEADLINE_N)
    plain = lambda: minimize_rprop(rosen, x0, jac=rosen_der, maxiter=steps,  # noqa: E731
                                   **sign_mode)
    armed = lambda: minimize_rprop(rosen, x0, jac=rosen_der, maxiter=steps,  # noqa: E731
                                   checkpoint=path, checkpoint_every=86400.0, **sign_mode)
    r = C.paired_ratios({"armed": (armed, plain)}, reps)["armed"]["ratio"]
    rows.append([f"sign mode, n={HEADLINE_N}, {steps} steps", "armed, never due",
                 f"time / without: {spread(r)}", "-"])
    cases = [("sign mode", n, dict(maxiter=10 if quick else 50, **sign_mode))
             for n in ([10, 1000] if quick else [10, 1000, 100_000])]
    cases += [("default mode", n, {}) for n in ([10] if quick else [10, 100])]
    for mode, n, options in cases:
        x0 = x_start(n)
        without = lambda x0=x0, o=options: minimize_rprop(  # noqa: E731
            rosen, x0, jac=rosen_der, **o)
        every = lambda x0=x0, o=options: minimize_rprop(  # noqa: E731
            rosen, x0, jac=rosen_der, checkpoint=path, checkpoint_every=0.0, **o)
        writes = _writes(every)
        t = C.paired_ratios({"every": (every, without)}, max(3, reps // 3))["every"]
        per = np.median(t["run"] - t["ref"]) / writes * 1e3
        size = os.path.getsize(path) / 1e6
        rows.append([f"{mode}, n={n}, Rosenbrock", f"{writes} checkpoints",
                     f"{per:.2f} ms each (median of {len(t['run'])})", f"{size:.2f} MB"])
    C.table(["run", "checkpoints", "cost", "last file"], rows,
            title="Checkpoints: armed but never due, and per checkpoint written")


def _writes(run):
    """How many checkpoints ``run()`` writes."""
    from signmin.rprop import checkpoint

    write, count = checkpoint.write, []

    def counted(*args):
        count.append(1)
        write(*args)

    checkpoint.write = counted
    try:
        run()
    finally:
        checkpoint.write = write
    return len(count)


def plot(results, sizes):
    series = {name: {n: results[n][name]["ratio"] for n in sizes} for name in results[sizes[0]]}
    C.plot_vs_n("overhead_ratio_vs_n.png", sizes, series,
                xlabel="n (Rosenbrock, Python objective)",
                ylabel="optimiser time / bare rosen+rosen_der time",
                title="Overhead over the objective calls",
                lines=[(1.0, dict(color="k", ls=":"), None)])


def main():
    args = C.parse_args(__doc__)
    C.header(__doc__, args)
    peers = C.available_peers("torch", "pints", "optax")
    if args.quick:
        sizes, evals, reps = [2, 10], {2: 100, 10: 100}, 2
    else:
        sizes = [2, 10, 100, 1000]
        evals = {2: 10_001, 10: HEADLINE_ITERS + 1, 100: 5_001, 1000: 1_001}
        reps = 9
    results = {}
    for n in sizes:
        ratios, counts = measure(n, evals[n], reps, peers)
        results[n] = ratios
        rows = []
        for name, r in ratios.items():
            per_call = np.median(r["ref"]) / counts[name] * 1e6
            added = np.median(r["run"] - r["ref"]) / counts[name] * 1e6
            rows.append([name, counts[name], spread(r["ratio"]), f"{added:.2f}",
                         f"{per_call:.2f}"])
        C.table(["optimiser", "evaluations", "time / bare calls: median [min, max]",
                 "added µs/eval", "bare µs/eval"], rows,
                title=f"Rosenbrock n={n}, {reps} paired repetitions")
    if HEADLINE_N in results:
        r = results[HEADLINE_N]["signmin"]["ratio"]
        C.say(f"HEADLINE: minimize_rprop / bare rosen+rosen_der, n={HEADLINE_N}, "
              f"{evals[HEADLINE_N] - 1} iterations: median {np.median(r):.3f}, "
              f"min {np.min(r):.3f}, max {np.max(r):.3f} (target <= 1.05)")
    breakdown(10, 100 if args.quick else HEADLINE_ITERS, 2 if args.quick else 7)
    checkpoints(2 if args.quick else 9, args.quick)
    if args.plot:
        plot(results, sizes)
    C.write_section("overhead", "Overhead over the objective's calls: Python objective "
                    "(overhead.py)", __doc__, args)


spread = C.spread

if __name__ == "__main__":
    main()
