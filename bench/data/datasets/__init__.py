"""The dataset registry: every dataset the harness reads is one registered :class:`Dataset`.

A dataset is a description (channels, sampling rate, baseline and trial lengths, rating names and scale,
the default binarisation, where its files live) plus three functions: find a copy's files, read one
subject, write a synthetic twin. Everything downstream (features, grids, the cache key, fingerprints,
MLflow experiment names, the CLI's ``--dataset``) follows from the description, so a new dataset is one
module plus one entry point of group ``deap_bench.datasets`` naming it (the built-ins' in
``pyproject.toml`` and :data:`BUILTIN_MODULES`; another installed package may declare its own).
:data:`DEFAULT_DATASET` is the one place the dataset read when none is named is set.

Every reader returns a :class:`SubjectRecording` in one shape: per trial, ``baseline_s`` seconds of
baseline followed by ``trial_s`` seconds of the stimulus, all at ``sfreq`` Hz, channels in the dataset's
order, ratings with valence and arousal first (a categorical dataset's: its class labels, see
:attr:`Dataset.categorical`). The baseline is the last ``baseline_s`` seconds before
the stimulus where a dataset recorded one, and the stimulus's own first seconds where it did not
(AMIGOS): :meth:`Dataset.baseline_segment` says which, in words, for the seconds the features use.

A reader never drops data in silence: what a dataset's ``find`` leaves out of a copy (MAHNOB-HCI's
sessions without a recording, or, when asked to, without a rating) is reported by :func:`left_out`,
which ``bench data info`` and the run's tags count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.core.errors import BenchError, DataError
from bench.core.registry import Registry
from bench.core.tasks import DerivedTask, n_classes
from bench.data.datasets.deap_format import EEG_CHANNELS

ENTRY_POINT_GROUP = "deap_bench.datasets"
"""Entry-point group naming each dataset's module: entry name = dataset name."""

BUILTIN_MODULES: dict[str, str] = {
    "deap": "bench.data.datasets.deap",
    "dreamer": "bench.data.datasets.dreamer",
    "amigos": "bench.data.datasets.amigos",
    "mahnob-hci": "bench.data.datasets.mahnob",
    "seed": "bench.data.datasets.seed",
    "seed-iv": "bench.data.datasets.seed_iv",
    "seed-v": "bench.data.datasets.seed_v",
    "faced": "bench.data.datasets.faced",
}
"""The built-in entries of :data:`ENTRY_POINT_GROUP` as ``pyproject.toml`` declares them (a test checks
they agree): name -> the module that defines (and registers) it, imported on first use. Loaded from this
list where the installed metadata lacks the group."""

DEFAULT_DATASET = "deap"
"""The dataset a run, a twin or a command reads when none is named: the paper's. Run keys leave it out
(:attr:`bench.config.run.RunConfig.KEY_OMIT_IF_DEFAULT`), so it cannot change without changing them."""


@dataclass(frozen=True)
class SubjectRecording:
    """One subject's EEG and ratings, as every reader returns them.

    Attributes
    ----------
    subject : int
        Subject number in the dataset's own numbering.
    eeg : array, shape (n_trials, n_channels, n_samples)
        EEG in microvolts: ``baseline_s`` seconds of pre-stimulus baseline, then ``trial_s`` seconds of the
        stimulus (DEAP: 3 s + 60 s at 128 Hz = 8064 samples), channels in ``channel_names`` order.
    ratings : array, shape (n_trials, n_ratings)
        Self-ratings in the dataset's ``rating_names`` order (valence and arousal first), on its scale.
    path : Path
        The file the subject was read from (the first of several, for datasets with a file per session).
    trial_ids : tuple of int, optional
        The dataset's own trial numbers of the rows (datasets that drop empty trials); None: 0, 1, ...
    peripheral : array, shape (n_trials, n_peripheral, n_samples), optional
        The non-EEG signals a reader keeps (DEAP: its 8 peripheral channels), cut like ``eeg``; None for
        datasets whose peripheral signals this harness does not read (:attr:`Dataset.peripheral`).
    peripheral_names : tuple of str
        The channels of ``peripheral``, in its order.
    trial_samples : array of int, shape (n_trials,), optional
        Datasets whose trials differ in length (the SEED family's films): each trial's real samples
        (baseline included); ``eeg`` is zero-padded beyond them, and no feature window is built from the
        padding. None: every trial has all ``n_samples``.
    sessions : array of int, shape (n_trials,), optional
        Each trial's recording session, from 1 (the SEED family: 3 sessions per subject, on different
        days); None: one session.
    """

    subject: int
    eeg: np.ndarray
    ratings: np.ndarray
    path: Path
    sfreq: float = 128.0
    channel_names: tuple[str, ...] = ()
    trial_ids: tuple[int, ...] | None = None
    peripheral: np.ndarray | None = None
    peripheral_names: tuple[str, ...] = ()
    trial_samples: np.ndarray | None = None
    sessions: np.ndarray | None = None

    def __post_init__(self) -> None:
        if not self.channel_names:  # the DEAP reader's default, kept for callers that build one by hand
            object.__setattr__(self, "channel_names", EEG_CHANNELS)
        n = self.n_trials
        for name in ("trial_samples", "sessions"):
            value = getattr(self, name)
            if value is not None and np.shape(value) != (n,):
                raise DataError(f"{self.path}: {name} has shape {np.shape(value)}, expected ({n},)")
        if self.trial_samples is not None and (
            np.min(self.trial_samples, initial=1) < 1
            or np.max(self.trial_samples, initial=0) > self.eeg.shape[-1]
        ):
            raise DataError(f"{self.path}: trial lengths outside 1-{self.eeg.shape[-1]} samples")

    @property
    def n_trials(self) -> int:
        return int(self.eeg.shape[0])


