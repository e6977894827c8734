"""Figures and tables for the user guide, computed at build time.

``conf.py`` runs :func:`main` on every build; it can also be run by hand
(``python docs/make_figures.py``). Everything lands in ``docs/generated/``,
which is not committed. Problems are small: the whole script takes seconds.
"""

from __future__ import annotations

import contextlib
import io
import runpy
import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.optimize import minimize, rosen, rosen_der  # noqa: E402

from signmin import minimize_rprop  # noqa: E402
from signmin._seed import SEED_FUNCTIONS, SEED_X0, seed_problem  # noqa: E402

DOCS = Path(__file__).resolve().parent
GENERATED = DOCS / "generated"
FIGURES = GENERATED / "figures"
EXAMPLES = DOCS / "examples"

#: Names of the PNG files written into ``generated/figures`` (tests check them).
FIGURE_NAMES = ("seed_functions.png", "seed_paths.png", "variants.png",
                "stopping.png", "misra1a.png")


def outputs():
    """Every file :func:`main` writes."""
    return ([FIGURES / name for name in FIGURE_NAMES]
            + [GENERATED / name for name in ("demo_table.txt", "status_table.rst",
                                             "misra1a_output.txt")])


plt.rcParams.update({
    "figure.dpi": 100, "savefig.dpi": 110, "font.size": 9.5, "axes.grid": True,
    "grid.alpha": 0.3, "axes.spines.top": False, "axes.spines.right": False,
    "legend.frameon": False,
})
COLORS = plt.get_cmap("tab10").colors


def _save(fig, name):
    fig.savefig(FIGURES / name, bbox_inches="tight")
    plt.close(fig)


def _quietly(func, *args, **kwargs):
    """Run a solver with SciPy's and NumPy's complaints silenced (overflow on purpose)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return func(*args, **kwargs)


def _recorded(fun, values=None):
    """``fun`` plus the list of every point it is called at (and of its values)."""
    points = []

    def wrapped(x):
        points.append(np.array(x, dtype=float))
        f = fun(x)
        if values is not None:
            values.append(f)
        return f

    return wrapped, points


# --------------------------------------------------------------------------- why the sign


def seed_functions_figure():
    """The ten seed functions h(t) and |h'(t)| on a log scale."""
    t = np.linspace(1e-3, 3.5, 400)
    fig, (ax_h, ax_g) = plt.subplots(1, 2, figsize=(9.5, 3.6), layout="constrained")
    with np.errstate(all="ignore"):
        for k, (name, h, dh) in enumerate(SEED_FUNCTIONS):
            ax_h.semilogy(t, h(t), color=COLORS[k], label=name)
            ax_g.semilogy(t, np.abs(dh(t)), color=COLORS[k], label=name)
    for ax in (ax_h, ax_g):
        ax.axvline(SEED_X0[0], color="0.3", lw=0.8, ls=":")
        ax.set_xlabel("t")
        ax.set_xlim(0, 3.5)
        ax.set_ylim(1e-20, 1e12)
    ax_h.text(SEED_X0[0] + 0.05, 1e9, "start\nt = 3", fontsize=8, color="0.3")
    ax_g.axhline(1e-5, color="k", lw=1.0, ls="--")
    ax_g.text(0.05, 3e-5, "SciPy's default gtol 1e-5", fontsize=8)
    ax_h.set_title("h(t): all minimal at t = 0, value 0")
    ax_g.set_title("|h'(t)|: what a gradient method trusts")
    fig.legend(*ax_h.get_legend_handles_labels(), loc="outside lower center", ncol=5)
    _save(fig, "seed_functions.png")


