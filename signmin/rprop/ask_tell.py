"""The sign method driven from outside: :class:`Rprop`, an ask/tell optimiser.

The kernel is already a ``tell`` over a state; this object hands the state's
next point to the caller (``ask``) and takes the caller's f and g there
(``tell``), so that evaluations may happen anywhere: a simulator on a cluster,
an experiment, an asynchronous pool. It does what the Python loop of
:mod:`signmin.rprop.drivers` does between two evaluations, nothing more, so a
loop of ask and tell takes the steps of `minimize_rprop` with the same options,
bit for bit.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.optimize import Bounds, OptimizeResult

from .. import _validate as V
from .._bounds import as_bounds_arrays
from .._status import Status
from . import checkpoint
from . import kernel as K
from .drivers import entry_point
from .objective import JAC_CALLABLE
from .options import FTOL, check_options

__all__ = ["Rprop"]

_REPEAT = K.REPEAT


class Rprop:
    """Rprop as an ask/tell optimiser: ``ask()`` the next point, ``tell(f, g)`` its value
    and gradient, until ``done``; ``result`` then holds what `minimize_rprop` returns.

    Parameters
    ----------
    x0 : array_like, shape (n,)
        The start (copied; never changed).
    bounds : sequence of (min, max) pairs or `scipy.optimize.Bounds`, optional
        Box constraints, as `minimize_rprop` takes them.
    variant, initial_step, etas, step_sizes, maxiter, maxfev, xtol, ftol, gtol, \
