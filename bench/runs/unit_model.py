"""A unit's trained model as an MLflow artifact (``--log-model``): saved by the unit's child run, reloaded
offline with torch alone.

Its own module because reloading needs none of the tracking: :func:`load_unit_model` reads a downloaded
artifact folder, :func:`log_unit_model` is called by :func:`bench.runs.unit_tracking.track_units`.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import torch

from bench.models.registry import create_model
from bench.runs.plan import Prepared, Unit
from bench.runs.unit import UnitResult
from bench.tracking.artifacts import log_artifacts
from bench.training.trainer import Standardiser

MODEL_FILE, MODEL_INFO, STANDARDISER_FILE = "model.pt", "model.json", "standardiser.pt"
"""The files of a unit model artifact (``--log-model``): state_dict, how to rebuild it, input scaling."""


def log_unit_model(cl, run_id: str, p: Prepared, unit: Unit, res: UnitResult) -> None:
    """Each trained model of a unit as an artifact folder (``model``; whole-set-finetune adds one per
    subject, ``model_sNN``): its ``state_dict`` (``model.pt``), what :func:`load_unit_model` needs to
    rebuild it (``model.json``) and the training part's input standardisation (``standardiser.pt``).

    A plain ``state_dict`` loads with torch alone, offline (MT-CNN: 4.9 MB, ~0.04 s per unit);
    ``mlflow.pytorch.log_model`` refuses dict outputs in its pt2 format and takes ~10 s in pickle format.
    """
    cfg = p.config
    for folder, (model, std) in res.models.items():
        info = {
            "model": cfg.model,
            "tasks": list(unit.tasks),
            "features": list(cfg.features) if cfg.features is not None else None,
            "options": p.hparams,
            "n_channels": p.inputs.spec.n_channels,
            "input_shape": [int(v) for v in p.inputs.x.shape[1:]],
            "input_dtype": str(p.inputs.x.dtype),
            "n_parameters": int(sum(t.numel() for t in model.parameters())),
            "standardise": cfg.train.standardise,
            # the method it was trained with (bench run --method): DANN saves its inner model, which
            # predicts alone; an input method's model expects inputs transformed by it
            **({"method": cfg.method} if cfg.method != "none" else {}),
            "unit": unit.key,
            "run_key": p.run_key,
            "data_fingerprint": p.features.fingerprint,
        }
        with tempfile.TemporaryDirectory() as tmp:
            d = Path(tmp)
            torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, d / MODEL_FILE)
            if std is not None:
                torch.save({"mean": std.mean, "std": std.std}, d / STANDARDISER_FILE)
            (d / MODEL_INFO).write_text(json.dumps(info, indent=2, default=str))
            log_artifacts(cl, run_id, d, artifact_path=folder)


def load_unit_model(folder: str | Path) -> tuple[torch.nn.Module, Standardiser | None]:
    """A model saved by :func:`log_unit_model` (a downloaded artifact folder), ready to predict, and the
    standardisation its inputs need (None if it was trained on raw inputs)."""
    folder = Path(folder)
    info = json.loads((folder / MODEL_INFO).read_text())
    model = create_model(info["model"], tasks=info["tasks"], features=info["features"],
                         n_channels=info.get("n_channels"), **info["options"])  # fmt: skip
    model.load_state_dict(torch.load(folder / MODEL_FILE, map_location="cpu", weights_only=True))
    model.eval()
    std = None
    if (folder / STANDARDISER_FILE).is_file():
        s = torch.load(folder / STANDARDISER_FILE, map_location="cpu", weights_only=True)
        std = Standardiser(s["mean"], s["std"])
    return model, std
