"""Where the EEG comes from: a copy of a registered dataset, or its embedded synthetic twin.

Every command that needs data takes ``--dataset NAME`` (default ``deap``) and ``--data-dir DIR`` (``--deap
DIR`` is the DEAP shorthand); without a folder the harness looks at the dataset's environment variable
(``$DEAP_DIR``, ``$DREAMER_DIR``, ...), else generates (once) and uses a synthetic twin in the dataset's
exact file format, says so in one line, and labels everything computed from it as synthetic.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bench.core.errors import ConfigError, DataError
from bench.core.files import writable
from bench.data.datasets import DEFAULT_DATASET, Dataset, get_dataset
from bench.data.paths import CACHE_ENV, cache_root
from bench.data.synthetic import GENERATOR_VERSION, SyntheticConfig, write_synthetic

SYNTHETIC_MARKER = "SYNTHETIC.json"


@dataclass(frozen=True)
class DataSource:
    """A copy of one dataset (its files per subject) and whether it is synthetic."""

    root: Path
    files: dict[int, Path]
    """The file each subject is read from (the first of several for a dataset with a file per session)."""
    synthetic: bool
    description: str
    dataset: str = DEFAULT_DATASET
    members: dict[int, tuple[Path, ...]] = field(default_factory=dict)
    """Every file each subject is read from, where that is more than ``files`` names (MAHNOB-HCI)."""

    @property
    def kind(self) -> str:
        return data_kind(self.dataset, self.synthetic)

    @property
    def subjects(self) -> list[int]:
        return sorted(self.files)

    def subject_files(self, subject: int) -> tuple[Path, ...]:
        """All files one subject's recording is read from."""
        return self.members.get(subject) or (self.files[subject],)


def data_kind(dataset: str, synthetic: bool) -> str:
    """The kind of data results are filed under, one per dataset and real/synthetic: ``deap`` and
    ``synthetic`` for DEAP (their names before other datasets were registered), ``<name>`` and
    ``<name>-synthetic`` for the others. Real and synthetic results never share an experiment or a table."""
    if dataset == "deap":
        return "synthetic" if synthetic else "deap"
    return f"{dataset}-synthetic" if synthetic else dataset


def kind_words(kind: str) -> str:
    """A data kind in words: ``synthetic`` and ``DEAP`` for DEAP's (as before other datasets were
    registered), ``synthetic DREAMER``, ``AMIGOS``, ``synthetic cross-dataset``, ..."""
    if kind in ("synthetic", "deap"):
        return {"synthetic": "synthetic", "deap": "DEAP"}[kind]
    synthetic = kind == "synthetic" or kind.endswith("-synthetic")
    name = "deap" if kind == "synthetic" else kind.removesuffix("-synthetic")
    try:
        title = get_dataset(name).title
    except ConfigError:
        title = name
    return f"synthetic {title}" if synthetic else title


def _marker(folder: Path) -> dict | None:
    try:
        return json.loads((folder / SYNTHETIC_MARKER).read_text())
    except (OSError, ValueError):
        return None


def _marker_folder(files: dict[int, tuple[Path, ...]], root: Path) -> Path | None:
    """The folder holding the synthetic marker: the subject files' folder or one above it, up to the
    root (DEAP's twin holds it beside its files; MAHNOB-HCI's above ``Sessions/``)."""
    top = (root if root.is_dir() else root.parent).resolve()
    for folder in next(iter(files.values()))[0].resolve().parents:  # from the file up to the root
        if (folder / SYNTHETIC_MARKER).is_file():
            return folder
        if folder == top or top not in folder.parents:
            break
    return None


def open_dataset(
    dataset: str | Dataset, root: str | Path, subjects: Iterable[int] | None = None
) -> DataSource:
    """A copy of ``dataset`` at ``root`` (the folder its files are in, or its top folder)."""
    ds = get_dataset(dataset) if isinstance(dataset, str) else dataset
    root = Path(root).expanduser()
    found = ds.find(root, subjects)
    if not found:
        raise DataError(f"{root}: no {ds.title} subject files found ({ds.layout})")
    # the folder the files are in where they share one (DEAP's sXX.dat, DREAMER.mat), else the root given
    parents = {p.parent for files in found.values() for p in files}
    folder = parents.pop() if len(parents) == 1 else root
    synthetic = _marker_folder(found, root) is not None
    what = f"synthetic {ds.title}" if synthetic else ds.title
    members = {s: f for s, f in found.items() if len(f) > 1}
    return DataSource(
        root=folder,
        files={s: f[0] for s, f in found.items()},
        synthetic=synthetic,
        description=f"{what} at {folder} ({len(found)} subjects)",
        dataset=ds.name,
        members=members,
    )


def open_deap(root: str | Path, subjects: Iterable[int] | None = None) -> DataSource:
    """A DEAP copy at ``root`` (folder of sXX.dat/sXX.mat or DEAP's top folder)."""
    return open_dataset("deap", root, subjects)


def default_synthetic_config(dataset: str = DEFAULT_DATASET) -> SyntheticConfig:
    """The embedded default twin: 4 subjects (DEAP: x 40 trials), so the README's main command runs in
    minutes on 2 cores; the other datasets' twins have their full trial count."""
    if dataset == "deap":
        return SyntheticConfig(n_subjects=4, n_trials=40, seed=0)
    return SyntheticConfig(n_subjects=4, n_trials=get_dataset(dataset).n_trials, seed=0, dataset=dataset)


