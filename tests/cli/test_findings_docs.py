"""Words that match the numbers: one source for each model's epoch cap (the registry), shown by
``bench models`` and ``bench run --help`` alike."""

from __future__ import annotations

import re

from rich.console import Console

from bench.cli.common import epochs_help
from bench.models.registry import list_models
from bench.models.view import max_epochs_label, models_table


def _models_text() -> str:
    console = Console(width=240, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(models_table())
    return console.export_text()


def test_models_table_shows_each_models_epoch_cap_from_the_registry():
    text = _models_text()
    header = next(line for line in text.splitlines() if "parameters" in line and "name" in line)
    assert "max epochs" in header
    caps = {"mtcnn": "200", "4dcrnn": "100", "shallowconvnet": "200", "eegnet": "500", "majority": "-"}
    for name, cap in caps.items():
        row = next(line for line in text.splitlines() if re.match(rf"^│ {name}\s", line))
        cells = [c.strip() for c in row.split("│")]
        assert cells[cells.index(next(c for c in cells if re.fullmatch(r"[\d,]+( x 2)?", c))) + 1] == cap


def test_run_help_names_the_same_caps_as_bench_models():
    help_text = epochs_help()
    for info in list_models():
        if info.trainable:
            label = max_epochs_label(info)
            group = re.search(rf"(\d+) for ([\w/]*\b{re.escape(info.name)}\b[\w/]*)", help_text)
            assert group is not None and group.group(1) == label, info.name
