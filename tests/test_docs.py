"""The documentation builds without a warning, draws its figures, and its code runs.

Runs ``sphinx-build -W`` twice into a temporary directory: the HTML builder
(which also runs ``docs/make_figures.py`` and the worked examples) and the
doctest builder (the ``.. doctest::`` blocks of the pages). Skipped unless the
``docs`` extra is installed.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
DOCS_EXTRA = ("sphinx", "numpydoc", "pydata_sphinx_theme", "myst_parser", "matplotlib")
MISSING = [name for name in DOCS_EXTRA if importlib.util.find_spec(name) is None]

pytestmark = pytest.mark.skipif(
    bool(MISSING), reason=f"the docs extra is not installed (missing {', '.join(MISSING)})")


def sphinx_build(builder, out, **env):
    return subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", builder,
         "-d", str(out / "doctrees"), str(DOCS), str(out / builder)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "MPLBACKEND": "Agg", **env})


def report(run):
    return f"exit code {run.returncode}\n--- stdout\n{run.stdout[-6000:]}\n--- stderr\n{run.stderr}"


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    out = tmp_path_factory.mktemp("docs")
    return out, sphinx_build("html", out)


def test_the_html_build_succeeds_with_warnings_as_errors(html):
    out, run = html
    assert run.returncode == 0, report(run)
    for page in ("index", "getting_started", "why_sign", "variants", "stopping", "numba",
                 "curve_fitting", "benchmarks", "api"):
        assert (out / "html" / f"{page}.html").is_file(), page


def test_the_build_draws_every_figure_and_the_pages_show_them(html):
    out, run = html
    assert run.returncode == 0, report(run)
    sys.path.insert(0, str(DOCS))
    try:
        from make_figures import FIGURE_NAMES, FIGURES
    finally:
        sys.path.remove(str(DOCS))
    for name in FIGURE_NAMES:
        png = FIGURES / name
        assert png.is_file() and png.stat().st_size > 10_000, name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert (out / "html" / "_images" / name).is_file(), name


def test_the_demo_table_on_the_page_is_the_output_of_the_demo(html):
    out, run = html
    assert run.returncode == 0, report(run)
    table = (DOCS / "generated" / "demo_table.txt").read_text()
    assert "solved" in table and "L-BFGS-B" in table
    assert "tanh(t^2)" in (out / "html" / "why_sign.html").read_text()


def test_the_code_on_the_pages_runs(html, tmp_path):
    # After the HTML build has drawn the figures, the doctest build need not again.
    run = sphinx_build("doctest", tmp_path, SIGNMIN_DOCS_REUSE_FIGURES="1")
    assert run.returncode == 0, report(run)
    assert "0 failures in tests" in run.stdout, report(run)
