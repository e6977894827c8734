"""The test problems of ``benchmarks/robustness.py``: 33 Moré-Garbow-Hillstrom
problems (``mgh``), signmin's seed family plain and shifted (``seed``), and their
mis-scaled-gradient versions (``misscale``); ``robustness.py``'s docstring says
what each family is, how the gradients are computed and when a run has solved one.

A plain package, not installed: the benchmark scripts put ``benchmarks/`` on
``sys.path`` and ``import problems``.
"""

from __future__ import annotations

from signmin._seed import SEED_FUNCTIONS, SEED_X0

from .base import TAU, Problem, least_squares
from .mgh import mgh_problems
from .misscale import MISSCALE_DECADES, MISSCALE_SEED, misscale_factors, misscaled
from .seed import SHIFT, seed_fg, shifted_fg

__all__ = ["FAMILIES", "MISSCALE_DECADES", "MISSCALE_SEED", "SHIFT", "TAU", "Problem",
           "all_problems", "by_name", "least_squares", "mgh_problems", "misscale_factors",
           "misscaled", "seed_fg", "shifted_fg"]

FAMILIES = ("MGH", "seed", "shifted")


def all_problems():
    """The 33 MGH problems, the seed family and the shifted seed family, in that order."""
    out = [Problem(f"MGH{k} {name}", x0, fstar, least_squares(res))
           for k, name, res, x0, fstar in mgh_problems()]
    out += [Problem(f"seed {name}", SEED_X0, 0.0, seed_fg(name), source="seed")
            for name, _, _ in SEED_FUNCTIONS]
    out += [Problem(f"shifted {name}", SEED_X0, 0.0, shifted_fg(name), source="shifted")
            for name, _, _ in SEED_FUNCTIONS]
    return out


def by_name(name):
    """The problem called ``name`` in `all_problems` (e.g. ``"MGH1 Rosenbrock"``)."""
    for p in all_problems():
        if p.name == name:
            return p
    raise KeyError(name)
