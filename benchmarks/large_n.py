"""Large n: the optimiser's own cost per iteration against the memory-traffic limit.

A separable quadratic ``f(x) = sum(d_i (x_i - 1)^2 / 2)`` in n = 1e5 ... 1e7
variables, fun and jac compiled with ``@numba.njit`` (jac returns a new array,
as a user's would). Stopping rules off.

* signmin's own cost per iteration = (``minimize_rprop`` time - the time of the
  bare fun + jac calls it made) / iterations, setup included;
* the reference: one compiled pass of the iRprop- update over x, g, g_prev and
  the step sizes, which reads 4 and writes 3 float64 per coordinate (56 bytes):
  no Rprop step can move less memory (target: signmin's own cost <= 1.5x);
* the peers' step with the gradient already in place, against the same pass;
* peak memory above what was allocated before the run (x0 included in the
  baseline), in units of the size of x (8n bytes), measured in a fresh process
  from the kernel's peak-RSS counter.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402  (first: it sets the BLAS threads before numpy loads)
import numba  # noqa: E402
import numpy as np  # noqa: E402
from scipy.optimize import Bounds  # noqa: E402

from signmin import minimize_rprop  # noqa: E402
from signmin.rprop import kernel  # noqa: E402


@numba.njit(cache=True)
def quad_fun(x):
    f = 0.0
    n = x.shape[0]
    for i in range(n):
        t = x[i] - 1.0
        f += (1.0 + i / n) * t * t
    return 0.5 * f


@numba.njit(cache=True)
def quad_jac(x):
    n = x.shape[0]
    g = np.empty(n)
    for i in range(n):
        g[i] = (1.0 + i / n) * (x[i] - 1.0)
    return g


@numba.njit(cache=True)
def bare_calls(x, n_calls):
    """fun and jac ``n_calls`` times, compiled: what signmin's compiled driver must pay."""
    acc = 0.0
    for k in range(n_calls):
        acc += quad_fun(x) + quad_jac(x)[k % x.shape[0]]
    return acc


@numba.njit(cache=True)
def irprop_minus_pass(x, g, g_prev, step, eta_minus, eta_plus, step_min, step_max):
    """One iRprop- update: reads x, g, g_prev, step; writes x, g_prev, step (56 B/coord)."""
    for i in range(x.shape[0]):
        gi = g[i]
        s = step[i]
        flip = gi * g_prev[i]
        if flip > 0.0:
            s = min(s * eta_plus, step_max)
        elif flip < 0.0:
            s = max(s * eta_minus, step_min)
            gi = 0.0
        step[i] = s
        if gi > 0.0:
            x[i] -= s
        elif gi < 0.0:
            x[i] += s
        g_prev[i] = gi


def x_start(n):
    # Away from the minimum at 1, with varied signs of the gradient.
    return np.linspace(-2.0, 3.0, n)


def reference_pass(n, passes):
    x = x_start(n)
    g = quad_jac(x)
    g_prev = np.zeros(n)
    step = np.full(n, 0.1)

    def run():
        for _ in range(passes):
            irprop_minus_pass(x, g, g_prev, step, 0.5, 1.2, 0.0, np.inf)
    return run


def signmin_run(x0, iters, variant="irprop-", bounds=None):
    # iRprop-, the update the reference pass makes, unless told otherwise.
    return lambda: minimize_rprop(quad_fun, x0, jac=quad_jac, xtol=0.0, ftol=0.0, gtol=0.0,
                                  stall_window=0, polish=False, accelerate=False,
                                  maxiter=iters, variant=variant, bounds=bounds)


def torch_steps(x0, steps):
    """``steps`` calls of ``torch.optim.Rprop.step`` with the gradient already in .grad."""
    import torch

    p = torch.nn.Parameter(torch.tensor(x0))
    p.grad = torch.from_numpy(quad_jac(x0))
    opt = torch.optim.Rprop([p], **C.TORCH_DEFAULTS)

    def run():
        for _ in range(steps):
            opt.step()
    return run


def optax_steps(x0, steps):
    """``steps`` jitted ``optax.rprop`` updates with the gradient given."""
    import jax.numpy as jnp

    tx, step = C.optax_step(C.TORCH_DEFAULTS["lr"])
    params = jnp.asarray(x0)
    g = jnp.asarray(quad_jac(x0))
    state = [tx.init(params)]

    def run():
        par, st = params, state[0]
        for _ in range(steps):
            par, st = step(par, st, g)
        par.block_until_ready()
    return run


def pints_steps(x0, steps):
    """``steps`` ask/tell rounds of ``pints.IRPropMin`` with one precomputed (f, g)."""
    import pints

    opt = pints.IRPropMin(x0, C.PINTS_SIGMA0)
    fg = (quad_fun(x0), quad_jac(x0))

    def run():
        for _ in range(steps):
            opt.ask()
            opt.tell([fg])
    return run


