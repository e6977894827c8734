"""The sign method's options: one record, its defaults and its checks, for every front door.

`minimize_rprop` and `curve_fit_many` both turn their keyword arguments into
an :class:`Options` record with :func:`check_options`, and a record into a
run's state with :func:`new_run`, so the two cannot disagree on a default or
a check.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import _validate as V
from .._jit import cached
from . import kernel as K

#: The default initial step is this fraction of each variable's scale.
INITIAL_STEP_FRACTION = 0.1
#: The default xtol, and that of the pure accelerated mode (see `minimize_rprop`).
XTOL, XTOL_ACCELERATED = 1e-10, 1e-8
#: The default ftol: off.
FTOL = 0.0
#: The finishes ``polish`` can name; ``True`` picks by size (see `finish_for`).
FINISHES = ("BFGS", "L-BFGS-B")
#: The most variables for which ``polish=True`` finishes with dense BFGS (n^2 numbers
#: and n^2 work a step); above, L-BFGS-B. Measured on real models (issue "Cheap on real
#: models"): dense BFGS took fewer evaluations than L-BFGS-B at n = 170 (698 vs 5,622),
#: more at n = 496 (238 vs 98) and n = 650.
DENSE_MAX_N = 250


class Options(NamedTuple):
    """The checked options of one run of the sign method (see `minimize_rprop`)."""

    variant: int
    eta_minus: float
    eta_plus: float
    step_min: float
    step_max: float
    maxiter: float  # an int, or inf
    maxfev: float  # an int, or inf
    xtol: float
    ftol: float
    gtol: float
    stall_window: float  # an int, or inf (off)
    finish: str | None  # the magnitude-trusting finish (``polish``), or None
    accelerate: bool
    until_bracketed: bool

    @property
    def bracket_rule(self) -> bool:
        """Whether the sign phase stops once every partial derivative changed sign."""
        return self.until_bracketed or self.finish is not None


def check_options(n, *, variant, etas, step_sizes, maxiter, maxfev, xtol, ftol, gtol, tol,
                  stall_window, polish, accelerate, until_bracketed) -> Options:
    """The :class:`Options` of a run in ``n`` variables, each argument checked and
    defaulted as `minimize_rprop` documents."""
    variant = V.choice("variant", variant, K.VARIANTS)
    eta_minus, eta_plus = V.pair("etas", etas)
    if not (0.0 < eta_minus < 1.0 < eta_plus < np.inf):
        raise ValueError(f"etas must satisfy 0 < eta_minus < 1 < eta_plus, got {etas!r}")
    step_min, step_max = V.pair("step_sizes", step_sizes)
    if not (0.0 <= step_min <= step_max) or step_min == np.inf:
        raise ValueError(f"step_sizes must satisfy 0 <= min <= max, got {step_sizes!r}")
    maxiter = V.integer("maxiter", maxiter, minimum=0)
    maxfev = np.inf if maxfev is None else V.integer("maxfev", maxfev, minimum=1)
    if tol is not None:
        tol = V.tolerance("tol", tol)
    # Checked before the comparison with the default: an array there has no truth value.
    xtol = None if xtol is None else V.tolerance("xtol", xtol)
    ftol = V.tolerance("ftol", ftol)
    ftol = tol if tol is not None and ftol == FTOL else ftol
    gtol = V.tolerance("gtol", gtol)
    stall_window = _stall_window(stall_window, n)
    finish = _finish_name(polish)
    until_bracketed = V.flag("until_bracketed", until_bracketed)
    accelerate = V.flag("accelerate", accelerate)
    if xtol is None:
        xtol = tol if tol is not None else (
            XTOL_ACCELERATED if accelerate and finish is None else XTOL)
    if until_bracketed:
        finish = None  # it stops where the finish would start
    return Options(variant, eta_minus, eta_plus, step_min, step_max, maxiter, maxfev, xtol,
                   ftol, gtol, stall_window, finish, accelerate, until_bracketed)


def new_run(options, *, x0, lower, upper, scale, step0, eval_cost, jac_calls,
            jac_calls_nonfinite):
    """The kernel's state for a run with ``options`` (arrays taken over, not copied)."""
    o = options
    return K.new_state(
        x0=x0, lower=lower, upper=upper, scale=scale, step0=step0, variant=o.variant,
        eta_minus=o.eta_minus, eta_plus=o.eta_plus, step_min=o.step_min, step_max=o.step_max,
        xtol=o.xtol, ftol=o.ftol, gtol=o.gtol, maxiter=o.maxiter, maxfev=o.maxfev,
        eval_cost=eval_cost, stall_window=o.stall_window, jac_calls=jac_calls,
        jac_calls_nonfinite=jac_calls_nonfinite, until_bracketed=o.bracket_rule,
        accelerate=o.accelerate)