def seed_paths_figure():
    """max|x_i| at each evaluation, Rprop and L-BFGS-B, on the ten seed functions."""
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.8), sharey=True, layout="constrained")
    for k, (name, _, _) in enumerate(SEED_FUNCTIONS):
        fun, jac = seed_problem(name)
        for ax, method in zip(axes, ("Rprop", "L-BFGS-B"), strict=True):
            wrapped, points = _recorded(fun)
            if method == "Rprop":
                _quietly(minimize_rprop, wrapped, SEED_X0, jac=jac, **SIGN_METHOD)
            else:
                _quietly(minimize, wrapped, SEED_X0, jac=jac, method=method)
            err = np.array([np.max(np.abs(p)) for p in points])
            ax.semilogy(np.arange(1, err.size + 1), np.clip(err, 1e-13, 1e3),
                        color=COLORS[k], label=name, marker="." if err.size < 3 else None)
    axes[0].set_title("Rprop (iRprop+, the sign method alone): the ten paths are one")
    axes[1].set_title("L-BFGS-B (SciPy defaults)")
    for ax in axes:
        ax.axhline(1e-6, color="k", lw=1.0, ls="--")
        ax.set_xlabel("evaluation of f")
        ax.set_ylim(1e-12, 1e2)
    axes[0].set_ylabel("error max |x_i| of the evaluated point")
    axes[0].text(2, 2e-6, "solved: error <= 1e-6", fontsize=8)
    fig.legend(*axes[1].get_legend_handles_labels(), loc="outside lower center", ncol=5)
    _save(fig, "seed_paths.png")


def demo_table():
    """The output of ``python -m signmin``, run now."""
    from signmin.__main__ import demo

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        demo()
    (GENERATED / "demo_table.txt").write_text(out.getvalue())


# --------------------------------------------------------------------------- variants

VARIANTS = ("rprop+", "rprop-", "irprop+", "irprop-")
#: The figures show the sign method itself (the textbook variants), without the
#: defaults' L-BFGS-B polish and pattern moves.
SIGN_METHOD = dict(polish=False, accelerate=False)


def variants_figure():
    """The four variants on the 2-D Rosenbrock function from (-1.2, 1)."""
    x0 = np.array([-1.2, 1.0])
    fig, (ax_p, ax_f) = plt.subplots(1, 2, figsize=(9.5, 3.9), layout="constrained")
    a, b = np.meshgrid(np.linspace(-1.6, 1.4, 240), np.linspace(-0.4, 1.6, 200))
    z = 100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2
    ax_p.contour(a, b, np.log10(z + 1e-3), levels=14, colors="0.75", linewidths=0.6)
    ax_p.grid(False)
    for k, variant in enumerate(VARIANTS):
        f = []
        wrapped, points = _recorded(rosen, f)
        res = minimize_rprop(wrapped, x0, jac=rosen_der, variant=variant, **SIGN_METHOD)
        path = np.array(points)
        ax_p.plot(path[:, 0], path[:, 1], color=COLORS[k], lw=0.8, alpha=0.8,
                  label=variant)
        ax_f.semilogy(np.arange(1, len(f) + 1), np.minimum.accumulate(f), color=COLORS[k],
                      label=f"{variant}: {res.nfev} evaluations, status {res.status}")
    ax_p.plot(*x0, "ko", ms=4)
    ax_p.plot(1, 1, "k*", ms=8)
    ax_p.set_xlabel("x[0]")
    ax_p.set_ylabel("x[1]")
    ax_p.set_title("points evaluated, Rosenbrock n = 2")
    ax_p.legend(loc="lower right")
    ax_f.set_xlabel("evaluation of f")
    ax_f.set_ylabel("best f so far")
    ax_f.set_title("best value so far (minimum 0)")
    ax_f.legend(loc="lower left", fontsize=8)
    _save(fig, "variants.png")


# --------------------------------------------------------------------------- stopping

#: The stopping-rule illustration: an ill-scaled quadratic in three variables.
STOP_WEIGHTS = np.array([1.0, 1e2, 1e4])
STOP_MINIMUM = np.array([1.0, -2.0, 0.5])
STOP_X0 = np.array([3.0, 1.0, 10.0])


def _stop_fun(x):
    return float(np.sum(STOP_WEIGHTS * (x - STOP_MINIMUM) ** 2))


