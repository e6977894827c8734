"""Robustness: which optimiser solves which classic test problem, and at what cost.

Problems (53): 33 unconstrained least-squares problems of J. J. Moré, B. S. Garbow
and K. E. Hillstrom, "Testing unconstrained optimization software", ACM Trans.
Math. Softw. 7 (1981) 17-41 (numbered as there), with their standard starts
x0 and the optimal values f* listed there ("MGH": all 33 of this script; issue
#12's table counted 26 without saying which, so the counts here are out of 33);
the 10 functions of signmin's seed family (``signmin/_seed.py``: minimum 0 at
the origin, gradients that explode, vanish or are tiny/huge) from their start
``SEED_X0`` = (3, -2.5) ("seed"); and the same 10 shifted so that the minimum is
at (1, -2), f(x) = h(x - (1, -2)), from the same start ("shifted": the default
initial step, 0.1 |x0_i|, no longer aims along the ray to the minimum).

Gradients: computed by the complex step, g_j = Im r(x + i h e_j) / h with
h = 1e-20 (Squire & Trapp, SIAM Review 40, 1998; Martins, Sturdza & Alonso,
ACM TOMS 29, 2003): exact to rounding with no subtractive cancellation, so one
formula per problem serves f and g and a wrong derivative cannot creep in. All
n shifted points are evaluated in one vectorised call. (The problems' ``abs``
is written as a complex-step-safe version; ``where`` tests the real part.)

Criterion (Moré & Wild, SIAM J. Optim. 20, 2009, with tau = 1e-6): a run has
solved a problem once it has evaluated a point with f(x0) - f(x) >= (1 - 1e-6)
(f(x0) - f*), with f* the value from the literature (0 for the seed family). "Evaluations to
solve" counts the evaluations (f and g together) up to the first such point.

Budget: 10,001 evaluations for everyone (``minimize_rprop`` runs with
``maxiter=10000`` and the options of its mode, below; every variant in the pure
mode); otherwise signmin, L-BFGS-B and BFGS run with their default options and
stopping rules; a run that would go past the budget is cut there.
torch.optim.Rprop, pints.IRPropMin and optax.rprop have no stopping rule: they
run with their default settings (torch/optax: initial step 0.01, step sizes in
[1e-6, 50]; PINTS: sigma0 = 0.1) until they solve the problem, produce NaN, or
use up the budget: their "evaluations at stop" is what a user who knew f* would
pay, a lower bound on what they cost in use.

Modes of signmin (default variant irprop+, each with ``maxiter=10000`` only):
"pure" (``polish=False, accelerate=False``), "accelerate" (``polish=False``:
pattern moves decided by f comparisons, and that mode's default xtol, 1e-8),
"accelerate xtol=1e-10" (the same to the other modes' xtol: what the pattern
moves gain without the looser stop), "polish" (dense BFGS from x0, then the sign
phase to its own stop; where that finish stops short, the sign phase until every
coordinate has bracketed its minimum, the finish from the best point, then the
sign phase again) and "polish+accelerate". Beside them BFGS and
L-BFGS-B with their defaults and with their gradient and f tests off (BFGS
``gtol=0``; L-BFGS-B ``gtol=0, ftol=0``). For each: problems solved per family,
median evaluations to solve (over the problems it solves) and at its own stop
(over all), and the median over the problems both solve of its evaluations
divided by BFGS's (defaults), to solve and at stop, on MGH (as in issue #12)
and on all 53.

Mis-scaled gradients: the same problems with f unchanged and each gradient
component multiplied by a fixed factor 10^u, u uniform in [-6, 6] (one factor
per coordinate and problem, from a generator seeded with 12 and the problem's
name), for every mode and both SciPy methods. A method that uses only signs of
the gradient and comparisons of f takes the same steps on both: the table
counts the runs whose sequence of f values is bit-for-bit the unscaled one.

Threads: every BLAS loaded (numpy's and SciPy's OpenBLAS) and the OpenMP pool
are limited to one thread for every method (``OPENBLAS_NUM_THREADS=1`` from
``_common``, then ``threadpoolctl``), and torch to one intra-op thread; the
output lists what was found. Evaluation counts do not depend on threads; the
wall time of the run does.
"""

