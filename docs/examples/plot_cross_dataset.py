"""
Train on one dataset, test on another
=====================================

The cross-dataset protocol trains one model on every subject of one dataset and tests it on every
subject of another, on the EEG channels both share. ``test=...`` implies it, as ``bench run --test``
does. With ``synthetic=True`` both datasets are their embedded synthetic twins: the numbers test the
harness, they say nothing about DEAP or DREAMER.
"""

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

import bench

workdir = Path(tempfile.mkdtemp())
store = f"sqlite:///{workdir / 'mlflow.db'}"
result = bench.run("majority", dataset="deap", test="dreamer", synthetic=True, tracking_uri=store)
print(result.config.protocol, result.config.dataset, "->", result.config.test_dataset)

# %%
# One row per test subject of the test dataset (and task):
print(result.metrics[["unit", "subject", "task", "acc", "balanced_acc"]])

# %%
print(result.summary().query("metric == 'acc'"))

# %%
acc = result.metrics
fig, ax = plt.subplots(figsize=(5, 3))
for task, g in acc.groupby("task"):
    ax.plot(g["subject"], 100 * g["acc"], marker="o", label=task)
ax.set_xlabel("test subject (synthetic DREAMER)")
ax.set_ylabel("accuracy, %")
ax.set_title("majority baseline trained on synthetic DEAP")
ax.legend()
fig.tight_layout()
