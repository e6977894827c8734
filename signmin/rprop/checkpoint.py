"""Checkpoints: a sign-method run's whole state in one file, written so that a crash
cannot spoil it, and read back only for the run it belongs to.

:class:`signmin.Rprop` and `minimize_rprop` (``checkpoint=``, ``resume=``) write and
read the same files: NumPy's ``.npz`` (the run's arrays, x0, and one JSON line of
metadata; no pickle), so a checkpoint of either continues in either, where the two
runs are the same run.
"""

from __future__ import annotations

import json
import os
import time
import zipfile
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from . import kernel as K

#: The first line of every checkpoint's metadata: what wrote it.
FORMAT = "signmin.Rprop checkpoint 1"


class Saved(NamedTuple):
    """A checkpoint read back: the run, the x0 it started from, the status that ended
    it (None while it goes on), the last f told; for the default mode, the finish's
    name and the journal (metadata and arrays, see :mod:`signmin.rprop.journal`)."""

    run: K.Run
    x0: np.ndarray
    status: int | None
    f: float
    finish: str | None = None
    journal: tuple[dict, dict] | None = None


def write(path: str | os.PathLike, run: K.Run, x0: np.ndarray, status: int | None,
          f: float, finish: str | None = None,
          journal: tuple[dict, dict] | None = None) -> None:
    """Write ``run``'s whole state to ``path``, atomically: to a temporary file beside
    it, flushed to disk, then renamed in one step (a crash while writing leaves the
    previous checkpoint as it was). The default mode's run also writes its finish's
    name and its journal (``Journal.to_file()``)."""
    path = os.fspath(path)
    meta = {"format": FORMAT, "version": _version(), "spec": list(run.spec),
            "n": int(x0.size), "status": status, "f": float(f), "finish": finish}
    arrays = {f"run_{name}": value for name, value in K.run_arrays(run).items()}
    if journal is not None:
        meta["journal"] = journal[0]
        arrays.update(journal[1])
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        with open(temporary, "wb") as file:
            np.savez(file, meta=np.array(json.dumps(meta)), x0=x0, **arrays)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def read(path: str | os.PathLike) -> Saved:
    """The checkpoint in ``path``. A file that is not a whole checkpoint (truncated,
    corrupted, another kind of file) or that another version of signmin wrote raises
    ``ValueError``; a missing one, ``FileNotFoundError``."""
    path = os.fspath(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            x0 = data["x0"]
            arrays = {name[4:]: data[name] for name in data.files if name.startswith("run_")}
            journal = None
            if meta.get("journal") is not None:
                journal = (meta["journal"], {name: data[name] for name in data.files
                                             if name.startswith("journal")})
    except FileNotFoundError:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path!r} is not a readable signmin checkpoint (truncated or "
                         f"corrupted?): {type(exc).__name__}: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path!r} is not a signmin.Rprop checkpoint")
    if meta["version"] != _version():
        raise ValueError(f"{path!r} was written by signmin {meta['version']}; this is "
                         f"signmin {_version()}, whose state may differ: start anew")
    run = K.run_from_arrays(tuple(meta["spec"]), arrays)
    return Saved(run, x0, meta["status"], meta["f"], meta.get("finish"), journal)


def check_same_run(run: K.Run, x0: np.ndarray, saved: Saved, path: str | os.PathLike,
                   finish: str | None = None) -> None:
    """Refuse (``ValueError``, saying what differs) a checkpoint of another run than
    the one ``run`` (just started from ``x0``, with ``finish``: None for the sign
    method's own modes) would be."""
    mine, theirs = K.run_arrays(run), K.run_arrays(saved.run)
    # (The default mode's run changes some of its options as it goes: its journal
    # keeps them as they were at the start.)
    options = (K.options_of(saved.run) if saved.journal is None
               else saved.journal[1]["journal_options"])
    differs = [what for what, same in (
        ("x0", np.array_equal(x0, saved.x0)),
        ("the bounds", all(np.array_equal(mine[k], theirs[k]) for k in ("lower", "upper"))),
        ("the variant or the rules", run.spec == saved.run.spec),
        ("the options", np.array_equal(K.options_of(run), options)),
        ("polish", finish == saved.finish),
    ) if not same]
    if differs:
        raise ValueError(f"resume={os.fspath(path)!r} is a checkpoint of another run "
                         f"(different: {', '.join(differs)})")


class Every:
    """A call that runs ``save()`` (a checkpoint's write) once ``seconds`` have passed
    since the last one (or since it was made); the drivers call it between steps."""

    def __init__(self, seconds: float, save: Callable[[], None]) -> None:
        self.seconds, self.save = seconds, save
        self.last = time.monotonic()

    def __call__(self) -> None:
        if time.monotonic() - self.last >= self.seconds:
            self.save()
            self.last = time.monotonic()


def _version():
    from .. import __version__

    return __version__