def _finish_name(polish):
    """None, or the finish's name."""
    if polish is False or polish is None:
        return None
    if polish is True:
        return "auto"
    if isinstance(polish, str) and polish.upper() in FINISHES:
        return polish.upper()
    raise ValueError(f"polish must be False, True, 'BFGS' or 'L-BFGS-B', got {polish!r}")


def finish_for(finish, n):
    """The finish a run of ``n`` variables uses (``finish`` from the options)."""
    if finish == "auto":
        return "BFGS" if n <= DENSE_MAX_N else "L-BFGS-B"
    return finish


def _stall_window(stall_window, n):
    if stall_window is None:
        return default_stall_window(n)
    window = V.integer("stall_window", stall_window, minimum=0)
    return np.inf if window == 0 else window


def default_stall_window(n):
    """Steps without a new best f after which a run stops (see `minimize_rprop`).

    Measured on the 43 problems of ``benchmarks/robustness.py`` in the four
    variants, the seed family, the 54 NIST fits and the scalable Moré et al.
    problems at n = 4 ... 100: once f has improved on f(x0), no solved run went
    more than 18 steps without a new best before its solve. 100 + 20 n leaves
    a margin of 9x at n = 2 and more beyond, and loses no solve.
    """
    return 100 + 20 * n


_NO_BOUNDS = np.empty(0)


def scale_and_step(x0, lower, upper):
    """Per-variable scale (the smaller of |x0| and the bounds' width; where x0
    is 0, the smaller of 1 and the width) and the default initial step, a
    fraction of it."""
    scale = np.empty(x0.size, dtype=np.float32)
    step = np.empty(x0.size)
    fill_scale_and_step(x0, _NO_BOUNDS if lower is None else lower,
                        _NO_BOUNDS if upper is None else upper, INITIAL_STEP_FRACTION,
                        scale, step)
    return scale, step


_F32_TINY = float(np.finfo(np.float32).tiny)
_F32_MAX = float(np.finfo(np.float32).max)


@cached
def fill_scale_and_step(x0, lower, upper, fraction, scale, step):
    """The rule of :func:`scale_and_step`, into ``scale`` and ``step`` (compiled:
    the batch driver calls it for every fit)."""
    # One pass, no temporaries: at large n every array of size n counts.
    bounded = lower.shape[0] > 0
    for i in range(x0.shape[0]):
        c = np.inf
        if bounded:
            width = upper[i] - lower[i]
            if np.isfinite(width) and width > 0.0:
                c = width
        a = abs(x0[i])
        # At 0 the size of a variable is unknown: a box may narrow the unbounded
        # run's unit scale, never widen it (measured: a +-50 box around MNLogit's
        # x0 = 0 made the first step 10, whose first f overflowed).
        c = min(a, c) if a != 0.0 else min(c, 1.0)
        step[i] = fraction * c
        # Kept in float32 (it only sets tolerances and floors): inside its range.
        scale[i] = min(max(c, _F32_TINY), _F32_MAX)


def initial_step_array(initial_step, n):
    """A user's ``initial_step`` as a new array of ``n`` positive floats."""
    try:
        step = np.asarray(initial_step)
        # A string or complex number would be cast (or its imaginary part dropped).
        if step.dtype.kind in "USc":
            raise TypeError
        step = step.astype(float)
    except (TypeError, ValueError):
        raise TypeError("initial_step must be a positive number or an array of "
                        f"{n} of them") from None
    if step.ndim > 1 or (step.ndim == 1 and step.size != n):
        raise ValueError(f"initial_step must be a scalar or have length {n}, got shape "
                         f"{step.shape}")
    if not (np.all(step > 0) and np.all(np.isfinite(step))):
        raise ValueError("initial_step must be positive and finite")
    return np.array(np.broadcast_to(step, (n,)))  # the state takes it over
