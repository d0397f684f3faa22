"""Models and datasets from another installed package, found through entry points.

A tiny package is written into ``tmp_path`` with a ``.dist-info`` holding ``entry_points.txt``, put on
``sys.path``, and the registries' loaded state is reset: the registries then find it exactly as they
would find a separately pip-installed package. Also checks that the built-in lists the registries fall
back on are the entry points ``pyproject.toml`` declares.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.cli import main
from bench.data import datasets as data_registry
from bench.data.datasets import DATASETS, dataset_names, get_dataset
from bench.models import registry as model_registry
from bench.models.registry import MODELS, get_model_info, list_models, unregister_model

ROOT = Path(__file__).resolve().parents[2]

PLUGIN_MODEL = """
import torch
from torch import nn

from bench.data.inputs import InputSpec
from bench.models.registry import register_model


@register_model("plugin-linear", full_name="Linear (plugin test)", citation="test", input_spec=InputSpec(),
                reported={}, fidelity="exact", multitask=True)
class PluginLinear(nn.Module):
    def __init__(self, *, tasks=("valence", "arousal"), input_spec=None):
        super().__init__()
        self.heads = nn.ModuleDict({t: nn.Linear(2, 2) for t in tasks})

    def forward(self, x):
        z = torch.flatten(x, 1)
        z = torch.stack([z.mean(1), z.std(1)], dim=1)
        return {t: h(z) for t, h in self.heads.items()}
"""

PLUGIN_DATASET = """
from dataclasses import replace

from bench.data.datasets import get_dataset, register_dataset

register_dataset(replace(get_dataset("deap"), name="plugin-deap", title="DEAP (plugin test)"))
"""


def _install(root: Path, module: str, source: str, group: str, entry: str) -> None:
    """Write ``module`` and a dist-info whose entry point of ``group`` names it (what pip would install)."""
    (root / f"{module}.py").write_text(source)
    info = root / f"{module}-0.1.dist-info"  # the name part has no "-", as pip writes it
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module.replace('_', '-')}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{group}]\n{entry} = {module}\n")


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Both plugin packages on sys.path and the registries reset; afterwards gone again."""
    root = tmp_path / "site"
    root.mkdir()
    _install(root, "bench_plugin_model", PLUGIN_MODEL, model_registry.ENTRY_POINT_GROUP, "linear")
    _install(root, "bench_plugin_data", PLUGIN_DATASET, data_registry.ENTRY_POINT_GROUP, "plugin-deap")
    monkeypatch.syspath_prepend(str(root))
    MODELS.reset()
    DATASETS.reset()
    yield root
    unregister_model("plugin-linear")
    DATASETS.unregister("plugin-deap")
    for module in ("bench_plugin_model", "bench_plugin_data"):
        sys.modules.pop(module, None)
    MODELS.reset()
    DATASETS.reset()


def test_builtin_lists_are_the_pyproject_entry_points():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    assert declared[model_registry.ENTRY_POINT_GROUP] == model_registry.BUILTIN_MODULES
    assert declared[data_registry.ENTRY_POINT_GROUP] == data_registry.BUILTIN_MODULES
    # dict equality ignores order; the registry order is the declared one
    assert list(declared[model_registry.ENTRY_POINT_GROUP]) == list(model_registry.BUILTIN_MODULES)
    assert list(declared[data_registry.ENTRY_POINT_GROUP]) == list(data_registry.BUILTIN_MODULES)


def test_a_plugin_model_is_found_listed_and_run(plugins, deap_dir, tmp_path, capsys):
    info = get_model_info("plugin-linear")
    assert info.full_name == "Linear (plugin test)"
    names = [m.name for m in list_models()]
    assert names[:2] == ["mtcnn", "4dcrnn"] and names[-1] == "plugin-linear"  # built-ins first
    assert main(["models"]) == 0
    assert "plugin-linear" in capsys.readouterr().out
    # a small synthetic DEAP (the conftest's 2 subjects x 6 trials): the embedded default twin's 4 x 40
    # would take minutes to generate and featurise on a shared 2-core machine
    args = ["run", "--model", "plugin-linear", "--epochs", "1", "--folds", "2", "--deap", str(deap_dir),
            "--tracking-uri", f"sqlite:///{tmp_path}/m.db"]  # fmt: skip
    assert main(args) == 0
    assert "plugin-linear" in capsys.readouterr().out


def test_a_plugin_dataset_is_found_by_name(plugins):
    assert dataset_names()[:4] == ("deap", "dreamer", "amigos", "mahnob-hci")
    assert "plugin-deap" in dataset_names()
    assert get_dataset("plugin-deap").title == "DEAP (plugin test)"
