"""A child process killed while it writes checkpoints, for the fault tests."""

import os
import signal
import subprocess
import sys
import time

import numpy as np


def kill_while_checkpointing(code, path):
    """Run ``python -c code path`` and kill it with SIGKILL at a random moment once it has
    written its first checkpoint to ``path`` (most kills land in or between writes)."""
    if path.exists():
        path.unlink()
    proc = subprocess.Popen([sys.executable, "-c", code, str(path)])
    deadline = time.monotonic() + 300
    while not path.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    # (A moment the test does not choose; unseeded on purpose: every moment must do.)
    time.sleep(np.random.default_rng().uniform(0.0, 0.3))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
