"""
Run a model and read its metrics
================================

:func:`bench.run` is ``bench run`` from Python: the same options, the same run key, the same MLflow
tracking. Without data options it reads the embedded synthetic DEAP twin (small, labelled synthetic:
its numbers test the harness and say nothing about DEAP) and caps training at the quick default.
The MLflow store goes to a temporary folder here.
"""

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

import bench

workdir = Path(tempfile.mkdtemp())
store = f"sqlite:///{workdir / 'mlflow.db'}"  # its artifacts go beside it, in workdir/mlruns
result = bench.run("mtcnn", folds=2, epochs=1, subjects="1-2", tracking_uri=store)
print(result.parent_run_id, result.run_key)

# %%
# One row per unit (here a fold) and task, with every test metric the unit logged (fractions 0-1):
print(result.metrics[["unit", "fold", "task", "acc", "trial_acc", "balanced_acc", "f1_macro", "auc"]])

# %%
# Mean and standard deviation per task and metric, as ``bench run`` prints them under its table:
summary = result.summary()
print(summary)

# %%
# The same numbers as a picture: accuracy per task, mean ± std over the folds.
acc = summary[summary["metric"] == "acc"]
fig, ax = plt.subplots(figsize=(4, 3))
ax.bar(acc["task"], 100 * acc["mean"], yerr=100 * acc["std"], capsize=4)
ax.axhline(50, color="grey", linestyle="--", linewidth=1)
ax.set_ylabel("test accuracy, % (synthetic data)")
ax.set_title("MT-CNN, whole-set, 2 folds, 2 subjects")
fig.tight_layout()

# %%
# Calling again with the same options finds the finished run by its key and trains nothing:
again = bench.run("mtcnn", folds=2, epochs=1, subjects="1-2", tracking_uri=store)
assert again.parent_run_id == result.parent_run_id
print(again.metrics["reused"].all())
