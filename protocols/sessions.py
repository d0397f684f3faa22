"""The SEED family's and FACED's own protocols: splits by trial order within a session, across sessions, by
subject within a session, and by a fixed list of subjects.

The canonical splits of these datasets are not random folds: the papers and the benchmarks that reproduce
them (LibEER, EEG-FM-Bench, CBraMod) train on the first clips of each session and test on the last ones,
or train on two sessions and test on the third, or split the subjects once in number order. Each protocol
here states its validation part: where the published protocol has one (SEED-V's middle five trials,
FACED's 20 validation subjects) it is that; where it has none, the harness carves one out of the training
part with the split's own unit (trials, or subjects), never out of the test part.

* ``session-trials``: per subject and session, the dataset's :attr:`~bench.data.datasets.Dataset.trial_split`
  by trial order (SEED 9 / 6, SEED-IV 16 / 8, SEED-V 5 / 5 / 5); one model per subject and session (fold k
  of a subject is its session k), the statistics over subjects (each subject's sessions averaged first).
* ``cross-session``: per subject, train on every session but the last, test on the last.
* ``loso-session``: within each session, leave one subject out (train on the other subjects' trials of that
  session); one model per session and held-out subject, the statistics over those folds.
* ``subject-holdout``: one fold, the dataset's :attr:`~bench.data.datasets.Dataset.subject_split` of its
  subjects in number order (FACED 80 / 20 / 23); on fewer subjects (a twin, ``--subjects``) the same shares,
  at least one subject each.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from bench.core.errors import ConfigError
from bench.data.datasets import Dataset, get_dataset
from protocols.base import Protocol
from protocols.splits import Fold, inner_val
from protocols.subject_specific import PerSubjectProtocol


def trial_positions(trial: np.ndarray, session: np.ndarray) -> np.ndarray:
    """Each sample's trial position (0, 1, ...) within its subject's session, given per-sample trial
    indices (unique within a subject) and sessions of one subject: the rank of its trial among the
    session's trials."""
    pos = np.empty(len(trial), dtype=np.int64)
    for s in np.unique(session):
        at = session == s
        pos[at] = np.searchsorted(np.unique(trial[at]), trial[at])
    return pos


