"""Checkpoints of the default mode: what a run learned, replayed from its start.

A sign phase's whole state lives in the kernel's arrays, so a checkpoint of
the sign method's own modes is those arrays (:mod:`signmin.rprop.checkpoint`).
The default mode's finish is another matter: its state lives inside a line
search (SciPy's L-BFGS-B in Fortran, or the dense BFGS's Python frames), which
cannot be written out mid-way. What can be written out is everything the run
learned from outside of its own deterministic code: where each sign phase
ended (the kernel's arrays then, its status and last f) and each evaluation
the finish asked for (f, g and the calls, keyed by a digest of x).

A resumed run therefore starts from x0 and goes through the same phases
again, taking each finished sign phase's end from the journal instead of
running it, and each of the finish's evaluations from the journal instead of
calling ``fun`` (the finish recomputes its own steps: milliseconds, where the
evaluations it replays may have taken hours), until the journal ends; from
there the run goes on for real, and a sign phase the checkpoint caught
half-way goes on from its saved state. Every replayed entry is checked against
the point the replay reached (the state's digest where a phase starts, x's
where an evaluation is asked): a run that no longer follows its journal (other
``fun`` or ``args``) is refused, never mixed. Callbacks are not called for the
replayed part: they saw it before the stop.

The journal grows by n + 1 numbers per evaluation of the finish and by the
state (about 10 n numbers) per sign phase; each checkpoint writes it whole.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

import numpy as np

from . import kernel as K


class _Phase(NamedTuple):
    start: str  # digest of the state as the phase began
    arrays: dict  # the state as it ended (or, for the partial phase, as it was saved)
    status: int
    f: float


class _Evaluation(NamedTuple):
    x: str  # digest of the point
    f: float
    g: np.ndarray | None  # None where f is not finite (no gradient then)
    calls: int


class Diverged(ValueError):
    """The resumed run left its journal: the checkpoint belongs to another run."""


def _digest(*arrays):
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        h.update(np.ascontiguousarray(a).view(np.uint8))
    return h.hexdigest()


def _state_digest(run):
    # What tells runs apart (counts, best f, the row numbers, the iterate, the
    # steps); not every row: a spare row may hold what np.empty left there.
    return _digest(run.header, K.current_x(run), run.step, run.sign)


class Journal:
    """The phases' ends and the finish's evaluations of one run, in order; from a
    checkpoint, replayed first (see the module's text).

    ``save()``, if set, is called after each evaluation the finish makes for real
    (a checkpoint's moment).
    """

    def __init__(self, path, options, entries=(), partial=None):
        self.path = path
        # The run's options as it started (the phases change some slots later: the
        # xtol in force, the bracket rule), for the check of a resumed run.
        self.options = options
        self.entries = list(entries)
        self.at = 0
        self.partial = partial
        self._running = None  # digest of the state where the running phase began
        self.save = None

    @property
    def replaying(self):
        return self.at < len(self.entries) or self.partial is not None

    def drive(self, drive, run, tell):
        """A sign phase: from the journal while it lasts, else ``drive(run, tell)``."""
        start = _state_digest(run)
        if self.at < len(self.entries):
            entry = self._next(_Phase, start, "a sign phase starts")
            K.restore(run, entry.arrays)
            return entry.status, entry.f
        if self.partial is not None:
            self._check(self.partial.start == start, "a sign phase starts")
            K.restore(run, self.partial.arrays)
            self.partial = None
        self._running = start
        status, f = drive(run, tell)
        self._running = None
        self.entries.append(_Phase(start, _copies(K.run_arrays(run)), status, f))
        self.at += 1
        return status, f

    def evaluate(self, evaluate, x):
        """An evaluation of the finish: from the journal while it lasts, else
        ``evaluate(x)``."""
        key = _digest(x)
        if self.at < len(self.entries):
            entry = self._next(_Evaluation, key, "the finish asks for a point")
            g = np.full(x.size, np.nan) if entry.g is None else entry.g.copy()
            return entry.f, g, entry.calls
        f, g, calls = evaluate(x)
        finite = np.isfinite(f)
        self.entries.append(_Evaluation(key, float(f), np.array(g, copy=True) if finite else None,
                                        int(calls)))
        self.at += 1
        if self.save is not None:
            self.save()
        return f, g, calls

    def quiet(self, callback):
        """``callback``, not called while the journal is replayed."""
        if callback is None:
            return None

        def maybe(*args, **kwargs):
            if not self.replaying:
                return callback(*args, **kwargs)
            return None

        return maybe

    def _next(self, kind, key, where):
        entry = self.entries[self.at]
        self._check(isinstance(entry, kind) and (entry.start if kind is _Phase
                                                  else entry.x) == key, where)
        self.at += 1
        return entry

    def _check(self, same, where):
        if not same:
            raise Diverged(f"resume={self.path!r}: the run left the checkpoint's record where "
                           f"{where} (entry {self.at}): the checkpoint belongs to another "
                           "run (another fun, jac or args?)")

    # --- to and from a checkpoint file ---------------------------------------------

    def to_file(self):
        """``(meta, arrays)``: the journal as JSON-able metadata and named arrays."""
        meta, arrays, gradients = [], {}, []
        for i, entry in enumerate(self.entries):
            if isinstance(entry, _Phase):
                meta.append(["phase", entry.start, int(entry.status), float(entry.f)])
                arrays.update({f"journal{i}_{name}": value
                               for name, value in entry.arrays.items()})
            else:
                # (The gradients as the rows of one array: one member of the file
                # each, they took most of a checkpoint's time.)
                meta.append(["evaluation", entry.x, entry.f, entry.calls,
                             -1 if entry.g is None else len(gradients)])
                if entry.g is not None:
                    gradients.append(entry.g)
        arrays["journal_gradients"] = (np.array(gradients) if gradients
                                       else np.empty((0, 0)))
        arrays["journal_options"] = self.options
        return {"entries": meta, "running": self._running}, arrays

    @classmethod
    def from_file(cls, path, meta, arrays, run_arrays):
        """The journal :meth:`to_file` wrote, with the partial phase (if the
        checkpoint caught one running) at ``run_arrays``."""
        entries = []
        for i, item in enumerate(meta["entries"]):
            prefix = f"journal{i}_"
            own = {name[len(prefix):]: value for name, value in arrays.items()
                   if name.startswith(prefix)}
            if item[0] == "phase":
                entries.append(_Phase(item[1], own, item[2], item[3]))
            else:
                row = item[4]
                g = None if row < 0 else arrays["journal_gradients"][row]
                entries.append(_Evaluation(item[1], item[2], g, item[3]))
        partial = (None if meta["running"] is None
                   else _Phase(meta["running"], run_arrays, -1, np.nan))
        return cls(path, arrays["journal_options"], entries, partial)


def _copies(arrays):
    return {name: np.array(value, copy=True) for name, value in arrays.items()}
