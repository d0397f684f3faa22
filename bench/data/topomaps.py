"""Scalp pictures of the average brain maps, so a user can see what the models see."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.core.plots import SAVE_METADATA, plot_format
from bench.data.channels import EEG_CHANNELS, SFREQ, template_montage
from bench.data.inputs import BASE_KINDS, TASKS
from bench.data.source import kind_words


def eeg_info(channels: tuple[str, ...] = EEG_CHANNELS):
    """An MNE Info of a headset's EEG channels with positions: MNE's 'biosemi32' montage for DEAP's 32,
    MNE's 10-20 template for any other set."""
    import mne

    info = mne.create_info(list(channels), SFREQ, ch_types="eeg")
    if tuple(channels) == EEG_CHANNELS:
        info.set_montage(mne.channels.make_standard_montage("biosemi32"))
    else:
        info.set_montage(template_montage(), match_case=False)
    return info


def class_means(
    features: np.ndarray,
    ratings: np.ndarray,
    threshold: float = 5.0,
    real: np.ndarray | None = None,
    kinds: tuple[str, ...] = BASE_KINDS,
) -> dict:
    """Mean feature map per (kind, task, class) over all windows of high / low trials.

    ``features`` (S, T, W, K, B, C) with the feature ``kinds`` on axis 3 (a FeatureSet's ``kinds``),
    ``ratings`` (S, T, >=2), ``real`` (S, T): the trials that are not padding (a FeatureSet's
    ``trial_mask``; default all). Returns ``{(kind, task, "high"|"low"): (B, C)}``; a class without
    trials maps to NaN.
    """
    if np.shape(features)[3] != len(kinds):
        raise ValueError(f"features have {np.shape(features)[3]} kinds on axis 3, kinds names {len(kinds)}")
    per_trial = np.asarray(features, dtype=np.float64).mean(axis=2)  # (S, T, K, B, C)
    real = np.ones(per_trial.shape[:2], dtype=bool) if real is None else np.asarray(real, dtype=bool)
    out = {}
    for t, task in enumerate(TASKS):
        high = ratings[..., t] > threshold
        for k, kind in enumerate(kinds):
            for cls, mask in (("high", high & real), ("low", ~high & real)):
                sel = per_trial[mask][:, k]
                out[(kind, task, cls)] = (
                    sel.mean(axis=0) if len(sel) else np.full(per_trial.shape[-2:], np.nan)
                )
    return out


def class_counts(ratings: np.ndarray, threshold: float = 5.0) -> dict[tuple[str, str], int]:
    """Trials per (task, "high"|"low") over all subjects (high: rating above ``threshold``; padding
    trials, whose ratings are NaN, count in neither)."""
    out = {}
    for t, task in enumerate(TASKS):
        r = np.asarray(ratings)[..., t]
        high = int((r > threshold).sum())
        out[(task, "high")], out[(task, "low")] = high, int(np.isfinite(r).sum()) - high
    return out


def differences(means: dict) -> dict[tuple[str, str], np.ndarray]:
    """High minus low mean map per (kind, task) of :func:`class_means`' kinds: where the two classes
    differ (NaN if one is empty)."""
    return {
        (kind, task): means[(kind, task, "high")] - means[(kind, task, "low")]
        for kind in dict.fromkeys(k for k, _, _ in means)
        for task in TASKS
    }


def _limits(maps: list[np.ndarray]) -> tuple[float, float]:
    """(min, max) over the finite values of ``maps``; (0, 1) when there are none (an empty class)."""
    values = np.concatenate([np.ravel(m) for m in maps])
    values = values[np.isfinite(values)]
    if not values.size:
        return 0.0, 1.0
    lo, hi = float(values.min()), float(values.max())
    return (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)  # a flat map still gets a scale


def plot_average_maps(fs, out: str | Path, threshold: float = 5.0) -> Path:
    """Write the average brain maps as scalp pictures (format from ``out``'s suffix).

    Rows: the set's feature kinds (DE, PSD, ...) x bands. Columns: the mean map of high and low valence
    and arousal trials, on one colour scale per row (feature and band, colour bar beside them), then the
    high-minus-low maps of valence and arousal on a diverging scale centred at 0 (colour bar beside
    them), so a difference between the classes shows as colour rather than as two near-identical
    pictures.
    """
    fmt = plot_format("--out", out)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mne

    info = eeg_info(tuple(fs.channels))
    means = class_means(fs.features, fs.ratings, threshold, fs.trial_mask, fs.kinds)
    diffs = differences(means)
    counts = class_counts(fs.ratings, threshold)
    classes = [(t, c) for t in TASKS for c in ("high", "low")]
    bands = fs.config.band_names
    rows = [(k, b) for k in fs.kinds for b in range(len(bands))]
    # columns: class maps | colour bar | gap | difference maps | colour bar
    ratios = [1.0] * len(classes) + [0.07, 0.45] + [1.0] * len(TASKS) + [0.07]
    fig, axes = plt.subplots(
        len(rows), len(ratios), figsize=(sum(ratios) * 1.6 + 1.0, 1.6 * len(rows) + 0.9),
        gridspec_kw={"width_ratios": ratios}, squeeze=False,
    )  # fmt: skip
    bar_means, gap, diff0 = len(classes), len(classes) + 1, len(classes) + 2
    bar_diffs = len(ratios) - 1
    for r, (kind, b) in enumerate(rows):
        axes[r, gap].set_axis_off()
        vlim = _limits([means[(kind, t, c)][b] for t, c in classes])
        for col, (task, cls) in enumerate(classes):
            im, _ = mne.viz.plot_topomap(
                means[(kind, task, cls)][b], info, axes=axes[r, col], show=False, vlim=vlim,
                cmap="viridis", contours=0, sensors=True,
            )  # fmt: skip
            if r == 0:
                axes[r, col].set_title(f"{task} {cls}\n({counts[(task, cls)]} trials)", fontsize=10)
        fig.colorbar(im, cax=axes[r, bar_means])
        lim = max(np.abs(_limits([diffs[(kind, t)][b] for t in TASKS])))
        for j, task in enumerate(TASKS):
            im, _ = mne.viz.plot_topomap(
                diffs[(kind, task)][b], info, axes=axes[r, diff0 + j], show=False, vlim=(-lim, lim),
                cmap="RdBu_r", contours=0, sensors=True,
            )  # fmt: skip
            if r == 0:
                axes[r, diff0 + j].set_title(f"{task}\nhigh − low", fontsize=10)
        fig.colorbar(im, cax=axes[r, bar_diffs])
        axes[r, 0].text(-0.08, 0.5, f"{kind.upper()}\n{bands[b]}", transform=axes[r, 0].transAxes,
                        ha="right", va="center", fontsize=11)  # fmt: skip
    label = "SYNTHETIC data" if fs.kind == "synthetic" else kind_words(fs.kind)  # DEAP's as before
    fig.suptitle(
        f"Average brain maps ({label}, {len(fs.subjects)} subjects, data {fs.fingerprint}); "
        f"high = rating > {threshold:g}\n"
        "one colour scale per row (feature and band); differences centred at 0",
        fontsize=11,
        y=1 - 0.1 / fig.get_figheight(),
    )
    # fixed margins: tight_layout would count the row labels beside the first column and shrink every map
    top = 1 - 0.95 / fig.get_figheight()
    fig.subplots_adjust(left=0.08, right=0.95, bottom=0.01, top=top, wspace=0.08, hspace=0.12)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        fig.savefig(tmp, format=fmt, dpi=90, metadata=SAVE_METADATA.get(fmt))
        tmp.replace(out)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)
    return out
