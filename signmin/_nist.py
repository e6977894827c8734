"""The NIST StRD nonlinear regression problems: a reader and the 27 models.

Each model is written by hand from the formula in its file's header, in the
form ``f(x, b1, ..., bp)`` that `curve_fit` takes. Nelson's model is for
``log(y)``, so `load` returns ``log(y)`` as its ``ydata``; its two predictors
come as ``x`` of shape ``(2, m)``.

The data live outside the package, in ``shared/data/nist_strd`` next to the
repository; ``SIGNMIN_NIST_DIR`` points elsewhere.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np

__all__ = ["NAMES", "DIFFICULTY", "MODELS", "default_root", "load", "lre"]

#: NIST's own grading, lower to higher.
DIFFICULTY = {
    "lower": ["Misra1a", "Chwirut2", "Chwirut1", "Lanczos3", "Gauss1", "Gauss2",
              "DanWood", "Misra1b"],
    "average": ["Kirby2", "Hahn1", "Nelson", "MGH17", "Lanczos1", "Lanczos2", "Gauss3",
                "Misra1c", "Misra1d", "Roszman1", "ENSO"],
    "higher": ["MGH09", "Thurber", "BoxBOD", "Rat42", "MGH10", "Eckerle4", "Rat43",
               "Bennett5"],
}
NAMES = [name for names in DIFFICULTY.values() for name in names]

#: LRE is capped here: the certified values carry 11 significant digits.
LRE_CAP = 11.0


def _exp_rise(x, b1, b2):  # Misra1a, BoxBOD
    return b1 * (1 - np.exp(-b2 * x))


def _chwirut(x, b1, b2, b3):
    return np.exp(-b1 * x) / (b2 + b3 * x)


def _three_exp(x, b1, b2, b3, b4, b5, b6):  # Lanczos1-3
    return b1 * np.exp(-b2 * x) + b3 * np.exp(-b4 * x) + b5 * np.exp(-b6 * x)


def _gauss(x, b1, b2, b3, b4, b5, b6, b7, b8):  # Gauss1-3
    return (b1 * np.exp(-b2 * x) + b3 * np.exp(-(x - b4) ** 2 / b5 ** 2)
            + b6 * np.exp(-(x - b7) ** 2 / b8 ** 2))


def _danwood(x, b1, b2):
    return b1 * x ** b2


def _misra1b(x, b1, b2):
    return b1 * (1 - (1 + b2 * x / 2) ** (-2))


def _kirby2(x, b1, b2, b3, b4, b5):
    return (b1 + b2 * x + b3 * x ** 2) / (1 + b4 * x + b5 * x ** 2)


def _cubic_over_cubic(x, b1, b2, b3, b4, b5, b6, b7):  # Hahn1, Thurber
    return ((b1 + b2 * x + b3 * x ** 2 + b4 * x ** 3)
            / (1 + b5 * x + b6 * x ** 2 + b7 * x ** 3))


def _nelson(x, b1, b2, b3):
    # The model is for log(y); x holds the two predictors x1, x2.
    return b1 - b2 * x[0] * np.exp(-b3 * x[1])


def _mgh17(x, b1, b2, b3, b4, b5):
    return b1 + b2 * np.exp(-x * b4) + b3 * np.exp(-x * b5)


def _misra1c(x, b1, b2):
    return b1 * (1 - (1 + 2 * b2 * x) ** (-0.5))


def _misra1d(x, b1, b2):
    return b1 * b2 * x * (1 + b2 * x) ** (-1)


def _roszman1(x, b1, b2, b3, b4):
    return b1 - b2 * x - np.arctan(b3 / (x - b4)) / np.pi


def _enso(x, b1, b2, b3, b4, b5, b6, b7, b8, b9):
    w = 2 * np.pi * x
    return (b1 + b2 * np.cos(w / 12) + b3 * np.sin(w / 12)
            + b5 * np.cos(w / b4) + b6 * np.sin(w / b4)
            + b8 * np.cos(w / b7) + b9 * np.sin(w / b7))


def _mgh09(x, b1, b2, b3, b4):
    return b1 * (x ** 2 + x * b2) / (x ** 2 + x * b3 + b4)


def _rat42(x, b1, b2, b3):
    return b1 / (1 + np.exp(b2 - b3 * x))


def _mgh10(x, b1, b2, b3):
    return b1 * np.exp(b2 / (x + b3))


def _eckerle4(x, b1, b2, b3):
    return (b1 / b2) * np.exp(-0.5 * ((x - b3) / b2) ** 2)


def _rat43(x, b1, b2, b3, b4):
    return b1 / (1 + np.exp(b2 - b3 * x)) ** (1 / b4)


def _bennett5(x, b1, b2, b3):
    return b1 * (b2 + x) ** (-1 / b3)


MODELS = {
    "Misra1a": _exp_rise, "Chwirut2": _chwirut, "Chwirut1": _chwirut,
    "Lanczos3": _three_exp, "Gauss1": _gauss, "Gauss2": _gauss, "DanWood": _danwood,
    "Misra1b": _misra1b, "Kirby2": _kirby2, "Hahn1": _cubic_over_cubic,
    "Nelson": _nelson, "MGH17": _mgh17, "Lanczos1": _three_exp, "Lanczos2": _three_exp,
    "Gauss3": _gauss, "Misra1c": _misra1c, "Misra1d": _misra1d, "Roszman1": _roszman1,
    "ENSO": _enso, "MGH09": _mgh09, "Thurber": _cubic_over_cubic, "BoxBOD": _exp_rise,
    "Rat42": _rat42, "MGH10": _mgh10, "Eckerle4": _eckerle4, "Rat43": _rat43,
    "Bennett5": _bennett5,
}


def default_root() -> Path:
    """The data directory: ``$SIGNMIN_NIST_DIR``, else ``../shared/data/nist_strd``."""
    env = os.environ.get("SIGNMIN_NIST_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "data" / "nist_strd"


_PARAM = re.compile(r"^\s*b(\d+)\s*=\s*(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$")
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_DATA_ROW = re.compile(rf"^\s*{_NUMBER}(?:\s+{_NUMBER})+\s*$")


def _parse(text):
    starts, certified, rss, rows = {}, {}, None, []
    in_data = False
    for line in text.splitlines():
        match = _PARAM.match(line)
        if match:
            i = int(match.group(1))
            starts[i] = (float(match.group(2)), float(match.group(3)))
            certified[i] = float(match.group(4))
        elif line.startswith("Residual Sum of Squares:"):
            rss = float(line.split(":")[1])
        elif re.match(r"^Data:\s+y\b", line):
            # The second "Data:" line heads the columns; rows follow it.
            in_data = True
        elif in_data and _DATA_ROW.match(line):
            rows.append([float(v) for v in line.split()])
    order = sorted(starts)
    if order != list(range(1, len(order) + 1)) or rss is None or not rows:
        raise ValueError("not a NIST StRD nonlinear regression file")
    return (np.array([starts[i] for i in order]).T, np.array([certified[i] for i in order]),
            rss, np.array(rows))


def load(name: str, root: str | os.PathLike | None = None) -> SimpleNamespace:
    """Read one data set.

    Returns a namespace with ``name``, ``xdata`` (shape ``(m,)``, or ``(2, m)``
    for Nelson), ``ydata`` (``log(y)`` for Nelson), ``starts`` (shape
    ``(2, p)``: Start 1 and Start 2), ``certified`` (shape ``(p,)``),
    ``certified_rss`` and ``model``.
    """
    if name not in MODELS:
        raise ValueError(f"unknown NIST data set {name!r}; one of {NAMES}")
    path = Path(default_root() if root is None else root) / f"{name}.dat"
    starts, certified, rss, table = _parse(path.read_text())
    y, x = table[:, 0], table[:, 1:]
    x = x[:, 0] if x.shape[1] == 1 else x.T
    if name == "Nelson":
        y = np.log(y)
    return SimpleNamespace(name=name, xdata=x, ydata=y, starts=starts, certified=certified,
                           certified_rss=rss, model=MODELS[name])


def lre(estimate, certified) -> float:
    """Log relative error over the worst parameter, in [0, 11].

    ``-log10(|b - b_cert| / |b_cert|)``, capped at 11; 0 for an error above
    100% or a non-finite estimate.
    """
    estimate = np.asarray(estimate, dtype=float)
    certified = np.asarray(certified, dtype=float)
    if estimate.shape != certified.shape or not np.all(np.isfinite(estimate)):
        return 0.0
    rel = np.max(np.abs(estimate - certified) / np.abs(certified))
    if rel == 0.0:
        return LRE_CAP
    return float(np.clip(-np.log10(rel), 0.0, LRE_CAP))
