"""The docs tests import the page generator of ``docs/_ext`` (a Sphinx extension, not a package of the
project): its folder goes on the import path."""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"
if str(DOCS / "_ext") not in sys.path:
    sys.path.insert(0, str(DOCS / "_ext"))