from __future__ import annotations

import hashlib
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402  (first: it sets the BLAS threads before numpy loads)
import numpy as np  # noqa: E402
from problems import (  # noqa: E402  (the problem library: benchmarks/problems/)
    FAMILIES,
    MISSCALE_DECADES,
    MISSCALE_SEED,
    TAU,
    all_problems,
    misscaled,
)
from scipy.optimize import minimize  # noqa: E402

from signmin import minimize_rprop  # noqa: E402

BUDGET = 10_001
VARIANTS = ("irprop+", "irprop-", "rprop+", "rprop-")
#: minimize_rprop's default xtol outside the pure accelerated mode (which stops at 1e-8).
XTOL = 1e-10


# ----------------------------------------------------------------------------- problems
def check_gradients(problems):
    """Central differences agree with the complex-step gradient at x0 (a transcription check)."""
    worst = 0.0
    for p in problems:
        g = p.fg(p.x0)[1]
        fd = np.empty(p.n)
        for j in range(p.n):
            h = 1e-6 * max(1.0, abs(p.x0[j]))
            e = np.zeros(p.n)
            e[j] = h
            with np.errstate(all="ignore"):
                fd[j] = (p.fg(p.x0 + e)[0] - p.fg(p.x0 - e)[0]) / (2 * h)
        err = np.max(np.abs(fd - g)) / max(1.0, np.max(np.abs(g)))
        worst = max(worst, err)
        if not err < 1e-4:
            raise AssertionError(f"{p.name}: gradient check failed, rel. error {err:.2e}")
    C.say(f"Gradient check at x0 (central differences vs complex step): worst relative "
          f"error {worst:.1e} over {len(problems)} problems.")


# ----------------------------------------------------------------------------- runs
class Stop(Exception):
    """Ends a run from inside the objective (budget used, solved, or NaN)."""


class Recorder:
    """Counts evaluations, keeps f of each, and stops a run at the budget.

    ``stop_when_solved`` is for the optimisers that have no stopping rule of
    their own: they are stopped at the first point that meets the criterion
    (or when x turns NaN, after which nothing can change).
    """

    def __init__(self, problem, budget, stop_when_solved=False):
        self.p, self.budget, self.stop_when_solved = problem, budget, stop_when_solved
        self.fs = []
        self._last = None

    def fg(self, x):
        if len(self.fs) >= self.budget:
            raise Stop
        x = np.asarray(x, dtype=float)
        if self.stop_when_solved and not np.all(np.isfinite(x)):
            raise Stop
        with np.errstate(all="ignore"):
            f, g = self.p.fg(x)
        self.fs.append(f)
        if self.stop_when_solved and f <= self.p.target:
            raise Stop
        return f, g

    # The peers call fun and jac separately at the same x: one evaluation.
    def fun(self, x):
        f, g = self.fg(x)
        self._last = (np.array(x, dtype=float), g)
        return f

    def jac(self, x):
        if self._last is not None and np.array_equal(self._last[0], x):
            return self._last[1]
        return self.fg(x)[1]

    def result(self, nfev=None):
        fs = np.array(self.fs, dtype=float)
        ok = np.flatnonzero(fs <= self.p.target)
        best = np.nanmin(np.where(np.isfinite(fs), fs, np.nan)) if np.isfinite(fs).any() \
            else np.inf
        return dict(solved=ok.size > 0, evals=int(ok[0]) + 1 if ok.size else None,
                    nfev=len(fs) if nfev is None else nfev, best=best,
                    trace=hashlib.sha1(fs.tobytes()).hexdigest())


def run_signmin(p, budget, **options):
    rec = Recorder(p, budget)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            minimize_rprop(rec.fg, p.x0, jac=True, maxiter=budget - 1, **options)
        except Stop:
            pass
    return rec.result()


