"""One decision rule for predicted classes, on hand-made values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.registry import create_model
from bench.trainer import (
    _evaluate_loss,
    classification_metrics,
    confusion,
    predict_proba,
    predicted_class,
)


def test_predicted_class_tie_is_low_for_numpy_and_torch():
    below, above = np.nextafter(0.5, 0.0), np.nextafter(0.5, 1.0)
    p = np.array([below, 0.5, above, 0.0, 1.0])
    assert predicted_class(p).tolist() == [0, 0, 1, 0, 1]
    t = torch.tensor([np.nextafter(np.float32(0.5), np.float32(0)), 0.5, np.nextafter(np.float32(0.5), 1)])
    out = predicted_class(t)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.int64 and out.tolist() == [0, 0, 1]
    # argmax over two equal logits agrees: the first (class 0) wins
    assert (
        torch.zeros(1, 2).argmax(1).item()
        == predicted_class(torch.softmax(torch.zeros(1, 2), 1)[:, 1]).item()
    )


def test_majority_on_a_50_50_split_predicts_low_on_validation_and_test_alike():
    model = create_model("majority")
    model.fit_labels(
        {"valence": torch.tensor([0] * 16 + [1] * 16), "arousal": torch.tensor([0] * 16 + [1] * 16)}
    )
    y_col = np.array([0] * 10 + [1] * 6)
    y = torch.from_numpy(np.stack([y_col, y_col[::-1].copy()], axis=1)).long()
    x = torch.zeros(len(y_col), 3)
    tasks = ("valence", "arousal")
    cpu = torch.device("cpu")
    val = _evaluate_loss(model, x, y, tasks, {t: 1.0 for t in tasks}, dict.fromkeys(tasks), 4, cpu, "fp32")
    probs = predict_proba(model, x, batch_size=4, device=cpu)
    for i, t in enumerate(tasks):
        assert (predicted_class(probs[t]) == 0).all()
        test = classification_metrics(y[:, i].numpy(), probs[t])
        assert val[f"acc_{t}"] == pytest.approx(0.625) and test["acc"] == pytest.approx(0.625)
        assert confusion(y[:, i].numpy(), probs[t]).tolist() == [[10, 0], [6, 0]]
