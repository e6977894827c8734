import os
import sys

from hypothesis import settings

settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True)
settings.register_profile("dev", max_examples=25, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

# The fixture generator needs torch, which is not a test dependency.
collect_ignore = ["fixtures"]

# Test modules import their shared objectives from tests/_problems.py.
sys.path.insert(0, os.path.dirname(__file__))