def run_scipy(method, **options):
    def run(p, budget):
        rec = Recorder(p, budget)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                minimize(rec.fg, p.x0, jac=True, method=method, options=options or None)
            except Stop:
                pass
        return rec.result()
    return run


def run_peer(peer):
    runner = C.PEER_RUNNERS[peer]

    def run(p, budget):
        rec = Recorder(p, budget, stop_when_solved=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                runner(rec.fun, rec.jac, p.x0, budget)
            except Stop:
                pass
        return rec.result()
    return run


#: signmin's modes: options given on top of ``variant="irprop+"``, ``maxiter``.
MODES = {
    "pure": dict(polish=False, accelerate=False),
    "accelerate": dict(polish=False, accelerate=True),
    "accelerate xtol=1e-10": dict(polish=False, accelerate=True, xtol=XTOL),
    "polish": dict(polish=True, accelerate=False),
    "polish+accelerate": dict(polish=True, accelerate=True),
}
PURE = MODES["pure"]


def solvers(peers):
    """Every variant in the pure mode, both SciPy methods (defaults) and the peers."""
    out = {f"signmin {v}": (lambda p, b, v=v: run_signmin(p, b, variant=v, **PURE))
           for v in VARIANTS}
    out["L-BFGS-B"] = run_scipy("L-BFGS-B")
    out["BFGS"] = run_scipy("BFGS")
    for peer in peers:
        out[C.PEER_LABELS[peer]] = run_peer(peer)
    return out


def run_all(problems, runs, budget):
    """name -> list of result dicts, one per problem (in order)."""
    results = {name: [] for name in runs}
    for p in problems:
        for name, run in runs.items():
            results[name].append(run(p, budget))
    for i, p in enumerate(problems):
        best = min(results[name][i]["best"] for name in runs)
        if best < p.fstar - 1e-8 * (p.f0 - p.fstar):
            C.say(f"note: {p.name}: f = {best:.10g} found, below the literature's "
                  f"f* = {p.fstar:.6g}")
    return results


# ----------------------------------------------------------------------------- reports
def cell(r, with_stop):
    solved = f"{r['evals']}" if r["solved"] else "-"
    return f"{solved} ({r['nfev']})" if with_stop else solved


def summary_rows(results, problems, names):
    rows = []
    for name in names:
        rs = results[name]
        solved = [r for r in rs if r["solved"]]
        mgh = sum(r["solved"] for r, p in zip(rs, problems, strict=True) if p.source == "MGH")
        seed = sum(r["solved"] for r, p in zip(rs, problems, strict=True) if p.source == "seed")
        shifted = sum(r["solved"] for r, p in zip(rs, problems, strict=True)
                      if p.source == "shifted")
        evals = [r["evals"] for r in solved]
        rows.append([name, f"{len(solved)}/{len(rs)}", mgh, seed, shifted,
                     f"{np.median(evals):.0f}" if evals else "-",
                     f"{np.median([r['nfev'] for r in rs]):.0f}",
                     sum(r["nfev"] for r in rs)])
    return rows


SUMMARY_HEADERS = ["optimiser", "solved", "MGH", "seed", "shifted",
                   "median evals to solve (solved)",
                   "median evals at stop", "total evals"]


def common_cost(results, names):
    """Geometric mean of evaluations to solve over the problems every one of ``names`` solved."""
    keep = [i for i in range(len(results[names[0]]))
            if all(results[n][i]["solved"] for n in names)]
    out = {}
    for n in names:
        ev = [results[n][i]["evals"] for i in keep]
        stop = [results[n][i]["nfev"] for i in keep]
        out[n] = (np.exp(np.mean(np.log(ev))) if ev else np.nan,
                  np.exp(np.mean(np.log(stop))) if stop else np.nan)
    return len(keep), out


def family_counts(problems):
    return ", ".join(f"{sum(p.source == fam for p in problems)} {fam}" for fam in FAMILIES)


def data_profile(results, problems, budget):
    """Fraction solved vs evaluations: to the first solving point, and to the stop."""
    plt = C.pyplot()
    if plt is None:
        return
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), sharey=True)
    budgets = np.unique(np.round(np.logspace(0, np.log10(budget), 300)).astype(int))
    styles = {"signmin": "-", "L-BFGS-B": "--", "BFGS": "--"}
    for ax, key in zip(axes, ("evals", "nfev"), strict=True):
        for name, rs in results.items():
            evals = np.array([r[key] if r["solved"] else np.inf for r in rs], dtype=float)
            frac = [(evals <= b).mean() for b in budgets]
            ls = next((s for k, s in styles.items() if name.startswith(k)), ":")
            ax.step(budgets, frac, where="post", ls=ls, label=name,
                    lw=2 if name == "signmin irprop+" else 1.3)
        ax.set_xscale("log")
        ax.set_ylim(0, 1)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_xlabel("evaluations (f and g) until the first solving point")
    axes[1].set_xlabel("evaluations until the optimiser stops\n"
                       "(torch/PINTS/optax have no stopping rule: stopped when solved)")
    axes[0].set_ylabel("fraction of problems solved")
    axes[0].legend(fontsize=8, loc="upper left")
    fig.suptitle(f"Data profiles: {len(problems)} problems ({family_counts(problems)}), "
                 f"tau = {TAU:g}, budget {budget}", fontsize=11)
    # Not robustness_data_profile.png: that one belongs to the earlier
    # "robustness" section of RESULTS.md (43 problems), which this run keeps.
    C.save_plot(fig, "robustness_variants_profile.png")


