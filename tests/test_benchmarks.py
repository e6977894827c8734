"""Every script in benchmarks/ runs in its quick mode and prints its table.

Nothing about timing is asserted: the quick modes run tiny sizes on whatever
machine the tests run on. Peers that are not installed (CI has neither torch
nor PINTS) are skipped by the scripts themselves, with a printed note.
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"

# Each script and what its output always holds: a Markdown table and its
# headline, or (nist.py, which belongs to another change, prints a summary and
# writes its table to docs/ only with --write) its summary line. A script that
# does not exist yet is skipped, not failed.
TABLE = "|--"
SCRIPTS = {
    "overhead.py": [TABLE, "HEADLINE: minimize_rprop / bare rosen+rosen_der"],
    "compiled.py": [TABLE, "HEADLINE: minimize_rprop compiled / bare @njit loop"],
    "large_n.py": [TABLE, "HEADLINE: signmin's own cost per iteration"],
    "robustness.py": [TABLE, "HEADLINE: the variant that solves the most"],
    "nist.py": ["LRE"],
    "curve_fit_speed.py": [TABLE, "HEADLINE: signmin.curve_fit / scipy.optimize.curve_fit"],
    "many_fits.py": [TABLE, "HEADLINE: curve_fit_many / scipy curve_fit loop"],
    "cold_start.py": [TABLE, "HEADLINE: cold start"],
    # (Without statsmodels and scikit-learn, the bench extra, it says so and skips.)
    "real_models.py": ["HEADLINE: real models"],
    # (Where perf cannot run, the script says so in its headline.)
    "profile_compiled.py": ["HEADLINE: "],
}


@pytest.fixture(scope="module")
def quick_runs():
    """Start every script at once: they are mostly single-threaded, so on a
    multi-core machine the module takes as long as the slowest script."""
    procs = {}
    for script in SCRIPTS:
        path = BENCHMARKS / script
        if path.exists():
            procs[script] = subprocess.Popen([sys.executable, str(path), "--quick"], cwd=ROOT,
                                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                             text=True)
    yield procs
    for proc in procs.values():
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_benchmark_quick_mode_runs(script, quick_runs):
    if script not in quick_runs:
        pytest.skip(f"benchmarks/{script} does not exist yet")
    stdout, stderr = quick_runs[script].communicate(timeout=600)
    assert quick_runs[script].returncode == 0, stdout[-3000:] + stderr[-3000:]
    for expected in SCRIPTS[script]:
        assert expected in stdout, stdout[-3000:]


def test_every_benchmark_script_is_covered():
    """A new script in benchmarks/ gets a quick-mode check too."""
    scripts = {p.name for p in BENCHMARKS.glob("*.py") if not p.name.startswith("_")}
    assert scripts <= set(SCRIPTS), sorted(scripts - set(SCRIPTS))
