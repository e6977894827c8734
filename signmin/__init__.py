"""signmin: minimization with the signs of the gradient (the Rprop family)."""

from ._curve_fit import curve_fit
from ._minimize import minimize_rprop

__all__ = ["curve_fit", "minimize_rprop"]
__version__ = "0.1.0"