def _stop_jac(x):
    return 2.0 * STOP_WEIGHTS * (x - STOP_MINIMUM)


def stopping_figure():
    """f of the iterates and of the best point, and the step sizes against the xtol rule."""
    fs = []
    res = minimize_rprop(_stop_fun, STOP_X0, jac=_stop_jac, **SIGN_METHOD,
                         callback=lambda intermediate_result: fs.append(intermediate_result.fun))
    # The step sizes after k steps are those a run with maxiter=k ends with (same path).
    steps = np.array([STOP_X0 * 0.1] + [
        minimize_rprop(_stop_fun, STOP_X0, jac=_stop_jac, maxiter=k, **SIGN_METHOD).step_size
        for k in range(1, res.nit + 1)])
    xs = np.array([minimize_rprop(_stop_fun, STOP_X0, jac=_stop_jac, maxiter=k,
                                  xtol=0, ftol=0, **SIGN_METHOD).x for k in range(res.nit + 1)])
    f0 = _stop_fun(STOP_X0)
    fs = np.array([f0] + fs)
    k = np.arange(fs.size)
    fig, (ax_f, ax_s) = plt.subplots(1, 2, figsize=(9.5, 3.6), layout="constrained")
    ax_f.semilogy(k, np.maximum(fs, 1e-30), color=COLORS[0], lw=1, label="f at the iterate")
    ax_f.semilogy(k, np.maximum(np.minimum.accumulate(fs), 1e-30), color=COLORS[3], lw=1.5,
                  ls="--", label="best f so far (what the result reports)")
    ax_f.set_xlabel("iteration")
    ax_f.set_ylabel("f (minimum 0)")
    ax_f.set_title("Rprop goes uphill; the result is the best point")
    ax_f.legend(loc="lower left")
    for i in range(STOP_X0.size):
        ax_s.semilogy(np.arange(steps.shape[0]), steps[:, i], color=COLORS[i],
                      label=f"step size of x[{i}]")
        threshold = 1e-10 * np.maximum(np.abs(xs[:, i]), np.abs(STOP_X0[i]))
        ax_s.semilogy(np.arange(xs.shape[0]), threshold, color=COLORS[i], lw=1.3, ls=":")
    ax_s.plot([], [], color="0.3", lw=1.3, ls=":", label="xtol * max(|x_i|, scale_i)")
    ax_s.axvline(res.nit, color="k", lw=0.8)
    ax_s.text(res.nit - 2, 1e-5, f"stop after {res.nit} steps\nstatus {res.status}",
              ha="right", fontsize=8)
    ax_s.set_xlabel("iteration")
    ax_s.set_title("step sizes and the xtol rule")
    ax_s.legend(loc="upper right", fontsize=8)
    _save(fig, "stopping.png")


# --------------------------------------------------------------------------- curve fitting


