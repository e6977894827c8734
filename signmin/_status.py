"""Why a run ended: the public status codes, their messages and which count as success."""

from enum import IntEnum

__all__ = ["Status"]


class Status(IntEnum):
    """The rule that ended a run of `minimize_rprop` (``res.status``).

    The values follow SciPy's convention: small non-negative integers for the
    rules of the method, 99 for a stop asked for by the callback. ``GTOL``,
    ``XTOL``, ``FTOL`` and ``NO_PROGRESS`` are successes (``res.success``).

    Examples
    --------
    >>> from signmin import Status, minimize_rprop
    >>> res = minimize_rprop(lambda x: float((x[0] - 1) ** 2), [3.0],
    ...                      jac=lambda x: 2 * (x - 1))
    >>> Status(res.status).name, Status(res.status).success
    ('XTOL', True)
    """

    GTOL = 0
    XTOL = 1
    FTOL = 2
    MAXITER = 3
    MAXFEV = 4
    NONFINITE = 5
    NO_PROGRESS = 6
    CALLBACK = 99

    @property
    def success(self) -> bool:
        """Whether the run converged by a rule of the method."""
        return self in _SUCCESS

    @property
    def message(self) -> str:
        """The sentence `minimize_rprop` reports in ``res.message``."""
        return _MESSAGES[self]


_SUCCESS = frozenset({Status.GTOL, Status.XTOL, Status.FTOL, Status.NO_PROGRESS})

_MESSAGES = {
    Status.GTOL: ("Every component of the projected gradient is within gtol "
                  "(0 means exactly 0)."),
    Status.XTOL: ("Every step size is within xtol relative to its variable "
                  "(variables with no gradient information do not count)."),
    Status.FTOL: ("The last values of f all lie within ftol (relative) of the best "
                  "one, and no step size grew."),
    Status.MAXITER: "Maximum number of iterations has been exceeded.",
    Status.MAXFEV: "Maximum number of function evaluations has been exceeded.",
    Status.NONFINITE: ("fun or jac returned a non-finite value; the result is the "
                       "best finite point seen."),
    Status.NO_PROGRESS: ("No further progress: the best f has not improved over the "
                         "last `stall_window` steps."),
    Status.CALLBACK: "`callback` raised `StopIteration`.",
}

#: Reported instead when not even x0 gave a finite value.
NONFINITE_AT_START = ("fun or jac returned a non-finite value at x0; no finite point "
                      "was seen.")