def twin_config(dataset: str) -> SyntheticConfig:
    """The embedded default twin of ``dataset`` (:func:`default_synthetic_config`, looked up by name at
    call time so that it can be replaced in one place)."""
    return default_synthetic_config() if dataset == DEFAULT_DATASET else default_synthetic_config(dataset)


def _synthetic_folder(config: SyntheticConfig, cache_dir: str | Path | None) -> Path:
    """Where the synthetic twin of ``config`` is generated: one folder per generator version and config."""
    payload = json.dumps({"v": GENERATOR_VERSION, **config.to_dict()}, sort_keys=True)
    key = hashlib.sha256(payload.encode()).hexdigest()[:16]
    return cache_root(cache_dir) / "synthetic" / key


def _complete(folder: Path, config: SyntheticConfig) -> bool:
    """The twin in ``folder`` was written whole (its marker comes last) for this config."""
    marker = _marker(folder)
    if marker is None or marker.get("config") != config.to_dict():
        return False
    return config.dataset != "deap" or len(list(folder.glob("s*.dat"))) == config.n_subjects


def env_folder(dataset: str) -> str | None:
    """The folder the dataset's environment variable names (``$DEAP_DIR``, ...), or None."""
    return os.environ.get(get_dataset(dataset).env) or None


def generated_twin(dataset: str, cache_dir: str | Path | None = None) -> Path | None:
    """The folder of ``dataset``'s embedded twin if it has been generated whole in the cache, else None
    (``bench data info`` says which are)."""
    config = twin_config(dataset)
    folder = _synthetic_folder(config, cache_dir)
    return folder if _complete(folder, config) else None


def default_source(cache_dir: str | Path | None = None, dataset: str = DEFAULT_DATASET) -> DataSource | None:
    """The data a command uses without a folder or --synthetic: the dataset's environment variable, else
    its embedded synthetic twin if it has been generated (None otherwise: it is never generated just to
    be named)."""
    folder = env_folder(dataset)
    if folder:
        return open_dataset(dataset, folder)
    twin = generated_twin(dataset, cache_dir)
    return None if twin is None else open_dataset(dataset, twin)


def synthetic_source(
    config: SyntheticConfig | None = None,
    *,
    cache_dir: str | Path | None = None,
    echo: Callable[[str], None] | None = None,
) -> DataSource:
    """Generate (once) and open a synthetic twin in the cache; ``config`` is a SyntheticConfig (its
    ``dataset`` says which dataset's twin)."""
    config = config or twin_config(DEFAULT_DATASET)
    ds = get_dataset(config.dataset)
    folder = _synthetic_folder(config, cache_dir)
    if not _complete(folder, config):
        if echo:
            size = f"{config.n_subjects} subjects x {config.n_trials} trials"
            echo(f"Generating synthetic {ds.title} ({size}) in {folder}")
        # generated into the cache: a cache folder we may not write is one line saying what to do
        with writable(cache_root(cache_dir), f"the synthetic {ds.title}", f"set ${CACHE_ENV} to a folder "
                      "you can write, or give a data folder"):  # fmt: skip
            write_synthetic(folder, config)
    source = open_dataset(ds, folder)
    return DataSource(
        root=source.root,
        files=source.files,
        synthetic=True,
        description=(
            f"synthetic {ds.title} ({config.n_subjects} subjects x {config.n_trials} trials, seed "
            f"{config.seed}, effect size {config.effect_size})"
        ),
        dataset=ds.name,
        members=source.members,
    )


def resolve_source(
    deap: str | Path | None = None,
    *,
    subjects: Iterable[int] | None = None,
    synthetic: SyntheticConfig | None = None,
    cache_dir: str | Path | None = None,
    echo: Callable[[str], None] | None = None,
    dataset: str = DEFAULT_DATASET,
) -> DataSource:
    """The data a command uses: the folder ``deap`` if given (the dataset's copy; the name is DEAP's, from
    before other datasets), else the dataset's environment variable, else its embedded synthetic twin."""
    ds = get_dataset(dataset)
    if deap is not None and synthetic is not None:
        raise ConfigError(f"give either a {ds.title} folder or a synthetic config, not both")
    if synthetic is not None and synthetic.dataset != ds.name:
        raise ConfigError(f"synthetic config of dataset {synthetic.dataset!r} given for dataset {ds.name!r}")
    folder = deap if synthetic is not None else (deap or env_folder(ds.name))
    if folder is not None:
        return open_dataset(ds, folder, subjects)
    src = synthetic_source(synthetic or twin_config(ds.name), cache_dir=cache_dir, echo=echo)
    if echo:
        why = "Synthetic data requested" if synthetic is not None else f"No {ds.title} path given"
        echo(f"{why}: using the embedded {src.description}. Results are labelled synthetic.")
    if subjects is not None:
        sub = open_dataset(ds, src.root, subjects)
        src = DataSource(root=sub.root, files=sub.files, synthetic=True, description=src.description,
                         dataset=ds.name, members=sub.members)  # fmt: skip
    return src
