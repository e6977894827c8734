"""signmin: minimization with the signs of the gradient (the Rprop family)."""

from ._minimize import minimize_rprop

__all__ = ["minimize_rprop"]
__version__ = "0.1.0"
