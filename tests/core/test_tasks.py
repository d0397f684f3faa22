"""The task registry and the k-class metrics: hand-computed values, the binary rule unchanged."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score, roc_auc_score

from bench.core.errors import ConfigError
from bench.core.metrics import (
    balanced_accuracy,
    class_scores,
    classification_metrics,
    confusion,
    predicted_class,
    trial_metrics,
)
from bench.core.tasks import TASKS, Task, check_tasks, get_task, n_classes, register_task, task_names
from bench.training.step import class_weights, task_class_weights, task_weights


def test_builtin_tasks_their_classes_and_chance():
    assert task_names()[:2] == ("valence", "arousal")  # the canonical order every tracked run used
    assert {t: n_classes(t) for t in task_names()} == {
        "valence": 2, "arousal": 2, "valence3": 3, "emotion4": 4, "emotion5": 5, "emotion9": 9,
    }  # fmt: skip
    assert get_task("valence3").classes == ("negative", "neutral", "positive")
    assert get_task("emotion5").classes[3] == "neutral"  # SEED-V's label 3
    assert get_task("valence3").chance == pytest.approx(1 / 3)
    assert get_task("emotion9").source == "category" and get_task("arousal").source == "rating"


def test_check_tasks_orders_canonically_and_refuses_in_one_line():
    assert check_tasks(("arousal", "valence")) == ("valence", "arousal")
    assert check_tasks("emotion4") == ("emotion4",)
    with pytest.raises(ConfigError, match=r"tasks='joy' is not allowed; allowed: valence, arousal$"):
        check_tasks(("joy",), ("valence", "arousal"))
    with pytest.raises(ConfigError, match="did you mean 'emotion4'"):
        check_tasks(("emotions4",))
    with pytest.raises(ConfigError, match="named twice"):
        check_tasks(("valence", "valence"))
    with pytest.raises(ConfigError, match="non-empty"):
        check_tasks(())
    with pytest.raises(ConfigError, match="unknown task 'mood'"):
        get_task("mood")


def test_a_task_is_validated_and_registered_once():
    with pytest.raises(ValueError, match="2 or more distinct"):
        Task("x", ("a",), "category")
    with pytest.raises(ValueError, match="exactly 2 classes"):
        Task("x", ("a", "b", "c"), "rating")
    with pytest.raises(ValueError, match="source"):
        Task("x", ("a", "b"), "survey")
    with pytest.raises(ValueError, match="already registered"):
        register_task(Task("valence", ("a", "b"), "category"))
    mine = register_task(Task("dominance", ("low", "high"), "rating"))
    try:
        assert check_tasks(("dominance", "valence")) == ("valence", "dominance")
    finally:
        TASKS.unregister(mine.name)


def test_predicted_class_binary_rule_and_k_class_argmax():
    assert predicted_class(np.array([0.5, 0.5000001, 0.2])).tolist() == [0, 1, 0]  # a tie is "low"
    p = np.array([[0.2, 0.4, 0.4], [0.5, 0.3, 0.2], [0.1, 0.1, 0.8]])
    assert predicted_class(p).tolist() == [1, 0, 2]  # a tie goes to the lowest class
    assert predicted_class(torch.tensor(p)).tolist() == [1, 0, 2]
    logits = torch.tensor([[0.0, 1.0, 2.0], [3.0, 0.0, 0.0]])
    assert class_scores(logits).shape == (2, 3)
    assert class_scores(logits[:, :2]).shape == (2,)  # binary: p(class 1), as always
    torch.testing.assert_close(class_scores(logits[:, :2]), torch.softmax(logits[:, :2], 1)[:, 1])


def test_three_class_metrics_by_hand():
    """Six windows, classes 0, 0, 1, 1, 2, 2; predictions 0, 1, 1, 1, 2, 0.

    Accuracy 4/6. Recalls 1/2, 2/2, 1/2: balanced accuracy 2/3. Per-class F1: class 0 (precision 1/2,
    recall 1/2) 1/2, class 1 (2/3, 1) 4/5, class 2 (1, 1/2) 2/3: macro-F1 (1/2 + 4/5 + 2/3) / 3 = 59/90.
    One-vs-rest AUC per class from the probability columns (computed by hand below), averaged."""
    y = np.array([0, 0, 1, 1, 2, 2])
    p = np.array(
        [[0.6, 0.3, 0.1], [0.3, 0.5, 0.2], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0.2, 0.1, 0.7], [0.5, 0.2, 0.3]]
    )
    m = classification_metrics(y, p)
    assert m["acc"] == pytest.approx(4 / 6)
    assert m["balanced_acc"] == pytest.approx(2 / 3)
    assert m["f1_macro"] == pytest.approx(59 / 90)
    # class 0 scores: positives 0.6, 0.3; negatives 0.2, 0.1, 0.2, 0.5 -> pairs won 4 + 3 = 7 of 8
    # class 1: positives 0.7, 0.8; negatives 0.3, 0.5, 0.1, 0.2 -> 8 of 8
    # class 2: positives 0.7, 0.3; negatives 0.1, 0.2, 0.1, 0.1 -> 8 of 8
    assert m["auc"] == pytest.approx((7 / 8 + 1 + 1) / 3)
    assert m["auc"] == pytest.approx(roc_auc_score(y, p, multi_class="ovr", average="macro"))
    np.testing.assert_array_equal(confusion(y, p), [[1, 1, 0], [0, 2, 0], [1, 0, 1]])


def test_k_class_metrics_with_a_class_missing_from_the_test_part():
    """A test part without class 2: macro-F1 still averages over the task's 3 classes (class 2's F1 is 0
    when it is predicted, else 0 by zero_division), AUC over the classes present, balanced accuracy over
    the classes present (sklearn's definition)."""
    y = np.array([0, 0, 1, 1])
    p = np.array([[0.7, 0.2, 0.1], [0.2, 0.2, 0.6], [0.3, 0.6, 0.1], [0.1, 0.8, 0.1]])
    m = classification_metrics(y, p)
    assert m["acc"] == pytest.approx(3 / 4)
    assert m["balanced_acc"] == pytest.approx((1 / 2 + 1) / 2)
    assert m["f1_macro"] == pytest.approx(f1_score(y, [0, 2, 1, 1], average="macro", labels=[0, 1, 2]))
    auc0 = roc_auc_score(y == 0, p[:, 0])
    auc1 = roc_auc_score(y == 1, p[:, 1])
    assert m["auc"] == pytest.approx((auc0 + auc1) / 2)
    assert np.isnan(classification_metrics(np.array([1, 1]), p[:2])["auc"])


def test_binary_metrics_are_the_ones_they_always_were():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    p = np.clip(0.5 + 0.3 * (y - 0.5) + rng.normal(0, 0.3, 200), 0, 1)
    m = classification_metrics(y, p)
    pred = (p > 0.5).astype(int)
    assert m["acc"] == float((pred == y).mean())
    assert m["balanced_acc"] == pytest.approx(((pred[y == 0] == 0).mean() + (pred[y == 1] == 1).mean()) / 2)
    assert m["f1_macro"] == f1_score(y, pred, average="macro", labels=[0, 1])
    assert m["auc"] == roc_auc_score(y, p)
    assert balanced_accuracy(np.array([]), np.array([])) != balanced_accuracy(np.array([]), np.array([]))


def test_k_class_trial_vote_averages_the_probabilities():
    """Trial 0 (class 2): windows vote (0.5, 0.1, 0.4) and (0.1, 0.2, 0.7): mean (0.3, 0.15, 0.55) -> 2.
    Trial 1 (class 0): (0.4, 0.35, 0.25) and (0.2, 0.5, 0.3): mean (0.3, 0.425, 0.275) -> 1, wrong.
    Windows predict 0, 2, 0, 1: accuracy 2/4; trial accuracy 1/2."""
    subject = np.zeros(4, dtype=int)
    trial = np.array([0, 0, 1, 1])
    y = np.array([2, 2, 0, 0])
    p = np.array([[0.5, 0.1, 0.4], [0.1, 0.2, 0.7], [0.4, 0.35, 0.25], [0.2, 0.5, 0.3]])
    assert classification_metrics(y, p)["acc"] == pytest.approx(2 / 4)
    m = trial_metrics(subject, trial, y, p)
    assert m["trial_acc"] == pytest.approx(1 / 2)
    assert m["trial_balanced_acc"] == pytest.approx((1 + 0) / 2)
    # binary: the mean of p_high; trial 0's mean is exactly 0.5, which is "low" (its class: right)
    b = trial_metrics(subject, trial, np.array([0, 0, 1, 1]), np.array([0.25, 0.75, 0.6, 0.7]))
    assert b["trial_acc"] == 1.0
    b = trial_metrics(subject, trial, np.array([1, 1, 1, 1]), np.array([0.25, 0.75, 0.6, 0.7]))
    assert b["trial_acc"] == 0.5


def test_class_weights_for_k_classes_and_the_loss_weights():
    """sklearn's 'balanced' weights n / (k * count): labels 0, 0, 0, 1, 2, 2 -> 6/9, 6/3, 6/6."""
    y = torch.tensor([0, 0, 0, 1, 2, 2])
    torch.testing.assert_close(class_weights(y, 3), torch.tensor([6 / 9, 2.0, 1.0]))
    torch.testing.assert_close(class_weights(y[:4]), torch.tensor([4 / 6, 2.0]))  # binary default
    cw = task_class_weights(torch.stack([torch.tensor([0, 1, 1, 1]), torch.tensor([0, 3, 3, 2])], 1),
                            ("valence", "emotion4"))  # fmt: skip
    torch.testing.assert_close(cw["valence"], torch.tensor([2.0, 2 / 3]))
    torch.testing.assert_close(cw["emotion4"], torch.tensor([1.0, 1.0, 1.0, 0.5]))  # absent class 1 counts 1

    class Config:
        loss_weights = (2.0, 0.5)

    assert task_weights(Config(), ("valence", "arousal", "emotion9")) == {
        "valence": 2.0, "arousal": 0.5, "emotion9": 1.0,
    }  # fmt: skip


def test_strata_of_k_class_labels_keeps_the_binary_numbering():
    from protocols.splits import strata_of

    binary = np.array([[0, 0], [0, 1], [1, 0], [1, 1], [1, 1]])
    assert strata_of(binary).tolist() == [0, 1, 2, 3, 3]  # 2 * valence + arousal, as folds always were
    k = np.array([[2, 8], [0, 1], [2, 8], [1, 1], [0, 0]])
    assert strata_of(k).tolist() == [3, 1, 3, 2, 0]  # lexicographic order of the class pairs
    assert strata_of(np.array([[2], [0], [1]])).tolist() == [2, 0, 1]


def test_a_k_class_cell_gets_the_chance_level_of_its_classes():
    from bench.core import stats
    from bench.results.cells import Cell, binomial_chance, task_chance

    summary = stats.describe([0.4, 0.5, 0.45])
    cell = Cell("r", "valence3", "acc", summary, "folds", 90, "trials")
    assert task_chance("valence3") == pytest.approx(1 / 3)
    # the 95th percentile of Binomial(90, 1/3): mean 30, sd sqrt(90 * 1/3 * 2/3) = 4.47, normal
    # approximation 30 + 1.645 * 4.47 = 37.4; exact 37 -> 37 / 90 = 41.1 %
    assert binomial_chance(cell) == pytest.approx(stats.binomial_chance(90, p=1 / 3))
    assert binomial_chance(cell) == pytest.approx(37 / 90)
    assert binomial_chance(Cell("r", "valence", "acc", summary, "folds", 90, "trials")) == pytest.approx(
        stats.binomial_chance(90)
    )
    assert np.isnan(task_chance("uninstalled-plugin-task"))
