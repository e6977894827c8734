"""Reference data sets that ship with signmin.

The 27 nonlinear regression problems of NIST's Statistical Reference Datasets
(StRD, https://www.itl.nist.gov/div898/strd/, public domain): NIST's ``.dat``
files, unchanged, inside this package (``signmin/datasets/nist_strd/``), read
with :mod:`importlib.resources`, so they are there wherever signmin is
installed. Each comes with two starting points, certified parameter values and
a certified residual sum of squares; :func:`load_nist` reads one and adds its
model, written by hand from the formula in the file's header in the form
``f(x, b1, ..., bp)`` that :func:`signmin.curve_fit` takes. :func:`lre` scores
a fit against the certified values:

>>> from signmin.datasets import NIST_DIFFICULTY, NIST_NAMES, load_nist
>>> len(NIST_NAMES), NIST_DIFFICULTY["lower"][:3]
(27, ['Misra1a', 'Chwirut2', 'Chwirut1'])
>>> load_nist("BoxBOD")
<NistDataset BoxBOD: higher difficulty, 6 observations, 2 parameters>
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files

import numpy as np

__all__ = ["LRE_CAP", "NIST_DIFFICULTY", "NIST_MODELS", "NIST_NAMES", "NistDataset",
           "load_nist", "lre"]

#: NIST's own grading of the 27 problems: ``{"lower": [...], "average": [...],
#: "higher": [...]}``.
NIST_DIFFICULTY = {
    "lower": ["Misra1a", "Chwirut2", "Chwirut1", "Lanczos3", "Gauss1", "Gauss2",
              "DanWood", "Misra1b"],
    "average": ["Kirby2", "Hahn1", "Nelson", "MGH17", "Lanczos1", "Lanczos2", "Gauss3",
                "Misra1c", "Misra1d", "Roszman1", "ENSO"],
    "higher": ["MGH09", "Thurber", "BoxBOD", "Rat42", "MGH10", "Eckerle4", "Rat43",
               "Bennett5"],
}

#: The 27 names, lower difficulty first (the order of :data:`NIST_DIFFICULTY`).
NIST_NAMES = [name for names in NIST_DIFFICULTY.values() for name in names]

#: :func:`lre`'s cap: the certified values carry 11 significant digits.
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


#: Each problem's model ``f(x, b1, ..., bp)``, NumPy code written from the
#: formula in its file's header (Nelson's is for ``log(y)``).
NIST_MODELS = {
    "Misra1a": _exp_rise, "Chwirut2": _chwirut, "Chwirut1": _chwirut,
    "Lanczos3": _three_exp, "Gauss1": _gauss, "Gauss2": _gauss, "DanWood": _danwood,
    "Misra1b": _misra1b, "Kirby2": _kirby2, "Hahn1": _cubic_over_cubic,
    "Nelson": _nelson, "MGH17": _mgh17, "Lanczos1": _three_exp, "Lanczos2": _three_exp,
    "Gauss3": _gauss, "Misra1c": _misra1c, "Misra1d": _misra1d, "Roszman1": _roszman1,
    "ENSO": _enso, "MGH09": _mgh09, "Thurber": _cubic_over_cubic, "BoxBOD": _exp_rise,
    "Rat42": _rat42, "MGH10": _mgh10, "Eckerle4": _eckerle4, "Rat43": _rat43,
    "Bennett5": _bennett5,
}


@dataclass(frozen=True, repr=False)
class NistDataset:
    """One NIST StRD nonlinear regression problem, as :func:`load_nist` returns it.

    Attributes
    ----------
    name : str
        NIST's name of the data set, e.g. ``"Misra1a"``.
    difficulty : str
        NIST's grading: ``"lower"``, ``"average"`` or ``"higher"``.
    model : callable
        ``model(x, b1, ..., bp)``, the model to fit, as :func:`signmin.curve_fit`
        and :func:`scipy.optimize.curve_fit` take it.
    xdata : ndarray
        The predictor, shape ``(m,)``; Nelson's two predictors, shape ``(2, m)``.
    ydata : ndarray
        The response, shape ``(m,)``; for Nelson ``log(y)``, which its model is for.
    starts : ndarray
        NIST's two starting points, shape ``(2, p)``: ``starts[0]`` is "Start 1".
    certified : ndarray
        The certified parameter values, shape ``(p,)``.
    certified_std : ndarray
        Their certified standard deviations, shape ``(p,)``.
    certified_rss : float
        The certified residual sum of squares.
    """

    name: str
    difficulty: str
    model: Callable[..., np.ndarray]
    xdata: np.ndarray
    ydata: np.ndarray
    starts: np.ndarray
    certified: np.ndarray
    certified_std: np.ndarray
    certified_rss: float

    def __repr__(self):
        return (f"<NistDataset {self.name}: {self.difficulty} difficulty, "
                f"{self.ydata.shape[0]} observations, {self.certified.shape[0]} parameters>")


_PARAM = re.compile(r"^\s*b(\d+)\s*=\s*(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$")
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_DATA_ROW = re.compile(rf"^\s*{_NUMBER}(?:\s+{_NUMBER})+\s*$")


def _parse(text):
    """``(starts, certified, certified_std, rss, table)`` of a StRD nonlinear file."""
    starts, certified, std, rss, rows = {}, {}, {}, None, []
    in_data = False
    for line in text.splitlines():
        match = _PARAM.match(line)
        if match:
            i = int(match.group(1))
            starts[i] = (float(match.group(2)), float(match.group(3)))
            certified[i] = float(match.group(4))
            std[i] = float(match.group(5))
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
            np.array([std[i] for i in order]), rss, np.array(rows))


def load_nist(name: str) -> NistDataset:
    """Load one of the 27 NIST StRD nonlinear regression problems.

    The data come from the ``.dat`` file inside this package, read with
    :mod:`importlib.resources`; each call parses it afresh and returns new arrays.

    Parameters
    ----------
    name : str
        One of :data:`NIST_NAMES`, spelt as NIST does (``"Misra1a"``, ``"MGH09"``).

    Returns
    -------
    NistDataset
        ``name``, ``difficulty``, ``model``, ``xdata``, ``ydata`` (``log(y)`` for
        Nelson), ``starts`` (shape ``(2, p)``), ``certified``, ``certified_std``
        and ``certified_rss``.

    Raises
    ------
    ValueError
        If ``name`` is not one of :data:`NIST_NAMES`.

    See Also
    --------
    lre : the accuracy of a fit against ``certified``.

    Examples
    --------
    >>> import numpy as np
    >>> from signmin import curve_fit
    >>> from signmin.datasets import load_nist, lre
    >>> d = load_nist("Misra1a")
    >>> d.xdata.shape, d.starts[0], d.certified
    ((14,), array([5.e+02, 1.e-04]), array([2.38942129e+02, 5.50156432e-04]))

    The model at the certified values gives the certified residual sum of squares:

    >>> rss = np.sum((d.ydata - d.model(d.xdata, *d.certified)) ** 2)
    >>> bool(np.isclose(rss, d.certified_rss, rtol=1e-9))
    True

    A fit from NIST's first start, and how many digits it gets right:

    >>> popt, pcov = curve_fit(d.model, d.xdata, d.ydata, p0=d.starts[0])
    >>> lre(popt, d.certified) >= 6
    True
    """
    if name not in NIST_MODELS:
        raise ValueError(f"unknown NIST data set {name!r}; one of {NIST_NAMES}")
    text = (files("signmin.datasets") / "nist_strd" / f"{name}.dat").read_text(
        encoding="ascii")
    starts, certified, std, rss, table = _parse(text)
    y, x = table[:, 0], table[:, 1:]
    x = x[:, 0] if x.shape[1] == 1 else x.T
    if name == "Nelson":
        y = np.log(y)
    difficulty = next(level for level, names in NIST_DIFFICULTY.items() if name in names)
    return NistDataset(name=name, difficulty=difficulty, model=NIST_MODELS[name], xdata=x,
                       ydata=y, starts=starts, certified=certified, certified_std=std,
                       certified_rss=rss)


def lre(estimate, certified) -> float:
    """Log relative error of the worst parameter: its number of correct digits.

    Parameters
    ----------
    estimate, certified : array_like
        The estimated and the certified parameter values, of one shape.

    Returns
    -------
    float
        ``min_i -log10(|estimate_i - certified_i| / |certified_i|)``, clipped to
        ``[0, LRE_CAP]`` (11: the certified values' significant digits); 0 for
        estimates of another shape or not all finite.

    Examples
    --------
    >>> from signmin.datasets import lre
    >>> round(lre([1.0001, 2.0], [1.0, 2.0]), 6)
    4.0
    >>> lre([1.0, 2.0], [1.0, 2.0]), lre([3.0, 2.0], [1.0, 2.0]), lre([float("nan"), 2.0], [1, 2])
    (11.0, 0.0, 0.0)
    """
    estimate = np.asarray(estimate, dtype=float)
    certified = np.asarray(certified, dtype=float)
    if estimate.shape != certified.shape or not np.all(np.isfinite(estimate)):
        return 0.0
    rel = np.max(np.abs(estimate - certified) / np.abs(certified))
    if rel == 0.0:
        return LRE_CAP
    return float(np.clip(-np.log10(rel), 0.0, LRE_CAP))
