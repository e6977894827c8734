"""The seed family: functions with the same minimiser and very different gradients.

Each is ``f(x) = sum(h(x_i))`` with ``h(0) = 0`` its minimum, so every one of them
has its minimum at the origin with value 0; only the gradient's magnitude
differs: exploding, vanishing, flat-then-steep, tiny, huge. Used by the demo
(``python -m signmin``), the tests and the benchmarks.
"""

import numpy as np

#: (name, h, h') pairs; every h is minimal at 0 with h(0) = 0.
SEED_FUNCTIONS = [
    ("t^2", lambda t: t * t, lambda t: 2.0 * t),
    ("exp(t^2) - 1", lambda t: np.expm1(t * t), lambda t: 2.0 * t * np.exp(t * t)),
    ("1 - exp(-t^2)", lambda t: -np.expm1(-t * t), lambda t: 2.0 * t * np.exp(-t * t)),
    ("1e-8 t^2", lambda t: 1e-8 * t * t, lambda t: 2e-8 * t),
    ("t^10", lambda t: t**10, lambda t: 10.0 * t**9),
    ("1e8 t^2", lambda t: 1e8 * t * t, lambda t: 2e8 * t),
    ("log(1 + t^2)", lambda t: np.log1p(t * t), lambda t: 2.0 * t / (1.0 + t * t)),
    ("sqrt(1 + t^2) - 1", lambda t: np.sqrt(1.0 + t * t) - 1.0,
     lambda t: t / np.sqrt(1.0 + t * t)),
    ("tanh(t^2)", lambda t: np.tanh(t * t), lambda t: 2.0 * t / np.cosh(t * t) ** 2),
    ("t^4 / 1e6", lambda t: 1e-6 * t**4, lambda t: 4e-6 * t**3),
]

#: The start used by the demo and the tests: every coordinate away from 0,
#: where the vanishing gradients are already below SciPy's default gtol.
SEED_X0 = np.array([3.0, -2.5])


def seed_problem(name):
    """Return ``(fun, jac)`` of the seed function ``name`` over a vector."""
    h, dh = {label: (h, dh) for label, h, dh in SEED_FUNCTIONS}[name]
    return (lambda x: float(np.sum(h(np.asarray(x)))),
            lambda x: dh(np.asarray(x, dtype=float)))
