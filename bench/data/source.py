"""Where the EEG comes from: a real DEAP copy, or the embedded synthetic DEAP.

Every command that needs data takes ``--deap DIR``; without it the harness generates (once) and uses
a synthetic DEAP in DEAP's exact file format, says so in one line, and labels everything computed from
it as synthetic.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from bench.data.reader import find_subject_files
from bench.errors import ConfigError

SYNTHETIC_MARKER = "SYNTHETIC.json"


@dataclass(frozen=True)
class DataSource:
    """A folder of DEAP subject files and whether it is synthetic."""

    root: Path
    files: dict[int, Path]
    synthetic: bool
    description: str

    @property
    def kind(self) -> str:
        return "synthetic" if self.synthetic else "deap"

    @property
    def subjects(self) -> list[int]:
        return sorted(self.files)


def _marker(folder: Path) -> dict | None:
    try:
        return json.loads((folder / SYNTHETIC_MARKER).read_text())
    except (OSError, ValueError):
        return None


def open_deap(root: str | Path, subjects: Iterable[int] | None = None) -> DataSource:
    """A DEAP copy at ``root`` (folder of sXX.dat/sXX.mat or DEAP's top folder)."""
    files = find_subject_files(root, subjects)
    folder = next(iter(files.values())).parent
    marker = _marker(folder)
    synthetic = marker is not None
    desc = f"{'synthetic DEAP' if synthetic else 'DEAP'} at {folder} ({len(files)} subjects)"
    return DataSource(root=folder, files=files, synthetic=synthetic, description=desc)


def default_synthetic_config():
    """The embedded default (4 subjects x 40 trials): the README's main command runs in minutes on 2 cores."""
    from bench.data.synthetic import SyntheticConfig

    return SyntheticConfig(n_subjects=4, n_trials=40, seed=0)


def _synthetic_folder(config, cache_dir: str | Path | None) -> Path:
    """Where the synthetic DEAP of ``config`` is generated: one folder per generator version and config."""
    from bench.data.cache import cache_root
    from bench.data.synthetic import GENERATOR_VERSION

    payload = json.dumps({"v": GENERATOR_VERSION, **config.to_dict()}, sort_keys=True)
    key = hashlib.sha256(payload.encode()).hexdigest()[:16]
    return cache_root(cache_dir) / "synthetic" / key


def _complete(folder: Path, config) -> bool:
    return _marker(folder) is not None and len(list(folder.glob("s*.dat"))) == config.n_subjects


def default_source(cache_dir: str | Path | None = None) -> DataSource | None:
    """The data a command uses without --deap/--synthetic: ``$DEAP_DIR``, else the embedded synthetic
    default if it has been generated (None otherwise: it is never generated just to be named)."""
    deap = os.environ.get("DEAP_DIR")
    if deap:
        return open_deap(deap)
    config = default_synthetic_config()
    folder = _synthetic_folder(config, cache_dir)
    return open_deap(folder) if _complete(folder, config) else None


def synthetic_source(
    config=None,
    *,
    cache_dir: str | Path | None = None,
    echo: Callable[[str], None] | None = None,
) -> DataSource:
    """Generate (once) and open a synthetic DEAP in the cache; ``config`` is a SyntheticConfig."""
    from bench.data.synthetic import write_synthetic_deap

    config = config or default_synthetic_config()
    folder = _synthetic_folder(config, cache_dir)
    if not _complete(folder, config):
        if echo:
            size = f"{config.n_subjects} subjects x {config.n_trials} trials"
            echo(f"Generating synthetic DEAP ({size}) in {folder}")
        write_synthetic_deap(folder, config)
    source = open_deap(folder)
    return DataSource(
        root=source.root,
        files=source.files,
        synthetic=True,
        description=(
            f"synthetic DEAP ({config.n_subjects} subjects x {config.n_trials} trials, seed {config.seed}, "
            f"effect size {config.effect_size})"
        ),
    )


def resolve_source(
    deap: str | Path | None = None,
    *,
    subjects: Iterable[int] | None = None,
    synthetic=None,
    cache_dir: str | Path | None = None,
    echo: Callable[[str], None] | None = None,
) -> DataSource:
    """The data a command uses: ``deap`` if given (or ``$DEAP_DIR``), else the embedded synthetic DEAP."""
    if deap is not None and synthetic is not None:
        raise ConfigError("give either a DEAP folder or a synthetic config, not both")
    deap = deap if synthetic is not None else (deap or os.environ.get("DEAP_DIR") or None)
    if deap is not None:
        return open_deap(deap, subjects)
    src = synthetic_source(synthetic, cache_dir=cache_dir, echo=echo)
    if echo:
        why = "Synthetic data requested" if synthetic is not None else "No DEAP path given"
        echo(f"{why}: using the embedded {src.description}. Results are labelled synthetic.")
    if subjects is not None:
        src = open_deap(src.root, subjects)
        src = DataSource(root=src.root, files=src.files, synthetic=True, description=src.description)
    return src
