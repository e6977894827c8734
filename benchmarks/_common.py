"""Helpers shared by the benchmark scripts: options, timing, peers, tables, plots.

Every script imports this module by path (``benchmarks/`` is not a package), so
each script starts with ``sys.path.insert(0, str(Path(__file__).parent))``.

Timing rule used everywhere: an optimiser's time is only ever reported as a
ratio to a reference (the bare objective calls it needs, or a compiled pass)
measured right next to it in the same process, repeated with the order
alternated, and summarised by the median and the min-max spread of the
per-repetition ratios. The machines these run on are shared, so absolute times
drift by tens of percent between runs while adjacent measurements drift
together.
"""

from __future__ import annotations

import os

# One BLAS thread unless the caller chose otherwise. SciPy's L-BFGS-B calls BLAS
# on tiny matrices; with OpenBLAS's default of one thread per core, on a busy
# 2-core machine each call can wait for a descheduled helper thread, and a 2 ms
# run takes 10-250 ms. That measures the machine's contention, not the
# optimiser. This must run before numpy is imported, so scripts import this
# module first.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import gc  # noqa: E402
import importlib  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PLOTS = HERE / "plots"

# torch.optim.Rprop's defaults (also optax.rprop's), written out because the
# peers are optional and their defaults must be known without importing them.
TORCH_DEFAULTS = dict(lr=0.01, etas=(0.5, 1.2), step_sizes=(1e-6, 50.0))
#: pints.IRPropMin's default initial step (its documented ``sigma0``).
PINTS_SIGMA0 = 0.1


# --------------------------------------------------------------------------- options
def parse_args(doc: str, extra=None) -> argparse.Namespace:
    """``--quick`` (seconds, used by the tests) and ``--plot`` (also implied by full mode)."""
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes, a few repetitions: checks that the script runs")
    parser.add_argument("--plot", action="store_true",
                        help="write the PNG plots (full mode always does)")
    if extra is not None:
        extra(parser)
    args = parser.parse_args()
    args.plot = args.plot or not args.quick
    return args


def command_line() -> str:
    """How this script was run, as it goes into RESULTS.md."""
    script = Path(sys.argv[0]).resolve()
    try:
        script = script.relative_to(ROOT)
    except ValueError:
        pass
    # Environment that changes what is measured is part of the command.
    env = [f"{k}={os.environ[k]}" for k in ("NUMBA_CACHE_DIR",) if k in os.environ]
    return " ".join([*env, "python", str(script), *sys.argv[1:]])


# --------------------------------------------------------------------------- peers
_NOTED: set[str] = set()


def optional(name: str):
    """Import an optional peer, or print why its rows are missing and return None."""
    try:
        module = importlib.import_module(name)
    except Exception as exc:  # noqa: BLE001 - a broken install is "not installed" too
        if name not in _NOTED:
            _NOTED.add(name)
            say(f"note: {name} is not installed ({type(exc).__name__}); "
                f"its rows are skipped")
        return None
    if name == "jax":
        # The other optimisers work in float64; jax defaults to float32.
        module.config.update("jax_enable_x64", True)
    return module


def torch_rprop(fun, jac, x0, n_evals, **options):
    """``n_evals`` evaluations and steps of ``torch.optim.Rprop``; returns the last x.

    The objective is plain numpy: it sees the parameter's storage through
    ``detach().numpy()`` (no copy, updated in place by ``step``), and its
    gradient is copied into ``.grad``, the way a user with a numpy objective
    drives torch. The view is taken once, outside the loop, which only helps
    torch.
    """
    import torch

    opts = {**TORCH_DEFAULTS, **options}
    p = torch.nn.Parameter(torch.tensor(np.asarray(x0, dtype=float)))
    p.grad = torch.zeros_like(p)
    opt = torch.optim.Rprop([p], **opts)
    x = p.detach().numpy()
    grad = p.grad
    for _ in range(n_evals):
        f = fun(x)
        g = jac(x)
        grad.copy_(torch.from_numpy(g))
        opt.step()
    del f
    return x.copy()


def pints_irpropmin(fun, jac, x0, n_evals, sigma0=PINTS_SIGMA0):
    """``n_evals`` ask/tell rounds of ``pints.IRPropMin``; returns the last x."""
    import pints

    opt = pints.IRPropMin(np.asarray(x0, dtype=float), sigma0)
    x = None
    for _ in range(n_evals):
        x = opt.ask()[0]
        opt.tell([(fun(x), jac(x))])
    return np.array(x)


