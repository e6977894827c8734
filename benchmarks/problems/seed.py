"""signmin's seed family (``signmin/_seed.py``), plain and shifted to (1, -2)."""

from __future__ import annotations

import numpy as np

from signmin._seed import seed_problem

SHIFT = np.array([1.0, -2.0])  # where the shifted seed family has its minimum


def seed_fg(name):
    fun, jac = seed_problem(name)
    return lambda x: (fun(x), np.asarray(jac(x), dtype=float))


def shifted_fg(name):
    fg = seed_fg(name)
    return lambda x: fg(np.asarray(x, dtype=float) - SHIFT)
