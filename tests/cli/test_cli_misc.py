"""Small CLI points a new user meets first: --version, --epochs help, plot file types, the cache listing,
the scalp maps."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from bench import __version__
from bench.cli import build_app, main
from bench.core.errors import ConfigError
from bench.core.plots import plot_format
from bench.data.cache import entry_source
from bench.data.paths import cache_root


def test_version_prints_package_version_and_commit(capsys):
    from bench.tracking.store import code_version

    assert main(["--version"]) == 0
    out = capsys.readouterr().out
    assert out == f"deap-bench {__version__} (commit {code_version()})\n"
    assert re.fullmatch(r"deap-bench 0\.1\.0 \(commit [0-9a-f]{12}(-dirty)?\)\n", out)


def test_version_outside_a_git_checkout(capsys, monkeypatch):
    monkeypatch.setattr("bench.cli.code_version", lambda: f"v{__version__}")
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"deap-bench {__version__} (commit unknown: not a git checkout)\n"


def _option_help(command: list[str], option: str) -> str:
    """The help text of ``option`` of a (sub)command, from the click command tree."""
    import typer

    cmd = typer.main.get_command(build_app())
    for name in command:
        cmd = cmd.commands[name]
    [param] = [p for p in cmd.params if option in p.opts]
    return param.help


@pytest.mark.parametrize(
    ("command", "lead"),
    [
        (["run"], "Max epochs (early stopping may end sooner)"),
        (["ablate"], "Max epochs per run"),
        (["tune"], "Max epochs per fold"),
    ],
)
def test_epochs_help_says_the_default(command, lead):
    from bench.config.run import QUICK_EPOCHS
    from bench.models.registry import get_model_info

    assert get_model_info("mtcnn").defaults["max_epochs"] == 200
    assert get_model_info("4dcrnn").defaults["max_epochs"] == 100
    assert _option_help(command, "--epochs") == (
        f"{lead}; default: the model's own cap (200 for mtcnn/shallowconvnet/deepconvnet, 100 for "
        "4dcrnn/fbccnn/mccnn/saelstm/dgcnn/rgnn, 500 for eegnet/tsception), "
        f"or at most {QUICK_EPOCHS} on the embedded synthetic twins (--synthetic, or no folder and no "
        "$DEAP_DIR or the dataset's own variable)"
    )


def test_plot_format_from_suffix():
    assert [plot_format("--plot", f"x.{s}") for s in ("png", "PDF", "svg", "jpg", "jpeg")] == [
        "png", "pdf", "svg", "jpg", "jpeg",
    ]  # fmt: skip
    for bad, hint in (("maps.jpg2", "; did you mean '.jpg'?"), ("maps", ""), ("maps.html", "")):
        with pytest.raises(ConfigError) as err:
            plot_format("--out", bad)
        suffix = bad.partition(".")[2]
        assert str(err.value) == (
            f"--out {bad}: file type='{'.' + suffix if suffix else ''}' is not allowed; "
            f"allowed: .png, .pdf, .svg, .jpg, .jpeg{hint}"
        )


def test_data_show_refuses_a_wrong_suffix_before_any_work(tmp_path, capsys, monkeypatch):
    import bench.cli.data as data_cli

    monkeypatch.setattr(data_cli, "load_features", lambda *a, **k: pytest.fail("read data"))
    assert main(["data", "show", "-o", str(tmp_path / "maps.jpg2")]) == 2
    assert capsys.readouterr().err == (
        f"error: --out {tmp_path}/maps.jpg2: file type='.jpg2' is not allowed; "
        "allowed: .png, .pdf, .svg, .jpg, .jpeg; did you mean '.jpg'?\n"
    )
    assert not list(tmp_path.iterdir())


def test_table_plot_refuses_a_wrong_suffix_before_reading_the_store(tmp_path, capsys):
    # the store does not exist: the suffix is refused first
    uri = f"sqlite:///{tmp_path}/none.db"
    assert main(["table", "comparison", "--tracking-uri", uri, "--plot", str(tmp_path / "c.jpg2")]) == 2
    assert "file type='.jpg2' is not allowed" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_scalp_maps_difference_and_file_type(features, tmp_path):
    """The high-minus-low maps are the difference of the class means (hand-computed for one channel),
    and the file is written in the format its suffix names."""
    from bench.data.topomaps import class_counts, class_means, differences, plot_average_maps

    means = class_means(features.features, features.ratings)
    diffs = differences(means)
    per_trial = features.features.astype(np.float64).mean(axis=2)  # (S, T, 2, B, 32)
    high = features.ratings[..., 0] > 5
    # DE (kind 0), alpha (band 1), channel F3 (index 2), valence
    expected = per_trial[high][:, 0, 1, 2].mean() - per_trial[~high][:, 0, 1, 2].mean()
    assert diffs[("de", "valence")][1, 2] == pytest.approx(expected)
    counts = class_counts(features.ratings)
    assert counts[("valence", "high")] == int(high.sum())
    assert counts[("valence", "high")] + counts[("valence", "low")] == features.ratings[..., 0].size == 12
    out = plot_average_maps(features, tmp_path / "maps.pdf")
    assert out.read_bytes().startswith(b"%PDF")
    assert [p.name for p in tmp_path.iterdir()] == ["maps.pdf"]  # no temporary file left


def _entry(root, name: str, meta: dict) -> None:
    folder = root / "features" / name
    folder.mkdir(parents=True)
    base = {"subject": 1, "synthetic": False, "config_fingerprint": "a" * 64, "shape": [40, 120, 2, 4, 32],
            "created": "2026-01-01T00:00:00+0000"}  # fmt: skip
    (folder / "meta.json").write_text(json.dumps({**base, **meta}))


def test_data_info_says_whose_each_entry_is(tmp_path, capsys, monkeypatch):
    from bench.cli.common import console

    monkeypatch.setattr(console, "_width", 300)  # long temporary paths stay on one line
    root = cache_root()
    deap = tmp_path / "deap"
    deap.mkdir()
    embedded = root / "synthetic" / "0123456789abcdef"
    embedded.mkdir(parents=True)
    (embedded / "SYNTHETIC.json").write_text(
        json.dumps({"config": {"n_subjects": 4, "n_trials": 40, "seed": 0}})
    )
    _entry(root, "e1", {"source_file": str(deap / "s01.dat")})
    _entry(root, "e2", {"source_file": str(tmp_path / "gone" / "s01.dat"), "config_fingerprint": "b" * 64})
    _entry(
        root,
        "e3",
        {"source_file": str(embedded / "s01.dat"), "synthetic": True, "config_fingerprint": "c" * 64},
    )
    _entry(root, "e4", {"config_fingerprint": "d" * 64})  # written before the source was recorded
    metas = {
        e: json.loads((root / "features" / e / "meta.json").read_text()) for e in ("e1", "e2", "e3", "e4")
    }
    assert entry_source(metas["e1"]) == (str(deap), True)
    assert entry_source(metas["e2"]) == (str(tmp_path / "gone"), False)
    assert entry_source(metas["e3"]) == ("embedded synthetic (4 subjects x 40 trials, seed 0)", True)
    assert entry_source(metas["e4"]) == ("unknown", None)
    assert main(["data", "info"]) == 0
    out = capsys.readouterr().out
    out = out[out.index("Feature cache at") :]  # after the table of registered datasets
    rows = [line for line in out.splitlines() if line.startswith("│")]
    cells = [[c.strip() for c in line.strip("│").split("│")][:3] for line in rows]
    assert cells == [
        ["aaaaaaaaaaaa", "DEAP", str(deap)],
        ["bbbbbbbbbbbb", "DEAP", f"{tmp_path / 'gone'} (folder no longer exists)"],
        ["cccccccccccc", "synthetic", "embedded synthetic (4 subjects x 40 trials, seed 0)"],
        ["dddddddddddd", "DEAP", "unknown"],
    ]
