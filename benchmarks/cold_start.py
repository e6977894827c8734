"""Cold start: how long a new user, notebook kernel or worker waits for numba to compile.

Each row is a fresh Python process that imports signmin and makes one call, timed
inside the process (``import signmin`` apart from the call). "Empty cache" rows run
with ``NUMBA_CACHE_DIR`` set to a new empty folder, as right after an install; "after
the default" rows first run the default call in another process with that folder,
then time the row's call in a new one (a user who tries an option after the first
call); "warm" rows run with a cache that already holds the call. SciPy's L-BFGS-B on
the same problem is the reference for a first call. Three repetitions per row
(median [min, max]); BLAS pinned to one thread. ``python -m signmin --warm-up``
(see the last rows) compiles ahead of time what the common calls run. The row
"processes at once" starts that many processes on one empty cache, as a process
pool, Dask workers or parallel test runners do on a new machine, and gives the
slowest one's call: one of them compiles each function, the others wait and load it.
The "floor" rows time what no change to signmin can remove, the same way: importing
its runtime dependencies alone (numpy, scipy.optimize, numba), and the first call of a
one-line ``@numba.njit(cache=True)`` function with a warm cache (numba's one-time
set-up of its CPU target, which every process pays before it runs any compiled code).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import _common as C  # noqa: E402  (sets the BLAS threads before numpy loads)

SETUP = "from scipy.optimize import rosen, rosen_der\nimport numpy as np\nx0 = np.full(5, 1.5)\n"
CALLS = {
    "default": "signmin.minimize_rprop(rosen, x0, jac=rosen_der)",
    "irprop-": "signmin.minimize_rprop(rosen, x0, jac=rosen_der, variant='irprop-')",
    "bounds": "signmin.minimize_rprop(rosen, x0, jac=rosen_der, bounds=[(0, 2)] * 5)",
    "scipy": ("__import__('scipy.optimize').optimize.minimize(rosen, x0, jac=rosen_der, "
              "method=signmin.minimize_rprop, tol=1e-6)"),
    "lbfgsb": ("__import__('scipy.optimize').optimize.minimize(rosen, x0, jac=rosen_der, "
               "method='L-BFGS-B')"),
    "many": ("signmin.curve_fit_many(__import__('numba').njit(lambda x, a, b: a * np.exp(-b * x)),"
             " np.linspace(0, 4, 20), np.exp(-np.linspace(0, 4, 20))[None, :] * [[1.0], [2.0]],"
             " p0=[1.0, 1.0])"),
}
#: Processes started at once on one empty cache (a process pool, Dask workers or test
#: runners on a new machine): twice the cores of the machine this was measured on.
TOGETHER = 4
#: A timed process: the imports (timed as ``import_s``), untimed set-up, the call (``call_s``).
CHILD = """
import json, sys, time
t0 = time.perf_counter()
{imports}
t1 = time.perf_counter()
{setup}
t2 = time.perf_counter()
{call}
t3 = time.perf_counter()
print(json.dumps(dict(import_s=t1 - t0, call_s=t3 - t2)))
"""
#: The floor rows' one-line cached function, written to a temporary folder.
FLOOR_MODULE = """import numba


@numba.njit(cache=True)
def add(a, b):
    return a + b
"""


def floor_call(folder: str) -> tuple[str, str, str]:
    """The floor rows' process, as ``(imports, setup, call)``: signmin's runtime
    dependencies alone, then the first call of `FLOOR_MODULE`'s function in ``folder``."""
    return ("import numpy, scipy.optimize, numba",
            f"sys.path.insert(0, {folder!r})\nimport signmin_floor", "signmin_floor.add(1.0, 2.0)")


