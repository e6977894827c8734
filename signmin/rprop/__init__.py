"""The sign method: Rprop's kernel, its drivers and the phases of a run.

Internal; the public names are :func:`signmin.minimize_rprop` and :class:`signmin.Rprop`.
Read in this order:

* ``kernel``    the run's state and ``tell``, the one update of all four variants;
* ``objective`` the user's functions in their forms (jac, ``jac=True``, finite
  differences) as one ``(f, g, calls)`` evaluator, in Python and compiled;
* ``drivers``   the Python loop and the compiled loop around ``tell``;
* ``finish``    L-BFGS-B from the sign phase's best point (``polish=True``);
* ``phases``    a run as sign phase, finish, sign phase, over one best point;
* ``minimize``  the front door: validation, defaults, choice of driver, result;
* ``ask_tell``  :class:`signmin.Rprop`, the same steps driven from outside.
"""
