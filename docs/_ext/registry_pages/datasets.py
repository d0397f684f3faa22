"""The dataset pages: an index table of every registered dataset, then one page per dataset.

Read from each :class:`~bench.data.datasets.Dataset` of the registry (built-ins and entry-point plugins
of group ``deap_bench.datasets``), with the words ``bench data info`` uses
(:meth:`~bench.data.datasets.Dataset.describe`, :meth:`~bench.data.datasets.Dataset.baseline_segment`,
:func:`~bench.data.source.data_kind`) and the embedded twin of :func:`~bench.data.source.twin_config`.
"""

from __future__ import annotations

from pathlib import Path

from bench.core.tasks import get_task
from bench.data.datasets import DATASETS, DEFAULT_DATASET, ENTRY_POINT_GROUP, Dataset, list_datasets
from bench.data.features import FeatureConfig
from bench.data.source import data_kind, kind_words, twin_config
from registry_pages.markup import (
    code,
    code_block,
    fields,
    generated_note,
    heading,
    page,
    table,
    text,
    toctree,
    write_folder,
)


def _module(ds: Dataset) -> str:
    """The module that registers ``ds``: its entry point's, else its reader's."""
    entry = DATASETS.entries().get(ds.name)
    return entry.value if entry is not None else ds.read.__module__


def _ratings(ds: Dataset) -> str:
    """The labels a dataset's trials carry: ratings and their binarisation, or the classes of its tasks."""
    if ds.categorical:
        return "; ".join(
            f"{t}: " + ", ".join(f"{i} {c}" for i, c in enumerate(get_task(t).classes)) for t in ds.tasks
        )
    return f"{', '.join(ds.rating_names)} on {ds.scale[0]:g}-{ds.scale[1]:g}; high if > {ds.threshold:g}"


def index_page() -> str:
    """One row per registered dataset, each name linking to its page."""
    rows = [
        (
            f"[{text(ds.name)}]({ds.name}.md)",
            text(ds.title),
            f"{ds.n_subjects} x {ds.n_trials}",
            str(len(ds.channels)),
            f"{ds.sfreq:g}",
            f"{ds.baseline_s:g} + {ds.trial_s:g}",
            text(_ratings(ds)),
            code(f"${ds.env}"),
        )
        for ds in list_datasets()
    ]
    header = (
        "dataset",
        "title",
        "subjects x trials",
        "EEG channels",
        "Hz",
        "baseline + trial s",
        "labels",
        "environment variable",
    )
    return page(
        heading("Datasets", target="datasets-index"),
        generated_note("the dataset registry (bench.data.datasets), as `bench data info` lists it"),
        text(
            "Every registered dataset: the built-ins and those other installed packages add through the "
            f"entry-point group `{ENTRY_POINT_GROUP}`. A command reads `{DEFAULT_DATASET}` unless "
            "`--dataset` names another."
        ),
        table(header, rows, escaped=True),
        toctree([ds.name for ds in list_datasets()], hidden=True),
    )


def _facts(ds: Dataset) -> str:
    seconds = FeatureConfig().baseline_s
    trials = f"{ds.n_trials} per subject (the most)"
    if ds.missing_trials:
        trials += "; some subjects have fewer (documented gaps)"
    rows = [
        ("name", f"{code(ds.name)} ({code(f'--dataset {ds.name}')})"),
        ("paper", text(ds.citation)),
        ("registered by", f"{{py:mod}}`{_module(ds)}`"),
        ("subjects", str(ds.n_subjects)),
        ("trials", text(trials)),
        ("EEG channels", f"{len(ds.channels)}: " + ", ".join(code(c) for c in ds.channels)),
        ("sampling rate", f"{ds.sfreq:g} Hz (as the reader returns it)"),
        ("trial", text(_trial(ds))),
        ("baseline subtracted", text(_baseline(ds, seconds))),
        ("ratings" if not ds.categorical else "labels", text(_ratings(ds))),
        ("tasks", ", ".join(f"[{code(t)}](../tasks.md)" for t in ds.tasks)),
        ("peripheral channels", ", ".join(code(c) for c in ds.peripheral) or "none read"),
    ]
    if ds.n_sessions > 1:
        rows.append(("sessions", text(f"{ds.n_sessions} per subject, recorded on different days")))
    if ds.trial_split is not None:
        rows.append(
            (
                "its own split",
                text(
                    "per session, by trial order: {} train, {} validation, {} test "
                    "(protocol session-trials)".format(*ds.trial_split)
                ),
            )
        )
    if ds.subject_split is not None:
        rows.append(
            (
                "its own split",
                text(
                    "subjects in number order: {} train, {} validation, {} test "
                    "(protocol subject-holdout)".format(*ds.subject_split)
                ),
            )
        )
    if ds.feature_defaults:
        rows.append(("feature recipe", text(", ".join(f"{k} = {v}" for k, v in ds.feature_defaults.items()))))
    if ds.shared_file:
        rows.append(("files", "all subjects are read from one file"))
    if ds.left_out is not None:
        rows.append(
            (
                "left out",
                text(
                    "the reader may leave part of a copy out; `bench data info` and "
                    "each run's tags count what"
                ),
            )
        )
    return fields(rows)


