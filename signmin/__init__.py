"""signmin: minimization with the signs of the gradient (the Rprop family)."""

from . import datasets
from ._status import Status
from .lsq.curve_fit import curve_fit
from .lsq.many import ManyFits, curve_fit_many
from .rprop.ask_tell import Rprop
from .rprop.minimize import minimize_rprop

__all__ = ["ManyFits", "Rprop", "Status", "curve_fit", "curve_fit_many", "datasets",
           "minimize_rprop"]
__version__ = "0.1.0"
