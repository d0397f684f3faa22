"""The reference pages of the documentation list every registered model, dataset, protocol, table and
grid preset, with the facts of their registry entries; the Python API section appears once ``bench.api``
exists. The pages are generated into a temporary folder (no Sphinx build); one slow test builds the whole
site with warnings as errors."""

from __future__ import annotations

import re
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch
from registry_pages import models, python_api, write_pages
from registry_pages.markup import table, text
from torch import nn

from bench.data.datasets import get_dataset, list_datasets
from bench.data.inputs import InputSpec
from bench.models.registry import get_model_info, list_models, register_model, unregister_model
from bench.results.table import list_tables
from bench.runs.grid import PRESETS, load_grid
from protocols import LEAKAGE_NOTE, list_protocols

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("generated")
    write_pages(folder)
    return folder


def _targets(page: str, prefix: str) -> list[str]:
    return re.findall(rf"^\({prefix}-(.+)\)=$", page, flags=re.M)


def test_every_registered_model_has_a_page_and_an_index_row(pages):
    names = [m.name for m in list_models()]
    index = (pages / "models" / "index.md").read_text()
    assert re.findall(r"^\| \[[^]]+\]\(([^)]+)\.md\)", index, flags=re.M) == names  # registry order
    assert sorted(p.stem for p in (pages / "models").glob("*.md")) == sorted([*names, "index"])
    for name in names:
        page = (pages / "models" / f"{name}.md").read_text()
        assert _targets(page, "model") == [name]
        assert text(get_model_info(name).full_name) in page


def test_a_model_page_shows_the_reported_numbers_as_reported_with_their_note(pages):
    info = get_model_info("mtcnn")
    page = (pages / "models" / "mtcnn.md").read_text()
    reported = page.split("## Reported numbers")[1].split("## ")[0]
    assert "As reported in the paper" in reported and "not results of this harness" in reported
    assert f"- valence: {info.reported['valence']:.2f} %" in reported
    assert f"- arousal: {info.reported['arousal']:.2f} %" in reported
    assert text(info.reported["note"]) in reported
    assert "| max epochs | 200 | 200 |" in page  # the recipes table: harness vs paper
    assert f"| sample shape | `{tuple(info.input_spec.sample_shape())}` |" in page
    assert get_model_info("majority").reported == {"valence": None, "arousal": None}
    assert "No accuracy on DEAP is reported" in (pages / "models" / "majority.md").read_text()


def test_a_model_registered_at_run_time_gets_its_page(tmp_path):
    @register_model(
        "docs-probe",
        full_name="Probe model of the docs test",
        citation="Nobody, Nowhere 2099",
        input_spec=InputSpec(layout="grid", features=("de",), grid="9x9"),
        reported={"valence": 12.5, "arousal": None},
        fidelity="approximate",
    )
    class Probe(nn.Module):
        def __init__(self, tasks=("valence",), input_spec=None) -> None:
            super().__init__()
            self.tasks = tuple(tasks)
            self.head = nn.Linear(4 * 9 * 9, 2)

        def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
            return {t: self.head(x.flatten(1)) for t in self.tasks}

    try:
        (tmp_path / "models").mkdir()
        (tmp_path / "models" / "unregistered.md").write_text("a page of a model no longer registered\n")
        models.write(tmp_path / "models")
        page = (tmp_path / "models" / "docs-probe.md").read_text()
        assert "- valence: 12.50 %" in page and "- arousal: not reported" in page
        assert "| parameters | 650 (built with tasks valence) |" in page
        assert "](docs-probe.md)" in (tmp_path / "models" / "index.md").read_text()
        assert not (tmp_path / "models" / "unregistered.md").exists()
    finally:
        unregister_model("docs-probe")


def test_every_registered_dataset_has_a_page_with_its_facts(pages):
    names = [d.name for d in list_datasets()]
    index = (pages / "datasets" / "index.md").read_text()
    assert re.findall(r"^\| \[[^]]+\]\(([^)]+)\.md\)", index, flags=re.M) == names
    for name in names:
        ds = get_dataset(name)
        page = (pages / "datasets" / f"{name}.md").read_text()
        assert _targets(page, "dataset") == [name]
        assert f"| sampling rate | {ds.sfreq:g} Hz" in page
        assert f"| EEG channels | {len(ds.channels)}: " in page
        assert f"export {ds.env}=" in page  # where the real files go
        assert "## The synthetic twin" in page


