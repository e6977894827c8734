"""The disk cache of the compiled code, filled by several processes at once."""

import itertools
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from numba.core.caching import IndexDataCacheFile
from numba.core.dispatcher import Dispatcher

import signmin
from signmin import Status, _jit
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


_SHARED_MODULE = """
import numpy as np
from signmin._jit import cached


@cached
def work(x):
    s = 0.0
    for i in range(x.size):
        s += np.sin(x[i]) * np.cos(x[i]) + np.exp(-x[i] ** 2)
    return s + np.sort(x)[0] + np.median(x) + np.std(x)
"""

_CALL_AT_THE_SAME_MOMENT = """
import json, pathlib, sys, time
import numpy as np
import shared
here = pathlib.Path(sys.argv[1])
(here / sys.argv[2]).touch()
while len(list(here.glob("ready-*"))) < 2:  # (both start together)
    time.sleep(0.005)
shared.work(np.arange(10.0))
stats = shared.work.stats
print(json.dumps([sum(stats.cache_misses.values()), sum(stats.cache_hits.values())]))
"""


def test_processes_that_share_an_empty_cache_compile_a_function_once(tmp_path):
    # Processes started together on a new cache (xdist workers, Dask workers, the
    # benchmark scripts test_benchmarks starts at once) each compiled every function
    # they shared. Under the compile lock one compiles, the other waits and loads.
    (tmp_path / "shared.py").write_text(_SHARED_MODULE)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"),
               PYTHONPATH=str(tmp_path) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    procs = [subprocess.Popen([sys.executable, "-c", _CALL_AT_THE_SAME_MOMENT, str(tmp_path),
                               f"ready-{k}"], env=env, cwd=tmp_path, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for k in range(2)]
    counts = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        counts.append(__import__("json").loads(out.splitlines()[-1]))
    assert sorted(counts) == [[0, 1], [1, 0]]  # (misses, hits): one compiled, one loaded


def test_a_cache_that_cannot_be_locked_compiles_unlocked(tmp_path, monkeypatch):
    # A file system without locks (some network ones): each process compiles for
    # itself, as numba would, instead of failing the call.
    def no_locks(fd, operation):
        raise OSError(37, "No locks available")

    monkeypatch.setattr(_jit.fcntl, "flock", no_locks)
    path = str(tmp_path / "f.nbi.compile.lock")
    with _jit._compile_lock(path), _jit._compile_lock(path):  # (and again, re-entrant)
        assert _jit._HELD[path] == 2
    assert path not in _jit._HELD
    # And the save that follows the compile saves, unlocked.
    cache_file = _jit._LockedIndexDataCacheFile(str(tmp_path), "f", "stamp")
    cache_file.save("key", "code")
    assert cache_file.load("key") == "code"


# --- a cache that cannot be stale ------------------------------------------------------

_BUDGET_STATUS = """
import numpy as np
from signmin.rprop import kernel as K
h = np.zeros(K._HEADER)
h[K._STALL_WINDOW] = h[K._STALL_START] = h[K._MAXFEV] = np.inf
h[K._NIT], h[K._MAXITER] = 2.0, 1.0  # past maxiter
print(K._budget_status(h))
"""


def test_an_edit_to_a_module_the_kernel_takes_a_constant_from_recompiles_it(tmp_path):
    # The kernel's compiled code holds the status codes of _status.py as constants;
    # numba's cache is keyed on kernel.py alone, so an edit of _status.py would be
    # served stale machine code (13 tests failed that way once, until the cache was
    # deleted by hand). Every cached function is keyed on all the package's sources.
    package = tmp_path / "signmin"
    shutil.copytree(Path(signmin.__file__).parent, package,
                    ignore=shutil.ignore_patterns("__pycache__"))
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"),
               PYTHONPATH=str(tmp_path) + os.pathsep + os.environ.get("PYTHONPATH", ""))

    def budget_status():
        # (From the copy's folder: python -c puts the working directory first.)
        out = subprocess.run([sys.executable, "-c", _BUDGET_STATUS], env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        return int(out.stdout.split()[-1])

    assert budget_status() == int(Status.MAXITER)
    assert any((tmp_path / "cache").rglob("*.nbc"))  # compiled and saved
    status = package / "_status.py"
    source = status.read_text()
    assert "    MAXITER = 3\n" in source
    status.write_text(source.replace("    MAXITER = 3\n", "    MAXITER = 33\n"))
    assert budget_status() == 33


# --- compile ahead of time ------------------------------------------------------------

@pytest.mark.parametrize("jobs", [1, 2])
def test_warm_up_runs_every_common_kind_of_call_once_and_says_what_each_took(jobs):
    # With 2 jobs, two new processes take the kinds from one list: each kind once.
    from signmin._warm_up import _runs, warm_up

    lines = []
    done = warm_up(report=lines.append, jobs=jobs)
    labels = [label for label, _ in done]
    assert len(labels) == len(set(labels)) == len(lines) - 1
    assert sorted(labels) == sorted(label for label, _ in _runs(False))
    for kind in ("minimize_rprop irprop+, defaults, unbounded",
                 f"minimize_rprop irprop+, defaults, bounded, n = {kernel.GENERIC_MAX_N + 1}",
                 "curve_fit, bounded",
                 "curve_fit_many, unbounded", "scipy.optimize.minimize"):
        assert any(label.startswith(kind) for label in labels), kind
    assert all(seconds >= 0.0 for _, seconds in done)
    assert lines[-1].startswith(f"warm-up done: {len(done)} kinds of call")
    assert f"({jobs} process" in lines[-1]


def test_warm_up_names_a_bad_number_of_jobs():
    from signmin._warm_up import warm_up

    for jobs in (0, 1.5, True):
        with pytest.raises(ValueError, match="`jobs`"):
            warm_up(jobs=jobs)


@pytest.mark.parametrize("argv", [["--all-variants"], ["--jobs", "2"],
                                  ["--warm-up", "--jobs", "0"]])
def test_the_warm_up_options_without_warm_up_or_out_of_range_are_refused(argv):
    from signmin.__main__ import main

    with pytest.raises(SystemExit):
        main(argv)


# --- what the first call compiles ------------------------------------------------------

_WHAT_A_RUN_COMPILES = """
import json
import numpy as np
from scipy.optimize import rosen, rosen_der
import signmin
from signmin.rprop import kernel as K
res = signmin.minimize_rprop(rosen, np.full(5, 1.5), jac=rosen_der, {options})
print(json.dumps([[list(spec), [str(sig) for sig in tell.signatures]]
                  for spec, tell in K._TELLS.items()] + [res.status]))
"""


@pytest.mark.parametrize("options", ["", "bounds=[(0, 2)] * 5", "polish=False"])
def test_a_run_compiles_one_tell_for_one_signature(options):
    # A compile of tell takes seconds on the first call of each kind. The default
    # run goes on after its finish with the bracket rule off through the same tell
    # (it compiled a second), and hands it the state's address only (a call with
    # the state itself compiled a second signature). In a new process: _TELLS
    # holds what this run made.
    out = subprocess.run([sys.executable, "-c", _WHAT_A_RUN_COMPILES.format(options=options)],
                         capture_output=True, text=True, timeout=900, check=True)
    *tells, status = __import__("json").loads(out.stdout.strip().splitlines()[-1])
    assert Status(status).success
    assert len(tells) == 1, tells
    (spec, signatures), = tells
    assert len(signatures) == 1 and signatures[0].startswith("(int64,"), signatures



_ANOTHER_KIND_COMPILES_NOTHING = """
import json
import numpy as np
from numba.core import event
from scipy.optimize import minimize, rosen, rosen_der
import signmin
from signmin.rprop import kernel as K
x0 = np.full(5, 1.5)
signmin.minimize_rprop(rosen, x0, jac=rosen_der)
compiled = []
class Listener(event.Listener):
    def on_start(self, ev):
        compiled.append(ev.data["dispatcher"].py_func.__qualname__)
    def on_end(self, ev):
        pass
event.register("numba:compile", Listener())
box = [(0, 2)] * 5
for options in [dict(variant="irprop-"), dict(bounds=box), dict(polish=False, xtol=1e-9),
                dict(variant="rprop+", bounds=box, ftol=1e-10, gtol=1e-8),
                dict(variant="rprop-", accelerate=False, polish=False)]:
    assert signmin.minimize_rprop(rosen, x0, jac=rosen_der, **options).success, options
assert minimize(rosen, x0, jac=rosen_der, method=signmin.minimize_rprop, tol=1e-6).success
asked = signmin.Rprop(x0, variant="irprop-", bounds=box)
for _ in range(3):
    x = asked.ask()
    asked.tell(rosen(x), rosen_der(x))
print(json.dumps([compiled, [list(spec) for spec in K._TELLS]]))
"""


def test_another_kind_of_small_run_compiles_nothing_after_the_default():
    # The Python loop runs one generic tell for every kind of run up to
    # GENERIC_MAX_N variables: once the default has run (compiled or loaded),
    # another variant, bounds, other rules, pattern moves, SciPy's front door or
    # the ask/tell object compile nothing (numba's compile events; a load from
    # the disk cache is none). A new process: nothing compiled before it counts.
    out = subprocess.run([sys.executable, "-c", _ANOTHER_KIND_COMPILES_NOTHING],
                         capture_output=True, text=True, timeout=900, check=True)
    compiled, tells = __import__("json").loads(out.stdout.strip().splitlines()[-1])
    assert compiled == []
    assert tells == [list(kernel._GENERIC_SPEC)]


def test_each_kind_of_tell_has_a_name_of_its_own():
    # numba names a compiled function's symbol by its qualified name and a counter of
    # the compiling process: two kinds of tell of one name, compiled by two processes,
    # shared a symbol, and a process that loaded both from the cache ran one's code
    # for the other (a test run's compiled and Python drivers parted ways; LLVM
    # aborted another). Every kind, the generic one among them, is named apart.
    specs = [kernel._GENERIC_SPEC, *itertools.product(
        range(4), *[(False, True)] * 7)]
    names = {kernel._make_tell(*spec).py_func.__qualname__ for spec in specs}
    assert len(names) == len(specs)

def test_another_version_of_the_sources_never_serves_its_code_to_this_one(tmp_path):
    # Two versions of the package side by side (sources edited while a run goes on):
    # each has files of its own, so the other's save, even between this one's read of
    # the index and its read of the data, cannot hand this one the other's code; the
    # other's first save removes this one's files, and this one then compiles anew.
    def cache_file(digest):
        f = _jit._LockedIndexDataCacheFile(str(tmp_path), "kernel.tell-1.py311", "stamp")
        _jit._tag(f, digest)
        return f

    mine, theirs = cache_file("a" * 64), cache_file("b" * 64)
    mine.save("key", "my code")
    index = mine._load_index()
    assert mine._load_data(index["key"]) == "my code"
    theirs.save("key", "their code")  # (between my read of the index and of the data)
    with pytest.raises(OSError):
        mine._load_data(index["key"])
    assert mine.load("key") is None  # (numba then compiles)
    assert theirs.load("key") == "their code"
    mine.save("key", "my code")
    assert (mine.load("key"), theirs.load("key")) == ("my code", None)
    names = sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock"))
    assert names == ["kernel.tell-1.py311." + "a" * 16 + ".1.nbc",
                     "kernel.tell-1.py311." + "a" * 16 + ".nbi"]


def test_a_new_version_removes_the_files_older_versions_left_at_other_lines(tmp_path):
    # An edit above a function moves it to another line, which numba puts in the
    # files' names: the first save of the new version removes the old version's
    # files, whatever their line (else every version's files stay for good), and
    # leaves other functions' files alone (one whose name this one's begins with too).
    def cache_file(line, digest, name="kernel.tell"):
        f = _jit._LockedIndexDataCacheFile(str(tmp_path), f"{name}-{line}.py311", "stamp")
        _jit._tag(f, digest)
        return f

    cache_file(7, "b" * 64).save("key", "old code")
    cache_file(9, "c" * 64, name="kernel.tell_other").save("key", "another function")
    new = cache_file(12, "a" * 64)
    new.save("key", "new code")
    names = sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock"))
    assert names == ["kernel.tell-12.py311." + "a" * 16 + ".1.nbc",
                     "kernel.tell-12.py311." + "a" * 16 + ".nbi",
                     "kernel.tell_other-9.py311." + "c" * 16 + ".1.nbc",
                     "kernel.tell_other-9.py311." + "c" * 16 + ".nbi"]
    assert new.load("key") == "new code"
