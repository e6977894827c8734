"""numba's disk cache, safe to fill from several processes at once.

numba keeps one index file per cached function, mapping each compiled
specialisation (its signature and closure) to a numbered data file. To save a
new one it reads the index, takes the first number the index does not use,
then writes the index and the data, with no lock between the read and the
writes. Two processes that save different specialisations of one function at
the same moment can take the same number: the index then sends one
specialisation to the other's machine code, which every later process loads
and runs (seen here: two pytest-xdist workers compiling from an empty cache;
a worker aborted in the garbage collector and the compiled driver's runs
differed from the Python driver's). Dask workers, a process pool or parallel
test runners starting on a new machine do just that.

:func:`locked` gives a dispatcher's cache a save that holds a lock on a file
beside the index, reads the index under it, and writes the data before the
index, so that the index never names a file not yet written. As numba's own
save, it writes the index only for a new entry.
"""

from __future__ import annotations

import contextlib
import itertools
import os

from numba.core.caching import IndexDataCacheFile
from numba.core.dispatcher import Dispatcher

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: numba's own save, unlocked
    fcntl = None


class _LockedIndexDataCacheFile(IndexDataCacheFile):
    def save(self, key, data):
        with _lock(self._index_path + ".lock"):
            overloads = self._load_index()
            name = overloads.get(key)
            new = name is None
            if new:
                used = set(overloads.values())
                name = next(name for name in map(self._data_name, itertools.count(1))
                            if name not in used)
            self._save_data(name, data)
            if new:
                overloads[key] = name
                self._save_index(overloads)


@contextlib.contextmanager
def _lock(path):
    if fcntl is None:
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # (releases the lock)


def locked(dispatcher):
    """``dispatcher``, its disk cache (if any) saved under a lock; returns it.

    Lock before the first compilation: a dispatcher made with signatures
    compiles (and saves) as it is made, so make it without them, lock it,
    then ``compile`` each signature.
    """
    cache_file = getattr(getattr(dispatcher, "_cache", None), "_cache_file", None)
    if type(cache_file) is IndexDataCacheFile:
        cache_file.__class__ = _LockedIndexDataCacheFile
    return dispatcher


def lock_all(namespace):
    """Lock the disk cache of every dispatcher in ``namespace`` (a module's globals)."""
    for value in list(namespace.values()):
        if isinstance(value, Dispatcher):
            locked(value)
