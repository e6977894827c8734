"""Floating-point constants, each defined once for the whole package."""

import numpy as np

EPS = float(np.finfo(np.float64).eps)
TINY = float(np.finfo(np.float64).tiny)
#: Relative finite-difference steps, each near the optimum for its formula
#: (the truncation and rounding errors balance).
REL_STEP_2POINT = EPS ** 0.5
REL_STEP_3POINT = EPS ** (1 / 3)
REL_STEP = {"2-point": REL_STEP_2POINT, "3-point": REL_STEP_3POINT}
