"""signmin: minimization with the signs of the gradient (the Rprop family)."""

from . import datasets
from ._curve_fit import curve_fit
from ._many import ManyFits, curve_fit_many
from ._minimize import minimize_rprop
from ._status import Status

__all__ = ["ManyFits", "Status", "curve_fit", "curve_fit_many", "datasets", "minimize_rprop"]
__version__ = "0.1.0"