def carve_validation(
    train: np.ndarray, unit: str, strata: np.ndarray, groups: np.ndarray, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """The harness's validation part where a published split has none: whole units (``unit``: trials or
    subjects) out of the training part, at least as many as it has classes (a session's 9 SEED clips give
    3, one of each class, where a fifth of them would be one or two clips of one class: early stopping on
    that picks the first epoch's one-class model)."""
    n_units = len(np.unique(groups[train]))
    n_strata = len(np.unique(strata[train]))
    fraction = min(0.5, max(val_fraction, n_strata / max(n_units, 1)))
    return inner_val(train, unit, strata, groups, fraction, seed)


class SessionProtocol:
    """Mixin of the protocols here: what a dataset must have for them (checked in :meth:`resolve_data`,
    before any data is read) and the sessions they need at fold time."""

    def refusal(self, ds: Dataset) -> str | None:
        """Why the protocol cannot run on ``ds``, completing "protocol NAME ..." (None: it can)."""
        if ds.n_sessions < 2:
            return f"needs several sessions per subject; {ds.title} has one"
        return None

    def sessions(self, session: np.ndarray | None) -> np.ndarray:
        if session is None:
            raise ConfigError(f"protocol {self.name!r} needs the sessions of the trials")  # type: ignore[attr-defined]
        return np.asarray(session)


class SessionTrialsProtocol(SessionProtocol, PerSubjectProtocol):
    """Per subject and session, the dataset's own split of the session's trials by their order."""

    folds_from_subjects: ClassVar[bool] = True  # --folds does not apply: one fold per session

    def refusal(self, ds: Dataset) -> str | None:
        if ds.trial_split is None:
            return f"splits each session's trials as the dataset's papers do; {ds.title} has no such split"
        return None

    def folds(self, subject, unit, strata, groups, *, n_folds, val_fraction, seed, select_on_test, domain,
              trial=None, session=None, dataset=None) -> list[Fold]:  # fmt: skip
        session = self.sessions(session)
        n_train, n_val, n_test = get_dataset(dataset).trial_split
        out = []
        for s in np.unique(subject):
            idx = np.flatnonzero(subject == s)
            pos = trial_positions(trial[idx], session[idx])
            for k in np.unique(session[idx]):
                here = session[idx] == k
                n = int(pos[here].max()) + 1
                if n != n_train + n_val + n_test:
                    raise ConfigError(
                        f"protocol {self.name!r}: subject {s} session {k} holds {n} trials; the split "
                        f"{n_train}/{n_val}/{n_test} needs {n_train + n_val + n_test}"
                    )
                p, at = pos[here], idx[here]
                train, test = at[p < n_train], at[p >= n_train + n_val]
                val = at[(p >= n_train) & (p < n_train + n_val)]
                if select_on_test:
                    val = test.copy()
                elif n_val == 0:  # the published split has no validation part: carved from training trials
                    part_seed = seed * 1000 + 10 * int(s) + int(k)
                    train, val = carve_validation(train, "trial", strata, groups, val_fraction, part_seed)
                out.append(Fold(int(k), int(s), np.sort(train), np.sort(val), np.sort(test)))
        return out


class CrossSessionProtocol(SessionProtocol, PerSubjectProtocol):
    """Per subject: train on every session but the last, test on the last."""

    folds_from_subjects: ClassVar[bool] = True

    def folds(self, subject, unit, strata, groups, *, n_folds, val_fraction, seed, select_on_test, domain,
              trial=None, session=None, dataset=None) -> list[Fold]:  # fmt: skip
        session = self.sessions(session)
        out = []
        for s in np.unique(subject):
            idx = np.flatnonzero(subject == s)
            last = session[idx].max()
            train, test = idx[session[idx] < last], idx[session[idx] == last]
            if not len(train):
                raise ConfigError(f"protocol {self.name!r}: subject {s} has one session only")
            if select_on_test:
                val = test.copy()
            else:
                train, val = carve_validation(train, "trial", strata, groups, val_fraction, seed * 1000 + s)
            out.append(Fold(1, int(s), np.sort(train), np.sort(val), np.sort(test)))
        return out


class LosoSessionProtocol(SessionProtocol, Protocol):
    """Within each session, leave one subject out; validation by subject from the training subjects."""

    folds_from_subjects: ClassVar[bool] = True

    def folds(self, subject, unit, strata, groups, *, n_folds, val_fraction, seed, select_on_test, domain,
              trial=None, session=None, dataset=None) -> list[Fold]:  # fmt: skip
        session = self.sessions(session)
        subjects = np.unique(subject)
        if len(subjects) < 3:
            raise ConfigError(f"protocol {self.name!r} needs 3 or more subjects (train, validation, test)")
        out = []
        for k in np.unique(session):
            in_session = np.flatnonzero(session == k)
            for j, s in enumerate(subjects, start=1):
                test = in_session[subject[in_session] == s]
                train = in_session[subject[in_session] != s]
                if select_on_test:
                    val = test.copy()
                else:
                    part_seed = seed * 1000 + 10 * j + int(k)
                    train, val = inner_val(train, "subject", strata, groups, val_fraction, part_seed)
                index = (int(k) - 1) * len(subjects) + j
                out.append(Fold(index, None, np.sort(train), np.sort(val), np.sort(test)))
        return out


class SubjectHoldoutProtocol(SessionProtocol, Protocol):
    """One fold: the dataset's subjects in number order, split into its (train, validation, test) counts."""

    folds_from_subjects: ClassVar[bool] = True

    def refusal(self, ds: Dataset) -> str | None:
        if ds.subject_split is None:
            return f"splits the subjects as the dataset's papers do; {ds.title} has no such split"
        return None

    def folds(self, subject, unit, strata, groups, *, n_folds, val_fraction, seed, select_on_test, domain,
              trial=None, session=None, dataset=None) -> list[Fold]:  # fmt: skip
        counts = holdout_counts(get_dataset(dataset).subject_split, len(np.unique(subject)))
        subjects = np.unique(subject)
        parts = np.split(subjects, np.cumsum(counts)[:2])
        train, val, test = (np.flatnonzero(np.isin(subject, p)) for p in parts)
        if select_on_test:
            val = test.copy()
        return [Fold(1, None, train, val, test)]


def holdout_counts(split: tuple[int, int, int], n: int) -> tuple[int, int, int]:
    """(train, validation, test) subject counts for ``n`` subjects: the published counts when ``n`` is
    their sum, else the same shares rounded, each at least one subject (a ConfigError below 3)."""
    if n < 3:
        raise ConfigError(f"protocol 'subject-holdout' needs 3 or more subjects, got {n}")
    total = sum(split)
    if n == total:
        return tuple(split)
    val = max(1, round(n * split[1] / total))
    test = max(1, round(n * split[2] / total))
    train = n - val - test
    if train < 1:
        train, test = 1, n - val - 1
    return train, val, test


SESSION_TRIALS = SessionTrialsProtocol(
    "session-trials",
    "per-subject",
    ("trial",),
    "trial",
    "per subject and session, the dataset's own split of the session's trials by their order (SEED: first "
    "9 train, last 6 test; SEED-IV 16/8; SEED-V 5/5/5 with its validation part)",
)
CROSS_SESSION = CrossSessionProtocol(
    "cross-session",
    "per-subject",
    ("trial",),
    "trial",
    "per subject, train on the first sessions, test on the last (SEED family: sessions 1-2 -> 3)",
)
LOSO_SESSION = LosoSessionProtocol(
    "loso-session",
    "pooled",
    ("subject",),
    "subject",
    "within each session, leave one subject out: train on the other subjects' trials of that session",
)
SUBJECT_HOLDOUT = SubjectHoldoutProtocol(
    "subject-holdout",
    "pooled",
    ("subject",),
    "subject",
    "one fold: the dataset's subjects in number order split as its papers do (FACED: 80 train, 20 "
    "validation, 23 test)",
)
