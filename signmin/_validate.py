"""Checks of the arguments every front door shares: each names the argument it refuses.

Every check runs before the first evaluation of the user's function, and
raises ``TypeError`` for a value of the wrong kind and ``ValueError`` for one
of the right kind out of range.
"""

from __future__ import annotations

import numbers

import numpy as np


def real(name, value):
    """``value`` as a float, refusing booleans, non-numbers and NaN."""
    # (A float, the usual case, skips the slower checks of the abstract type.)
    if type(value) is not float and (isinstance(value, bool)
                                     or not isinstance(value, numbers.Real)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if np.isnan(value):
        raise ValueError(f"{name} must not be NaN")
    return value


def pair(name, value):
    """``value`` as two floats."""
    try:
        a, b = value
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a pair of real numbers, got {value!r}") from None
    return real(name, a), real(name, b)


def integer(name, value, minimum):
    """``value`` as an int of at least ``minimum``; infinity passes as ``np.inf`` (no limit)."""
    if type(value) is not int and (isinstance(value, bool)
                                   or not isinstance(value, numbers.Integral)):
        if isinstance(value, numbers.Real) and float(value) == np.inf:
            return np.inf
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def tolerance(name, value):
    """``value`` as a finite float >= 0."""
    value = real(name, value)
    if not 0.0 <= value < np.inf:
        raise ValueError(f"{name} must be finite and >= 0, got {value}")
    return value


def flag(name, value):
    """``value`` as a bool; only ``True`` and ``False`` (NumPy's too) are accepted."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def choice(name, value, table):
    """``table[value]`` for a string ``value`` (any case) among ``table``'s keys."""
    if not isinstance(value, str) or value.lower() not in table:
        raise ValueError(f"{name} must be one of {sorted(table)}, got {value!r}")
    return table[value.lower()]


def x0_array(x0):
    """The start as a new 1-D float array (the caller's is never modified)."""
    try:
        arr = np.asarray(x0)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"x0 must be an array of real numbers ({exc})") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"x0 must be an array of real numbers, got dtype {arr.dtype}")
    arr = np.atleast_1d(arr).astype(float)
    if arr.ndim != 1:
        raise ValueError(f"x0 must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("x0 must not be empty")
    if not np.isfinite(arr).all():
        raise ValueError("x0 must be finite")
    return arr
