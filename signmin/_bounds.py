"""Bounds in any of SciPy's forms, as two float arrays."""

import numpy as np
from scipy.optimize import Bounds


def as_bounds_arrays(bounds, n):
    """Return ``(lower, upper)`` float arrays of length ``n``, or ``(None, None)``
    when no bound is finite (no array of size n is made for an unbounded run).

    Accepts ``None``, a `scipy.optimize.Bounds`, or a sequence of ``n``
    ``(lo, hi)`` pairs in which ``None`` means unbounded. Raises ``ValueError``
    naming ``bounds`` for the wrong length, NaN or ``lo > hi``.
    """
    if bounds is None:
        return None, None
    if isinstance(bounds, Bounds):
        try:
            kinds = np.asarray(bounds.lb).dtype.kind + np.asarray(bounds.ub).dtype.kind
            if "O" in kinds:
                # An object array may hold a complex number or a string in any element.
                items = [*np.ravel(np.asarray(bounds.lb, dtype=object)),
                         *np.ravel(np.asarray(bounds.ub, dtype=object))]
                if any(isinstance(v, (str, bytes)) or np.iscomplexobj(v) for v in items):
                    kinds += "c"
        except (ValueError, TypeError):
            kinds = ""  # ragged: refused below
        # Casting would read strings as numbers and drop imaginary parts.
        if set(kinds) & set("USc"):
            raise TypeError("bounds: Bounds.lb and Bounds.ub must be real numbers")
        try:
            lower = np.broadcast_to(np.asarray(bounds.lb, dtype=float), (n,))
            upper = np.broadcast_to(np.asarray(bounds.ub, dtype=float), (n,))
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"bounds: Bounds.lb and Bounds.ub must be scalars or have "
                f"length {n} (the length of x0)") from exc
    else:
        try:
            pairs = list(bounds)
        except TypeError:
            raise TypeError(
                "bounds must be None, a scipy.optimize.Bounds or a sequence "
                "of (min, max) pairs") from None
        if len(pairs) != n:
            raise ValueError(
                f"bounds has {len(pairs)} (min, max) pairs; x0 has {n} elements")
        lower, upper = np.empty(n), np.empty(n)
        for i, pair in enumerate(pairs):
            try:
                lo, hi = pair
                if any(isinstance(v, (str, bytes)) or np.iscomplexobj(v) for v in (lo, hi)):
                    raise TypeError  # float() would accept "1" and drop imaginary parts
                lower[i] = -np.inf if lo is None else float(lo)
                upper[i] = np.inf if hi is None else float(hi)
            except (TypeError, ValueError):
                raise ValueError(
                    f"bounds[{i}] must be a (min, max) pair of real numbers or "
                    f"None, got {pair!r}") from None
    if np.isnan(lower).any() or np.isnan(upper).any():
        raise ValueError("bounds must not contain NaN")
    if (lower == np.inf).any() or (upper == -np.inf).any():
        raise ValueError("bounds: a lower bound of +inf or an upper bound of "
                         "-inf leaves no finite point")
    bad = np.flatnonzero(lower > upper)
    if bad.size:
        i = bad[0]
        raise ValueError(
            f"bounds: lower bound {lower[i]} exceeds upper bound {upper[i]} "
            f"for x[{i}]")
    if not (np.isfinite(lower).any() or np.isfinite(upper).any()):
        return None, None
    return np.array(lower, dtype=float), np.array(upper, dtype=float)
