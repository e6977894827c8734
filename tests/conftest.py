import os
import sys

from hypothesis import settings
from numba.core import caching

from signmin._jit import _LockedIndexDataCacheFile

# Every profile a run picks by itself draws the same examples on every run (derandomize):
# the README's test command never fails by chance. A random search, for finding new
# counterexamples, is asked for by name: SIGNMIN_HYPOTHESIS_PROFILE=explore.
settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True)
settings.register_profile("dev", max_examples=25, deadline=None, derandomize=True)
settings.register_profile("explore", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("SIGNMIN_HYPOTHESIS_PROFILE")
                      or ("ci" if os.environ.get("CI") else "dev"))

# The fixture generator needs torch, which is not a test dependency.
collect_ignore = ["fixtures"]

# Test modules import their shared objectives from tests/_problems.py.
sys.path.insert(0, os.path.dirname(__file__))

# The test modules' own disk-cached functions (@numba.njit(cache=True)) save under the
# package's lock too (see signmin/_jit.py): two pytest-xdist workers that compile
# different specialisations of one of them at once (test_compiled's _rosen_with takes
# an int64 array in one test and a float64 array in two others) race in numba's own
# save, and the index can send one specialisation to the other's machine code, which
# every later run loads.
caching.IndexDataCacheFile.save = _LockedIndexDataCacheFile.save