# ----------------------------------------------------------------- peak memory (child)
def child_memory(name, n):
    """In a fresh process: peak RSS of one short run above the baseline, in KiB."""
    x0 = x_start(n)
    small = x_start(64)
    iters = 20
    # Warm up at a tiny size first so that compilation and imports are in the
    # baseline, not in the peak.
    box = {}

    def signmin(variant, bounded=False):
        def run(x, k):
            signmin_run(x, k, variant, box.get(x.size) if bounded else None)()
        return run

    runs = {
        "bare fun + jac": lambda x, k: bare_calls(x, k + 1),
        "signmin": signmin("irprop-"),
        **{f"signmin {v}": signmin(v) for v in ("irprop+", "rprop+", "rprop-")},
        "signmin irprop- bounded": signmin("irprop-", bounded=True),
        "torch.optim.Rprop": lambda x, k: C.torch_rprop(quad_fun, quad_jac, x, k + 1),
        "pints.IRPropMin": lambda x, k: C.pints_irpropmin(quad_fun, quad_jac, x, k + 1),
        "optax.rprop": lambda x, k: C.optax_rprop(quad_fun, quad_jac, x, k + 1),
    }
    # The bounds are the caller's arrays, made before the run like x0.
    box.update({m: Bounds(np.full(m, -5.0), np.full(m, 5.0)) for m in (small.size, n)})
    run = runs[name]
    run(small, iters)
    if not C.reset_peak_rss():
        print(json.dumps(dict(peak_kib=None)))
        return
    base = C.rss_kib("VmRSS")
    run(x0, iters)
    print(json.dumps(dict(peak_kib=C.rss_kib("VmHWM") - base)))


def peak_memory(names, sizes):
    rows = []
    for n in sizes:
        row = [f"{n:.0e}"]
        for name in names:
            out = json.loads(C.run_child([__file__, "--child-memory", name, str(n)])
                             .splitlines()[-1])
            kib = out["peak_kib"]
            row.append("n/a" if kib is None else f"{kib * 1024 / (8 * n):.1f}")
        rows.append(row)
    C.table(["n", *names], rows,
            title="Peak memory of a 20-step run above the baseline, in units of x (8n bytes)")
    return rows


