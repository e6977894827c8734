"""Models for ``test_many.py``, in a module of their own so that dask's worker
processes can import them (numba pickles a jitted function by reference to its
module; the tests put this directory on the workers' path)."""

import numba
import numpy as np


@numba.njit
def decay(x, a, b, c):
    return a * np.exp(-b * x) + c


@numba.njit
def decay_jac(x, a, b, c):
    J = np.empty((x.shape[0], 3))
    for j in range(x.shape[0]):
        e = np.exp(-b * x[j])
        J[j, 0] = e
        J[j, 1] = -a * x[j] * e
        J[j, 2] = 1.0
    return J


@numba.njit
def peak(x, a, mu, s, c0, c1):
    return a * np.exp(-0.5 * ((x - mu) / s) ** 2) + c0 + c1 * x


def decay_numpy(x, a, b, c):
    return a * np.exp(-b * x) + c


@numba.njit
def wrong_length(x, a, b):
    return a * x[1:] + b


@numba.njit
def raises_past(x, a, b):
    # Raises once the amplitude passes 1.5: an exception inside the parallel loop.
    if a > 1.5:
        raise ValueError("a past 1.5")
    return a * np.exp(-b * x)
