"""What a problem is, and ``f`` and ``g`` of a least-squares problem by the complex step.

``benchmarks/robustness.py``'s docstring describes the gradients (the complex
step ``H``) and the criterion for solving a problem (``TAU``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

TAU = 1e-6
H = 1e-20  # the complex step: far below any x's rounding, so Re r(x + ih) == r(x)


@dataclass
class Problem:
    name: str
    x0: np.ndarray
    fstar: float
    fg: object  # x -> (f, g)
    source: str = "MGH"
    n: int = field(init=False)

    def __post_init__(self):
        self.x0 = np.asarray(self.x0, dtype=float)
        self.n = self.x0.size
        self.f0 = self.fg(self.x0)[0]
        self.target = self.fstar + TAU * (self.f0 - self.fstar)


def col(values):
    """Data as a column, so that it broadcasts against a batch of points (columns)."""
    return np.asarray(values, dtype=float)[:, None]


def csabs(z):
    """|z| that keeps the complex step: the sign is taken from the real part."""
    return np.where(np.real(z) < 0, -z, z)


def least_squares(residuals):
    """``fg(x)`` for ``f = sum(r(x)**2)`` from ``r`` over a batch ``X`` of shape (n, k)."""
    def fg(x):
        n = x.size
        X = x[:, None] + 1j * H * np.eye(n)
        with np.errstate(all="ignore"):
            R = residuals(X)
        r = R[:, 0].real
        return float(r @ r), 2.0 * (R.imag / H).T @ r
    return fg


def i_col(m, start=1):
    return col(np.arange(start, start + m))