_OPTAX_STEPS: dict = {}


def optax_step(lr):
    """The jitted ``optax.rprop`` update + apply for step size ``lr`` (compiled once)."""
    if lr not in _OPTAX_STEPS:
        jax = optional("jax")
        import optax

        tx = optax.rprop(lr)

        @jax.jit
        def step(params, state, g):
            updates, state = tx.update(g, state, params)
            return optax.apply_updates(params, updates), state

        _OPTAX_STEPS[lr] = (tx, step)
    return _OPTAX_STEPS[lr]


def optax_rprop(fun, jac, x0, n_evals, lr=TORCH_DEFAULTS["lr"]):
    """``n_evals`` evaluations and jitted steps of ``optax.rprop``; returns the last x."""
    import jax.numpy as jnp

    tx, step = optax_step(lr)
    params = jnp.asarray(np.asarray(x0, dtype=float))
    state = tx.init(params)
    for _ in range(n_evals):
        x = np.asarray(params)
        f = fun(x)
        params, state = step(params, state, jac(x))
    del f
    return np.asarray(params)


def available_peers(*names):
    """The subset of ``names`` ('torch', 'pints', 'optax') that import, noting the rest."""
    out = []
    for name in names:
        if name == "optax":
            if optional("jax") is not None and optional("optax") is not None:
                out.append(name)
        elif optional(name) is not None:
            out.append(name)
    return out


PEER_RUNNERS = {"torch": torch_rprop, "pints": pints_irpropmin, "optax": optax_rprop}
PEER_LABELS = {"torch": "torch.optim.Rprop", "pints": "pints.IRPropMin",
               "optax": "optax.rprop"}


# --------------------------------------------------------------------------- timing
def timed(fn, *args, **kwargs) -> float:
    """Wall time of one call, with the garbage collector held off (as timeit does).

    No ``gc.collect()`` first: with torch and jax loaded it takes 0.4 s a call.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        fn(*args, **kwargs)
        return time.perf_counter() - t0
    finally:
        if enabled:
            gc.enable()


def paired_ratios(pairs: dict, reps: int) -> dict:
    """Time each ``name -> (run, reference)`` pair side by side, ``reps`` times.

    Within a repetition the pairs are visited in a rotated order and, inside a
    pair, which of the two goes first alternates, so slow drifts of the machine
    and any first-runs-slower bias fall on both sides equally. Returns
    ``name -> dict(ratio=array, run=array, ref=array)`` in seconds.
    """
    names = list(pairs)
    out = {name: dict(ratio=[], run=[], ref=[]) for name in names}
    for rep in range(reps):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            run, ref = pairs[name]
            if rep % 2 == 0:
                t_run = timed(run)
                t_ref = timed(ref)
            else:
                t_ref = timed(ref)
                t_run = timed(run)
            out[name]["run"].append(t_run)
            out[name]["ref"].append(t_ref)
            out[name]["ratio"].append(t_run / t_ref)
    return {name: {k: np.array(v) for k, v in d.items()} for name, d in out.items()}


def spread(values) -> str:
    """``median [min, max]`` of a sample, for the tables."""
    v = np.asarray(values, dtype=float)
    return f"{np.median(v):.3g} [{v.min():.3g}, {v.max():.3g}]"


# --------------------------------------------------------------------------- output
#: What this run will write into its section of RESULTS.md (full mode only).
_REPORT: list[str] = []
RESULTS = HERE / "RESULTS.md"


def say(text: str) -> None:
    """Print a line and keep it for RESULTS.md."""
    print(text, flush=True)
    _REPORT.append(text)


def table(headers, rows, title=None) -> str:
    """Print a GitHub-markdown table (what RESULTS.md holds) and return it."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    fmt = lambda r: "| " + " | ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) + " |"  # noqa: E731
    lines = [fmt(cells[0]), "|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|"]
    lines += [fmt(r) for r in cells[1:]]
    text = "\n".join(lines)
    if title:
        print(f"\n### {title}\n")
        _REPORT.append(f"#### {title}")
    print(text, flush=True)
    _REPORT.append(text)
    return text