@dataclass(frozen=True)
class LeftOut:
    """One kind of thing a dataset's ``find`` leaves out of a copy (``bench data info``, the run's tags).

    Attributes
    ----------
    tag : str
        Short name: the run's tag is ``bench.left_out.<tag>`` holding ``len(ids)``.
    what : str
        What they are and why they are left out, in words (plural: "emotion sessions without ...").
    ids : tuple of int
        The dataset's own ids of the items left out (MAHNOB-HCI: session ids), in order.
    """

    tag: str
    what: str
    ids: tuple[int, ...] = ()

    def words(self) -> str:
        """``3 emotion sessions without a recording (...): 3, 133, 263``."""
        return f"{len(self.ids)} {self.what}" + (f": {', '.join(map(str, self.ids))}" if self.ids else "")


@dataclass(frozen=True)
class Dataset:
    """A registered dataset: what its recordings are and how to read and synthesise them.

    ``find(root, subjects)`` returns ``{subject: files}`` (the files one subject is read from: one per
    subject for DEAP and AMIGOS, the one shared file for DREAMER, a subject's session files for
    MAHNOB-HCI) or raises a one-line DataError. ``read(files, subject)`` returns that subject's
    :class:`SubjectRecording`. ``write_synthetic(folder, config)`` writes a twin in the dataset's own
    file format (``config`` is a :class:`bench.data.synthetic.SyntheticConfig`) and returns its files.
    """

    name: str
    title: str
    citation: str
    channels: tuple[str, ...]
    """EEG channels in the order of the recordings' channel axis."""
    sfreq: float
    """Sampling rate of the recordings the reader returns (after any resampling), Hz."""
    baseline_s: float
    """Seconds of pre-stimulus baseline before each trial in a recording."""
    trial_s: float
    """Seconds of stimulus per trial in a recording (longer stimuli are cut by the reader: see its docs)."""
    rating_names: tuple[str, ...]
    scale: tuple[float, float]
    threshold: float | None
    """Default binarisation: a rating is high if it is above this (``high_if="gt"``); None for a
    categorical dataset, whose labels are classes already."""
    n_subjects: int
    n_trials: int
    """Subjects in the full dataset, and trials per subject (the most; some subjects may have fewer)."""
    env: str
    """Environment variable naming a copy of the dataset (like ``--data-dir``)."""
    layout: str
    """The files a copy holds, in words (shown by ``bench data info`` and in errors)."""
    find: Callable[[Path, Iterable[int] | None], dict[int, tuple[Path, ...]]]
    read: Callable[[tuple[Path, ...], int], SubjectRecording]
    write_synthetic: Callable[..., list[Path]]
    digest_salt: str | None = None
    """Part of each subject's cache key besides the files' content hashes: the reader's version and the
    cut it makes. None (DEAP): the subject file's hash alone, as before datasets were registered."""
    shared_file: bool = False
    """All subjects are read from one file (DREAMER): the cache key then names the subject too."""
    missing_trials: bool = False
    """Subjects may have fewer than ``n_trials`` trials (documented gaps, AMIGOS and MAHNOB-HCI); where
    False, subjects with different trial counts cannot be pooled."""
    peripheral: tuple[str, ...] = ()
    """Peripheral channels the reader returns (:attr:`SubjectRecording.peripheral`); empty: none, so a
    model input that asks for them is refused before any data is read."""
    notes: tuple[str, ...] = field(default=())
    baseline_where: str = "before the stimulus"
    """Where the recording's baseline lies, in words completing "the last 3 s ..." (``bench data info``)."""
    baseline_in_stimulus: bool = False
    """The baseline is the stimulus's own first ``baseline_s`` seconds, not a pre-stimulus recording
    (AMIGOS): baseline removal then also removes part of the response to the stimulus."""
    left_out: Callable[[Path, Iterable[int] | None], tuple[LeftOut, ...]] | None = None
    """``left_out(root, subjects)``: what ``find`` leaves out of the copy at ``root`` (every kind the
    dataset may leave out, with no ids where none is); None: the dataset's ``find`` leaves nothing out."""
    tasks: tuple[str, ...] = ("valence", "arousal")
    """The tasks its labels offer (:mod:`bench.core.tasks` names): the rating datasets' binarised valence
    and arousal; a run asks for a subset of them."""
    derived_tasks: tuple[DerivedTask, ...] = ()
    """Tasks it offers beyond :attr:`tasks`, read from its own labels (the label harmonisation across the
    families: SEED's and FACED's ``valence3`` give the rating datasets' binary ``valence``)."""
    categorical: bool = False
    """Its trials carry class labels, not ratings: the reader's ``ratings`` columns are the class indices
    of :attr:`tasks` (``rating_names`` equals ``tasks``, ``scale`` spans the class indices), taken as
    they are (no threshold)."""
    feature_defaults: dict = field(default_factory=dict)
    """Feature options (:class:`bench.data.features.FeatureConfig` fields) this dataset's runs use unless
    a run sets them: the SEED family's own recipe (5 bands, 1 s windows, no baseline). Empty for the
    rating datasets, whose default is the MT-CNN authors' recipe."""
    n_sessions: int = 1
    """Recording sessions per subject (the reader's ``sessions`` numbers them)."""
    trial_split: tuple[int, int, int] | None = None
    """The dataset's own split of each session's trials by their order, (train, validation, test) counts:
    SEED (9, 0, 6), SEED-IV (16, 0, 8), SEED-V (5, 5, 5); the ``session-trials`` protocol reads it. None:
    the dataset has none."""
    published_features: dict = field(default_factory=dict)
    """The feature sets its authors published beside the EEG, by the name ``-F published=NAME`` takes:
    :class:`bench.data.datasets.published.PublishedSource` s (kinds, window, smoothing, how to read one
    subject). Empty: none (the rating datasets)."""
    subject_split: tuple[int, int, int] | None = None
    """The dataset's own split of its subjects in number order, (train, validation, test) counts: FACED
    (80, 20, 23), as CBraMod splits it; the ``subject-holdout`` protocol reads it. None: none."""

    @property
    def offered_tasks(self) -> tuple[str, ...]:
        """Every task a run on it may ask for: its labels' own, then the derived ones."""
        return self.tasks + tuple(d.task for d in self.derived_tasks)

    def derivation(self, task: str) -> DerivedTask | None:
        """How ``task`` is read from its labels, or None where the labels hold it (or do not offer it)."""
        return next((d for d in self.derived_tasks if d.task == task), None)

    @property
    def n_baseline(self) -> int:
        return round(self.baseline_s * self.sfreq)

    @property
    def n_samples(self) -> int:
        """Samples per trial in a recording: baseline and stimulus."""
        return round((self.baseline_s + self.trial_s) * self.sfreq)

    def baseline_segment(self, seconds: float) -> str:
        """The segment a feature baseline of ``seconds`` (``features.baseline_s``) is in this dataset, in
        words: the last ``seconds`` of the recording's baseline (the features take the end of it)."""
        if seconds > self.baseline_s:
            return f"none: {self.title} recordings hold {self.baseline_s:g} s of baseline"
        if self.baseline_in_stimulus:
            start = self.baseline_s - seconds
            return f"seconds {start:g}-{self.baseline_s:g} of the stimulus itself {self.baseline_where}"
        last = "the" if seconds == self.baseline_s else "the last"
        return f"{last} {seconds:g} s {self.baseline_where}"

    def labels_words(self) -> str:
        """What its trials are labelled with, briefly: ``1-9, high if > 5`` (ratings) or ``valence3: 3
        classes`` (a categorical dataset)."""
        if self.categorical:
            own = [f"{t}: {n_classes(t)} classes" for t in self.tasks]
            return "; ".join(own + [f"{d.task} (from {d.source})" for d in self.derived_tasks])
        return f"{self.scale[0]:g}-{self.scale[1]:g}, high if > {self.threshold:g}"

    def baseline_words(self, seconds: float) -> str:
        """The baseline a feature config of ``seconds`` subtracts, in words; a dataset without a baseline
        (its recipe subtracts none) says so."""
        if self.baseline_s == 0:
            return f"none ({self.title} holds no baseline)"
        return self.baseline_segment(seconds)

    def describe(self) -> str:
        head = (
            f"{self.title}: {self.n_subjects} subjects x {self.n_trials} trials, {len(self.channels)} EEG "
            f"channels at {self.sfreq:g} Hz, "
        )
        if self.categorical:
            return head + "labels " + ", ".join(f"{t} ({n_classes(t)} classes)" for t in self.tasks)
        return head + f"ratings {self.scale[0]:g}-{self.scale[1]:g} (high if > {self.threshold:g})"