def _trial(ds: Dataset) -> str:
    if ds.categorical:
        return f"whole clips of their own length (up to {ds.trial_s:g} s), no baseline"
    return f"{ds.baseline_s:g} s of baseline then {ds.trial_s:g} s of stimulus ({ds.n_samples} samples)"


def _baseline(ds: Dataset, seconds: float) -> str:
    recipe = {**{"baseline": "subtract", "baseline_s": seconds}, **ds.feature_defaults}
    if recipe["baseline"] == "none":
        return "none (the dataset's feature recipe)"
    return f"{ds.baseline_segment(recipe['baseline_s'])} (features.baseline_s = {recipe['baseline_s']:g})"


def _files(ds: Dataset) -> str:
    return page(
        heading("Where the real files go", 2),
        text(f"A copy holds: {ds.layout}."),
        text(
            f"Give its folder with --data-dir DIR or set ${ds.env}; without either, commands read the "
            "embedded synthetic twin."
        ),
        code_block(
            f"export {ds.env}=/path/to/{ds.name}\nbench run --dataset {ds.name} --data-dir "
            f"/path/to/{ds.name}",
            "bash",
        ),
    )


def _twin(ds: Dataset) -> str:
    cfg = twin_config(ds.name)
    real, synthetic = data_kind(ds.name, False), data_kind(ds.name, True)
    return page(
        heading("The synthetic twin", 2),
        text(
            f"The embedded twin has {ds.title}'s file format, channels, rates and rating scale: "
            f"{cfg.n_subjects} subjects x {cfg.n_trials} trials (seed {cfg.seed}, effect size "
            f"{cfg.effect_size:g}), generated once in the cache when a command first needs it. Its "
            "effects are planted, so its numbers test the harness and say nothing about the real data."
        ),
        text(
            f"Results are filed apart: real data as data kind `{real}` ({kind_words(real)}), the twin as "
            f"`{synthetic}` ({kind_words(synthetic)}); no table mixes the two."
        ),
        code_block(f"bench data synth /tmp/{ds.name}-twin --dataset {ds.name}", "bash"),
    )


def _published(ds: Dataset) -> list[str]:
    """Its published feature files, each a ``-F published=NAME`` source (none: no section)."""
    if not ds.published_features:
        return []
    items = [
        f"- {code(f'-F published={src.name}')}: {text(src.title)}; kinds "
        f"{', '.join(code(k) for k in src.kinds)}, "
        f"{src.window_s:g} s windows, bands {text(', '.join(b[0] for b in src.bands))}; smoothing: "
        f"{text(src.smoothing)}; files: {text(src.layout)}"
        for src in ds.published_features.values()
    ]
    intro = text(
        "A run reads these instead of computing features (see Published feature files in the features "
        "guide); no other feature option applies with them."
    )
    return [heading("Published feature files", 2), intro, "\n".join(items)]


def dataset_page(ds: Dataset) -> str:
    """One dataset's page: its facts, where its files go, its synthetic twin and its notes."""
    blocks = [
        heading(f"{ds.name}: {ds.title}", target=f"dataset-{ds.name}"),
        generated_note(f"the registration of {ds.name} in the dataset registry"),
        text(ds.describe() + "."),
        _facts(ds),
        _files(ds),
        *_published(ds),
        _twin(ds),
    ]
    if ds.notes:
        blocks += [heading("Notes", 2), "\n".join(f"{i}. {text(n)}" for i, n in enumerate(ds.notes, 1))]
    return page(*blocks)


def write(folder: Path) -> list[Path]:
    """Write ``folder/index.md`` and one ``folder/NAME.md`` per registered dataset (and remove the pages
    of datasets no longer registered); returns the paths."""
    pages = {"index.md": index_page(), **{f"{ds.name}.md": dataset_page(ds) for ds in list_datasets()}}
    return write_folder(folder, pages)