def machine() -> str:
    """The machine and versions, one line, for the head of every output."""
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = [f"python {platform.python_version()}"]
    for name in ("numpy", "scipy", "numba", "torch", "pints", "jax", "optax"):
        try:
            mod = importlib.import_module(name)
            versions.append(f"{name} {getattr(mod, '__version__', '?')}")
        except Exception:  # noqa: BLE001 - not installed: not listed
            pass
    extra = "".join(f"; {k}={os.environ[k]}" for k in ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS")
                    if k in os.environ)
    return f"{os.cpu_count()} CPUs ({cpu}); {', '.join(versions)}{extra}"


def source_state() -> str:
    """The commit measured, and whether signmin/ had uncommitted changes (read-only git)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "signmin"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    return f"{head or 'unknown'}" + (" + uncommitted changes in signmin/" if dirty else "")


def header(doc: str, args) -> None:
    print(doc.strip().splitlines()[0])
    lines = [f"- machine: {machine()}",
             f"- signmin: commit {source_state()}; run started "
             f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}",
             f"- command: `{command_line()}`"]
    print("\n".join(lines))
    _REPORT.append("\n".join(lines))
    if args.quick:
        print("quick mode: tiny sizes, few repetitions; the numbers are not meaningful")


def _markdown_paragraphs(doc: str) -> list[str]:
    """The script's docstring after its title line, as Markdown paragraphs."""
    out = []
    for para in doc.strip().split("\n\n")[1:]:
        lines = []
        for line in para.strip().splitlines():
            line = line.strip().replace("``", "`")
            if lines and not line.startswith("* "):
                lines[-1] += " " + line
            else:
                lines.append(line)
        out.append("\n".join(lines))
    return out


def write_section(key: str, heading: str, doc: str, args) -> None:
    """Replace this script's section of RESULTS.md with this run (full mode only).

    The section lies between ``<!-- BEGIN key -->`` and ``<!-- END key -->``;
    text outside the markers (the summary across runs) is left alone. Quick
    runs never write: their numbers are not meaningful.
    """
    if args.quick:
        return
    body = "\n\n".join([f"## {heading}", *_markdown_paragraphs(doc), *_REPORT])
    begin, end = f"<!-- BEGIN {key} -->", f"<!-- END {key} -->"
    block = f"{begin}\n{body}\n{end}"
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    RESULTS.write_text(text, encoding="utf-8")
    print(f"wrote its section of {RESULTS.relative_to(ROOT)}")


def save_plot(fig, name: str) -> Path:
    PLOTS.mkdir(exist_ok=True)
    path = PLOTS / name
    fig.savefig(path, dpi=110, bbox_inches="tight")
    print(f"plot: {path.relative_to(ROOT)}")
    _REPORT.append(f"![{name}](plots/{name})")
    return path


def plot_vs_n(name, sizes, series, *, xlabel, ylabel, title, lines=()):
    """Median against n with a min-max band per series, log-log, saved as ``name``.

    ``series`` maps a label to ``{n: values}``; labels starting with "signmin"
    are drawn heavier. ``lines`` are ``(y, style, label)`` reference lines.
    """
    plt = pyplot()
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, by_n in series.items():
        med = [np.median(by_n[n]) for n in sizes]
        line, = ax.plot(sizes, med, "o-", label=label,
                        lw=2 if label.startswith("signmin") else 1.2)
        ax.fill_between(sizes, [np.min(by_n[n]) for n in sizes],
                        [np.max(by_n[n]) for n in sizes], color=line.get_color(), alpha=0.15)
    for y, style, line_label in lines:
        ax.axhline(y, lw=0.8, label=line_label, **style)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(f"{title} (median, band = min-max)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    save_plot(fig, name)


def pyplot():
    """matplotlib with a file-only backend, or None with a note."""
    mpl = optional("matplotlib")
    if mpl is None:
        return None
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# --------------------------------------------------------------------------- subprocesses
def run_child(args, env=None, timeout=600) -> str:
    """Run ``python <args>`` in a fresh process; return its stdout, raise on failure."""
    full_env = {**os.environ, **(env or {})}
    out = subprocess.run([sys.executable, *args], capture_output=True, text=True,
                         env=full_env, timeout=timeout, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(f"child {args} failed:\n{out.stdout}\n{out.stderr}")
    return out.stdout


def reset_peak_rss() -> bool:
    """Reset this process's peak RSS (Linux ``clear_refs``); False if not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def rss_kib(field: str) -> int:
    """``VmRSS`` or ``VmHWM`` (peak) of this process in KiB, from /proc/self/status."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)