DATASETS: Registry[Dataset] = Registry(
    "dataset", group=ENTRY_POINT_GROUP, builtins=BUILTIN_MODULES, by_name=True
)
"""Every dataset; a lookup imports only the module of the dataset named."""


def register_dataset(dataset: Dataset) -> Dataset:
    """Add a dataset (its module calls this on import); a duplicate name is a programmer error."""
    if dataset.categorical:
        if dataset.rating_names != dataset.tasks:
            raise ValueError(f"dataset {dataset.name!r}: a categorical dataset's label columns are its tasks")
    elif dataset.rating_names[:2] != ("valence", "arousal"):
        raise ValueError(f"dataset {dataset.name!r}: ratings must start with valence, arousal")
    return DATASETS.register(dataset.name, dataset)


def dataset_names() -> tuple[str, ...]:
    """Every dataset's name (built-ins first), without importing any dataset module."""
    return DATASETS.names()


def get_dataset(name: str) -> Dataset:
    """A registered dataset by name; an unknown name is a one-line ConfigError listing the known ones."""
    return DATASETS.get(name)


def files_by_subject(
    sessions: Iterable[tuple[int, int, Path]], subjects: Iterable[int] | None, where: object, what: str
) -> dict[int, tuple[Path, ...]]:
    """``{subject: its files in listing order}`` of a ``(subject, session, path)`` listing, in subject
    order, for ``subjects`` (None: every subject found); a subject with none is one line naming
    ``where`` (``{where}: no SEED files of subject(s) 3``). The readers' ``find`` share it."""
    found: dict[int, list[Path]] = {}
    for subject, _, path in sessions:
        found.setdefault(subject, []).append(path)
    wanted = None if subjects is None else {int(s) for s in subjects}
    if wanted is not None:
        missing = sorted(wanted - set(found))
        if missing:
            raise DataError(f"{where}: no {what} of subject(s) {', '.join(map(str, missing))}")
    return {s: tuple(files) for s, files in sorted(found.items()) if wanted is None or s in wanted}