def sweep(problems, budget, quick):
    """Default variant (irprop+) with other initial steps and tolerances."""
    def scale(p):
        # signmin's scale for an unbounded problem: |x0_i|, or 1 where x0_i = 0.
        return np.where(p.x0 != 0, np.abs(p.x0), 1.0)
    import inspect

    defaults = {k: v.default for k, v in inspect.signature(minimize_rprop).parameters.items()}
    configs = {f"pure defaults (xtol {XTOL:g}, ftol {defaults['ftol']:g})":
               lambda p: {}}
    fracs = (0.01, 1.0) if quick else (0.01, 0.03, 0.3, 1.0)
    for frac in fracs:
        configs[f"initial_step = {frac:g} * scale"] = \
            lambda p, frac=frac: dict(initial_step=frac * scale(p))
    if not quick:
        for step in (0.01, 0.1, 1.0):
            configs[f"initial_step = {step:g} (absolute)"] = \
                lambda p, step=step: dict(initial_step=step)
        for xtol in (1e-6, 1e-8, 1e-12, 0.0):
            configs[f"xtol = {xtol:g}"] = lambda p, xtol=xtol: dict(xtol=xtol)
        for ftol in (1e-12, 1e-10, 0.0):
            configs[f"ftol = {ftol:g}"] = lambda p, ftol=ftol: dict(ftol=ftol)
    runs = {name: (lambda p, b, make=make: run_signmin(p, b, variant="irprop+", **PURE,
                                                       **make(p)))
            for name, make in configs.items()}
    results = run_all(problems, runs, budget)
    C.table(SUMMARY_HEADERS, summary_rows(results, problems, list(runs)),
            title=f"Sweep of irprop+'s options, pure mode ({len(problems)} problems, "
                  f"budget {budget})")
    return results


# ----------------------------------------------------------------------------- modes
def mode_solvers():
    """signmin's four modes (irprop+) and the SciPy methods with and without their tests."""
    out = {f"signmin {mode}": (lambda p, b, o=o: run_signmin(p, b, variant="irprop+", **o))
           for mode, o in MODES.items()}
    out["BFGS"] = run_scipy("BFGS")
    out["BFGS gtol=0"] = run_scipy("BFGS", gtol=0.0)
    out["L-BFGS-B"] = run_scipy("L-BFGS-B")
    out["L-BFGS-B gtol=ftol=0"] = run_scipy("L-BFGS-B", gtol=0.0, ftol=0.0)
    return out


