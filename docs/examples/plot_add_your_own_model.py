"""
Add your own model
==================

A model is a ``torch.nn.Module`` class registered with :func:`bench.models.registry.register_model`:
its metadata (paper, input: here DE and PSD of 4 bands on the 8x9 electrode grid, 8 x 8 x 9 values per
sample; tasks) goes into the registry, and from then on ``bench.run`` (and the
tables, the report, ``bench.list_models()``) know it by name. This one is a small MLP on the DE and PSD
feature maps, one head per task. Synthetic data: its numbers test the harness only.
"""

# %%
import math
import tempfile
from pathlib import Path

import torch
from torch import nn

import bench
from bench.data.inputs import InputSpec
from bench.models.registry import register_model, unregister_model


@register_model(
    "tiny-mlp",
    full_name="A two-layer perceptron on the flattened feature maps",
    citation="this example",
    input_spec=InputSpec(layout="grid", features=("de", "psd"), grid="8x9"),
    multitask=True,
    reported={},
    fidelity="approximate",
)
class TinyMLP(nn.Module):
    """``create_model`` passes the tasks and the run's input description (``input_spec``: features,
    bands, grid), from which the model reads its sample shape; ``-M`` options arrive as keywords."""

    def __init__(
        self,
        tasks=("valence", "arousal"),
        input_spec: InputSpec | None = None,
        *,
        hidden: int = 32,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        spec = input_spec or InputSpec(layout="grid", features=("de", "psd"), grid="8x9")
        n_inputs = math.prod(spec.sample_shape())  # 8 x 8 x 9 for DE + PSD of 4 bands on the 8x9 grid
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(n_inputs, hidden), nn.ReLU(), nn.Dropout(dropout))
        self.heads = nn.ModuleDict({t: nn.Linear(hidden, 2) for t in tasks})

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.body(x)
        return {t: head(h) for t, head in self.heads.items()}


print(bench.list_models().query("name == 'tiny-mlp'")[["name", "input", "tasks", "parameters"]])

# %%
workdir = Path(tempfile.mkdtemp())
store = f"sqlite:///{workdir / 'mlflow.db'}"
result = bench.run(
    "tiny-mlp", folds=2, epochs=2, subjects="1-2", model_options={"hidden": 16}, tracking_uri=store
)
print(result.summary().query("metric in ('acc', 'balanced_acc')"))

# %%
# Registrations last for the process; a notebook can take one back:
unregister_model("tiny-mlp")
