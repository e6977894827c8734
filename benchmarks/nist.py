"""NIST StRD nonlinear regression: `signmin.curve_fit` against `scipy.optimize.curve_fit`.

All 27 data sets from both starts, default settings on both sides, the same
model functions and no analytic Jacobians. Each case is scored by the log
relative error (LRE) of the worst parameter against the certified values,
capped at 11; a fit that raises scores 0. "signmin, numba model" is
`signmin.curve_fit` given the model compiled by ``numba.njit``: the compiled
least-squares core of `curve_fit_many` fits it (Nelson's two-row x goes to
MINPACK, as for a Python model); its time includes the model's compile, on
its first fit.

Two families have terms that trade places without changing the function
(Lanczos1-3: three exponentials; Gauss1-3: two Gaussian peaks, whose widths
enter squared), so a fit can be the certified one with its terms in another
order. The counts "up to the order of the terms" score such a fit, and the
certified values, with the terms in one order (see `canonical`), for every
solver alike; the table's LREs are NIST's, in the certified order.

Usage::

    python benchmarks/nist.py            # all 54 cases
    python benchmarks/nist.py --quick    # a few data sets, seconds
    python benchmarks/nist.py --rprop-only   # add signmin without the polish
    python benchmarks/nist.py --write    # also write docs/nist_table.md

The data sets, their models and the LRE come from ``signmin.datasets``, which
ships NIST's files inside the package.
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import numba
import numpy as np
import scipy
from scipy import optimize

import signmin
from signmin import datasets

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "docs" / "nist_table.md"
QUICK = ["Misra1a", "Chwirut2", "DanWood", "Misra1c", "Rat42", "Eckerle4"]
THRESHOLDS = (6, 4)


#: Rprop alone gets this many steps (minimize_rprop's default, 100000, takes minutes a case).
RPROP_ONLY_MAXITER = 10_000


def _rprop_only(*args, **kwargs):
    return signmin.curve_fit(*args, polish=False, maxiter=RPROP_ONLY_MAXITER, **kwargs)


_COMPILED = {}


def _numba_model(model, *args, **kwargs):
    # (Compiled once per model: its first fit's time includes the compile.)
    compiled = _COMPILED.get(model)
    if compiled is None:
        compiled = _COMPILED[model] = numba.njit(model)
    return signmin.curve_fit(compiled, *args, **kwargs)


def _solvers(rprop_only):
    solvers = {"signmin": signmin.curve_fit, "signmin, numba model": _numba_model,
               "scipy": optimize.curve_fit}
    if rprop_only:
        solvers[f"signmin, no polish, {RPROP_ONLY_MAXITER} steps"] = _rprop_only
    return solvers


def canonical(name, b):
    """``b`` with the interchangeable terms of ``name``'s model in one order: the
    exponentials by rate, the Gaussian peaks by centre (widths made positive)."""
    b = np.array(b, dtype=float)
    if name.startswith("Lanczos"):
        pairs = b.reshape(3, 2)
        return pairs[np.argsort(pairs[:, 1])].ravel()
    if name.startswith("Gauss"):
        peaks = b[2:].reshape(2, 3).copy()
        peaks[:, 2] = np.abs(peaks[:, 2])
        return np.concatenate([b[:2], peaks[np.argsort(peaks[:, 1])].ravel()])
    return b


def _score(fit, data, start):
    """LRE of one fit, its LRE up to the order of the terms, and the seconds it
    took; a fit that raises scores 0."""
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            popt, _ = fit(data.model, data.xdata, data.ydata, p0=data.starts[start])
        lre = datasets.lre(popt, data.certified)
        lre_any_order = datasets.lre(canonical(data.name, popt),
                                     canonical(data.name, data.certified))
    except (RuntimeError, ValueError, FloatingPointError, np.linalg.LinAlgError):
        lre = lre_any_order = 0.0
    return lre, time.perf_counter() - t0, lre_any_order


def run(names, solvers):
    """Rows of ``(name, difficulty, start, {solver: lre}, {solver: seconds},
    {solver: lre up to the order of the terms})``."""
    difficulty = {n: level for level, group in datasets.NIST_DIFFICULTY.items() for n in group}
    rows = []
    for name in names:
        data = datasets.load_nist(name)
        for start in (0, 1):
            scores = {label: _score(fit, data, start) for label, fit in solvers.items()}
            rows.append((name, difficulty[name], start + 1,
                         {k: v[0] for k, v in scores.items()},
                         {k: v[1] for k, v in scores.items()},
                         {k: v[2] for k, v in scores.items()}))
            cells = "  ".join(f"{label} {lre:5.2f} ({sec:5.2f} s)"
                              for label, (lre, sec, _) in scores.items())
            print(f"{name:9s} start {start + 1}  {cells}", flush=True)
    return rows


def counts(rows, label, any_order=False):
    return {t: sum(r[5 if any_order else 3][label] >= t for r in rows) for t in THRESHOLDS}


def markdown(rows, labels, command):
    n = len(rows)
    head = ["Data set", "Difficulty", "Start"] + [f"{label} LRE" for label in labels]
    lines = [
        "<!-- Generated by benchmarks/nist.py --write; do not edit by hand. -->",
        "",
        f"NIST StRD nonlinear regression, {n} cases, default settings, finite-difference",
        "Jacobians on both sides. LRE = -log10 of the worst parameter's relative error",
        "against the certified value, capped at 11; 0 for a fit that raises or is off",
        f"by more than 100%. Generated by `{command}` with signmin {signmin.__version__},",
        f"SciPy {scipy.__version__}, NumPy {np.__version__}.",
        "",
        "Up to the order of the terms: Lanczos1-3 and Gauss1-3 scored with their",
        "interchangeable terms in one order (benchmarks/nist.py, `canonical`).",
        "",
        "| Solver | LRE >= 6 | LRE >= 4 | LRE >= 6 up to the order of the terms "
        "| Total time (s) |",
        "|---|---|---|---|---|",
    ]
    for label in labels:
        c, c_any = counts(rows, label), counts(rows, label, any_order=True)
        seconds = sum(r[4][label] for r in rows)
        lines.append(f"| {label} | {c[6]}/{n} | {c[4]}/{n} | {c_any[6]}/{n} | {seconds:.1f} |")
    lines += ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, level, start, lre, _, _ in rows:
        cells = [f"{lre[label]:.1f}" for label in labels]
        lines.append(f"| {name} | {level} | {start} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}")
    parser.add_argument("--rprop-only", action="store_true",
                        help="add signmin with polish=False (slower: Rprop alone runs long)")
    parser.add_argument("--write", action="store_true", help=f"write {TABLE.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    names = QUICK if args.quick else datasets.NIST_NAMES
    solvers = _solvers(args.rprop_only)
    rows = run(names, solvers)
    print()
    for label in solvers:
        c, c_any = counts(rows, label), counts(rows, label, any_order=True)
        print(f"{label:20s} LRE >= 6: {c[6]:2d}/{len(rows)}   LRE >= 4: {c[4]:2d}/{len(rows)}"
              f"   LRE >= 6 up to the order of the terms: {c_any[6]:2d}/{len(rows)}")
    if args.write:
        command = " ".join(["python benchmarks/nist.py", *(argv if argv is not None
                                                          else sys.argv[1:])])
        TABLE.parent.mkdir(exist_ok=True)
        TABLE.write_text(markdown(rows, list(solvers), command))
        print(f"wrote {TABLE}")


if __name__ == "__main__":
    main()
