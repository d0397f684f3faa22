"""The ``methods`` axis of a grid's ``[[runs]]`` blocks and the ``subject-independent`` preset: each method
an ordinary run (``RunConfig.method``), a method a model cannot take skipped with resolve_run's reason,
and the grids made before the axis expanding to exactly the runs they did."""

from __future__ import annotations

import hashlib
import json

import pytest

from bench.core.errors import ConfigError
from bench.results.report import grid_cells
from bench.runs.grid import PRESETS, entry_label, expand, load_grid
from bench.runs.resolved import resolve_run
from bench.training.methods import method_names

RUDAKOV_DIGEST = "b65261b8e07171bb55c87bd2e9542ee98fa7df7f3de8a52169725a015999115a"
"""sha256 of the JSON list of ``[label, config fingerprint]`` of every ``rudakov2021`` entry, as the grid
expanded before it had a methods axis, computed under this test session's settings (conftest pins fp32;
the run key is the fingerprint with the data's: unchanged too)."""


def _grid(block: str) -> object:
    return expand(f'name = "g"\nscale = "smoke"\n[[runs]]\n{block}', source="g.toml")


def test_existing_presets_expand_to_the_same_runs():
    g = load_grid(preset="rudakov2021")
    # the runs the grid had before the methods axis (the graph models joined it later): unchanged
    pairs = [[e.label, e.config.fingerprint()] for e in g.entries if e.model not in ("dgcnn", "rgnn")]
    assert hashlib.sha256(json.dumps(pairs).encode()).hexdigest() == RUDAKOV_DIGEST
    for name in PRESETS:
        if name != "subject-independent":
            assert all(
                e.method == "none" and e.config.method == "none" for e in load_grid(preset=name).entries
            )


def test_methods_axis_expands_into_method_runs():
    g = _grid(
        'models = ["fbccnn", "eegnet"]\nprotocols = ["cross-subject"]\nmethods = ["none", "dann", "ea"]'
    )
    by_label = {e.label: e for e in g.entries}
    assert list(by_label) == [
        "fbccnn|cross-subject|subject|full",
        "fbccnn|cross-subject|subject|full|dann",
        "eegnet|cross-subject|subject|full",
        "eegnet|cross-subject|subject|full|dann",
        "eegnet|cross-subject|subject|full|ea",
    ]
    dann = by_label["fbccnn|cross-subject|subject|full|dann"]
    assert dann.method == "dann" and dann.config.method == "dann"
    assert dann.config.fingerprint() != by_label["fbccnn|cross-subject|subject|full"].config.fingerprint()
    # the run a grid entry makes is the run of the same `bench run --method` (same resolved config)
    assert dann.config == resolve_run(dann.config).config
    # a brain-map model has no EEG signal to align: skipped with resolve_run's own reason
    ((label, reason),) = g.skipped
    assert label == "fbccnn|cross-subject|subject|full|ea"
    with pytest.raises(ConfigError) as refused:
        resolve_run(by_label["fbccnn|cross-subject|subject|full"].config.__class__(
            model="fbccnn", protocol="cross-subject", split="subject", method="ea"))  # fmt: skip
    assert reason == str(refused.value) and "method='ea' applies to signal inputs" in reason


def test_methods_default_and_labels():
    g = _grid('models = "majority"\nprotocols = ["whole-set"]')
    assert [e.method for e in g.entries] == ["none"]
    assert (
        entry_label("mtcnn", "whole-set", "trial", "full", "none", 0, "none") == "mtcnn|whole-set|trial|full"
    )
    assert entry_label("mtcnn", "cross-subject", "subject", "full", "none", 2, "dann") == (
        "mtcnn|cross-subject|subject|full|dann|seed2"
    )
    # a trivial baseline has no feature trunk for dann: skipped, the plain run kept
    g = _grid('models = "majority"\nprotocols = ["cross-subject"]\nmethods = ["none", "dann"]')
    assert [e.label for e in g.entries] == ["majority|cross-subject|subject|full"]
    why = "method='dann' needs a model with one feature trunk (embed); 'majority' has none"
    assert g.skipped == (("majority|cross-subject|subject|full|dann", why),)


def test_unknown_method_is_one_line():
    with pytest.raises(
        ConfigError, match=r"g.toml: runs\[1\].methods='nope' is not allowed; allowed: none, dann"
    ):
        _grid('models = "mtcnn"\nprotocols = ["whole-set"]\nmethods = ["nope"]')
    with pytest.raises(ConfigError, match=r"runs\[1\].methods"):
        _grid('models = "mtcnn"\nprotocols = ["whole-set"]\nmethods = []')


def test_subject_independent_preset():
    g = load_grid(preset="subject-independent")
    labels = [e.label for e in g.entries]
    graph = ["none", "subject-norm", "dann"] + (["ms-mda"] if "ms-mda" in method_names() else [])
    expected = [
        f"{m}|cross-subject|subject|full" + ("" if meth == "none" else f"|{meth}")
        for m, methods in (
            *((m, graph) for m in ("fbccnn", "mtcnn", "dgcnn", "rgnn")),
            *((m, ["none", "ea", "dann"]) for m in ("eegnet", "shallowconvnet")),
            ("majority", ["none"]),
            ("prior", ["none"]),
        )
        for meth in methods
    ]
    assert labels == expected and g.skipped == () and g.dataset == "deap"
    assert {e.protocol for e in g.entries} == {"cross-subject"}
    # every rating dataset: --dataset dreamer runs the same cells there
    assert [e.label for e in load_grid(preset="subject-independent", dataset="dreamer").entries] == expected
    # its report asks the methods table for each method cell, and the other tables for the plain ones
    cells = grid_cells(g)
    assert ("fbccnn", "cross-subject", "subject", "none", "full", "dann") in cells
    assert ("fbccnn", "cross-subject", "subject", "none", "full") in cells
    assert all(len(c) == 5 for c, e in zip(cells, g.entries, strict=True) if e.method == "none")
