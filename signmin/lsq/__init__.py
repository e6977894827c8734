"""Least squares on the sign method: ``curve_fit`` and many fits at once.

Internal; the public names are :func:`signmin.curve_fit`,
:func:`signmin.curve_fit_many` and :class:`signmin.ManyFits`. Read in this order:

* ``common``     what the least-squares fits share: options, the reading of their
  arguments, and the rules that judge a fit (full rank, stationary, on a bound,
  settled) with their constants, as plain functions numba compiles in;
* ``residuals``  weighted residuals, their Jacobian, losses and cost for one data set;
* ``curve_fit``  SciPy's ``curve_fit`` contract: Rprop to the basin, then a
  least-squares finish (MINPACK's Levenberg-Marquardt or ``least_squares``);
* ``batch``      the compiled batch driver: one fit per ``prange`` task;
* ``many``       ``curve_fit_many``'s front door, and its dask adapter.
"""