stall_window, accelerate, until_bracketed, tol
        As for `minimize_rprop`. Every point asked costs one evaluation of f
        and g (``maxfev`` counts them).
    resume : str or path-like, optional
        A checkpoint written by `save` of a run with these same ``x0``,
        bounds and options: the run goes on from where it was saved, exactly
        as it would have without the stop. A checkpoint of another run is
        refused (``ValueError``, saying what differs).

    Notes
    -----
    The object runs the sign method itself, that is `minimize_rprop` with
    ``polish=False`` (with or without pattern moves): the finish of the
    default mode is a quasi-Newton method with a line search of its own and
    is not offered here. The same options give the same points, bit for bit,
    and the same counts; a point where no variable moved is not asked twice.

    The object pickles (``pickle``, ``copy.deepcopy``): a copy taken between
    two tells continues exactly as the original would, in another process or
    after a restart.

    Examples
    --------
    >>> import numpy as np
    >>> from signmin import Rprop
    >>> opt = Rprop([3.0, -2.0])
    >>> while not opt.done:
    ...     x = opt.ask()
    ...     opt.tell(float(np.sum((x - 1.0) ** 2)), 2.0 * (x - 1.0))
    >>> res = opt.result
    >>> res.success, bool(np.allclose(res.x, 1.0))
    (True, True)

    References
    ----------
    .. [1] M. Riedmiller and H. Braun, "A direct adaptive method for faster
       backpropagation learning: the RPROP algorithm", IEEE International
       Conference on Neural Networks, 1993, pp. 586-591.
    .. [2] C. Igel and M. Hüsken, "Empirical evaluation of the improved Rprop
       learning algorithms", Neurocomputing 50, 2003, pp. 105-123.
    """

    def __init__(self, x0: Any, bounds: Bounds | Sequence[tuple[float | None, float | None]]
                 | None = None, *, variant: str = "irprop+",
                 initial_step: float | Sequence[float] | None = None,
                 etas: tuple[float, float] = (0.5, 1.2),
                 step_sizes: tuple[float, float] = (0.0, np.inf), maxiter: int = 100_000,
                 maxfev: int | None = None, xtol: float | None = None, ftol: float = FTOL,
                 gtol: float = 0.0, stall_window: int | None = None, accelerate: bool = True,
                 until_bracketed: bool = False, tol: float | None = None,
                 resume: str | os.PathLike | None = None) -> None:
        # (The front door's own start, so that both begin from the same state.)
        from .minimize import _start

        x0 = V.x0_array(x0)
        self._x0 = x0.copy()
        n = x0.size
        lower, upper = as_bounds_arrays(bounds, n)
        options = check_options(
            n, variant=variant, etas=etas, step_sizes=step_sizes, maxiter=maxiter,
            maxfev=maxfev, xtol=xtol, ftol=ftol, gtol=gtol, tol=tol, stall_window=stall_window,
            polish=False, accelerate=accelerate, until_bracketed=until_bracketed)
        self._run = _start(x0, lower, upper, initial_step, None, JAC_CALLABLE, options)[0]
        self._n = n
        self._status: int | None = None
        self._f = np.nan
        if resume is not None:
            saved = checkpoint.read(resume)
            checkpoint.check_same_run(self._run, self._x0, saved, resume)
            self._take(saved)
        self._bind()

    def _take(self, saved: checkpoint.Saved) -> None:
        # A checkpoint's run, status and last f become this object's.
        self._run, self._status, self._f = saved.run, saved.status, saved.f

    def _bind(self):
        # What each step reads, looked up once (as the Python loop does): the
        # compiled tell's entry point, the state's address (valid while the run
        # holds the state), the rows by the header's row numbers.
        run = self._run
        self._tell = entry_point(K.tell_of(run))
        self._address = K.state_address(run.state)
        self._row_at, header, self._cur, _ = K.python_loop_view(run)
        self._header = memoryview(header)

    @property
    def done(self) -> bool:
        """Whether a stopping rule has ended the run (then `result` is final)."""
        return self._status is not None

    @property
    def status(self) -> Status | None:
        """The rule that ended the run, or None while it goes on."""
        return None if self._status is None else Status(self._status)

    def ask(self) -> np.ndarray:
        """The point to evaluate next (a new array, the caller's to keep)."""
        if self._status is not None:
            raise RuntimeError(f"the run has ended ({self.status.name}): see .result")
        return self._row_at[self._header[self._cur]].copy()

    def tell(self, f: float, g: Any) -> None:
        """The value ``f`` and gradient ``g`` at the point last asked.

        A non-finite ``f`` or ``g`` ends the run at the best finite point,
        as in `minimize_rprop`.
        """
        if self._status is not None:
            raise RuntimeError(f"the run has ended ({self.status.name}): see .result")
        f = float(f)
        g = np.asarray(g, dtype=np.float64)
        if g.shape != (self._n,):
            raise ValueError(f"g must have shape ({self._n},), the shape of x; got {g.shape}")
        status = self._tell(self._address, g, f, 1, False)
        # After a step that moved nothing, the same f and g again (as the
        # drivers do): the caller is not asked for the same point twice.
        while status == _REPEAT:
            status = self._tell(self._address, g, f, 0, False)
        self._f = f
        if status >= 0:
            self._status = status

    @property
    def result(self) -> OptimizeResult:
        """What `minimize_rprop` would return now: the best point so far, the counts and
        the rule that ended the run (while it goes on, ``status`` -1). Copies."""
        from .minimize import _result

        going_on = self._status is None
        res = _result(self._run, Status.MAXITER if going_on else Status(self._status), self._f)
        for key in ("x", "jac", "step_size"):
            res[key] = np.array(res[key], copy=True)
        if going_on:
            res.update(status=-1, success=False,
                       message="The run goes on: no rule has ended it yet.")
        return res

    def save(self, path: str | os.PathLike) -> None:
        """Write the whole state to ``path`` (NumPy's ``.npz``, no pickle), atomically.

        The state goes to a temporary file beside ``path``, is flushed to disk,
        then takes ``path``'s name in one step: a crash while saving leaves the
        previous checkpoint as it was. ``Rprop(x0, ..., resume=path)`` (or
        `load`) continues from it exactly as this object would.
        """
        checkpoint.write(path, self._run, self._x0, self._status, self._f)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Rprop:
        """The optimiser saved in ``path`` by `save`, ready to go on.

        A file that is not a whole checkpoint (truncated, corrupted, another
        kind of file) or that another version of signmin wrote raises
        ``ValueError`` and changes nothing.
        """
        saved = checkpoint.read(path)
        self = cls.__new__(cls)
        self._x0, self._n = saved.x0, saved.x0.size
        self._take(saved)
        self._bind()
        return self

    def __getstate__(self):
        return {"run": K.run_arrays(self._run), "spec": self._run.spec, "n": self._n,
                "status": self._status, "f": self._f, "x0": self._x0}

    def __setstate__(self, state):
        self._run = K.run_from_arrays(state["spec"], state["run"])
        self._n, self._status, self._f = state["n"], state["status"], state["f"]
        self._x0 = state.get("x0", getattr(self, "_x0", None))
        self._bind()

