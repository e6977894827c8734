"""Real models: signmin and SciPy on the fits users of statsmodels and scikit-learn run.

The classic test problems of ``robustness.py`` have known minima and were
written for optimisers; these were not. 19 objectives (``problems/real.py``
says what each is and why): 13 statsmodels likelihoods (binary, count,
multinomial and ordinal regressions, two GLMs, two state-space models), two
scikit-learn Gaussian-process marginal likelihoods over their kernels'
log-hyperparameters, in the kernels' own bounds (the bounded problems), and
logistic and softmax regressions on raw, unscaled features of
scikit-learn's bundled data. Every data set ships inside its package; every
start is the one the package's own ``fit`` takes (the GLMs': one IRLS step
instead of three, which would leave nothing to do). Before the runs, each
gradient is checked against finite differences of f at x0.

Methods, each from x0 with its default options: signmin's defaults
(``minimize_rprop(fun, x0, jac=jac, bounds=bounds)``: dense BFGS from x0, then the sign
phase; under bounds, and above 250 variables with L-BFGS-B, the sign phase first),
signmin's pure mode (``polish=False``), SciPy's BFGS (unbounded problems only),
L-BFGS-B, and L-BFGS-B with ``ftol=0, gtol=0`` (only its line search can stop it). Every
run is capped at 100,000 evaluations (signmin ``maxiter`` and ``maxfev``, L-BFGS-B
``maxiter`` and ``maxfun``, BFGS ``maxiter``; a run that would still go past is cut
there).

Counts: evaluations are max(calls of f, calls of g) until the method stops,
counted outside it. Solved: f(x) - f* <= 1e-8 max(1, |f*|) at the point the
method returns, with f* the stored reference minimum of ``problems/real.py``
(the lowest of three tight SciPy runs). The ratio is signmin's evaluations
divided by BFGS's (unbounded) or L-BFGS-B's (bounded), where both solve.

Mis-scaled gradients: the same problems and f*, with each gradient component
multiplied by a fixed 10^u, u uniform in [-6, 6], drawn per problem from
``np.random.default_rng(0)`` (so problem ``p`` gets the same factors in every
selection of problems): a gradient in the wrong units. A method that uses
only signs of the gradient and comparisons of f takes the same steps.

Usage: ``python benchmarks/real_models.py`` runs everything (7-11 minutes on
2 busy cores; ``--write`` puts its section into RESULTS.md); ``--quick``, 3
small problems in seconds; ``--only "Softmax wine" --json out.json``, one
problem, its numbers to a file; ``--reference`` recomputes f* and prints it.

statsmodels and scikit-learn are optional (``pip install -e .[bench]``): the
problems of a missing package are skipped with a note, and with neither the
script says so and exits normally.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402  (first: it sets the BLAS threads before numpy loads)
import numpy as np  # noqa: E402
from problems import real  # noqa: E402  (the problem library: benchmarks/problems/real.py)
from scipy.optimize import minimize  # noqa: E402

from signmin import minimize_rprop  # noqa: E402

CAP = 100_000
QUICK_CAP = 5_000
RTOL = 1e-8  # solved: f - f* <= RTOL * max(1, |f*|)
QUICK = ["Logit spector", "Probit spector", "Softmax iris"]
MISSCALE_DECADES = 6
CHECK_COORDS = 40  # gradient check: at most this many coordinates (seeded choice)
GRAD_TOL = 1e-5  # the gradient check's pass mark, relative


# ----------------------------------------------------------------------------- runs
class Stop(Exception):
    """Raised from inside f or g when a run reaches the cap."""


class Counted:
    """f and g of a problem, counted, cut at ``cap`` calls each; remembers the best f."""

    def __init__(self, p, cap, jac=None):
        self.p, self.cap = p, cap
        self._jac = p.jac if jac is None else jac
        self.nf = self.ng = 0
        self.best_f, self.best_x = np.inf, None

    def fun(self, x):
        if self.nf >= self.cap:
            raise Stop
        self.nf += 1
        f = self.p.fun(x)
        if f < self.best_f:
            self.best_f, self.best_x = f, np.array(x, dtype=float)
        return f

    def jac(self, x):
        if self.ng >= self.cap:
            raise Stop
        self.ng += 1
        return self._jac(x)


def _signmin(**options):
    def run(p, fg, cap):
        return minimize_rprop(fg.fun, p.x0, jac=fg.jac, bounds=p.bounds, maxiter=cap,
                              maxfev=cap, **options)
    return run


def _scipy(method, **options):
    def run(p, fg, cap):
        caps = {"maxiter": cap} if method == "BFGS" else {"maxiter": cap, "maxfun": cap}
        return minimize(fg.fun, p.x0, jac=fg.jac, method=method, bounds=p.bounds,
                        options={**caps, **options})
    return run


#: name -> (run, whether it takes bounded problems)
METHODS = {
    "signmin": (_signmin(), True),
    "signmin pure": (_signmin(polish=False), True),
    "BFGS": (_scipy("BFGS"), False),
    "L-BFGS-B": (_scipy("L-BFGS-B"), True),
    "L-BFGS-B ftol=gtol=0": (_scipy("L-BFGS-B", ftol=0.0, gtol=0.0), True),
}
DEFAULTS, PURE, BFGS, LBFGSB = "signmin", "signmin pure", "BFGS", "L-BFGS-B"


def solved(p, f):
    return bool(np.isfinite(f) and f - p.fstar <= RTOL * max(1.0, abs(p.fstar)))


def run_one(p, method, cap, jac=None):
    """One run: evaluations, f where it stopped, solved, and how it stopped."""
    run, _ = METHODS[method]
    fg = Counted(p, cap, jac)
    t0 = time.perf_counter()
    how = ""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            res = run(p, fg, cap)
            x = res.x
            how = f"status {res.status}"
        except Stop:
            x, how = fg.best_x, "cap"
        except Exception as exc:  # noqa: BLE001 - a crash is a failed run, reported
            x, how = fg.best_x, f"raised {type(exc).__name__}"
        seconds = time.perf_counter() - t0
        # f where the method stopped, recomputed outside the count; after a
        # cap or a crash, the best point it had evaluated.
        f = float(p.fun(x)) if x is not None else np.inf
    evals = max(fg.nf, fg.ng)
    if evals >= cap:
        how = "cap"
    return dict(evals=evals, nfev=fg.nf, njev=fg.ng, f=f, solved=solved(p, f), how=how,
                seconds=seconds)


def misscale_factors(n):
    """10^u, u uniform in [-6, 6]: a fresh default_rng(0) per problem."""
    return 10.0 ** np.random.default_rng(0).uniform(-MISSCALE_DECADES, MISSCALE_DECADES, n)


def run_all(problems, cap, misscaled=False, log=True):
    """problem name -> method -> result (methods that do not apply are left out)."""
    out = {}
    for p in problems:
        jac = None
        if misscaled:
            d = misscale_factors(p.n)
            jac = lambda x, p=p, d=d: p.jac(x) * d  # noqa: E731
        out[p.name] = {}
        for method, (_, takes_bounds) in METHODS.items():
            if p.bounded and not takes_bounds:
                continue
            out[p.name][method] = r = run_one(p, method, cap, jac)
            if log:
                # Progress, to stderr: the tables are the output.
                print(f"  {'mis-scaled ' if misscaled else ''}{p.name} / {method}: "
                      f"{r['evals']} evaluations, f - f* = {r['f'] - p.fstar:.2e}, {r['how']}, "
                      f"{r['seconds']:.1f} s", file=sys.stderr, flush=True)
    return out


# ----------------------------------------------------------------------------- checks
def check_coords(p):
    if p.n <= CHECK_COORDS:
        return None
    return np.sort(np.random.default_rng(0).choice(p.n, CHECK_COORDS, replace=False))


def problem_table(problems):
    """What each problem is, its f*, and its gradient check at x0 (the package's own too)."""
    rows = []
    worst = (0.0, "")
    for p in problems:
        err = real.gradient_error(p.fun, p.jac, p.x0, check_coords(p))
        worst = max(worst, (err, p.name))
        own = "" if p.jac_package is None else \
            f" (package's: {real.gradient_error(p.fun, p.jac_package, p.x0, check_coords(p)):.0e})"
        rows.append([p.name, p.package, p.n, "yes" if p.bounded else "no", p.start,
                     f"{p.fstar:.12g}", f"{err:.0e}{own}"])
    C.table(["problem", "package", "n", "bounded", "x0", "f*", "gradient check at x0"], rows,
            title="Problems: data in problems/real.py; gradient check = max |g - finite "
                  "difference| / max |g| (coordinates: all, or 40 drawn)")
    C.say(f"Gradient check at x0: worst {worst[0]:.1e} ({worst[1]}); pass mark {GRAD_TOL:g}.")
    return worst


# ----------------------------------------------------------------------------- reports
def cell(r):
    if r is None:
        return "n/a"
    mark = "✓" if r["solved"] else "✗"
    return f"{r['evals']} {mark}" + (" cap" if r["how"] == "cap" else "")


def reference_of(p):
    return LBFGSB if p.bounded else BFGS


def ratio(res, p):
    a, b = res[p.name].get(DEFAULTS), res[p.name].get(reference_of(p))
    if a is None or b is None or not (a["solved"] and b["solved"]):
        return None
    return a["evals"] / b["evals"]


def results_table(problems, res, title):
    names = list(METHODS)
    rows = []
    for p in problems:
        r = ratio(res, p)
        rows.append([p.name, p.n, "yes" if p.bounded else "no",
                     *(cell(res[p.name].get(m)) for m in names),
                     "-" if r is None else f"{r:.2f} ({reference_of(p)})"])
    C.table(["problem", "n", "bounded", *names, "signmin ÷ BFGS (L-BFGS-B if bounded)"], rows,
            title=title)


def counts(problems, res):
    """method -> (solved, out of)."""
    out = {}
    for m in METHODS:
        ran = [res[p.name][m] for p in problems if m in res[p.name]]
        out[m] = (sum(r["solved"] for r in ran), len(ran))
    return out


def ratio_summary(problems, res, bounded):
    """(median, worst, worst problem, how many) of signmin ÷ reference over both-solved."""
    pairs = [(ratio(res, p), p.name) for p in problems
             if p.bounded == bounded and ratio(res, p) is not None]
    if not pairs:
        return None
    values = np.array([v for v, _ in pairs])
    worst = max(pairs)
    return float(np.median(values)), worst[0], worst[1], len(pairs)


def summarise(problems, res, label):
    c = counts(problems, res)
    C.say(f"{label}: solved (f - f* <= {RTOL:g} max(1, |f*|)): "
          + ", ".join(f"{m} {s}/{n}" for m, (s, n) in c.items()))
    for bounded, ref in ((False, BFGS), (True, LBFGSB)):
        kind = "bounded" if bounded else "unbounded"
        s = ratio_summary(problems, res, bounded)
        if s is None:
            C.say(f"{label}: signmin ÷ {ref} evaluations: no {kind} problem solved by both.")
        else:
            C.say(f"{label}: signmin ÷ {ref} evaluations over the {s[3]} {kind} problems "
                  f"both solve: median {s[0]:.2f}, worst {s[1]:.2f} ({s[2]})")
    # Against whichever SciPy run solved at the lowest cost: L-BFGS-B's
    # defaults stop short of the criterion on most of these problems, and
    # the ftol=gtol=0 run is what a user who needs the digits would pick.
    best = []
    for p in problems:
        ours = res[p.name][DEFAULTS]
        theirs = [r["evals"] for m, r in res[p.name].items()
                  if not m.startswith("signmin") and r["solved"]]
        if ours["solved"] and theirs:
            best.append((ours["evals"] / min(theirs), p.name))
    if best:
        worst = max(best)
        C.say(f"{label}: signmin ÷ the cheapest SciPy run that solved, over the {len(best)} "
              f"problems where both solved: median {np.median([v for v, _ in best]):.2f}, "
              f"worst {worst[0]:.2f} ({worst[1]})")
    return c


def note_below_fstar(problems, res):
    for p in problems:
        for m, r in res[p.name].items():
            if r["f"] < p.fstar - RTOL * max(1.0, abs(p.fstar)):
                C.say(f"note: {p.name}: {m} reached f = {r['f']:.15g}, below the stored "
                      f"f* = {p.fstar:.15g} (by more than the tolerance)")


def misscaled_invariance(problems, plain, scaled):
    """How many pure-mode runs took the same number of evaluations to the same f."""
    same = sum(plain[p.name][PURE]["evals"] == scaled[p.name][PURE]["evals"]
               and plain[p.name][PURE]["f"] == scaled[p.name][PURE]["f"] for p in problems)
    C.say(f"Mis-scaled: signmin pure ended with the same evaluations and the same f as with "
          f"the true gradient on {same}/{len(problems)} problems.")


def write_json(path, problems, plain, scaled):
    data = {p.name: dict(package=p.package, n=p.n, bounded=p.bounded, fstar=p.fstar,
                         plain=plain[p.name], misscaled=None if scaled is None
                         else scaled[p.name])
            for p in problems}
    Path(path).write_text(json.dumps(data, indent=1, default=float) + "\n", encoding="utf-8")
    print(f"wrote {path}")


# ----------------------------------------------------------------------------- --reference
def print_reference(problems):
    """Recompute every f* (tight SciPy runs), check gradients halfway there, print FSTAR."""
    lines = []
    for p in problems:
        t0 = time.perf_counter()
        fstar, xstar = real.reference_minimum(p)
        half = p.x0 + 0.5 * (xstar - p.x0)
        err = real.gradient_error(p.fun, p.jac, half, check_coords(p))
        stored = real.FSTAR.get(p.name, np.nan)
        print(f"{p.name}: f* = {fstar!r} (stored {stored!r}, differs by {fstar - stored:.1e}); "
              f"gradient check halfway from x0: {err:.1e}; {time.perf_counter() - t0:.0f} s",
              flush=True)
        lines.append(f"    {p.name!r}: {fstar!r},")
    print("FSTAR = {\n" + "\n".join(lines) + "\n}")


# ----------------------------------------------------------------------------- main
def one_thread():
    """Every BLAS/OpenMP pool at one thread (threadpoolctl comes with scikit-learn)."""
    try:
        import threadpoolctl
    except ImportError:
        return None
    return threadpoolctl.threadpool_limits(limits=1)


def extra_args(parser):
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run this problem only (repeatable); names as in the tables")
    parser.add_argument("--json", metavar="PATH", help="write the per-problem numbers here")
    parser.add_argument("--reference", action="store_true",
                        help="recompute f* of the problems by tight SciPy runs and print them")
    parser.add_argument("--no-misscaled", action="store_true",
                        help="skip the pass with mis-scaled gradients")
    parser.add_argument("--write", action="store_true",
                        help="write this run into benchmarks/RESULTS.md (full mode only)")


def main():
    args = C.parse_args(__doc__, extra_args)
    C.header(__doc__, args)
    names = args.only or (QUICK if args.quick else None)
    unknown = sorted(set(names or ()) - set(real.BUILDERS))
    if unknown:
        sys.exit(f"unknown problem(s) {unknown}; the problems are: {', '.join(real.BUILDERS)}")
    problems = real.build(names, say=C.say)
    if not problems:
        missing = " and ".join(real.missing_packages(names))
        C.say(f"note: no problem could be built without {missing} (optional: pip install -e "
              ".[bench]); nothing to run")
        print(f"HEADLINE: real models: skipped, {missing} not installed")
        return
    if args.reference:
        print_reference(problems)
        return
    limits = one_thread()  # noqa: F841 - keeps the limit for the whole run
    cap = QUICK_CAP if args.quick else CAP
    versions = []
    for pkg in ("statsmodels", "sklearn"):
        mod = sys.modules.get(pkg)
        if mod is not None:
            versions.append(f"{pkg} {mod.__version__}")
    C.say(f"Packages: {', '.join(versions)}; cap {cap} evaluations a run.")
    problem_table(problems)

    t0 = time.perf_counter()
    plain = run_all(problems, cap)
    results_table(problems, plain, "Evaluations (max of f and g calls) until each method "
                  "stops; ✓ solved, ✗ not; n/a: BFGS takes no bounds")
    note_below_fstar(problems, plain)
    c = summarise(problems, plain, "True gradients")

    scaled = None
    if not args.no_misscaled:
        scaled = run_all(problems, cap, misscaled=True)
        results_table(problems, scaled, "Mis-scaled gradients (each component × 10^u, u in "
                      f"[-{MISSCALE_DECADES}, {MISSCALE_DECADES}], seed 0): evaluations, "
                      "✓ solved")
        note_below_fstar(problems, scaled)
        cs = summarise(problems, scaled, "Mis-scaled gradients")
        misscaled_invariance(problems, plain, scaled)
    C.say(f"Runs took {time.perf_counter() - t0:.0f} s.")

    s = ratio_summary(problems, plain, False)
    med, worst = ("-", "-") if s is None else (f"{s[0]:.2f}", f"{s[1]:.2f}")
    n = len(problems)
    mis = "not run" if scaled is None else \
        f"defaults {cs[DEFAULTS][0]}/{n} (BFGS {cs[BFGS][0]}/{cs[BFGS][1]}, " \
        f"L-BFGS-B {cs[LBFGSB][0]}/{n})"
    C.say(f"HEADLINE: real models: defaults solve {c[DEFAULTS][0]}/{n} (BFGS {c[BFGS][0]}/"
          f"{c[BFGS][1]} unbounded, L-BFGS-B {c[LBFGSB][0]}/{n}), median {med} x BFGS, "
          f"worst {worst} x; mis-scaled: {mis}")
    if args.json:
        write_json(args.json, problems, plain, scaled)
    if args.write:
        C.write_section("real_models", "Real models (real_models.py)", __doc__, args)


if __name__ == "__main__":
    main()