def test_every_registered_protocol_is_listed_with_its_leakage_note(pages):
    page = (pages / "protocols.md").read_text()
    protocols = list_protocols()
    assert _targets(page, "protocol") == [p.name for p in protocols] + ["audits"]
    sections = page.split("\n(protocol-")[1:]
    for p, section in zip(protocols, sections, strict=False):
        if p.audit_only:  # a peer benchmark's protocol: its source and mechanisms instead of the note
            assert "| reproduces |" in section and p.source.commit[:7] in section, p.name
            assert ("**leaky**" in section) == p.leaky, p.name
        else:
            assert (text(LEAKAGE_NOTE) in section) == ("segment" in p.splits), p.name
        assert "| transductive | no:" in section
    assert "`--test NAME`" in sections[[p.name for p in protocols].index("cross-dataset")]


def test_every_registered_table_is_listed_with_its_options(pages):
    page = (pages / "tables.md").read_text()
    specs = list_tables(across_pairs=True)
    assert _targets(page, "table") == [s.name for s in specs]
    for spec in specs:
        for option in spec.options:
            assert f"| `{option.flag}` |" in page
    assert "an oracle reference" in page  # the cross-dataset table's module says so, and the page shows it


def test_every_preset_lists_its_runs(pages):
    page = (pages / "presets.md").read_text()
    assert _targets(page, "preset") == list(PRESETS)
    for name in PRESETS:
        section = page.split(f"(preset-{name})=")[1].split("\n(preset-")[0]
        runs = section.split("### Runs")[1].split("###")[0]
        entries = load_grid(preset=name).entries
        assert len(re.findall(r"^\| `", runs, flags=re.M)) == len(entries)
        assert f"| `{entries[0].model}` | `{entries[0].protocol}` | `{entries[0].split}` |" in runs


def test_the_python_api_section_lists_bench_api_once_it_exists():
    assert "no ``bench.api`` package" in python_api.section(None, "api")
    api = types.ModuleType("bench.api")
    api.__doc__ = "The functions a notebook calls.\n\nMore words."

    def run() -> None:
        """Run."""

    run.__module__ = "bench.api.running"
    api.run, api.__all__ = run, ["run"]
    rst = python_api.section(api, "api")
    assert ":mod:`bench.api`: The functions a notebook calls." in rst and "More words" not in rst
    assert "   bench.api.running.run\n" in rst
    assert ":toctree: api" in rst and "   bench.api\n" in rst


def test_markup_keeps_registry_text_literal():
    assert text("a|b *c* _d_ `x|y`") == r"a\|b \*c\* \_d\_ `x\|y`"
    assert table(("h",), [("1|2",)]) == "| h |\n|---|\n| 1\\|2 |\n"


@pytest.mark.slow
def test_the_site_builds_without_a_warning(tmp_path):
    pytest.importorskip("sphinx")
    build = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "docs", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert build.returncode == 0, build.stderr[-4000:]
    assert (tmp_path / "generated" / "models" / "mtcnn.html").is_file()
    assert (tmp_path / "auto_examples" / "plot_scalp_maps.html").is_file()


def test_every_registered_task_is_listed_with_its_classes_and_chance(pages):
    from bench.core.tasks import TASKS

    page = (pages / "tasks.md").read_text()
    rows = [line for line in page.splitlines() if line.startswith("| `")]
    assert [r.split("|")[1].strip() for r in rows] == [f"`{t}`" for t in TASKS.names()]
    valence3 = next(r for r in rows if r.startswith("| `valence3`"))
    assert (
        "| 3 |" in valence3 and "| 33.3 % |" in valence3 and "0 negative, 1 neutral, 2 positive" in valence3
    )
    assert "| 50.0 % |" in next(r for r in rows if r.startswith("| `valence`"))
