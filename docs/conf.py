"""Sphinx configuration of the polyhpc documentation (``make docs``).

The build is offline (no intersphinx inventories are fetched) and strict:
``make docs`` runs ``sphinx-build -W --keep-going``, so every warning fails it.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent / "_ext"))

import polyhpc  # noqa: E402  (after the path set-up above)

project = "polyhpc"
author = "polyhpc developers"
copyright = "2026, polyhpc developers"
release = polyhpc.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "polyhpc_docs",
]

# The docstrings are numpydoc (house style); napoleon reads their sections.
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
# Parameter types stay text: shapes such as ``(n_frames, n_atoms, 3) float64`` are no
# cross-references, and dataclass attributes are listed once (as fields, not directives).
napoleon_use_param = False
napoleon_use_ivar = True
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True, "undoc-members": False}

exclude_patterns = ["_build"]
html_theme = "alabaster"
html_theme_options = {"description": "AI-driven polymer-electrolyte discovery, laptop to cluster"}
html_static_path: list[str] = []