def run_modes(problems, budget, known=None):
    """name -> results for `mode_solvers`; runs already made (same options) are reused."""
    known = known or {}
    runs = mode_solvers()
    fresh = run_all(problems, {k: v for k, v in runs.items() if k not in known}, budget)
    return {k: known[k] if k in known else fresh[k] for k in runs}


def _median(values, fmt=".0f"):
    return format(float(np.median(values)), fmt) if len(values) else "-"


def family(results, problems, name, fam):
    """(solved, size, median evals to solve over the solved, median evals at stop)."""
    rs = [r for r, p in zip(results[name], problems, strict=True) if p.source == fam]
    solved = [r["evals"] for r in rs if r["solved"]]
    return len(solved), len(rs), _median(solved), _median([r["nfev"] for r in rs])


def ratio_to(results, problems, name, ref, families):
    """Over the problems of ``families`` both solve: (count, median evals-to-solve
    ratio, median evals-at-stop ratio) of ``name`` to ``ref``."""
    keep = [i for i, p in enumerate(problems) if p.source in families
            and results[name][i]["solved"] and results[ref][i]["solved"]]
    solve = [results[name][i]["evals"] / results[ref][i]["evals"] for i in keep]
    stop = [results[name][i]["nfev"] / results[ref][i]["nfev"] for i in keep]
    return len(keep), _median(solve, ".2f"), _median(stop, ".2f")


def mode_tables(results, problems, scaled, budget):
    """The per-mode tables; returns the second headline."""
    names = list(results)
    nobody = [p.name for i, p in enumerate(problems)
              if not any(res[k][i]["solved"] for res in (results, scaled) for k in names)]
    C.say(f"Solved by no mode and no SciPy run (plain or mis-scaled): "
          f"{', '.join(nobody) if nobody else 'none'}.")
    fams = [f for f in FAMILIES if any(p.source == f for p in problems)]
    C.table(["problem", "n", *names],
            [[p.name, p.n, *(cell(results[k][i], True) for k in names)]
             for i, p in enumerate(problems)],
            title="Per mode (irprop+) and SciPy: evaluations to solve (evaluations at stop); "
                  f"- = not solved within {budget}")
    headers = ["method"]
    for fam in fams:
        headers += [f"{fam} solved", f"{fam}: median evals to solve", f"{fam}: at stop"]
    rows = []
    for name in names:
        row = [name]
        for fam in fams:
            solved, size, to_solve, at_stop = family(results, problems, name, fam)
            row += [f"{solved}/{size}", to_solve, at_stop]
        rows.append(row + [sum(r["nfev"] for r in results[name])])
    C.table(headers + ["total evals"], rows,
            title=f"Per mode: solved and evaluations per family (budget {budget}; to solve: "
                  "median over the problems solved; at stop: over all)")

    rows = []
    for name in names:
        k1, solve1, stop1 = ratio_to(results, problems, name, "BFGS", ("MGH",))
        k2, solve2, stop2 = ratio_to(results, problems, name, "BFGS", fams)
        rows.append([name, k1, solve1, stop1, k2, solve2, stop2])
    C.table(["method", "MGH both solve", "to solve ÷ BFGS", "at stop ÷ BFGS",
             f"all {len(problems)}: both solve", "to solve ÷ BFGS ", "at stop ÷ BFGS "], rows,
            title="Per mode: evaluations ÷ BFGS's (defaults), median over the problems both "
                  "solve")

    rows = []
    for name in names:
        row = [name]
        for fam in fams:
            plain = family(results, problems, name, fam)[0]
            mis = family(scaled, problems, name, fam)[0]
            row.append(f"{plain} → {mis}")
        row.append(f"{family(results, problems, name, 'MGH')[3]} → "
                   f"{family(scaled, problems, name, 'MGH')[3]}" if "MGH" in fams else "-")
        same = sum(a["trace"] == b["trace"] for a, b in zip(results[name], scaled[name],
                                                            strict=True))
        rows.append(row + [f"{same}/{len(problems)}"])
    C.table(["method", *(f"{fam} solved: plain → mis-scaled" for fam in fams),
             "MGH median evals at stop: plain → mis-scaled", "runs identical to the plain run"],
            rows,
            title="Mis-scaled gradients: each component × a fixed 10^u, u uniform in "
                  f"[-{MISSCALE_DECADES}, {MISSCALE_DECADES}] (seed {MISSCALE_SEED})")
    C.table(["problem", "n", *names],
            [[p.name, p.n, *(cell(scaled[k][i], True) for k in names)]
             for i, p in enumerate(problems)],
            title="Mis-scaled gradients, per problem: evaluations to solve (at stop)")

    parts = []
    for name in names:
        solved = "/".join(str(family(results, problems, name, f)[0]) for f in fams)
        mis = "/".join(str(family(scaled, problems, name, f)[0]) for f in fams)
        _, _, stop = ratio_to(results, problems, name, "BFGS", ("MGH",))
        parts.append(f"{name.removeprefix('signmin ')} {solved} (at stop {stop}x BFGS; "
                     f"mis-scaled {mis})")
    sizes = "/".join(f"{fam} {sum(p.source == fam for p in problems)}" for fam in fams)
    return (f"HEADLINE: per mode of irprop+, solved {sizes}, median evaluations at stop ÷ "
            f"BFGS's on the MGH problems both solve, and solved with mis-scaled gradients: "
            + "; ".join(parts))


