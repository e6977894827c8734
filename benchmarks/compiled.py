"""Compiled objective: signmin's compiled driver against a bare compiled loop and the peers.

Rosenbrock in n = 10 written with ``@numba.njit`` (fun and jac), 100,000
evaluations with the stopping rules off. Reported, each measured side by side in
one run:

* ``minimize_rprop`` time / a bare ``@njit`` loop making the same 100,000
  calls of fun and jac (target <= 1.2);
* how many times faster that is than ``torch.optim.Rprop`` (and the other peers)
  stepping on the same problem: the peers are timed over a few thousand steps
  and scaled, since 100,000 of their steps take seconds (target >= 300x);
* the latency of the first call: in a fresh process with an empty numba cache
  (everything compiles), in a second fresh process (what ``cache=True`` keeps
  on disk), and a second call in the same process.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402  (first: it sets the BLAS threads before numpy loads)
import numba  # noqa: E402
import numpy as np  # noqa: E402

N = 10


@numba.njit(cache=True)
def rosen_nb(x):
    f = 0.0
    for i in range(x.shape[0] - 1):
        a = x[i + 1] - x[i] * x[i]
        b = 1.0 - x[i]
        f += 100.0 * a * a + b * b
    return f


@numba.njit(cache=True)
def rosen_der_nb(x):
    n = x.shape[0]
    g = np.zeros(n)
    for i in range(n - 1):
        a = x[i + 1] - x[i] * x[i]
        g[i] += -400.0 * x[i] * a - 2.0 * (1.0 - x[i])
        g[i + 1] += 200.0 * a
    return g


@numba.njit(cache=True)
def bare_loop(x, x0, n_calls):
    """``n_calls`` calls of fun and jac, all compiled: the floor for any compiled driver.

    The results are summed and x is rewritten (with its own values) every call
    so that the compiler can neither drop the calls nor hoist them out of the
    loop as invariant.
    """
    acc = 0.0
    n = x.shape[0]
    for k in range(n_calls):
        f = rosen_nb(x)
        g = rosen_der_nb(x)
        acc += f + g[k % n]
        x[k % n] = x0[k % n]
    return acc


def x_start():
    return np.tile([-1.2, 1.0], N // 2)


def signmin_run(x0, n_evals):
    from signmin import minimize_rprop

    return lambda: minimize_rprop(rosen_nb, x0, jac=rosen_der_nb, xtol=0.0, ftol=0.0,
                                  gtol=0.0, stall_window=0, polish=False, accelerate=False,
                                  maxiter=n_evals - 1)


def child_latency():
    """Run in a fresh process: time the import and the first and second calls."""
    t0 = time.perf_counter()
    from signmin import minimize_rprop

    t1 = time.perf_counter()
    x0 = x_start()
    kw = dict(jac=rosen_der_nb, xtol=0.0, ftol=0.0, gtol=0.0, stall_window=0, polish=False,
              accelerate=False, maxiter=100)
    res = minimize_rprop(rosen_nb, x0, **kw)
    t2 = time.perf_counter()
    minimize_rprop(rosen_nb, x0, **kw)
    t3 = time.perf_counter()
    assert res.nfev == 101
    print(json.dumps(dict(import_s=t1 - t0, first_s=t2 - t1, second_s=t3 - t2)))


def latency(quick):
    """First-call latency in new processes, cold and warm numba cache."""
    rows = []
    if quick:
        # Compiling from an empty cache takes many seconds: the quick mode only
        # checks that a child runs (with the usual cache, whatever state it is in).
        runs = [("new process, usual cache dir", None)]
    else:
        cache = tempfile.mkdtemp(prefix="signmin-numba-cache-")
        runs = [("new process, empty cache (compiles)", cache),
                ("new process, cache filled by the run above", cache),
                ("new process, cache filled (again)", cache)]
    for label, cache in runs:
        env = {"NUMBA_CACHE_DIR": cache} if cache else None
        out = json.loads(C.run_child([__file__, "--child-latency"], env=env).splitlines()[-1])
        rows.append([label, f"{out['import_s']:.2f}", f"{out['first_s']:.3f}",
                     f"{out['second_s'] * 1e3:.2f}"])
    C.table(["process", "import signmin s", "first call s (100 its)", "second call ms"],
            rows, title="Latency of the first call (compiled driver)")


def main():
    args = C.parse_args(__doc__, lambda p: p.add_argument(
        "--child-latency", action="store_true", help="internal: time one fresh process"))
    if args.child_latency:
        child_latency()
        return
    C.header(__doc__, args)
    peers = C.available_peers("torch", "pints", "optax")
    n_evals, peer_steps, reps = (2_000, 200, 3) if args.quick else (100_000, 2_000, 9)
    x0 = x_start()
    run = signmin_run(x0, n_evals)
    x_work = x0.copy()
    bare = lambda: bare_loop(x_work, x0, n_evals)  # noqa: E731
    run()
    bare()
    pairs = {"signmin": (run, bare)}
    for peer in peers:
        runner = C.PEER_RUNNERS[peer]
        peer_run = lambda runner=runner: runner(rosen_nb, rosen_der_nb, x0, peer_steps)  # noqa: E731
        peer_run()
        pairs[peer] = (peer_run, run)
    res = C.paired_ratios(pairs, reps)

    r = res["signmin"]
    added = np.median(r["run"] - r["ref"]) / n_evals * 1e9
    rows = [["bare @njit loop (fun + jac)", f"{np.median(r['ref']) / n_evals * 1e9:.0f}", "1"],
            [f"minimize_rprop (compiled driver; adds {added:.0f} ns/eval)",
             f"{np.median(r['run']) / n_evals * 1e9:.0f}", C.spread(r["ratio"])]]
    scale = n_evals / peer_steps
    speedups = {}
    for peer in peers:
        p = res[peer]
        speedups[peer] = p["ratio"] * scale
        rows.append([f"{C.PEER_LABELS[peer]} ({peer_steps} steps, scaled)",
                     f"{np.median(p['run']) / peer_steps * 1e9:.0f}",
                     C.spread(p["run"] / peer_steps / (r["ref"] / n_evals))])
    C.table(["", "ns per evaluation", "time / bare loop: median [min, max]"], rows,
            title=f"Rosenbrock n={N}, @njit fun and jac, {n_evals} evaluations, "
                  f"{reps} paired repetitions")
    if speedups:
        C.table(["peer", "signmin is faster by: median [min, max]"],
                [[C.PEER_LABELS[k], C.spread(v)] for k, v in speedups.items()],
                title="Speed-up of signmin's compiled driver over the peers (same problem)")
    C.say(f"HEADLINE: minimize_rprop compiled / bare @njit loop: median "
          f"{np.median(r['ratio']):.3f} [{r['ratio'].min():.3f}, {r['ratio'].max():.3f}] "
          f"(target <= 1.2)")
    if "torch" in speedups:
        s = speedups["torch"]
        C.say(f"HEADLINE: speed-up over torch.optim.Rprop: median {np.median(s):.0f}x "
              f"[{s.min():.0f}, {s.max():.0f}] (target >= 300x)")
    latency(args.quick)
    C.write_section("compiled", "Compiled objective: numba driver (compiled.py)", __doc__, args)


if __name__ == "__main__":
    main()
