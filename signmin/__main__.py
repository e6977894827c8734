"""``python -m signmin``: the seed argument as a table; ``--warm-up``: compile ahead of time.

Ten functions share their minimum (0 at the origin) and differ only in how
large their gradients are. Gradient methods that trust magnitudes stop early or
far away on some of them; Rprop, which uses only signs, reaches all.

``python -m signmin --warm-up [--all-variants] [--jobs N]`` compiles into
numba's disk cache what the common calls run (see :mod:`signmin._warm_up`), for
a Docker image, a CI cache or the workers of a cluster, in N processes (default:
one per core).
"""

import argparse
import warnings

import numpy as np
from scipy.optimize import minimize

from . import minimize_rprop
from ._seed import SEED_FUNCTIONS, SEED_X0, seed_problem

SOLVED = 1e-6


def _run(method, fun, jac):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        if method == "Rprop":
            res = minimize_rprop(fun, SEED_X0, jac=jac)
        else:
            res = minimize(fun, SEED_X0, method=method, jac=jac)
    err = float(np.max(np.abs(res.x))) if np.all(np.isfinite(res.x)) else np.inf
    return err, res.nfev


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m signmin",
        description="The seed argument as a table (the demo), or --warm-up: compile ahead "
                    "of time.")
    parser.add_argument("--warm-up", action="store_true",
                        help="compile what the common calls run into numba's disk cache")
    parser.add_argument("--all-variants", action="store_true",
                        help="with --warm-up: every variant, not only the default irprop+")
    parser.add_argument("--jobs", type=int, default=None, metavar="N",
                        help="with --warm-up: processes that share the work (default: one "
                             "per core)")
    args = parser.parse_args(argv)
    if args.warm_up:
        from ._warm_up import default_jobs, warm_up

        jobs = default_jobs() if args.jobs is None else args.jobs
        if jobs < 1:
            parser.error(f"--jobs must be at least 1; got {jobs}")
        warm_up(all_variants=args.all_variants, jobs=jobs)
        return
    if args.all_variants or args.jobs is not None:
        parser.error("--all-variants and --jobs go with --warm-up")
    demo()


def demo():
    methods = ["Rprop", "L-BFGS-B", "BFGS", "CG"]
    print(f"Minimum 0 at x = 0, start x0 = {SEED_X0.tolist()}; "
          f"error = max|x_i - 0|; solved when error <= {SOLVED:g}.\n")
    header = f"{'function':<20}" + "".join(f"{m + ' error':>17}{'nfev':>7}" for m in methods)
    print(header)
    print("-" * len(header))
    solved = dict.fromkeys(methods, 0)
    for name, _, _ in SEED_FUNCTIONS:
        fun, jac = seed_problem(name)
        row = f"{name:<20}"
        for m in methods:
            err, nfev = _run(m, fun, jac)
            solved[m] += err <= SOLVED
            row += f"{err:>17.2e}{nfev:>7d}"
        print(row)
    print("-" * len(header))
    print(f"{'solved':<20}" + "".join(f"{solved[m]:>17d}/{len(SEED_FUNCTIONS):<6d}"
                                      for m in methods))


if __name__ == "__main__":
    main()
