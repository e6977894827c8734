"""Why a run ended: the public status codes, their messages and which count as success."""

from enum import IntEnum

__all__ = ["Status"]

#: The ftol rule looks this many iterations back.
FTOL_WINDOW = 10


class Status(IntEnum):
    """The rule that ended a run of `minimize_rprop` (``res.status``).

    The values follow SciPy's convention: small non-negative integers for the
    rules of the method, 99 for a stop asked for by the callback, 98 for a run
    that an exception ended (Ctrl-C, or one raised by ``fun``, ``jac`` or the
    callback: the result then travels with the exception, as its ``result``
    attribute, and is never returned). ``GTOL``,
    ``XTOL``, ``FTOL``, ``NO_PROGRESS`` and ``BRACKETED`` (asked for with
    ``until_bracketed=True``) are successes (``res.success``).

    Examples
    --------
    >>> from signmin import Status, minimize_rprop
    >>> res = minimize_rprop(lambda x: float((x[0] - 1) ** 2), [3.0],
    ...                      jac=lambda x: 2 * (x - 1), polish=False)
    >>> Status(res.status).name, Status(res.status).success
    ('XTOL', True)
    >>> res.status == Status.XTOL
    True
    """

    GTOL = 0
    XTOL = 1
    FTOL = 2
    MAXITER = 3
    MAXFEV = 4
    NONFINITE = 5
    NO_PROGRESS = 6
    BRACKETED = 7
    INTERRUPTED = 98
    CALLBACK = 99

    @property
    def success(self) -> bool:
        """Whether the run converged by a rule of the method."""
        return self in _SUCCESS

    @property
    def message(self) -> str:
        """The sentence `minimize_rprop` reports in ``res.message``."""
        return _MESSAGES[self]


_SUCCESS = frozenset({Status.GTOL, Status.XTOL, Status.FTOL, Status.NO_PROGRESS,
                      Status.BRACKETED})

_MESSAGES = {
    Status.GTOL: ("Every component of the projected gradient is within gtol "
                  "(0 means exactly 0)."),
    Status.XTOL: ("Every step size is within xtol relative to its variable "
                  "(variables with no gradient information do not count)."),
    Status.FTOL: (f"The last {FTOL_WINDOW} values of f all lie within ftol (relative) of "
                  "the best one, and no step size grew."),
    Status.MAXITER: "Maximum number of iterations has been exceeded.",
    Status.MAXFEV: "Maximum number of function evaluations has been exceeded.",
    Status.NONFINITE: ("fun or jac returned a non-finite value; the result is the "
                       "best finite point seen."),
    Status.NO_PROGRESS: ("No further progress: the best f has not improved over the "
                         "last `stall_window` steps."),
    Status.BRACKETED: ("Every variable's partial derivative has changed sign at least once "
                       "(until_bracketed=True): the minimum is bracketed."),
    Status.INTERRUPTED: ("The run was interrupted by an exception (Ctrl-C, or one raised by "
                         "fun, jac or callback); this result, the best point before it, is "
                         "the exception's `result` attribute."),
    Status.CALLBACK: "`callback` raised `StopIteration`.",
}

#: Reported instead when not even x0 gave a finite value.
NONFINITE_AT_START = ("fun or jac returned a non-finite value at x0; no finite point "
                      "was seen.")
