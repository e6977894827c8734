"""Mis-scaled gradients: the same f, each gradient component times a fixed 10^u."""

from __future__ import annotations

import zlib

import numpy as np

from .base import Problem

MISSCALE_SEED = 12  # the mis-scaled gradients' generator (with the problem's name)
MISSCALE_DECADES = 6  # factors 10^u, u uniform in [-6, 6]


def misscale_factors(p):
    """The fixed factors of ``p``'s gradient: 10^u, u uniform in [-6, 6], per coordinate.

    Seeded by the problem's name, so a problem gets the same factors whatever
    subset of problems is run (quick mode).
    """
    rng = np.random.default_rng([MISSCALE_SEED, zlib.crc32(p.name.encode())])
    return 10.0 ** rng.uniform(-MISSCALE_DECADES, MISSCALE_DECADES, p.n)


def misscaled(p):
    """``p`` with the same f and each gradient component multiplied by a fixed factor."""
    d = misscale_factors(p)

    def fg(x, base=p.fg):
        f, g = base(x)
        return f, d * g
    return Problem(p.name, p.x0, p.fstar, fg, source=p.source)