def _start(call: str | tuple[str, str, str], cache: str | None) -> subprocess.Popen:
    """A new process that makes ``call`` (a key of `CALLS` after ``import signmin``, or
    ``(imports, setup, call)``), numba's cache in ``cache`` (None: as inherited)."""
    env = dict(os.environ) if cache is None else dict(os.environ, NUMBA_CACHE_DIR=cache)
    imports, setup, code = call if isinstance(call, tuple) else ("import signmin", SETUP,
                                                                 CALLS[call])
    source = CHILD.format(imports=imports, setup=setup, call=code)
    return subprocess.Popen([sys.executable, "-c", source], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _timings(proc: subprocess.Popen) -> dict:
    """What the process of `_start` timed inside itself."""
    out, err = proc.communicate(timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(err[-3000:])
    return json.loads(out.strip().splitlines()[-1])


def child(call: str | tuple[str, str, str], cache: str | None) -> dict:
    """Time ``call`` (see `_start`) in a new process with numba's cache in ``cache`` (None:
    as inherited)."""
    start = time.perf_counter()
    result = _timings(_start(call, cache))
    result["process_s"] = time.perf_counter() - start
    return result


def together(call: str, cache: str, k: int) -> float:
    """Start ``k`` processes at once on one cache; the slowest one's call, in seconds."""
    procs = [_start(call, cache) for _ in range(k)]
    return max(_timings(proc)["call_s"] for proc in procs)


def demo(cache: str) -> float:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "signmin"], env=env, capture_output=True,
                   check=True, timeout=900)
    return time.perf_counter() - start


def warm_up(cache: str) -> float:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "signmin", "--warm-up"], env=env,
                   capture_output=True, check=True, timeout=1800)
    return time.perf_counter() - start


def main() -> None:
    args = C.parse_args(__doc__)
    C.header(__doc__, args)
    reps = 1 if args.quick else 3
    rows: dict[str, list[float]] = {}

    def add(label, value):
        rows.setdefault(label, []).append(value)

    # Quick mode (the tests): the cache as inherited, the default call only.
    warm = None if args.quick else tempfile.mkdtemp(prefix="signmin-warm-")
    warm_calls = ("default",) if args.quick else ("default", "irprop-", "bounds", "scipy", "many")
    for call in warm_calls:
        child(call, warm)  # fills the warm cache
    floor = None
    if not args.quick:
        folder = tempfile.mkdtemp(prefix="signmin-floor-")
        Path(folder, "signmin_floor.py").write_text(FLOOR_MODULE, encoding="utf-8")
        floor = floor_call(folder)
        child(floor, warm)  # compiles it into the warm cache
    for _ in range(reps):
        for call in warm_calls:
            add(f"{call}: warm cache, the call", child(call, warm)["call_s"])
        add("lbfgsb: the call (SciPy, nothing to compile)", child("lbfgsb", warm)["call_s"])
        add("import signmin", child("lbfgsb", warm)["import_s"])
        if args.quick:
            continue  # the empty-cache rows compile for minutes
        floor_times = child(floor, warm)
        add("floor: import numpy, scipy.optimize and numba alone", floor_times["import_s"])
        add("floor: a one-line cached @njit function, warm cache, the call",
            floor_times["call_s"])
        with tempfile.TemporaryDirectory(prefix="signmin-cold-") as cache:
            add("default: empty cache, the call", child("default", cache)["call_s"])
            for call in ("irprop-", "bounds", "scipy"):
                add(f"{call}: after the default, the call", child(call, cache)["call_s"])
        with tempfile.TemporaryDirectory(prefix="signmin-cold-") as cache:
            add(f"default: {TOGETHER} processes at once, empty cache, the slowest call",
                together("default", cache, TOGETHER))
        with tempfile.TemporaryDirectory(prefix="signmin-cold-") as cache:
            add("python -m signmin: empty cache, the process", demo(cache))
        with tempfile.TemporaryDirectory(prefix="signmin-cold-") as cache:
            add("many: empty cache, the call", child("many", cache)["call_s"])
        with tempfile.TemporaryDirectory(prefix="signmin-cold-") as cache:
            add("python -m signmin --warm-up: empty cache, the process", warm_up(cache))
            add("default: after --warm-up, the call", child("default", cache)["call_s"])
            add("bounds: after --warm-up, the call", child("bounds", cache)["call_s"])
            add("many: after --warm-up, the call", child("many", cache)["call_s"])
    C.table(["what", "seconds, median [min, max]"],
            [[label, C.spread(values)] for label, values in rows.items()],
            title=f"Cold start ({reps} fresh processes per row)")
    default = rows.get("default: empty cache, the call")
    headline = (f"first default call with an empty cache {C.spread(default)} s"
                if default else "first default call with an empty cache: not run (quick mode)")
    C.say(f"HEADLINE: cold start: {headline}; warm: "
          f"{C.spread(rows['default: warm cache, the call'])} s; import "
          f"{C.spread(rows['import signmin'])} s")
    C.write_section("cold_start", "cold_start.py", __doc__, args)


if __name__ == "__main__":
    main()
