"""
The leakage audit
=================

Splitting one trial's windows between training and test (``split="segment"``) lets a model recognise the
trial rather than the emotion; choosing the epoch on the test fold (``audit="select-on-test"``) leaks
further. ``bench.table("leakage")`` sets the leak-free trial split beside both. Leaky runs are tagged
so and kept off leaderboards. Synthetic data: the sizes of the gaps say nothing about DEAP.
"""

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

import bench

workdir = Path(tempfile.mkdtemp())
store = f"sqlite:///{workdir / 'mlflow.db'}"
quiet = {"echo": lambda line: None, "warn": lambda line: None}
# MC-CNN (small and fast) for 3 epochs, so that choosing the epoch on the test fold has epochs to choose
for options in ({}, {"split": "segment"}, {"split": "segment", "audit": "select-on-test"}):
    bench.run("mccnn", folds=2, epochs=3, subjects="1-2", tracking_uri=store, **options, **quiet)

# %%
leakage = bench.table("leakage", tracking_uri=store)
print(leakage[["model", "split", "audit", "task", "mean", "std", "n", "segment_leak", "total_leak"]])

# %%
print(bench.render_table("leakage", tracking_uri=store, width=140))

# %%
fig, ax = plt.subplots(figsize=(5, 3))
for task, g in leakage.groupby("task"):
    labels = [f"{s}{' + select' if a != 'none' else ''}" for s, a in zip(g["split"], g["audit"], strict=True)]
    ax.plot(labels, 100 * g["mean"], marker="o", label=task)
ax.set_ylabel("test accuracy, % (synthetic data)")
ax.legend()
fig.tight_layout()
