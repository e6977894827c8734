"""Objectives shared by several test modules (numba versions of SciPy's Rosenbrock)."""

import numba
import numpy as np


@numba.njit(cache=True)
def nb_rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


@numba.njit(cache=True)
def nb_rosen_der(x):
    d = np.zeros_like(x)
    d[:-1] = -400.0 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2.0 * (1.0 - x[:-1])
    d[1:] += 200.0 * (x[1:] - x[:-1] ** 2)
    return d