def pair_tasks(train: str, test: str) -> tuple[str, ...]:
    """The tasks a cross-dataset run from ``train`` to ``test`` may ask for: those both offer, own or
    derived (:attr:`Dataset.offered_tasks`), in the training dataset's order; empty: none."""
    theirs = get_dataset(test).offered_tasks
    return tuple(t for t in get_dataset(train).offered_tasks if t in theirs)


def list_datasets() -> list[Dataset]:
    return DATASETS.values()


def left_out(
    dataset: str | Dataset, root: str | Path, subjects: Iterable[int] | None = None
) -> tuple[LeftOut, ...]:
    """What ``dataset``'s ``find`` leaves out of the copy at ``root`` (of ``subjects``' data, or all);
    empty for a dataset whose ``find`` leaves nothing out. Raises the one-line DataError of a bad copy."""
    ds = get_dataset(dataset) if isinstance(dataset, str) else dataset
    return () if ds.left_out is None else ds.left_out(Path(root).expanduser(), subjects)


def left_out_tags(features, prefix: str = "bench.") -> dict[str, str]:
    """A run's tags counting what its data's ``find`` left out: ``{prefix}left_out.<tag>: count`` per kind
    the dataset may leave out (no tag for a dataset that leaves nothing out; ``{prefix}left_out: ?`` where
    the folder is unknown or cannot be read again). ``features``: a FeatureSet (its ``dataset``, ``source``
    folder and ``subjects``), or a cross-dataset pair (``train``, ``test``: tags ``left_out.train.<tag>``
    and ``left_out.test.<tag>``)."""
    pair = hasattr(features, "train") and hasattr(features, "test")
    sides = (("train.", features.train), ("test.", features.test)) if pair else (("", features),)
    out: dict[str, str] = {}
    for side, fs in sides:
        ds = get_dataset(fs.dataset)
        if ds.left_out is None:
            continue
        try:
            kinds = left_out(ds, fs.source, [int(s) for s in fs.subjects]) if fs.source else None
        except BenchError:
            kinds = None
        if kinds is None:
            out[f"{prefix}left_out{'.' + side.rstrip('.') if side else ''}"] = "?"
            continue
        out.update({f"{prefix}left_out.{side}{k.tag}": str(len(k.ids)) for k in kinds})
    return out
