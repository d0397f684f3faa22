"""
Compare two models with the paired test
=======================================

Two runs on the same data and the same folds (same seed, same fold count) can be compared fold by fold:
``bench.table("comparison")`` runs the corrected resampled t-test of each model against MT-CNN
(Holm-corrected within a protocol/split) and gives its p value in the ``p`` column, beside the chance
reference of the trivial baselines. Synthetic data here: the numbers test the harness, not DEAP.
"""

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

import bench

workdir = Path(tempfile.mkdtemp())
store = f"sqlite:///{workdir / 'mlflow.db'}"
quiet = {"echo": lambda line: None}
for model in ("mtcnn", "majority"):
    bench.run(model, folds=3, epochs=1, subjects="1-2", tracking_uri=store, **quiet)

# %%
# One row per cell (model x protocol/split x task); ``p`` is the paired test against MT-CNN,
# ``chance`` marks the trivial baseline, ``reported`` is the paper's number as reported, never ours.
table = bench.table("comparison", tracking_uri=store)
ran = table[table["status"] == "ok"]
print(ran[["model", "task", "mean", "std", "n", "p", "test", "chance", "reported_percent"]])

# %%
# The text ``bench table comparison`` prints, notes included:
print(bench.render_table("comparison", tracking_uri=store, width=140))

# %%
fig, ax = plt.subplots(figsize=(5, 3))
for task, g in ran.groupby("task"):
    ax.errorbar([m + f"\n{task}" for m in g["model"]], 100 * g["mean"], yerr=100 * g["std"], fmt="o")
ax.set_ylabel("test accuracy, % (synthetic data)")
ax.tick_params(axis="x", labelsize=7)
fig.tight_layout()