def run_example(name):
    """Run ``docs/examples/<name>.py``, save what it prints; return its namespace."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        namespace = runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name="__main__")
    (GENERATED / f"{name}_output.txt").write_text(out.getvalue())
    return namespace


def misra1a_figure():
    """Data, fit and residuals of the NIST Misra1a example (the page's own code)."""
    import signmin

    if hasattr(signmin, "curve_fit"):
        ns = run_example("misra1a")
        x, y, popt, model = ns["x"], ns["y"], ns["popt"], ns["model"]
    else:
        # Guard for a build without curve_fit: the data and the model only.
        source = (EXAMPLES / "misra1a.py").read_text()
        ns = {}
        exec(source.split("popt, pcov = signmin.curve_fit")[0], ns)
        x, y, model = ns["x"], ns["y"], ns["model"]
        popt = np.array([2.3894212918e02, 5.5015643181e-04])  # NIST's certified values
        (GENERATED / "misra1a_output.txt").write_text(
            "signmin.curve_fit is not part of this build of signmin; the curve is NIST's "
            "certified fit.\n")
    fig, (ax_d, ax_r) = plt.subplots(
        2, 1, figsize=(6.5, 4.6), sharex=True, height_ratios=(3, 1.3), layout="constrained")
    grid = np.linspace(0, x.max() * 1.05, 200)
    ax_d.plot(x, y, "o", color=COLORS[0], ms=5, label="NIST Misra1a data")
    ax_d.plot(grid, model(grid, *popt), color=COLORS[1],
              label=f"fit: b1 = {popt[0]:.6g}, b2 = {popt[1]:.6g}")
    fitted_by = "signmin.curve_fit" if hasattr(signmin, "curve_fit") else "NIST certified"
    ax_d.set_ylabel("y (volume)")
    ax_d.legend(loc="upper left")
    ax_d.set_title(f"y = b1 (1 - exp(-b2 x)), {fitted_by} fit")
    ax_r.axhline(0, color="0.5", lw=0.8)
    ax_r.plot(x, y - model(x, *popt), "o", color=COLORS[2], ms=5)
    ax_r.set_xlabel("x (pressure)")
    ax_r.set_ylabel("residual")
    _save(fig, "misra1a.png")


def _ends_with(status, **run):
    """Run a small problem that ends with ``status``; return its result."""
    fun = run.pop("fun", lambda x: float(np.sum(x ** 2)))
    jac = run.pop("jac", lambda x: 2.0 * x)
    x0 = run.pop("x0", [1.0, 2.0])
    res = _quietly(minimize_rprop, fun, x0, jac=jac, **{**SIGN_METHOD, **run})
    if res.status != status:
        raise RuntimeError(f"expected status {status}, got {res.status}: {res.message}")
    return res


def _stop_early(intermediate_result):
    if intermediate_result.fun < 1e-3:
        raise StopIteration


def _interrupted():
    """The result a run ended by an exception carries (status 98)."""
    calls = []

    def fun(x):
        calls.append(x)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return float(np.sum(x ** 2))

    try:
        _quietly(minimize_rprop, fun, [1.0, 2.0], jac=lambda x: 2.0 * x, **SIGN_METHOD)
    except KeyboardInterrupt as exc:
        return exc.result
    raise RuntimeError("expected the run to be interrupted")


def status_rows():
    """``(status, success, message)`` of runs made to end on each rule, in status order."""
    runs = [
        _ends_with(0, gtol=1e-3),
        _ends_with(1),
        _ends_with(2, fun=lambda x: 1.0 + float(np.sum((x - 0.3) ** 2)),
                   jac=lambda x: 2.0 * (x - 0.3), ftol=1e-12),
        _ends_with(3, maxiter=3),
        _ends_with(4, maxfev=3),
        _ends_with(5, fun=lambda x: float(np.sum(np.log(x))), jac=lambda x: 1.0 / x, x0=[3.0]),
        _ends_with(5, fun=lambda x: np.nan, x0=[3.0]),
        _ends_with(6, fun=lambda x: 1.0, jac=lambda x: np.ones(1), x0=[0.0], stall_window=20),
        _ends_with(7, until_bracketed=True),
        _interrupted(),
        _ends_with(99, callback=_stop_early),
    ]
    return [(res.status, bool(res.success), res.message) for res in runs]


def status_table():
    """The status codes and messages, as runs that end on each rule report them."""
    lines = [".. list-table::", "   :header-rows: 1", "   :widths: 8 10 82", "",
             "   * - ``status``", "     - ``success``", "     - ``message``"]
    for status, success, message in status_rows():
        lines += [f"   * - {status}", f"     - {success}",
                  f"     - {message.replace('`', '``')}"]
    (GENERATED / "status_table.rst").write_text("\n".join(lines) + "\n")


def main():
    FIGURES.mkdir(parents=True, exist_ok=True)
    demo_table()
    status_table()
    seed_functions_figure()
    seed_paths_figure()
    variants_figure()
    stopping_figure()
    misra1a_figure()


if __name__ == "__main__":
    sys.exit(main())
