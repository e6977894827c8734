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


# Each script in its own test, not all at once from a module fixture: under
# pytest-xdist every worker that runs a test of this module would make the
# fixture anew and start every script again (measured on 2 cores: all ten ran
# twice, 98 s for the module); one test each, the workers share them out.
@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_benchmark_quick_mode_runs(script):
    path = BENCHMARKS / script
    if not path.exists():
        pytest.skip(f"benchmarks/{script} does not exist yet")
    run = subprocess.run([sys.executable, str(path), "--quick"], cwd=ROOT, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    for expected in SCRIPTS[script]:
        assert expected in run.stdout, run.stdout[-3000:]


def test_every_benchmark_script_is_covered():
    """A new script in benchmarks/ gets a quick-mode check too."""
    scripts = {p.name for p in BENCHMARKS.glob("*.py") if not p.name.startswith("_")}
    assert scripts <= set(SCRIPTS), sorted(scripts - set(SCRIPTS))
