"""The disk cache of the compiled code, filled by several processes at once."""

import threading

from numba.core.caching import IndexDataCacheFile
from numba.core.dispatcher import Dispatcher

from signmin import _jit
from signmin.lsq import batch
from signmin.rprop import kernel, minimize, options


def test_a_save_that_overlaps_another_keeps_both_entries_apart(tmp_path):
    # numba's own save reads the index, takes the first free data file, then
    # writes: a save that runs between another's read and its writes takes the
    # same file, and the index sends one entry to the other's code. Here the
    # second save runs (in a thread, with a file description of its own, as in
    # another process) while the first is between its read and its writes.
    def cache_file():
        return _jit._LockedIndexDataCacheFile(str(tmp_path), "f", "stamp")

    first, second = cache_file(), cache_file()
    read = first._load_index
    others = []

    def read_then_let_the_other_save():
        overloads = read()
        other = threading.Thread(target=second.save, args=("k2", "code 2"))
        other.start()
        other.join(timeout=0.5)  # (held back by the lock until the first save ends)
        others.append(other)
        return overloads

    first._load_index = read_then_let_the_other_save
    first.save("k1", "code 1")
    others[0].join()
    fresh = IndexDataCacheFile(str(tmp_path), "f", "stamp")
    assert (fresh.load("k1"), fresh.load("k2")) == ("code 1", "code 2")


def test_every_disk_cached_function_of_the_package_saves_under_the_lock():
    caches = []
    for module in (kernel, minimize, options, batch):
        for value in vars(module).values():
            if isinstance(value, Dispatcher) and value._cache.__class__.__name__ != "NullCache":
                caches.append(value._cache._cache_file)
    spec = (kernel.IRPROP_MINUS, False, True, False, False, False, False, False)
    caches.append(kernel.tell_for(spec)._cache._cache_file)
    # (And the batch path's drivers, made and compiled on demand.)
    batch.fit_all(kernel.STATE_TYPE)
    caches += [d._cache._cache_file for d in batch._DRIVERS[kernel.STATE_TYPE]]
    assert len(caches) > 20
    assert all(type(c) is _jit._LockedIndexDataCacheFile for c in caches)