# ----------------------------------------------------------------- timing
def measure(n, iters, reps, peers):
    x0 = x_start(n)
    x_bare = x0.copy()
    run = signmin_run(x0, iters)
    bare = lambda: bare_calls(x_bare, iters + 1)  # noqa: E731
    ref = reference_pass(n, iters)
    # Peers are timed over fewer steps (a torch step at n = 1e7 takes ~0.1 s)
    # against the same number of reference passes.
    peer_steps = max(3, iters // 10)
    ref_peer = reference_pass(n, peer_steps)
    pairs = {"signmin + objective": (run, bare), "signmin vs pass": (run, ref)}
    peer_runs = {}
    if "torch" in peers:
        import torch

        default_threads = torch.get_num_threads()
        # Single-threaded, like the reference pass and signmin. The default
        # thread count is timed in a separate round below: switching the pool
        # size between repetitions costs more than a step at small n.
        torch.set_num_threads(1)
        peer_runs["torch.optim.Rprop (1 thread)"] = torch_steps(x0, peer_steps)
    if "optax" in peers:
        peer_runs["optax.rprop (jit)"] = optax_steps(x0, peer_steps)
    if "pints" in peers:
        peer_runs["pints.IRPropMin (ask/tell)"] = pints_steps(x0, peer_steps)
    for name, prun in peer_runs.items():
        pairs[name] = (prun, ref_peer)
    for a, b in pairs.values():
        a()
        b()
    res = C.paired_ratios(pairs, reps)
    ratios = {k: res[k]["ratio"] for k in peer_runs}
    if "torch" in peers and default_threads != 1:
        torch.set_num_threads(default_threads)
        name = f"torch.optim.Rprop ({default_threads} threads, default)"
        trun = torch_steps(x0, peer_steps)
        trun()
        ratios[name] = C.paired_ratios({name: (trun, ref_peer)}, reps)[name]["ratio"]
    # signmin's own cost in units of the pass, per repetition: (run - bare) / pass.
    # The two differences come from adjacent timings of the same repetition.
    own = (res["signmin + objective"]["run"] - res["signmin + objective"]["ref"]) \
        / res["signmin vs pass"]["ref"]
    return res, own, ratios, peer_steps


@numba.njit(cache=True)
def _new_row_compiled(n):
    # A row allocated in compiled code (numba's allocator, as a user's jac
    # allocates its gradient), written once.
    row = np.empty(n)
    for i in range(n):
        row[i] = 1.0
    return row[n - 1]


def update_alone(x0):
    """One call of the kernel's ``tell`` per call, the gradient given (handed
    over, as the compiled driver hands over a jac's new array) and f falling,
    so that every step is a new best point and the x rows take turns, as in
    the runs timed here."""
    n = x0.size
    run = kernel.new_state(
        x0=x0.copy(), lower=None, upper=None, scale=np.ones(n, dtype=np.float32),
        step0=np.full(n, 0.1), variant=kernel.IRPROP_MINUS, eta_minus=0.5, eta_plus=1.2,
        step_min=1e-6, step_max=50.0, xtol=0.0, ftol=0.0, gtol=0.0, maxiter=np.inf,
        maxfev=np.inf, eval_cost=1, stall_window=np.inf, jac_calls=1, jac_calls_nonfinite=0)
    tell = kernel.tell_for(run.spec)
    g = quad_jac(x0)
    f = [0.0]

    def step():
        f[0] -= 1.0
        tell(run.state, g, f[0], 1.0, True)
    return step


def cost_parts(n, iters, reps):
    """Where the own cost per iteration goes at n: the run's setup, the step
    after it, and the first touch of a new row of n floats, in passes.

    own cost per iteration = marginal step + setup / iterations, where setup is
    a run of ``maxiter=0`` (the start, one evaluation and its update) less one
    bare fun + jac, and the marginal step is (run of ``iters`` - run of
    ``iters / 2``) less the same for the bare calls, per step.
    """
    x0 = x_start(n)
    x_bare = x0.copy()
    half = iters // 2
    pieces = {}
    for k in (0, half, iters):
        pieces[("run", k)] = signmin_run(x0, k)
        pieces[("bare", k)] = lambda k=k: bare_calls(x_bare, k + 1)
    pieces["pass"] = reference_pass(n, 1)
    pieces["new row, numpy"] = lambda: np.empty(n).fill(1.0)
    pieces["new row, compiled"] = lambda: _new_row_compiled(n)
    names = list(pieces)
    times = {name: [] for name in names}
    # The update alone first, next to the pass only: long-lived rows are slowed
    # (measured: 1.0 -> 9 passes) once other allocations of this size have run,
    # on a machine that compacts memory for huge pages on allocation.
    update, one_pass = update_alone(x0), pieces["pass"]
    for _ in range(3):
        # (The x rows take turns: each is new until written once.)
        update()
        one_pass()
    alone = np.array([C.timed(update) / C.timed(one_pass) for _ in range(reps)])
    for name in names:
        pieces[name]()
    for rep in range(reps):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(C.timed(pieces[name]))
    # Per repetition, from the timings of that repetition.
    t = {name: np.array(v) for name, v in times.items()}
    one = t["pass"]
    setup = (t[("run", 0)] - t[("bare", 0)]) / one
    marginal = ((t[("run", iters)] - t[("run", half)])
                - (t[("bare", iters)] - t[("bare", half)])) / (iters - half) / one
    rows = [["setup: a run of maxiter=0 (start, one evaluation, its update) - one fun + jac",
             C.spread(setup)],
            [f"setup / {iters} iterations", C.spread(setup / iters)],
            [f"one step, marginal (iterations {half} -> {iters})", C.spread(marginal)],
            ["sum: own cost per iteration", C.spread(marginal + setup / iters)],
            ["the update alone: the kernel's tell, gradient given, each step a new best",
             C.spread(alone)],
            ["first touch of a new row of n floats, numpy (np.empty + fill)",
             C.spread(t["new row, numpy"] / one)],
            ["first touch of a new row of n floats, compiled (numba's allocator)",
             C.spread(t["new row, compiled"] / one)]]
    C.table(["part", "iRprop- passes: median [min, max]"], rows,
            title=f"Where the own cost goes at n = {n:.0e} ({reps} repetitions, "
                  f"one pass {np.median(one) * 1e3:.1f} ms)")


def child_timing(n, parallel):
    """In a fresh process (NUMBA_NUM_THREADS set by the parent): own cost / pass,
    with the update's parallel loop if ``parallel``, whatever the threshold."""
    kernel.PARALLEL_THRESHOLD = 1 if parallel else n + 1
    _, own, _, _ = measure(n, 20, 5, ())
    print(json.dumps(dict(own=float(np.median(own)), threads=numba.config.NUMBA_NUM_THREADS)))


def thread_scaling(sizes):
    rows = []
    for n in sizes:
        for loop, threads in (("single-thread", "1"), ("prange", "1"), ("prange", "2")):
            out = json.loads(C.run_child(
                [__file__, "--child-timing", str(n), "--parallel", str(int(loop == "prange"))],
                env={"NUMBA_NUM_THREADS": threads}).splitlines()[-1])
            rows.append([f"{n:.0e}", loop, threads, f"{out['own']:.2f}"])
    C.table(["n", "update loop", "NUMBA_NUM_THREADS", "signmin own cost / pass (median of 5)"],
            rows, title=f"The update on all cores, forced, 20 steps (by default the prange "
                        f"loop runs from {kernel.PARALLEL_THRESHOLD:,} variables on)")


def plot(sizes, own, peers_ratio):
    C.plot_vs_n("large_n_cost_vs_n.png", sizes,
                {"signmin (own cost, setup included)": own, **peers_ratio},
                xlabel="n (separable quadratic, @njit objective)",
                ylabel="cost per iteration / one compiled iRprop- pass",
                title="Optimiser's own cost per iteration at large n",
                lines=[(1.0, dict(color="k", ls=":"), "one iRprop- pass (56 B/coord)"),
                       (1.5, dict(color="r", ls="--"), "target for signmin: 1.5 passes")])


def main():
    def extra(p):
        p.add_argument("--child-memory", nargs=2, metavar=("NAME", "N"),
                       help="internal: peak memory of one run in a fresh process")
        p.add_argument("--max-n", type=float, default=1e7, help="largest n (default 1e7)")
        p.add_argument("--child-timing", type=int, metavar="N",
                       help="internal: own cost at n = N in a fresh process")
        p.add_argument("--parallel", type=int, default=0,
                       help="internal, with --child-timing: 1 forces the prange loop")
    args = C.parse_args(__doc__, extra)
    if args.child_memory:
        child_memory(args.child_memory[0], int(args.child_memory[1]))
        return
    if args.child_timing:
        child_timing(args.child_timing, bool(args.parallel))
        return
    C.header(__doc__, args)
    peers = C.available_peers("torch", "pints", "optax")
    if args.quick:
        sizes, reps = [100_000], 2
        iters_for = lambda n: 10  # noqa: E731
    else:
        sizes = [n for n in (100_000, 1_000_000, 10_000_000) if n <= args.max_n]
        reps = 5
        # About 5e8 coordinate-updates per run: long enough to time, short enough
        # to repeat; at n = 1e7 the 20 steps of the definition, setup
        # included.
        iters_for = lambda n: 20 if n >= 10_000_000 else max(50, int(5e8 // n))  # noqa: E731
    own_by_n, peers_by_n = {}, {}
    rows = []
    for n in sizes:
        iters = iters_for(n)
        res, own, peer_ratios, peer_steps = measure(n, iters, reps, peers)
        own_by_n[n] = own
        r = res["signmin + objective"]
        p = res["signmin vs pass"]
        rows.append([f"{n:.0e}", iters,
                     f"{np.median(p['ref']) / iters / n * 1e9:.2f}",
                     f"{np.median(r['ref']) / (iters + 1) / n * 1e9:.2f}",
                     f"{np.median(r['run']) / iters / n * 1e9:.2f}",
                     C.spread(own)])
        for name, ratio in peer_ratios.items():
            peers_by_n.setdefault(name, {})[n] = ratio
    C.table(["n", "iterations", "pass ns/coord", "fun+jac ns/coord", "signmin total ns/coord",
             "signmin own cost / pass: median [min, max]"], rows,
            title=f"signmin's own cost per iteration, in iRprop- passes ({reps} repetitions)")
    if peers_by_n:
        C.table(["n", *peers_by_n],
                [[f"{n:.0e}", *(C.spread(peers_by_n[k][n]) for k in peers_by_n)]
                 for n in sizes],
                title="Peers' step (gradient given) / one iRprop- pass: median [min, max]")
    worst = max(np.median(v) for v in own_by_n.values())
    C.say(f"HEADLINE: signmin's own cost per iteration, worst median over n: "
          f"{worst:.2f} iRprop- passes (target <= 1.5)")
    names = (["bare fun + jac", "signmin", "signmin irprop+", "signmin rprop+", "signmin rprop-",
              "signmin irprop- bounded"] + [C.PEER_LABELS[p] for p in peers])
    # The quick mode checks the mechanism on signmin alone: each child process
    # pays the imports again.
    peak_memory(names[1:2] if args.quick else names, sizes)
    cost_parts(sizes[-1], iters_for(sizes[-1]), reps)
    if not args.quick:
        thread_scaling([n for n in sizes if n >= 1_000_000])
    if args.plot:
        plot(sizes, own_by_n, peers_by_n)
    C.write_section("large_n", "Large n: the optimiser's own cost per iteration (large_n.py)",
                    __doc__, args)


if __name__ == "__main__":
    main()
