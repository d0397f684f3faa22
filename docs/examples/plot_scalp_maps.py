"""
Brain maps of the embedded synthetic DEAP
=========================================

The brain-map models (MT-CNN, 4D-CRNN, ...) see each 0.5 s window of EEG as maps: differential entropy
(DE) and power spectral density (PSD) per frequency band, one value per electrode, placed on a 2-D grid
that keeps the electrodes' neighbourhoods. This example computes those features for the embedded
synthetic default (4 subjects x 40 trials in DEAP's file format, with planted effects) with the
harness's own feature code, and draws them twice: on the grid the models read, and as scalp maps.

The data are synthetic: the pictures show the effects the generator planted, not anything about DEAP.
"""

# %%
# The features
# ------------
# :func:`bench.data.synthetic_source` writes the embedded twin (here into a temporary folder, so the
# example leaves nothing behind) and :func:`bench.data.prepare_features` computes DE and PSD per window,
# band and channel: an array of shape (subjects, trials, windows, kinds, bands, channels).

import tempfile

import matplotlib.pyplot as plt
import mne
import numpy as np

from bench.data import prepare_features, synthetic_source, to_grid
from bench.data.channels import grid_positions
from bench.data.datasets import get_dataset
from bench.data.topomaps import class_means, differences, eeg_info, plot_average_maps

workdir = tempfile.TemporaryDirectory()
source = synthetic_source(cache_dir=workdir.name)
features = prepare_features(source, cache_dir=workdir.name, workers=1)
bands = features.config.band_names
print(source.description)
print("features", features.features.shape, "kinds", features.kinds, "bands", bands)

# %%
# The 2-D grid the models read
# ----------------------------
# :func:`bench.data.to_grid` places each channel's value in its cell of the 8 x 9 grid (cells without an
# electrode hold 0). Averaged over every window of every trial, each feature kind and band is one map.

mean_maps = features.features.mean(axis=(0, 1, 2))  # (kinds, bands, channels)
grids = to_grid(mean_maps, "8x9", features.channels)  # (kinds, bands, 8, 9)
cells = grid_positions("8x9", features.channels)

fig, axes = plt.subplots(
    len(features.kinds), len(bands), figsize=(2.6 * len(bands), 2.4 * len(features.kinds))
)
for k, kind in enumerate(features.kinds):
    for b, band in enumerate(bands):
        ax = axes[k, b]
        empty = np.ones(grids.shape[-2:], dtype=bool)
        for row, col in cells.values():
            empty[row, col] = False
        ax.imshow(np.ma.masked_array(grids[k, b], empty), cmap="viridis")
        for name, (row, col) in cells.items():
            ax.text(col, row, name, ha="center", va="center", fontsize=5, color="white")
        ax.set_title(f"{kind.upper()} {band}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
fig.suptitle("Mean feature per electrode on the 8 x 9 grid (synthetic data)")
fig.tight_layout()

# %%
# Where high and low ratings differ, on the scalp
# -----------------------------------------------
# :func:`bench.data.topomaps.class_means` averages the maps of the trials rated high and low (above the
# dataset's threshold, 5 on DEAP's 1-9 scale); :func:`~bench.data.topomaps.differences` subtracts them.
# On the electrode positions of DEAP's 32-channel cap (:func:`~bench.data.topomaps.eeg_info`), the DE
# difference per band shows where the generator planted its valence and arousal effects.

threshold = get_dataset(features.dataset).threshold
means = class_means(features.features, features.ratings, threshold, features.trial_mask, features.kinds)
diffs = differences(means)
info = eeg_info(tuple(features.channels))

fig, axes = plt.subplots(2, len(bands), figsize=(2.4 * len(bands), 5.0))
for t, task in enumerate(("valence", "arousal")):
    limit = float(np.nanmax(np.abs(diffs[("de", task)])))
    for b, band in enumerate(bands):
        mne.viz.plot_topomap(
            diffs[("de", task)][b],
            info,
            axes=axes[t, b],
            show=False,
            vlim=(-limit, limit),
            cmap="RdBu_r",
            contours=0,
        )
        axes[t, b].set_title(f"{task} {band}", fontsize=9)
fig.suptitle("DE, high minus low rating (synthetic data)")

# %%
# The whole picture, as ``bench data show`` draws it
# --------------------------------------------------
# :func:`bench.data.topomaps.plot_average_maps` writes every kind and band, high and low, with their
# differences, into one file: the picture ``bench data show --synthetic`` writes.

path = plot_average_maps(features, f"{workdir.name}/brain_maps.png", threshold=threshold)
image = plt.imread(path)
fig, ax = plt.subplots(figsize=(image.shape[1] / 100, image.shape[0] / 100))
ax.imshow(image)
ax.set_axis_off()
fig.tight_layout()
workdir.cleanup()
