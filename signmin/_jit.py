"""How signmin uses numba: the presets, the disk cache and its lock, the tricks.

Every compiled function of the package is made through this module or
follows a rule written here once.

**Presets.** :func:`cached` makes a module-level function a disk-cached
dispatcher (``numba.njit(cache=True, ...)``) whose cache saves under a lock
(below); :func:`batch_jit` is the preset of the compiled batch driver
(``nogil`` and ``error_model='numpy'``: a division by zero gives inf or nan
inside a ``prange`` task, never an exception, which could not leave the task
through a function pointer); :func:`inline` marks a helper that numba
inlines into its compiled caller (``register_jitable(inline='always')``);
``cached(forceinline=True)``, a helper that LLVM inlines (below).

**Inlining and compile-time flags.** The kernel's ``tell`` is made per run
specification (variant, bounds, which stopping rules are on) by a factory,
and the helpers it calls are inlined with those flags as constants, so that a
branch a flag decides is not in the loop (the factory's generic ``tell``, which
the Python loop runs for small runs, reads them at run time instead: one
compile for every kind of run). A helper is a module-level function
(not a closure the factory makes): a ``tell`` that closes over a compiled
function misses the disk cache in every new process.

**What a compile costs.** The first call in a new environment waits for
every function it reaches to compile (numba's type inference, mostly: the
inlined helpers are typed as functions of their own first, then copied in),
so compiled code of the package avoids what costs seconds for nothing:
slice assignments (``a[:] = b`` brings in numba's broadcasting checks and the
formatting of their error messages, 3.8 s of the first call; write a loop),
and a second signature of one function (Python hands a ``tell`` the state's
address, always through the one entry point of ``drivers``: called once with
the state itself, it compiled anew, 7.5 s).

**Inlined by LLVM, not by numba.** numba's inliner types an ``inline``
helper as a function of its own, then copies its IR into the caller
(cProfile: 1.7 s of a first compile in ``copy.deepcopy``), where it is typed
again: each inlined copy costs about a compile of its own, in every ``tell``
that inlines it. A ``cached(forceinline=True)`` helper is typed and compiled
once per signature, kept on disk, and linked into its callers, where LLVM
inlines it (``forceinline`` is LLVM's ``alwaysinline``) and folds the
caller's constants into it. The kernel's update of one coordinate is such a
helper, its choices passed as :func:`run_time` booleans, so that every kind of
``tell`` shares one compile of it; each specialised ``tell`` keeps its two loops
(numba inlines those), so that LLVM vectorises each with the choices known (the
generic ``tell``, whose choices are not known, calls one loop compiled on its
own). Measured
against numba inlining the whole update, side by side (process CPU time, fresh
processes): the first call with an empty cache 7.2-7.7 s -> 6.1-6.8 s, a
second kind of run after it 5.2-5.6 s -> 2.7-3.2 s; the loops no slower
(compiled n = 10: 0.97-1.00; n = 1e5-1e6: 0.91-0.97, irprop+ at 1e5 and
bounds at 1e6 0.39 and 0.62). The rarely taken paths
(``_become_best``, the pattern moves' fills) are plain cached calls: off the
loop, a call costs nothing, and no ``tell`` types them again.

Two ways that compiled less and were slower, measured: the whole update,
loop and all, as one LLVM-inlined function with run-time choices (one compile
for all kinds of run: about 4.7 s and 1.6 s) ran its loop 1.1-3x slower: numba
links a function's code optimised alone, so its loop is vectorised (or not)
before the choices are known, for every row, the rows a kind of run does not
use included (length 0, one shared buffer); the loop as an LLVM-inlined function
specialised per kind (literal choices: 5.0-5.7 s and 1.9-2.1 s), the same
machine code, yet compiled n = 10 runs 6-13 % slower on the benchmark machine.

**A run-time boolean.** :func:`run_time` gives a value typed as a run-time
value, not as its literal: a ``tell``'s choices are literals (constants of its
closure), and a literal passed to a compiled function compiles another
specialisation of it, once per kind of run (seconds of compile each); the
batch driver's ``run_time(False)`` likewise.

**A second copy of one helper.** Where one helper must be inlined into the
same caller twice as separate loops (the kernel's update, into another row
and in place: the compiler's overlap check sends the in-place case to its
scalar loop), :func:`renamed_copy` gives a second function object from the
same code (numba warns when one function is inlined twice).

**Borrowed views and reference counts.** The kernel reads its state's rows
without numba's reference counts for the duration of one call
(``kernel._borrowed``); never returned, never stored.

**A cache that cannot be stale.** numba keys a function's disk cache on its
own file (modification time and size), but compiled code takes in code and
constants from other modules too: the kernel inlines helpers from here and
holds the status codes of ``_status.py`` as constants, the batch driver calls
the kernel's accessors. An edit of such a module left the old machine code to
be loaded (seen here: 13 tests failed until the cache was deleted by hand).
Every cached function of the package is therefore keyed on a digest of all the
package's sources as well (:data:`SOURCES_DIGEST`): any edit, or another
version, recompiles. Each version also writes files of its own (the digest is
in their names; the first save of a version removes the other versions' files
of that function): with one set of files, a process of another version (the
sources edited while a test run goes on) could replace a data file between
this one's read of the index and its read of the data, and this one would run
the other version's code (seen here once: a test run's compiled and Python
drivers parted ways until the cache was deleted by hand).

**A name for each function a factory makes.** numba names a compiled
function's machine code (its symbol) by the function's qualified name, its
argument types and a counter of the process that compiled it. Functions made
by one factory share a qualified name: two of them, compiled by two processes
that had counted alike, shared a symbol, and a process that loaded both from
the disk cache linked one's code for both (seen here: 4 pairs of the kernel's
``tell`` in a test run's cache; the compiled and Python drivers then parted
ways, and LLVM aborted a worker, until the cache was deleted by hand). The
kernel's factory therefore names each ``tell`` it makes for its kind.

**The disk cache, and its lock.** numba keeps one index file per cached
function, mapping each compiled specialisation (its signature and closure) to
a numbered data file. To save a new one it reads the index, takes the first
number the index does not use, then writes the index and the data, with no
lock between the read and the writes. Two processes that save different
specialisations of one function at the same moment can take the same number:
the index then sends one specialisation to the other's machine code, which
every later process loads and runs (seen here: two pytest-xdist workers
compiling from an empty cache; a worker aborted in the garbage collector and
the compiled driver's runs differed from the Python driver's). Dask workers,
a process pool or parallel test runners starting on a new machine do just
that.

:func:`locked` gives a dispatcher's cache a save that holds a lock on a file
beside the index, reads the index under it, and writes the data before the
index, so that the index never names a file not yet written. As numba's own
save, it writes the index only for a new entry.

**Compiled once, loaded by the others.** numba looks in the disk cache, and
on a miss compiles, with no lock between the two: processes that start on one
machine with a new cache (pytest-xdist workers, a process pool, Dask workers,
the benchmark scripts the tests start together) each compile every function
they share, seconds of CPU each, on the same cores. A :func:`locked`
dispatcher looks and compiles under a second lock on a file beside the index,
one per function: the first process compiles and saves, the others wait, then
load what it saved. A function's lock is taken inside numba's own compiler
lock (so one thread of a process at a time, and again by that thread for the
functions it compiles on the way, which are other files) and only where the
signature is not compiled in this process already; locks follow the call
graph from caller to callee, which has no cycles, so two processes cannot each
wait for the other's.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import itertools
import os
import types
from pathlib import Path

import numba
from numba.core import sigutils
from numba.core import types as nb_types
from numba.core.caching import IndexDataCacheFile
from numba.core.compiler_lock import global_compiler_lock
from numba.extending import intrinsic, register_jitable

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: numba's own save, unlocked
    fcntl = None


class _LockedIndexDataCacheFile(IndexDataCacheFile):
    def save(self, key, data):
        with _lock(self._index_path + ".lock"):
            if not os.path.exists(self._index_path):
                _remove_other_versions(self)
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
    """The lock on `path`; none where the file cannot be made or locked (a
    read-only cache, a file system without locks: then as numba does, unlocked)."""
    fd = _try_lock(path)
    try:
        yield
    finally:
        if fd is not None:
            os.close(fd)  # (releases the lock)


def _try_lock(path):
    """A descriptor of `path` holding its lock, or None."""
    if fcntl is None:
        return None
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError:
        os.close(fd)
        return None
    return fd


#: The compile locks this process holds (path -> depth), all under numba's compiler
#: lock: a second flock of one file from a new descriptor would wait for itself.
_HELD: dict[str, int] = {}


@contextlib.contextmanager
def _compile_lock(path):
    """`_lock` on `path`, re-entrant in this process."""
    depth = _HELD.get(path, 0)
    _HELD[path] = depth + 1
    try:
        with _lock(path) if depth == 0 else contextlib.nullcontext():
            yield
    finally:
        if depth:
            _HELD[path] = depth
        else:
            del _HELD[path]


def _compile_once(dispatcher, path):
    """Make `dispatcher` look in its cache and compile under the lock on `path`
    (see the module's docstring: compiled once, loaded by the others)."""
    compile_ = dispatcher.compile

    def compile(sig):
        with global_compiler_lock:
            args = tuple(sigutils.normalize_signature(sig)[0])
            if args in dispatcher.overloads or not dispatcher._can_compile:
                return compile_(sig)
            with _compile_lock(path):
                return compile_(sig)

    dispatcher.compile = compile


def _tag(cache_file, digest):
    """Give ``cache_file``'s index and data files names of their own for ``digest``
    (``<function>-<line>.<python>.<digest>.nbi``, ``....<digest>.<k>.nbc``)."""
    base = cache_file._index_name[:-len(".nbi")]
    cache_file._untagged = base
    tagged = f"{base}.{digest[:16]}"
    cache_file._index_name = tagged + ".nbi"
    cache_file._index_path = os.path.join(cache_file._cache_path, cache_file._index_name)
    cache_file._data_name_pattern = tagged + ".{number:d}.nbc"


def _remove_other_versions(cache_file):
    # Files another version of the sources left for this function, at its line
    # there (``<function>-<line>.<python>``; each version's files would stay for
    # good otherwise): a process still running that version finds its file gone
    # and compiles (never another's code).
    base = getattr(cache_file, "_untagged", None)
    if base is None:
        return
    function, _, python = base.rpartition("-")
    python = python.partition(".")[2]
    mine = cache_file._index_name[:-len(".nbi")]
    pattern = f"{glob.escape(function)}-*.{glob.escape(python)}.*"
    for path in Path(cache_file._cache_path).glob(pattern):
        name = path.name
        line = name[len(function) + 1:].partition(".")[0]
        if (line.isdigit() and not name.startswith(mine + ".")
                and not name.endswith(".lock")):
            with contextlib.suppress(OSError):
                path.unlink()


def _sources_digest():
    """A digest of every source file of the package (its version among them)."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


#: Part of every cache entry's key (see the module's docstring); about a millisecond
#: to compute at import.
SOURCES_DIGEST = _sources_digest()


def locked(dispatcher):
    """``dispatcher``, its disk cache (if any) saved under a lock, keyed on
    :data:`SOURCES_DIGEST`, and each signature compiled by one process of those
    that share the cache (the others load it); returns it.

    Lock before the first compilation: a dispatcher made with signatures
    compiles (and saves) as it is made, so make it without them, lock it,
    then ``compile`` each signature.
    """
    cache_file = getattr(getattr(dispatcher, "_cache", None), "_cache_file", None)
    if type(cache_file) is IndexDataCacheFile:
        cache_file.__class__ = _LockedIndexDataCacheFile
        # numba loads an index only if its stamp is this one; otherwise it compiles
        # and saves anew (under the lock: see _LockedIndexDataCacheFile.save).
        cache_file._source_stamp = (cache_file._source_stamp, SOURCES_DIGEST)
        # And each version of the sources has files of its own: with one set of
        # files, a process of another version (sources edited while a test run
        # goes on) could replace a data file between this one's read of the index
        # and its read of the data, and this one would run the other's code.
        _tag(cache_file, SOURCES_DIGEST)
        _compile_once(dispatcher, cache_file._index_path + ".compile.lock")
    return dispatcher


def cached(function=None, **flags):
    """``numba.njit(cache=True, **flags)``, its disk cache saved under a lock.

    Used bare (``@cached``) or with numba's flags (``@cached(parallel=True)``).
    """
    if function is None:
        return lambda function: cached(function, **flags)
    return locked(numba.njit(cache=True, **flags)(function))


def batch_jit(function=None, **flags):
    """``numba.njit(nogil=True, error_model='numpy', **flags)``: the batch driver's preset."""
    if function is None:
        return lambda function: batch_jit(function, **flags)
    return numba.njit(nogil=True, error_model="numpy", **flags)(function)


def inline(function):
    """``function``, inlined into its compiled callers, where their constants fold away."""
    # (A new register_jitable each time: its decorator consumes the option.)
    return register_jitable(inline="always")(function)


def renamed_copy(function, name):
    """A second function object with ``function``'s code, named ``name``."""
    return types.FunctionType(function.__code__, function.__globals__, name)


@intrinsic
def run_time(typingctx, value):
    """``value``, typed as a run-time value, not as its literal."""
    def codegen(context, builder, signature, args):
        return context.cast(builder, args[0], signature.args[0], signature.return_type)

    return nb_types.unliteral(value)(value), codegen
