"""Sphinx configuration for the signmin documentation.

Build: ``sphinx-build -W -b html docs docs/_build/html``. Every build first runs
``make_figures.py`` (figures, the demo table, the examples' output) and copies the
pieces other scripts produce -- ``benchmarks/RESULTS.md``, ``benchmarks/plots/``,
``docs/nist_table.md`` -- into ``docs/generated/``, writing a short placeholder
for any that does not exist yet, so that the build never depends on them.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
GENERATED = DOCS / "generated"
sys.path[:0] = [str(ROOT), str(DOCS)]

import signmin  # noqa: E402

# ----------------------------------------------------------------------------- project

project = "signmin"
author = "the signmin developers"
copyright = "the signmin developers"
release = version = signmin.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
# generated/ holds pieces that pages include, not pages; nist_table.md is
# included through generated/ too.
exclude_patterns = ["_build", "generated", "examples", "nist_table.md", "README.md"]
templates_path: list[str] = []

numpydoc_show_class_members = False
numpydoc_xref_param_type = False
autosummary_generate = False
autodoc_typehints = "none"
myst_heading_anchors = 6
# RESULTS.md is written by the benchmark scripts, not for Sphinx: tolerate its
# heading levels and in-page links that do not resolve.
suppress_warnings = ["myst.header", "myst.xref_missing"]

# Only the pages' doctest directives: the docstrings' Examples that autodoc
# pulls into the API page already run under pytest --doctest-modules.
doctest_test_doctest_blocks = ""
doctest_global_setup = """
import numpy as np
import signmin
HAS_CURVE_FIT = hasattr(signmin, "curve_fit")
"""


def _defaults_prolog():
    """``|maxiter_default|`` etc.: the defaults of minimize_rprop, read from its signature."""
    import inspect

    lines = []
    for name, par in inspect.signature(signmin.minimize_rprop).parameters.items():
        if par.kind is par.KEYWORD_ONLY and par.default is not par.empty:
            lines.append(f".. |{name}_default| replace:: ``{par.default!r}``")
    # The length of the ftol window, as the message of a run that stops on it says.
    from make_figures import status_rows

    ftol_message = next(message for status, _, message in status_rows() if status == 2)
    window = re.search(r"last (\d+) values", ftol_message)
    lines.append(f".. |ftol_window| replace:: {window.group(1) if window else 'few'}")
    return "\n".join(lines) + "\n"


rst_prolog = _defaults_prolog()

html_theme = "pydata_sphinx_theme"
html_title = f"signmin {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
# No left sidebar: the guide is short, and the wide tables need the room.
html_sidebars = {"**": []}
html_show_sourcelink = False
html_static_path = ["_static"]
html_css_files = ["signmin.css"]

# ----------------------------------------------------------------------------- generated


def _placeholder(what, command, into="benchmarks/RESULTS.md"):
    return (f"*{what} is not part of this build yet:* `{command}` *writes it into* "
            f"`{into}`*, and the next build of these pages shows it.*\n")


_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _lines_outside_fences(text):
    """Yield (line, inside_a_code_fence) for each line of Markdown."""
    fence = None
    for line in text.splitlines():
        stripped = line.lstrip()
        if fence is None and stripped.startswith(("```", "~~~")):
            fence = stripped[:3]
            yield line, True
        elif fence is not None:
            if stripped.startswith(fence):
                fence = None
            yield line, True
        else:
            yield line, False


def _markdown_from(path, *, repo_dir, top_level=None, headings="keep", images=True):
    """Markdown of another script's output, made safe to include.

    Relative links to repository files become their path in code; images are
    kept if the file exists next to the copy (see ``_copy_plots``), else
    replaced by their path. The first level-1 heading is dropped; with
    ``top_level`` headings are shifted so the highest becomes that level;
    with ``headings="bold"`` they become bold paragraphs (for including into
    the middle of an rst section).
    """
    text = path.read_text(encoding="utf-8")
    out, dropped_title = [], False
    levels = [len(m.group(1)) for line, fenced in _lines_outside_fences(text)
              if not fenced and (m := _HEADING.match(line))]
    if levels and levels[0] == 1:
        levels = levels[1:]
    shift = (top_level - min(levels)) if (top_level and levels) else 0
    for line, fenced in _lines_outside_fences(text):
        if fenced:
            out.append(line)
            continue
        match = _HEADING.match(line)
        if match:
            level = len(match.group(1))
            if level == 1 and not dropped_title:
                dropped_title = True
                continue
            if headings == "bold":
                out.append(f"**{match.group(2)}**")
                continue
            line = "#" * min(6, max(1, level + shift)) + " " + match.group(2)
        out.append(_LINK.sub(lambda m: _relink(m, repo_dir, images), line))
    return "\n".join(out).strip() + "\n"


def _relink(match, repo_dir, images=True):
    bang, label, target = match.groups()
    if not bang and re.match(r"^[a-z][a-z0-9+.-]*:", target):
        return match.group(0)
    if not bang and target.startswith("#"):
        # In-page anchors resolve on the full page only, not in an extracted section.
        return match.group(0) if images else label
    repo_path = os.path.normpath(os.path.join(repo_dir, target.split("#")[0]))
    if not bang and repo_path == "docs/nist_table.md":
        return f"{{ref}}`{label or 'the NIST accuracy table'} <nist-table>`"
    if (bang and images and target.startswith("plots/")
            and (GENERATED / "plots" / Path(target).name).exists()):
        return match.group(0)
    if not label or label.strip("`") in (target, repo_path, Path(target).name):
        return f"`{repo_path}`"
    return f"{label} (`{repo_path}`)"


def _copy_plots():
    """benchmarks/plots/*.png into generated/plots/; returns their names."""
    target = GENERATED / "plots"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    names = []
    for png in sorted((ROOT / "benchmarks" / "plots").glob("*.png")):
        shutil.copy2(png, target / png.name)
        names.append(png.name)
    return names


def _heading_section(lines, keywords):
    """The lines from the first heading that has a keyword to the next heading as high."""
    start = level = None
    for k, (line, fenced) in enumerate(lines):
        match = None if fenced else _HEADING.match(line)
        if match and start is None and any(w in match.group(2).lower() for w in keywords):
            start, level = k, len(match.group(1))
        elif match and start is not None and len(match.group(1)) <= level:
            return lines[start:k]
    return None if start is None else lines[start:]


def _section(results, key, keywords, sub_keywords=()):
    """A benchmark script's part of RESULTS.md, without its heading, or None.

    The part is what lies between ``<!-- BEGIN key -->`` and ``<!-- END key -->``
    (how ``benchmarks/_common.py`` writes it), else the section under the first
    heading that has one of ``keywords``. With ``sub_keywords``, only the
    first subsection under a heading with each of them, plus the lines that
    state a HEADLINE.
    """
    text = results.read_text(encoding="utf-8")
    begin, end = f"<!-- BEGIN {key} -->", f"<!-- END {key} -->"
    if begin in text and end in text.split(begin, 1)[1]:
        text = text.split(begin, 1)[1].split(end, 1)[0]
    lines = list(_lines_outside_fences(text))
    section = _heading_section(lines, keywords)
    if section is None and begin in results.read_text(encoding="utf-8"):
        section = [("", False)] + lines  # a block without a heading
    if not section or not "".join(line for line, _ in section[1:]).strip():
        return None
    section = section[1:]
    if sub_keywords:
        subs = [sub for word in sub_keywords if (sub := _heading_section(section, (word,)))]
        if subs:
            picked = [item for sub in subs for item in sub + [("", False)]]
            picked += [item for item in section
                       if item[0].startswith("HEADLINE") and item not in picked]
            section = picked
    return [line for line, _ in section]


def _write_section(results, name, keywords, what, how, sub_keywords=()):
    """generated/<name>.md: a section of RESULTS.md (no images), or a placeholder."""
    section = _section(results, name, keywords, sub_keywords) if results.exists() else None
    if section:
        tmp = GENERATED / f"_{name}_raw.md"
        tmp.write_text("\n".join(section) + "\n", encoding="utf-8")
        text = _markdown_from(tmp, repo_dir="benchmarks", headings="bold", images=False)
        tmp.unlink()
    else:
        text = _placeholder(what, how)
    (GENERATED / f"{name}.md").write_text(text, encoding="utf-8")


def write_generated():
    """Copy or stand in for the pieces that other scripts produce."""
    GENERATED.mkdir(exist_ok=True)
    plots = _copy_plots()

    results = ROOT / "benchmarks" / "RESULTS.md"
    if results.exists():
        body = _markdown_from(results, repo_dir="benchmarks", top_level=2)
        shown = set(re.findall(r"plots/([^)\s]+\.png)", body))
        rest = [name for name in plots if name not in shown]
        if rest:
            body += "\n## All plots\n\n" + "".join(
                f"![{name}](plots/{name})\n\n" for name in rest)
    else:
        body = _placeholder("The benchmark report", "python benchmarks/<name>.py")
        if plots:
            body += "\n" + "".join(f"![{name}](plots/{name})\n\n" for name in plots)
    (GENERATED / "results.md").write_text(body, encoding="utf-8")

    _write_section(results, "robustness", ("robust",), "The robustness table",
                   "python benchmarks/robustness.py", sub_keywords=("summary", "variant"))
    _write_section(results, "compiled", ("compiled", "numba"), "The compile-cost table",
                   "python benchmarks/compiled.py")

    nist = DOCS / "nist_table.md"
    table = (_markdown_from(nist, repo_dir="docs", headings="bold") if nist.exists() else
             _placeholder("The NIST accuracy table", "python benchmarks/nist.py --write",
                          into="docs/nist_table.md"))
    (GENERATED / "nist_table.md").write_text(table, encoding="utf-8")

    functions = [name for name in ("minimize_rprop", "curve_fit") if hasattr(signmin, name)]
    api = ".. currentmodule:: signmin\n\n.. autosummary::\n\n"
    api += "".join(f"   {name}\n" for name in [*functions, "Status"]) + "\n"
    for name in functions:
        api += f"{name}\n{'-' * len(name)}\n\n.. autofunction:: {name}\n\n"
    api += "Status\n------\n\n.. autoclass:: Status\n   :members: success, message\n\n"
    if "curve_fit" not in functions:
        api += ("curve_fit\n---------\n\n``signmin.curve_fit`` is not part of this build "
                "of signmin yet.\n")
    (GENERATED / "api.rst").write_text(api, encoding="utf-8")


write_generated()
import make_figures  # noqa: E402

# SIGNMIN_DOCS_REUSE_FIGURES=1 keeps the output of a previous build (the tests
# set it for the doctest build that follows the HTML build).
if not (os.environ.get("SIGNMIN_DOCS_REUSE_FIGURES")
        and all(path.is_file() for path in make_figures.outputs())):
    make_figures.main()