def modes_profile(results, scaled, problems, budget):
    """Fraction solved vs evaluations at stop, plain and mis-scaled gradients."""
    plt = C.pyplot()
    if plt is None:
        return
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), sharey=True)
    budgets = np.unique(np.round(np.logspace(0, np.log10(budget), 300)).astype(int))
    for ax, res, title in zip(axes, (results, scaled),
                              ("plain gradients", "mis-scaled gradients (× 1e-6..1e6 per "
                               "component)"), strict=True):
        for name, rs in res.items():
            stop = np.array([r["nfev"] if r["solved"] else np.inf for r in rs], dtype=float)
            ax.step(budgets, [(stop <= b).mean() for b in budgets], where="post",
                    ls="-" if name.startswith("signmin") else "--", label=name,
                    lw=2 if name.startswith("signmin") else 1.3)
        ax.set_xscale("log")
        ax.set_ylim(0, 1)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("evaluations until the method stops (solved runs only)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("fraction of problems solved")
    axes[0].legend(fontsize=8, loc="upper left")
    fig.suptitle(f"signmin's modes (irprop+) and SciPy: {len(problems)} problems "
                 f"({family_counts(problems)}), tau = {TAU:g}, budget {budget}", fontsize=11)
    C.save_plot(fig, "robustness_modes_profile.png")


def source_fingerprint():
    """sha1 of signmin/**/*.py as this process imported them: which working tree was measured.

    Every source file under the package, subpackages included, in the order of
    their paths relative to it; each path goes into the digest with its bytes.
    """
    import signmin

    root = Path(signmin.__file__).parent
    digest = hashlib.sha1()
    for rel in sorted(path.relative_to(root) for path in root.rglob("*.py")):
        digest.update(rel.as_posix().encode() + b"\0" + (root / rel).read_bytes())
    return digest.hexdigest()[:12]


# ----------------------------------------------------------------------------- threads
_THREAD_LIMITS = []  # keeps threadpoolctl's limits alive for the whole run


def one_thread():
    """Limit every BLAS and OpenMP pool (and torch) to one thread; say what was found."""
    notes = []
    try:
        import threadpoolctl
    except ImportError:
        threadpoolctl = None
        notes.append("threadpoolctl not installed: OPENBLAS_NUM_THREADS="
                     f"{C.os.environ.get('OPENBLAS_NUM_THREADS')} only")
    if threadpoolctl is not None:
        _THREAD_LIMITS.append(threadpoolctl.threadpool_limits(limits=1))
        for lib in threadpoolctl.threadpool_info():
            path = Path(lib["filepath"])
            notes.append(f"{path.parent.name}/{path.name} ({lib['internal_api']}) "
                         f"{lib['num_threads']} thread{'s' * (lib['num_threads'] != 1)}")
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        torch.set_num_threads(1)
        notes.append(f"torch intra-op {torch.get_num_threads()}")
    if "jax" in sys.modules:
        notes.append("jax's XLA pool not limited (no BLAS on these sizes; optax only)")
    C.say("Threads, for every method: " + "; ".join(notes) + ".")


def main():
    args = C.parse_args(__doc__)
    C.header(__doc__, args)
    problems = all_problems()
    check_gradients(problems)
    budget = BUDGET
    if args.quick:
        by = {fam: [p for p in problems if p.source == fam] for fam in FAMILIES}
        problems = by["MGH"][:5] + by["seed"][-3:] + by["shifted"][-3:]
        budget = 300
    fingerprint = source_fingerprint()
    C.say(f"signmin sources measured: sha1 {fingerprint} of signmin/**/*.py at the start of "
          "the run.")
    peers = C.available_peers("torch", "pints", "optax")
    one_thread()
    runs = solvers(peers)
    results = run_all(problems, runs, budget)
    names = list(runs)

    C.table(["problem", "n", "f*", *names],
            [[p.name, p.n, f"{p.fstar:.6g}",
              *(cell(results[k][i], not k.startswith(("torch", "pints", "optax")))
                for k in names)]
             for i, p in enumerate(problems)],
            title="Pure mode (polish=False, accelerate=False), every variant, SciPy and the "
                  "peers: evaluations to solve (evaluations at stop); - = not solved "
                  f"within {budget}")
    C.table(SUMMARY_HEADERS, summary_rows(results, problems, names),
            title=f"Summary over {len(problems)} problems (budget {budget} evaluations)")

    variants = [f"signmin {v}" for v in VARIANTS]
    k, cost = common_cost(results, variants)
    C.table(["variant", "solved", "geo-mean evals to solve", "geo-mean evals at stop"],
            [[v, sum(r["solved"] for r in results[v]), f"{cost[v][0]:.0f}",
              f"{cost[v][1]:.0f}"] for v in variants],
            title=f"signmin's variants (pure mode) on the {k} problems all four solve")
    best = max(variants, key=lambda v: (sum(r["solved"] for r in results[v]), -cost[v][1]))
    C.say(f"HEADLINE: the variant that solves the most: {best.split()[1]} "
          f"({sum(r['solved'] for r in results[best])}/{len(problems)}); on the {k} problems "
          f"all variants solve it needs a geometric mean of {cost[best][0]:.0f} evaluations "
          f"to solve and stops after {cost[best][1]:.0f}")

    # The pure irprop+ and the SciPy defaults have just run with the same options.
    known = {"signmin pure": results["signmin irprop+"], "BFGS": results["BFGS"],
             "L-BFGS-B": results["L-BFGS-B"]}
    modes = run_modes(problems, budget, known)
    scaled_problems = [misscaled(p) for p in problems]
    scaled = run_modes(scaled_problems, budget)
    C.say(mode_tables(modes, problems, scaled, budget))

    sweep(problems if not args.quick else problems[:4], budget, args.quick)
    if source_fingerprint() != fingerprint:
        C.say(f"note: signmin/**/*.py changed on disk during the run (sha1 now "
              f"{source_fingerprint()}); modules imported at the start were measured.")
    if args.plot:
        data_profile(results, problems, budget)
        modes_profile(modes, scaled, problems, budget)
    C.write_section("robustness_modes", "Robustness and evaluations per mode (robustness.py)",
                    __doc__, args)


if __name__ == "__main__":
    main()
