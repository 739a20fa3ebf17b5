"""Sphinx configuration of the losskit documentation site (``make docs``).

Why Sphinx rather than MkDocs: losskit's docstrings are reStructuredText with
Google-style sections (``.. math::`` formulas, ``:func:`` references,
``Args:`` / ``References:``), which Sphinx's autodoc and napoleon render as
written; MkDocs + mkdocstrings would show the formulas as raw directives
unless every docstring were rewritten. Markdown pages (the README's
sections, the changelog) come in through MyST. The build needs no network;
formulas are typeset by MathJax in the reader's browser.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent / "src"))
sys.path.insert(0, str(DOCS))

import build_pages  # noqa: E402

import losskit  # noqa: E402

build_pages.write_pages()

project = "losskit"
author = "The losskit maintainers"
copyright = "2026, The losskit maintainers"
release = losskit.__version__
version = release

extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax", "myst_parser"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "build_pages.py", "conf.py"]
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 4
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_custom_sections = [("References", "notes_style"), ("Attributes", "params_style")]
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True, "show-inheritance": False}

html_theme = "furo"
html_title = f"losskit {release}"
html_static_path: list[str] = []
