"""A Sphinx extension that writes the reference pages of the registries before each build.

At ``builder-inited`` it writes, under ``docs/generated/``: ``models/`` (an index and a page per
registered model), ``datasets/`` (likewise per dataset), ``protocols.md``, ``tables.md``, ``tasks.md``,
``presets.md`` and ``python_api.rst`` (the Python API page of the API reference). Every fact is
read from the registries as the harness loads them (entry-point plugins included), so the pages cannot
drift from the code. A page is rewritten only when its text changes, so unchanged pages are not rebuilt.

:func:`write_pages` is the same generator without Sphinx (the tests call it into a temporary folder).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from registry_pages import datasets, models, presets, protocols, python_api, tables, tasks
from registry_pages.markup import write_if_changed

if TYPE_CHECKING:  # Sphinx is the docs extra's: the page writer itself (and its tests) runs without it
    from sphinx.application import Sphinx

OUTPUT = "generated"
"""The folder, relative to the docs source, that holds every generated page (ignored by git)."""
API_STUBS = "api"
"""Where autosummary writes the API reference's stub pages, relative to :data:`OUTPUT` (``docs/api.rst``
names the same folder as ``generated/api``)."""


def write_pages(folder: Path, api_stubs: str = API_STUBS) -> list[Path]:
    """Write every generated page into ``folder``; returns their paths (the per-entry pages included).

    ``api_stubs``: the folder of autosummary's stub pages, relative to ``folder``."""
    folder = Path(folder)
    return [
        *models.write(folder / "models"),
        *datasets.write(folder / "datasets"),
        write_if_changed(folder / "protocols.md", protocols.protocols_page()),
        write_if_changed(folder / "tables.md", tables.tables_page()),
        write_if_changed(folder / "tasks.md", tasks.tasks_page()),
        write_if_changed(folder / "presets.md", presets.presets_page()),
        python_api.write(folder, api_stubs),
    ]


def _on_builder_inited(app: Sphinx) -> None:
    write_pages(Path(app.srcdir) / OUTPUT)


def setup(app: Sphinx) -> dict:
    """Register the page writer; it runs before autosummary reads the API pages (priority 400 < 500)."""
    app.connect("builder-inited", _on_builder_inited, priority=400)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
