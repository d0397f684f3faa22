"""Scalp pictures of the average brain maps, so a user can see what the models see."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.data.channels import EEG_CHANNELS, SFREQ
from bench.data.inputs import FEATURE_KINDS, TASKS


def eeg_info():
    """An MNE Info of DEAP's 32 EEG channels with 10-20 positions (MNE's 'biosemi32' montage)."""
    import mne

    info = mne.create_info(list(EEG_CHANNELS), SFREQ, ch_types="eeg")
    info.set_montage(mne.channels.make_standard_montage("biosemi32"))
    return info


def class_means(features: np.ndarray, ratings: np.ndarray, threshold: float = 5.0) -> dict:
    """Mean feature map per (kind, task, class) over all windows of high / low trials.

    ``features`` (S, T, W, 2, B, 32), ``ratings`` (S, T, >=2). Returns
    ``{(kind, task, "high"|"low"): (B, 32)}``; a class without trials maps to NaN.
    """
    per_trial = np.asarray(features, dtype=np.float64).mean(axis=2)  # (S, T, 2, B, 32)
    out = {}
    for t, task in enumerate(TASKS):
        high = ratings[..., t] > threshold
        for k, kind in enumerate(FEATURE_KINDS):
            for cls, mask in (("high", high), ("low", ~high)):
                sel = per_trial[mask][:, k]
                out[(kind, task, cls)] = (
                    sel.mean(axis=0) if len(sel) else np.full(per_trial.shape[-2:], np.nan)
                )
    return out


def plot_average_maps(fs, out: str | Path, threshold: float = 5.0) -> Path:
    """Write a PNG: rows = (DE, PSD) x (valence, arousal) x (high, low), columns = bands."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mne

    info = eeg_info()
    means = class_means(fs.features, fs.ratings, threshold)
    rows = [(k, t, c) for k in FEATURE_KINDS for t in TASKS for c in ("high", "low")]
    bands = fs.config.band_names
    fig, axes = plt.subplots(len(rows), len(bands), figsize=(2.0 * len(bands) + 1.2, 1.9 * len(rows)))
    for r, (kind, task, cls) in enumerate(rows):
        pair = np.stack([means[(kind, task, "high")], means[(kind, task, "low")]])
        lim = float(np.nanmax(np.abs(pair))) or 1.0
        for b, band in enumerate(bands):
            ax = axes[r, b]
            mne.viz.plot_topomap(
                means[(kind, task, cls)][b], info, axes=ax, show=False, vlim=(-lim, lim), cmap="RdBu_r",
                contours=0, sensors=True,
            )  # fmt: skip
            if r == 0:
                ax.set_title(band)
        axes[r, 0].text(-0.35, 0.5, f"{kind.upper()}\n{task} {cls}", transform=axes[r, 0].transAxes,
                        ha="right", va="center", fontsize=9)  # fmt: skip
    label = "SYNTHETIC data" if fs.synthetic else "DEAP"
    fig.suptitle(
        f"Average brain maps ({label}, {len(fs.subjects)} subjects, data {fs.fingerprint}); "
        f"high = rating > {threshold:g}",
        fontsize=10,
    )
    fig.tight_layout(rect=(0.06, 0, 1, 0.97))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    tmp.replace(out)
    return out
