"""Sphinx configuration of the deap-bench documentation.

Build (from the repository root; ``-W`` turns every warning into an error)::

    python -m pip install -e ".[docs]"
    python -m sphinx -W --keep-going -b html docs docs/_build/html

The reference pages of the registries (models, datasets, protocols, tables, grid presets) are written
into ``docs/generated/`` by the local extension ``docs/_ext/registry_pages`` before each build; the
gallery runs every ``docs/examples/plot_*.py`` and the API reference is autosummary + numpydoc.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import matplotlib

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# This checkout's packages first (a docs build of a worktree documents its own code), then the local
# extension.
sys.path[:0] = [str(ROOT), str(DOCS / "_ext")]
matplotlib.use("Agg")  # no display: the gallery and the plots draw into files
os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # as the CLI: no store set-up chatter

import bench  # noqa: E402  (after the path set-up above)

project = "deap-bench"
author = "deap-bench contributors"
copyright = "deap-bench contributors, MIT license"
version = release = bench.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "registry_pages",
    "docstring_fixes",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_ext/templates"]  # autosummary/module.rst: a page per module, listing its modules
exclude_patterns = [
    "_build",
    "Thumbs.db",
    ".DS_Store",
    "examples/README.txt",
    # sphinx-gallery's by-products beside the pages it writes
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
    "auto_examples/*.json",
    "auto_examples/*.md5",
    "auto_examples/*.codeobj.json",
]

# --------------------------------------------------------------------------------------- theme
html_theme = "pydata_sphinx_theme"
html_title = f"deap-bench {release}"
html_theme_options = {
    "navbar_align": "left",
    "header_links_before_dropdown": 9,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "navigation_with_keys": False,
}
html_show_sourcelink = False
smartquotes = False  # `--folds` stays two hyphens: command lines are copied from these pages

# --------------------------------------------------------------------------------------- MyST
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3  # [text](page.md#a-heading) links of the user guide

# --------------------------------------------------------------------------------------- API reference
# the documents holding autosummary tables with a toctree (the second is written by registry_pages)
autosummary_generate = ["api.rst", "generated/python_api.rst"]
autosummary_imported_members = False
autodoc_default_options = {
    "members": True,
    "undoc-members": False,
    "show-inheritance": True,
    # a package's __all__ re-exports its modules' names: they are documented where they are defined
    "ignore-module-all": True,
}
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented"
autodoc_member_order = "bysource"
autodoc_inherit_docstrings = False
autodoc_mock_imports: list[str] = []

numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks: set[str] = set()
numpydoc_xref_param_type = False

nitpicky = False
suppress_warnings: list[str] = []

# --------------------------------------------------------------------------------------- gallery
sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",  # every plot_*.py runs at build time
    "ignore_pattern": r"__init__\.py",
    "abort_on_example_error": True,
    "download_all_examples": False,
    "image_scrapers": ("matplotlib",),
    "within_subsection_order": "FileNameSortKey",
    "remove_config_comments": True,
    "min_reported_time": 1,
}
