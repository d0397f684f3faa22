"""One decision rule for predicted classes, and trial-level (soft-vote) metrics, on hand-made values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.core.metrics import classification_metrics, confusion, predicted_class, trial_metrics
from bench.models.registry import create_model
from bench.training.trainer import _evaluate_loss, predict_proba


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


def _hand_made() -> tuple[np.ndarray, ...]:
    """3 trials x 4 windows, interleaved; subject 2 reuses trial number 1 of subject 1.

    trial (1,1) label high, p 0.9 0.9 0.3 0.3: 2/4 windows right, mean 0.6 -> high (right)
    trial (1,2) label low,  p 0.75 0.25 0.25 0.75: 2/4 windows right, mean exactly 0.5 -> low (right)
    trial (2,1) label high, p 0.6 0.1 0.2 0.3: 1/4 windows right, mean 0.3 -> low (wrong)
    """
    rows = [
        (1, 1, 1, 0.9), (1, 2, 0, 0.75), (2, 1, 1, 0.6), (1, 1, 1, 0.9), (1, 2, 0, 0.25), (2, 1, 1, 0.1),
        (1, 1, 1, 0.3), (1, 2, 0, 0.25), (2, 1, 1, 0.2), (1, 1, 1, 0.3), (1, 2, 0, 0.75), (2, 1, 1, 0.3),
    ]  # fmt: skip
    s, tr, y, p = (np.array(c) for c in zip(*rows, strict=True))
    return s, tr, y.astype(np.int64), p.astype(np.float32)


def test_trial_metrics_soft_vote_by_hand():
    s, tr, y, p = _hand_made()
    window = classification_metrics(y, p)
    assert window["acc"] == pytest.approx(5 / 12)
    assert window["balanced_acc"] == pytest.approx((3 / 8 + 2 / 4) / 2)
    trial = trial_metrics(s, tr, y, p)
    # trials right: (1,1) and (1,2) (the tie is low), wrong: (2,1); high recall 1/2, low recall 1/1
    assert trial == pytest.approx({"trial_acc": 2 / 3, "trial_balanced_acc": (1 / 2 + 1) / 2})


def test_trial_metrics_rejects_mixed_labels_within_a_trial():
    s, tr, y, p = _hand_made()
    y = y.copy()
    y[0] = 0
    with pytest.raises(ValueError, match="different labels"):
        trial_metrics(s, tr, y, p)


def test_balanced_accuracy_is_sklearns_without_its_warnings():
    import warnings

    from sklearn.metrics import balanced_accuracy_score

    from bench.core.metrics import balanced_accuracy

    cases = [([0, 0, 1, 1, 1], [0, 1, 1, 1, 0]), ([1, 1, 1], [1, 0, 1]), ([0, 0], [1, 1]), ([1, 0], [1, 0])]
    for y_true, y_pred in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = balanced_accuracy_score(y_true, y_pred)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a one-class test part must not warn
            assert balanced_accuracy(np.array(y_true), np.array(y_pred)) == pytest.approx(want)
    assert balanced_accuracy(np.array([0, 0, 1, 1, 1]), np.array([0, 1, 1, 1, 0])) == pytest.approx(
        (1 / 2 + 2 / 3) / 2
    )  # recall of class 0 is 1/2, of class 1 is 2/3
