"""Large n on all cores: the update runs in fixed chunks over numba.prange, and the
run is bit for bit the single-thread run, whatever the number of threads."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest

from signmin import minimize_rprop
from signmin.rprop import kernel

N = 300_000


@numba.njit(cache=True)
def quad(x):
    f = 0.0
    for i in range(x.shape[0]):
        f += (1.0 + i % 7) * (x[i] - 1.0) ** 2
    return f


@numba.njit(cache=True)
def quad_der(x):
    g = np.empty_like(x)
    for i in range(x.shape[0]):
        g[i] = 2.0 * (1.0 + i % 7) * (x[i] - 1.0)
    return g


def start():
    return np.linspace(-2.0, 2.5, N)


def run(**options):
    return minimize_rprop(quad, start(), jac=quad_der, maxiter=25, **options)


def assert_same(a, b):
    for key in ("x", "fun", "jac", "nit", "nfev", "njev", "status", "step_size"):
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


# Each variant once, with and without bounds and pattern moves: the chunks are
# one loop for every variant (each parallel tell compiles for ~20 s from an
# empty cache). The unbounded runs without pattern moves write a best point's
# proposal into the spare x row, checking its gradient in the chunks.
@pytest.mark.parametrize("variant, bounds, accelerate", [
    ("irprop-", None, False), ("rprop+", (-2.0, 2.5), True), ("irprop+", None, True),
    ("rprop-", (-2.0, 2.5), False)])
def test_the_parallel_update_is_bit_identical_to_the_single_thread_one(
        variant, bounds, accelerate, monkeypatch):
    lo_hi = None if bounds is None else [bounds] * N
    options = dict(variant=variant, bounds=lo_hi, accelerate=accelerate, xtol=1e-3)
    # (Several chunks, at a size a test can afford.)
    monkeypatch.setattr(kernel, "PARALLEL_THRESHOLD", N // 2)
    parallel = run(**options)
    monkeypatch.setattr(kernel, "PARALLEL_THRESHOLD", 10 * N)
    single = run(**options)
    assert_same(parallel, single)


def test_the_python_and_compiled_drivers_agree_at_large_n():
    compiled = run(driver="compiled")
    python = minimize_rprop(lambda x: quad(x), start(), jac=lambda x: quad_der(x), maxiter=25,
                            driver="python")
    assert_same(compiled, python)


CHILD = """
import json, sys
import numpy as np
sys.path.insert(0, {tests!r})
from test_parallel import N, run
from signmin.rprop import kernel
kernel.PARALLEL_THRESHOLD = N // 2  # the parallel loop, at a size a test can afford
res = run()
print(json.dumps(dict(x=float(np.sum(res.x * np.arange(res.x.size))), fun=res.fun,
                      nfev=res.nfev)))
"""


def test_one_thread_and_two_threads_give_the_same_run():
    out = []
    for threads in ("1", "2"):
        env = dict(os.environ, NUMBA_NUM_THREADS=threads)
        proc = subprocess.run(
            [sys.executable, "-c", CHILD.format(tests=str(Path(__file__).parent))],
            env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        out.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert out[0] == out[1]
