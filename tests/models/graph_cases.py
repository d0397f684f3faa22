"""What the graph models' tests share: three headsets' inputs and a planted-effect training check."""

from __future__ import annotations

import torch

from bench.data.categorical.seed_common import CHANNELS as SEED_CHANNELS
from bench.data.datasets import get_dataset
from bench.models.registry import create_model
from bench.training.step import make_optimizer, train_step

HEADSETS: dict[str, tuple[tuple[str, ...], int, str, int]] = {
    "deap": (tuple(get_dataset("deap").channels), 4, "valence", 2),
    "dreamer": (tuple(get_dataset("dreamer").channels), 4, "arousal", 2),
    "seed": (tuple(SEED_CHANNELS), 5, "valence3", 3),
}
"""headset -> (channel names, bands, a task of the dataset, its classes)."""


def planted_effect_accuracy(name: str, steps: int = 30, **options) -> float:
    """Training accuracy of ``name`` after ``steps`` full-batch Adam steps (lr 1e-2, no dropout) on 400
    DREAMER-shaped samples (14 channels x 4 bands, standard normal) whose label is whether channel 5's
    band 2 exceeds 0: one node's feature decides, everything else is noise (chance 50 %)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(400, 1, 14, 4, generator=g)
    y = (x[:, 0, 5, 2] > 0).long()[:, None]
    torch.manual_seed(0)
    channels = HEADSETS["dreamer"][0]
    model = create_model(name, tasks=("valence",), channels=channels, dropout=0.0, **options)
    opt = make_optimizer(model.parameters(), lr=1e-2)
    model.train()
    kw = dict(tasks=("valence",), weights={"valence": 1.0}, cw={"valence": None},
              device=torch.device("cpu"), precision="fp32")  # fmt: skip
    for _ in range(steps):
        train_step(model, opt, x, y, **kw)
    model.eval()
    with torch.no_grad():
        pred = model(x)["valence"].argmax(1)
    return float((pred == y[:, 0]).float().mean())
