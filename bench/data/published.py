"""A run's features read from its dataset's published feature files (``-F published=NAME``).

The SEED family and FACED ship the authors' own extracted features beside the EEG (SEED's
``ExtractedFeatures/`` de_LDS / de_movingAve, ...). With :attr:`FeatureConfig.published
<bench.data.features.FeatureConfig.published>` set, a run's :class:`~bench.data.featureset.FeatureSet`
comes from those files instead of the computed features: the same layout (subjects x trials x windows x
kinds x bands x channels), each trial's real windows and session, the labels as the EEG reader gives
them (the files' own labels must equal them: a one-line DataError naming the file otherwise).

What each dataset publishes is registered with it (``Dataset.published_features``,
:class:`~bench.data.datasets.published.PublishedSource`). The files are read through the feature cache,
like computed features: an entry per subject keyed by the feature files' content digests and the
config (which names the source), verified on every load. Reading them is cheap next to computing
features, but not free (SEED's .mat files hold 12 feature variables per clip, of which 2 are read), and
the cache is how pool and cluster workers get a run's features (:func:`bench.data.cache.load_cached`
needs only the digests), so published features go the same way. A bad file is the reader's one-line
DataError and, as for any subject, nothing is cached from it.

Options: the published files fix the bands, windows and smoothing, so a run that sets another feature
option with ``published`` is refused in one line (:func:`feature_options`); the config then holds the
dataset's recipe with the source's window length, so what it says describes the files.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from bench.core.checks import check_option
from bench.core.errors import ConfigError, DataError
from bench.data.contents import Contents
from bench.data.datasets import Dataset, get_dataset
from bench.data.datasets.published import PublishedSource
from bench.data.features import FeatureConfig
from bench.data.source import DataSource

KEY = "published"
"""The feature option's name (``-F published=lds``)."""


def published_of(dataset: str | Dataset, name: str) -> PublishedSource:
    """The published set ``name`` of ``dataset``; an unknown one (or any, for a dataset that publishes
    none) is a one-line ConfigError naming the dataset and the names it offers."""
    ds = get_dataset(dataset) if isinstance(dataset, str) else dataset
    offered = tuple(ds.published_features)
    if not offered:
        raise ConfigError(
            f"features.published={name!r}: {ds.title} publishes no feature files this harness reads; "
            "allowed: none (its features are computed from the EEG)"
        )
    return ds.published_features[check_option(f"features.published ({ds.title})", name, offered)]


def feature_options(dataset: str, given: dict) -> dict:
    """The feature options of a run on ``dataset`` that sets ``given``: the dataset's recipe under them,
    or, with ``published``, the recipe with the source's window length and the name, after refusing in
    one line every other option that would change features (the published ones are fixed)."""
    ds = get_dataset(dataset)
    name = given.get(KEY)
    if name is None:
        return {**ds.feature_defaults, **given}
    source = published_of(ds, name)
    options = {**ds.feature_defaults, "window_s": source.window_s, KEY: name}
    base = FeatureConfig.from_dict(options).to_dict()
    clash = sorted(
        k for k, v in given.items() if FeatureConfig.from_dict({**options, k: v}).to_dict() != base
    )
    if clash:
        raise ConfigError(
            f"feature option(s) {', '.join(clash)} do not apply with published={name!r}: {source.title} "
            "fixes the bands, windows and smoothing; drop them"
        )
    return options


def check_kinds(dataset: str, config: FeatureConfig, kinds: Iterable[str]) -> None:
    """A model input reading a kind the published source lacks is refused in one line, naming the kinds
    it holds (``--features`` picks among them). No-op without ``published``."""
    if config.published is None:
        return
    source = published_of(dataset, config.published)
    lacking = [k for k in kinds if k not in source.kinds]
    if lacking:
        raise ConfigError(
            f"the model's input reads {', '.join(lacking)}, which {source.title} does not hold; it holds "
            f"{', '.join(source.kinds)} (pick with --features {','.join(source.kinds)})"
        )


def published_source(source: DataSource, config: FeatureConfig) -> DataSource:
    """The published feature files of the copy ``source`` names (its subjects), as a data source whose
    subject files are those files: their digests key the cache entries."""
    pub = published_of(source.dataset, config.published)
    found = pub.find(Path(source.root), source.subjects)
    return DataSource(
        root=Path(source.root),
        files={s: f[0] for s, f in found.items()},
        synthetic=source.synthetic,
        description=f"{pub.title} of {source.description}",
        dataset=source.dataset,
        members={s: f for s, f in found.items() if len(f) > 1},
    )


def published_arrays(
    files: tuple[Path, ...],
    subject: int,
    config: FeatureConfig,
    dataset: str,
    contents: Contents | None = None,
) -> tuple[dict[str, np.ndarray], float]:
    """One subject's cache-entry arrays read from its published files (as
    :func:`bench.data.compute.compute_arrays` returns computed ones)."""
    contents = contents or Contents()
    pub = published_of(dataset, config.published)
    if contents.peripheral or contents.signal_band is not None:
        raise ConfigError(f"{pub.title} holds brain-map features only (no peripheral features, no signal)")
    check_kinds(dataset, config, contents.kinds)
    t0 = time.perf_counter()
    got = pub.read(tuple(Path(p) for p in files), subject)
    index = [pub.kinds.index(k) for k in contents.kinds]
    arrays = got.arrays()
    if index != list(range(len(pub.kinds))):
        arrays["features"] = np.ascontiguousarray(arrays["features"][:, :, index])
    n_ch, n_bands = len(get_dataset(dataset).channels), len(pub.bands)
    if arrays["features"].shape[3:] != (n_bands, n_ch):
        raise DataError(f"{files[0]}: features of shape {arrays['features'].shape}, expected {n_bands} bands "
                        f"x {n_ch} channels")  # fmt: skip
    return arrays, time.perf_counter() - t0


def published_tags(features, prefix: str = "bench.") -> dict[str, str]:
    """A run's tag naming the published features it read (``{prefix}features_source``: ``published
    features: SEED ExtractedFeatures de/psd LDS (1 s windows; smoothing: ...)``); none for computed
    features (or a cross-dataset pair, which computes its features), so their tags stay as they were."""
    config = getattr(features, "config", None)
    if config is None or config.published is None:
        return {}
    pub = published_of(features.dataset, config.published)
    words = f"published features: {pub.title} ({pub.window_s:g} s windows; smoothing: {pub.smoothing})"
    return {f"{prefix}features_source": words}
