"""The peer benchmarks' protocols (:mod:`protocols.peers`) against splits built by hand from the peers'
own published code, on small hand-made arrays.

Every expected split here is derived in the test itself, never with the harness's helpers: literal
copies of the peers' split code (LibEER ``data_utils/split.py:65-103``, EEGain ``eegain/data/loader.py:23-59,
229-289``, AdaBrain-Bench ``preprocessing/SEED/cross_json_process.py:30,55-66``, TorchEEG
``torcheeg/model_selection/k_fold_groupby_trial.py:73-101``, EEG-FM-Bench ``data/processor/builder.py:
288,811-823``) run on the same samples, or the trials and windows written out by hand. Commits read:
LibEER dddff97, TorchEEG b6039b1, EEG-FM-Bench 325398d, AdaBrain-Bench c29be92 (Jamine-W) and 41a87a4
(zicren, the copy with the 13/2 subject cut), EEGain 43dcbf6.
"""

from __future__ import annotations

import copy
import random
import re
from collections import defaultdict
from itertools import permutations

import numpy as np
import pytest
from sklearn.model_selection import KFold

from bench.core.errors import ConfigError
from bench.data.datasets import get_dataset
from protocols import get_protocol, make_folds

PEERS = (
    "libeer-front-back", "libeer-deap-kfold", "libeer-deap-random", "torcheeg-kfold", "eegfm-one-subject",
    "adabrain-random-valid", "adabrain-subject-valid", "eegain-loto",
)  # fmt: skip


# ---- hand-made samples --------------------------------------------------------------------------------


def _samples(rows):
    """Per-sample arrays from ``rows`` of (subject, session, trial, label, n_windows), in recording order:
    each row is one trial's windows, one after the other."""
    subject, session, trial, label = [], [], [], []
    for s, k, t, y, n in rows:
        subject += [s] * n
        session += [k] * n
        trial += [t] * n
        label += [y] * n
    as_int = lambda a: np.asarray(a, dtype=np.int64)  # noqa: E731
    return as_int(subject), as_int(session), as_int(trial), as_int(label)[:, None]


def _where(subject, trial, pairs) -> list[int]:
    """The sample indices whose (subject, trial) is in ``pairs``, ascending."""
    pairs = set(pairs)
    return [i for i in range(len(subject)) if (int(subject[i]), int(trial[i])) in pairs]


def _check_parts(fold, n: int, val_is_test: bool = False) -> None:
    """int64, sorted, no repeats, in range; train, validation and test disjoint, or validation == test."""
    for part in (fold.train, fold.val, fold.test):
        assert part.dtype == np.int64
        assert np.all(np.diff(part) > 0), "a part is not sorted or holds a sample twice"
        assert part.size == 0 or (part.min() >= 0 and part.max() < n)
    assert not set(fold.train.tolist()) & set(fold.test.tolist())
    if val_is_test:
        assert fold.val.tolist() == fold.test.tolist()
    else:
        assert not set(fold.val.tolist()) & set(fold.test.tolist())
        assert not set(fold.val.tolist()) & set(fold.train.tolist())


@pytest.fixture
def restore_rngs():
    """The oracles reseed Python's and numpy's global generators, as the peers do; put them back."""
    py, npy = random.getstate(), np.random.get_state()  # noqa: NPY002
    yield
    random.setstate(py)
    np.random.set_state(npy)  # noqa: NPY002


# ---- refusals -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "used", "unused"),
    [
        ("libeer-front-back", ("seed", "seed-iv"), ("deap", "seed-v", "faced")),
        ("libeer-deap-kfold", ("deap",), ("seed", "mahnob-hci", "dreamer")),
        ("libeer-deap-random", ("deap", "mahnob-hci"), ("seed", "amigos")),
        ("torcheeg-kfold", ("deap", "seed", "dreamer", "amigos"), ("seed-iv", "faced")),
        ("eegfm-one-subject", ("seed", "seed-iv", "seed-v"), ("deap", "faced")),
        ("adabrain-random-valid", ("seed", "seed-iv"), ("deap", "seed-v")),
        ("adabrain-subject-valid", ("seed", "seed-iv"), ("deap", "seed-v")),
        ("eegain-loto", ("deap", "mahnob-hci", "amigos", "dreamer"), ("seed", "seed-iv")),
    ],
)
def test_a_peer_protocol_is_refused_on_a_dataset_its_benchmark_did_not_run_it_on(name, used, unused):
    protocol = get_protocol(name)
    for d in used:
        assert protocol.refusal(get_dataset(d)) is None, d
    for d in unused:
        why = protocol.refusal(get_dataset(d))
        assert isinstance(why, str) and get_dataset(d).title in why, d


def test_every_peer_protocol_is_registered():
    assert [get_protocol(n).name for n in PEERS] == list(PEERS)


# ---- LibEER: SEED front 9 / back 6 --------------------------------------------------------------------


def _seed_like(n_subjects, n_trials, n_windows=2, n_sessions=3):
    """SEED's layout in the harness: a subject's trials numbered session after session."""
    return _samples(
        (s, k, (k - 1) * n_trials + c, c % 3, n_windows)
        for s in range(1, n_subjects + 1)
        for k in range(1, n_sessions + 1)
        for c in range(n_trials)
    )


@pytest.mark.parametrize("n_trials", [15, 24, 12])  # SEED, SEED-IV, a shorter session
def test_libeer_front_back_trains_trials_1_to_9_and_tests_the_rest_of_sessions_1_and_2(n_trials):
    """split.py:63-64: ``train = range(front)``, ``test = front..len-1`` of each (session, subject) part;
    DGCNN_train.py:18 runs ``-sessions 1 2``; :111-113 ``val_data = test_data``."""
    subject, session, trial, labels = _seed_like(2, n_trials)
    folds = make_folds("libeer-front-back", subject, trial, labels, session=session, dataset="seed")
    assert [(f.subject, f.index) for f in folds] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    for f in folds:
        first = (f.index - 1) * n_trials
        train = _where(subject, trial, [(f.subject, first + c) for c in range(9)])
        test = _where(subject, trial, [(f.subject, first + c) for c in range(9, n_trials)])
        assert f.train.tolist() == train
        assert f.test.tolist() == test
        _check_parts(f, len(subject), val_is_test=True)  # the test trials pick the epoch
    used = np.concatenate([np.concatenate([f.train, f.test]) for f in folds])
    assert set(session[used].tolist()) == {1, 2}  # session 3 never trains nor tests


def test_libeer_front_back_counts_trial_positions_in_the_sessions_own_order():
    """Positions are the session's trial order, whatever the trial numbers (here with gaps, and the
    samples of a session not contiguous)."""
    rows = [(7, k, 100 * k + 3 * c, c % 3, 2) for c in range(11) for k in (2, 1)]
    subject, session, trial, labels = _samples(rows)
    folds = make_folds("libeer-front-back", subject, trial, labels, session=session, dataset="seed")
    assert [(f.subject, f.index) for f in folds] == [(7, 1), (7, 2)]
    for f in folds:
        assert f.train.tolist() == _where(subject, trial, [(7, 100 * f.index + 3 * c) for c in range(9)])
        assert f.test.tolist() == _where(subject, trial, [(7, 100 * f.index + 27), (7, 100 * f.index + 30)])


def test_libeer_front_back_needs_more_than_nine_trials_and_the_sessions():
    """split.py:58-62: ``front >= len(label)`` exits, so a session of 9 trials is an error; 10 is one
    test trial."""
    subject, session, trial, labels = _seed_like(1, 9)
    with pytest.raises(ConfigError, match="session 1 holds 9 trials"):
        make_folds("libeer-front-back", subject, trial, labels, session=session, dataset="seed")
    subject, session, trial, labels = _seed_like(1, 10)
    folds = make_folds("libeer-front-back", subject, trial, labels, session=session, dataset="seed")
    assert [trial[f.test].tolist() for f in folds] == [[9, 9], [19, 19]]
    with pytest.raises(ConfigError, match="sessions"):
        make_folds("libeer-front-back", subject, trial, labels, dataset="seed")


# ---- LibEER: DEAP 10-fold -----------------------------------------------------------------------------


def _deap_like(n_subjects, n_trials, n_windows=3, labels=None):
    return _samples(
        (s, 1, t, (t % 2) if labels is None else labels[t], n_windows)
        for s in range(1, n_subjects + 1)
        for t in range(n_trials)
    )


def test_libeer_deap_kfold_is_ten_contiguous_trial_folds_per_subject():
    """setting.py:359-369 leaves ``fold_shuffle`` at the boolean True, which split.py:49-50 does not read
    as shuffling: fold k tests trials 4(k-1)..4k-1 of 40; val = test (CDCN_train.py:101-103)."""
    subject, _, trial, labels = _deap_like(2, 40)
    folds = make_folds("libeer-deap-kfold", subject, trial, labels, dataset="deap")
    assert [(f.subject, f.index) for f in folds] == [(s, k) for s in (1, 2) for k in range(1, 11)]
    for f in folds:
        tested = range(4 * (f.index - 1), 4 * f.index)
        assert f.test.tolist() == _where(subject, trial, [(f.subject, t) for t in tested])
        assert f.train.tolist() == _where(
            subject, trial, [(f.subject, t) for t in range(40) if t not in tested]
        )
        _check_parts(f, len(subject), val_is_test=True)


def test_libeer_deap_kfold_gives_the_first_folds_the_extra_trials():
    """sklearn's KFold (what split.py:49 calls) on 12 trials: folds 1-2 test two trials, 3-10 one."""
    subject, _, trial, labels = _deap_like(1, 12)
    folds = make_folds("libeer-deap-kfold", subject, trial, labels, dataset="deap")
    expected = [[0, 1], [2, 3]] + [[t] for t in range(4, 12)]
    assert [sorted(set(trial[f.test].tolist())) for f in folds] == expected
    subject, _, trial, labels = _deap_like(1, 9)
    with pytest.raises(ConfigError, match="needs 10 or more trials"):
        make_folds("libeer-deap-kfold", subject, trial, labels, dataset="deap")


# ---- LibEER: DEAP train/val/test 24/8/8 ---------------------------------------------------------------


class _Setting:
    test_size = 0.2
    val_size = 0.2


def _libeer_split(label, seed):
    """LibEER/data_utils/split.py:65-103 (``train-val-test``, ``subject-dependent``), copied as written,
    after ``setup_seed(seed)``'s ``random.seed(seed)`` (utils/utils.py:77; DGCNN_train.py:86 reseeds
    before every round, so each subject's split starts from the seed). ``label``: per trial, its windows'
    one-hot labels."""
    random.seed(seed)
    setting = _Setting()
    tts = {}
    tts["test"] = [[]]
    tts["train"] = [[]]
    tts["val"] = [[]]
    groups = {}
    for index, value in enumerate(label):
        if isinstance(value[0], np.ndarray):  # noqa: SIM108 (as written)
            value_key = tuple(value[0])
        else:
            value_key = value[0]
        if value_key in groups:
            groups[value_key].append(index)
        else:
            groups[value_key] = [index]
    others = []
    for indexes in groups.values():
        random.shuffle(indexes)
        total_length = len(indexes)
        test_num = int(setting.test_size * total_length)
        val_num = int(setting.val_size * total_length)
        train_num = int((1 - setting.test_size - setting.val_size) * total_length)
        tts["test"][0].extend(indexes[:test_num])
        tts["val"][0].extend(indexes[test_num : test_num + val_num])
        tts["train"][0].extend(indexes[test_num + val_num : test_num + val_num + train_num])
        others.extend(indexes[test_num + val_num + train_num :])
    if len(others) != 0:
        random.shuffle(others)
        expect_test_num = int(len(label) * setting.test_size)
        expect_val_num = int(len(label) * setting.val_size)
        test_num = expect_test_num - len(tts["test"][0])
        val_num = expect_val_num - len(tts["val"][0])
        tts["test"][0].extend(others[:test_num])
        tts["val"][0].extend(others[test_num : test_num + val_num])
        tts["train"][0].extend(others[test_num + val_num :])
    return tts["train"][0], tts["val"][0], tts["test"][0]


# 40 DEAP trials' binary valence, 23 high and 17 low (the high class first, so LibEER's dict groups it
# first): 4/4/13 + 3/3/10 trials, then the 3 left over top test and validation up to 8 each.
VALENCE = [int(c) for c in "1101001110110100101101110010011101011010"]


def _one_hot_trials(seq, n_windows):
    return [[np.eye(2)[y] for _ in range(n_windows)] for y in seq]


@pytest.mark.parametrize("seed", [2024, 1])  # the DEAP commands' -seed 2024; LibEER's default 1
def test_libeer_deap_random_is_libeers_stratified_24_8_8_trial_split(seed, restore_rngs):
    assert (len(VALENCE), sum(VALENCE)) == (40, 23)
    rows = [(s, 1, t, VALENCE[t] if s != 3 else VALENCE[::-1][t], 3) for s in (1, 2, 3) for t in range(40)]
    subject, _, trial, labels = _samples(rows)
    folds = make_folds("libeer-deap-random", subject, trial, labels, seed=seed, dataset="deap")
    assert [(f.subject, f.index) for f in folds] == [(1, 1), (2, 1), (3, 1)]
    for f in folds:
        seq = VALENCE if f.subject != 3 else VALENCE[::-1]
        train, val, test = _libeer_split(_one_hot_trials(seq, 3), seed)
        assert (len(train), len(val), len(test)) == (24, 8, 8)
        assert f.train.tolist() == _where(subject, trial, [(f.subject, t) for t in train])
        assert f.val.tolist() == _where(subject, trial, [(f.subject, t) for t in val])
        assert f.test.tolist() == _where(subject, trial, [(f.subject, t) for t in test])
        assert (len(f.train), len(f.val), len(f.test)) == (72, 24, 24)
        _check_parts(f, len(subject))
        every = np.concatenate([f.train, f.val, f.test])
        assert sorted(every.tolist()) == np.flatnonzero(subject == f.subject).tolist()
    # each subject's split depends only on its labels and the seed: subjects 1 and 2 share both
    one, two = (trial[folds[i].test].tolist() for i in (0, 1))
    assert one == two
    assert trial[folds[0].val].tolist() == trial[folds[1].val].tolist()


def test_libeer_deap_random_groups_trials_by_their_first_windows_label_pair(restore_rngs):
    """Two tasks: LibEER keys a trial by ``tuple(value[0])``, the first window's label vector; here a
    trial's (valence, arousal) pair, the groups in the order the pairs first appear."""
    rng = np.random.default_rng(5)
    pairs = [tuple(int(x) for x in rng.integers(0, 2, 2)) for _ in range(40)]
    rows = [(1, 1, t, 0, 2) for t in range(40)]
    subject, _, trial, _ = _samples(rows)
    labels = np.repeat(np.asarray(pairs, dtype=np.int64), 2, axis=0)
    (f,) = make_folds("libeer-deap-random", subject, trial, labels, seed=2024, dataset="deap")
    train, val, test = _libeer_split([[np.asarray(p)] * 2 for p in pairs], 2024)
    assert len(set(pairs)) == 4 and pairs[0] != pairs[1]  # four groups, so the group order matters
    assert sorted(set(trial[f.train].tolist())) == sorted(train)
    assert sorted(set(trial[f.val].tolist())) == sorted(val)
    assert sorted(set(trial[f.test].tolist())) == sorted(test)
    assert (len(train), len(val), len(test)) == (24, 8, 8)


def test_libeer_deap_random_needs_five_trials():
    subject, _, trial, labels = _deap_like(1, 4)
    with pytest.raises(ConfigError, match="needs 5 or more trials"):
        make_folds("libeer-deap-random", subject, trial, labels, seed=2024, dataset="deap")


# ---- TorchEEG: KFoldGroupbyTrial ----------------------------------------------------------------------


def _torcheeg_groupby_trial(subject_id, trial_id, n_splits, shuffle, random_state):
    """TorchEEG's ``KFoldGroupbyTrial`` (k_fold_groupby_trial.py:73-101): sklearn ``KFold`` on the rows of
    each (subject, trial), fold i taking block i of every trial. ``subject_id``/``trial_id``: the info
    columns, one per window in info-row order. Returns the test rows of each fold."""
    k_fold = KFold(n_splits=n_splits, shuffle=shuffle, random_state=random_state)
    test_infos = defaultdict(list)
    for subject in set(subject_id):
        rows = [r for r in range(len(subject_id)) if subject_id[r] == subject]
        for t in set(trial_id[r] for r in rows):
            trial_info = [r for r in rows if trial_id[r] == t]
            for i, (_, test_index) in enumerate(k_fold.split(trial_info)):
                test_infos[i] += [trial_info[j] for j in test_index]
    return [sorted(test_infos[i]) for i in range(n_splits)]


@pytest.mark.parametrize(("dataset", "shuffle"), [("deap", True), ("seed", False), ("dreamer", False)])
def test_torcheeg_kfold_cuts_every_trials_windows_into_the_folds(dataset, shuffle):
    """README.md:152-218 (DEAP: ``n_splits=10, shuffle=True, random_state=42``); the SEED, DREAMER and
    AMIGOS tutorials pass no ``shuffle``. One session per subject here (SEED's are below)."""
    rows = [(s, 1, t, (s + t) % 2, n) for s in (1, 2) for t, n in enumerate((10, 10, 13, 11))]
    subject, session, trial, labels = _samples(rows)
    for k in (5, 10):
        folds = make_folds(
            "torcheeg-kfold", subject, trial, labels, n_folds=k, session=session, dataset=dataset
        )
        tests = _torcheeg_groupby_trial(subject.tolist(), trial.tolist(), k, shuffle, 42 if shuffle else None)
        assert [f.index for f in folds] == list(range(1, k + 1))
        assert [f.test.tolist() for f in folds] == tests
        for f in folds:
            assert f.subject is None  # pooled over subjects
            _check_parts(f, len(subject), val_is_test=True)  # validation off; the test fold is "val_loader"
            assert sorted(f.train.tolist() + f.test.tolist()) == list(range(len(subject)))
            for s, t, _, _, _ in rows:  # the segment leak: every trial trains and tests in every fold
                here = set(_where(subject, trial, [(s, t)]))
                assert here & set(f.train.tolist()) and here & set(f.test.tolist())


def test_torcheeg_kfold_blocks_by_hand():
    """sklearn's KFold by hand: unshuffled, fold i tests windows 2(i-1), 2i-1 of a 10-window trial;
    shuffled with random_state 42, the same blocks of ``RandomState(42)``'s permutation, drawn afresh for
    each trial, so trials of one length get the same positions."""
    rows = [(1, 1, t, t % 2, 10) for t in range(3)]
    subject, session, trial, labels = _samples(rows)
    perm = np.arange(10)
    np.random.RandomState(42).shuffle(perm)
    for dataset, order in (("seed", np.arange(10)), ("deap", perm)):
        folds = make_folds("torcheeg-kfold", subject, trial, labels, n_folds=5, dataset=dataset)
        for f in folds:
            block = sorted(order[2 * (f.index - 1) : 2 * f.index].tolist())
            assert f.test.tolist() == [10 * t + w for t in range(3) for w in block]


def test_torcheeg_kfold_needs_as_many_windows_per_trial_as_folds():
    subject, session, trial, labels = _samples([(1, 1, 0, 0, 4), (1, 1, 1, 1, 6)])
    with pytest.raises(ConfigError, match="needs 5 or more windows per trial"):
        make_folds("torcheeg-kfold", subject, trial, labels, n_folds=5, dataset="seed")


def test_torcheeg_kfold_on_seed_groups_a_clips_windows_over_the_three_sessions():
    """TorchEEG's SEED rows carry ``subject_id`` (from the file name) and ``trial_id`` = the .mat key
    ``<initials>_eeg<N>`` (torcheeg/datasets/module/emotion_recognition/seed.py:208-230), and
    KFoldGroupbyTrial groups by (subject_id, trial_id) (k_fold_groupby_trial.py:83-90). A subject's three
    session files hold the same keys (one prefix per subject, as the harness's own SEED twin writes
    them), so clip N's group is its windows of all three sessions, each session's rows contiguous, the
    sessions in the record order (``os.listdir``, base_dataset.py:136-140: unknown, so every order is
    allowed here). Unshuffled (examples_seed_ccnn.py:49), fold i tests block i of that pooled group."""
    n_win, k = 10, 5
    rows = [(s, ses, (ses - 1) * 15 + c, c % 3, n_win) for s in (1, 2) for ses in (1, 2, 3) for c in range(2)]
    subject, session, trial, labels = _samples(rows)
    folds = make_folds("torcheeg-kfold", subject, trial, labels, n_folds=k, session=session, dataset="seed")
    clip = trial % 15 + 1
    for s in (1, 2):
        candidates = []
        for order in permutations((1, 2, 3)):  # the record order of the subject's three session files
            info = [i for ses in order for c in (1, 2) for i in range(len(subject))
                    if subject[i] == s and session[i] == ses and clip[i] == c]  # fmt: skip
            key = [f"p{s}_eeg{clip[i]}" for i in info]  # one prefix a subject: the same key in its sessions
            tests = _torcheeg_groupby_trial([s] * len(info), key, k, False, None)
            candidates.append([sorted(info[r] for r in rows_) for rows_ in tests])
        got = [sorted(i for i in f.test.tolist() if subject[i] == s) for f in folds]
        assert got in candidates, (
            "torcheeg-kfold on SEED cuts each *session's* clip into the folds (protocols/peers.py:345-349, "
            "trial ids unique per session), but TorchEEG's KFoldGroupbyTrial groups SEED windows by "
            "(subject_id, trial_id) with trial_id the key '<initials>_eeg<N>' shared by the subject's "
            "three session files (torcheeg seed.py:208-230, k_fold_groupby_trial.py:83-90): its fold i "
            "tests block i of the clip's windows pooled over the three sessions"
        )


# ---- EEG-FM-Bench: one validation and one test subject ------------------------------------------------


def _eegfm_draw(subjects, valid_ratio, test_ratio):
    """builder.py:288 ``np.random.seed(42)`` then :811-819 (the subjects sorted, as the harness lists
    them; the benchmark takes them in ``os.walk`` order)."""
    np.random.seed(42)  # noqa: NPY002 (the peer's legacy global generator)
    train_subjects = np.asarray(subjects)
    n_val_sub = int(len(train_subjects) * valid_ratio)
    n_test_sub = int(len(train_subjects) * test_ratio)
    selection = np.random.choice(train_subjects, n_val_sub + n_test_sub, replace=False)  # noqa: NPY002
    return selection[:n_val_sub].tolist(), selection[n_val_sub:].tolist()


@pytest.mark.parametrize(
    ("dataset", "n_subjects", "ratio", "val_s", "test_s"),
    [
        ("seed", 15, 0.067, [10], [12]),  # seed.py:64-65
        ("seed-iv", 15, 0.067, [10], [12]),  # seed_iv.py:73-74
        ("seed-v", 16, 0.125, [1, 2], [6, 15]),  # seed_v.py:66-67
    ],
)
def test_eegfm_one_subject_draws_the_held_out_subjects_with_seed_42(
    dataset, n_subjects, ratio, val_s, test_s, restore_rngs
):
    assert _eegfm_draw(range(1, n_subjects + 1), ratio, ratio) == (val_s, test_s)
    # the subjects interleaved in the samples: the draw is over subject ids, not sample order
    rows = [(s, 1, t, t % 3, 2) for t in range(3) for s in range(n_subjects, 0, -1)]
    subject, _, trial, labels = _samples(rows)
    runs = [
        make_folds("eegfm-one-subject", subject, trial, labels, seed=x, dataset=dataset) for x in (0, 7, 2024)
    ]
    for folds in runs:  # the split seed is 42 whatever the run's seed (builder.py:40)
        (f,) = folds
        assert (f.index, f.subject) == (1, None)
        assert f.val.tolist() == [i for i in range(len(subject)) if subject[i] in val_s]
        assert f.test.tolist() == [i for i in range(len(subject)) if subject[i] in test_s]
        assert f.train.tolist() == [i for i in range(len(subject)) if subject[i] not in val_s + test_s]
        _check_parts(f, len(subject))


# ---- AdaBrain-Bench: the last two subject folders test ------------------------------------------------


def _natsort_key(name: str):
    return [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", name)]


def _adabrain_folders(subjects, dataset):
    """Each subject's processed-data folder number. SEED (data_process.py:21-23,50): the .mat files sorted
    by name (``{subject}_{yyyymmdd}.mat``, three per subject), file n into folder ``n // 3 + 1``.
    SEED-IV (zicren's data_process.py): ``S1..S15`` into folders ``sub_idx + 1``."""
    if dataset == "seed":
        names = sorted(f"{s}_201301{k:02d}.mat" for s in subjects for k in (1, 2, 3))
        return {int(name.split("_")[0]): n // 3 + 1 for n, name in enumerate(names)}
    return {s: i + 1 for i, s in enumerate(sorted(subjects))}


def _adabrain_cross(subject, session, trial, strata, dataset):
    """cross_json_process.py (zicren @ 41a87a4; Jamine-W @ c29be92 lines 30, 55-66, 113-124 with the cut
    at 12): ``random.seed(42)`` once; the folders natsorted, those ``<= 13`` train, the rest test; each
    training folder's windows natsorted by file name ``S{folder}_{session}_{trial}_{window}.pkl``, pooled
    per label (first-appearance order), shuffled and cut at ``int(n * 0.8)``. Returns (train, val, test)
    sample indices, sorted."""
    folder = _adabrain_folders(sorted(set(subject.tolist())), dataset)
    files = {}  # folder -> {pkl name: sample index}
    seen = defaultdict(int)
    for i in range(len(subject)):
        s, k, t = int(subject[i]), int(session[i]), int(trial[i])
        seen[s, t] += 1  # the window's number within its trial, from 1
        files.setdefault(folder[s], {})[f"S{folder[s]}_{k}_{t % 100 + 1}_{seen[s, t]}.pkl"] = i
    random.seed(42)
    subject_folders = sorted(files)  # natsorted folder names: numeric order
    train_subjects = [s for s in subject_folders if s <= 13]
    test_subjects = [s for s in subject_folders if s > 13]
    all_train, all_val, all_test = [], [], []
    for sub in train_subjects:
        subject_data = [
            {"label": int(strata[files[sub][f]]), "i": files[sub][f]}
            for f in sorted(files[sub], key=_natsort_key)
        ]
        label_to_data = defaultdict(list)
        for data in subject_data:
            label_to_data[data["label"]].append(data)
        for _, data_list in label_to_data.items():
            random.shuffle(data_list)
            split_idx = int(len(data_list) * (1 - 0.2))
            all_train += [d["i"] for d in data_list[:split_idx]]
            all_val += [d["i"] for d in data_list[split_idx:]]
    for sub in test_subjects:
        all_test += list(files[sub].values())
    return sorted(all_train), sorted(all_val), sorted(all_test)


def _seed_family(n_subjects=15, n_trials=3, n_windows=6):
    """Trials numbered 100 * session + clip (so the clip is ``trial % 100``); labels by clip."""
    clip_labels = (2, 1, 0, 0, 1, 2)
    return _samples(
        (s, k, 100 * k + c, clip_labels[c % 6], n_windows)
        for s in range(1, n_subjects + 1)
        for k in (1, 2, 3)
        for c in range(n_trials)
    )


@pytest.mark.parametrize(("dataset", "test_s"), [("seed", [8, 9]), ("seed-iv", [14, 15])])
@pytest.mark.parametrize("name", ["adabrain-random-valid", "adabrain-subject-valid"])
def test_adabrain_tests_the_last_two_subject_folders(name, dataset, test_s):
    """SEED's folders follow the sorted file names (10, 11, ..., 15, 1, ..., 9), so folders 14 and 15
    are subjects 8 and 9; SEED-IV's are the subjects' own numbers."""
    folder = _adabrain_folders(list(range(1, 16)), dataset)
    assert sorted(s for s, n in folder.items() if n > 13) == test_s
    subject, session, trial, labels = _seed_family()
    (f,) = make_folds(name, subject, trial, labels, session=session, dataset=dataset)
    assert (f.index, f.subject) == (1, None)
    assert f.test.tolist() == [i for i in range(len(subject)) if subject[i] in test_s]
    _check_parts(f, len(subject))
    every = sorted(f.train.tolist() + f.val.tolist() + f.test.tolist())
    assert every == list(range(len(subject)))


def test_adabrain_seed_folder_order_is_the_sorted_file_names():
    """The order the training folders are processed in (and so draw from the one ``random.seed(42)``
    stream): folders 1..13 = SEED subjects 10, 11, 12, 13, 14, 15, 1, 2, ..., 7."""
    folder = _adabrain_folders(list(range(1, 16)), "seed")
    assert [s for n in range(1, 16) for s, m in folder.items() if m == n] == [
        10, 11, 12, 13, 14, 15, 1, 2, 3, 4, 5, 6, 7, 8, 9,
    ]  # fmt: skip
    protocol = get_protocol("adabrain-random-valid")
    assert protocol.folder_order(np.arange(1, 16), "seed") == [
        10, 11, 12, 13, 14, 15, 1, 2, 3, 4, 5, 6, 7, 8, 9,
    ], (
        "AdaBrainTestSubjects.folder_order (protocols/peers.py:421) sorts SEED subjects with key=str, "
        "giving 1, 10, ..., 15, 2, ..., 9; AdaBrain's folders follow sorted file names '{N}_{date}.mat' "
        "(preprocessing/SEED/data_process.py:23,50), where '10_...' < '1_...' ('0' < '_'): "
        "10, ..., 15, 1, ..., 9. The test subjects (8, 9) agree, the training subjects' order does not"
    )  # fmt: skip


@pytest.mark.parametrize("dataset", ["seed", "seed-iv"])
def test_adabrain_random_valid_is_adabrains_per_subject_per_label_window_split(dataset, restore_rngs):
    subject, session, trial, labels = _seed_family()
    (f,) = make_folds("adabrain-random-valid", subject, trial, labels, session=session, dataset=dataset)
    train, val, test = _adabrain_cross(subject, session, trial, labels[:, 0], dataset)
    assert f.test.tolist() == test
    assert (f.train.tolist(), f.val.tolist()) == (train, val), (
        f"adabrain-random-valid's validation windows on {dataset!r} differ from AdaBrain's "
        "cross_json_process.py: its training subjects draw from the one random.seed(42) stream in folder "
        "order (natsorted folders 1..13); protocols/peers.py:479 walks them in folder_order's order "
        "(peers.py:421, sorted with key=str on SEED: 1, 10, ..., 15, 2, ..., 7, not 10, ..., 15, 1, ..., 7)"
    )


def test_adabrain_random_valid_puts_windows_of_one_trial_in_training_and_validation():
    subject, session, trial, labels = _seed_family()
    (f,) = make_folds("adabrain-random-valid", subject, trial, labels, session=session, dataset="seed-iv")
    _check_parts(f, len(subject))
    fit = {(int(subject[i]), int(trial[i])) for i in f.train}
    val = {(int(subject[i]), int(trial[i])) for i in f.val}
    assert fit & val  # the mechanism: windows of one trial on both sides
    assert {s for s, _ in val} == set(range(1, 14))  # every training subject gives a fifth of its windows
    for s in range(1, 14):
        for y in (0, 1, 2):
            n = sum(1 for i in range(len(subject)) if subject[i] == s and labels[i, 0] == y)
            n_val = sum(1 for i in f.val if subject[i] == s and labels[i, 0] == y)
            assert n_val == n - int(n * 0.8)


@pytest.mark.parametrize("dataset", ["seed", "seed-iv"])
@pytest.mark.parametrize("seed", [0, 3])
def test_adabrain_subject_valid_validates_on_whole_training_subjects(dataset, seed):
    subject, session, trial, labels = _seed_family()
    (f,) = make_folds(
        "adabrain-subject-valid", subject, trial, labels, session=session, dataset=dataset, seed=seed
    )
    (r,) = make_folds("adabrain-random-valid", subject, trial, labels, session=session, dataset=dataset)
    assert f.test.tolist() == r.test.tolist()
    _check_parts(f, len(subject))
    val_s, fit_s, test_s = ({int(x) for x in subject[p]} for p in (f.val, f.train, f.test))
    assert val_s and not val_s & fit_s and not val_s & test_s
    assert f.val.tolist() == [i for i in range(len(subject)) if subject[i] in val_s]  # whole subjects
    assert f.train.tolist() == [i for i in range(len(subject)) if subject[i] in fit_s]
    assert val_s | fit_s == set(range(1, 16)) - test_s


# ---- EEGain: leave one trial out ----------------------------------------------------------------------


def _eegain_loto(subject, trial, label, seed, train_ratio=0.8):
    """EEGain's ``main_loto`` (helpers.py:330-354) and ``EEGDataloader.loto`` (loader.py:23-43) with
    ``split_train_val`` (loader.py:229-273) copied as written; ``setup_seed`` seeds numpy once per run
    (helpers.py:24-30, run_cli.py:161). The subjects sorted (EEGain lists them with ``os.listdir``).
    Windows are the sample indices; returns [(subject, train, val, test)] in fold order."""
    of = defaultdict(list)  # (subject, trial) -> its windows, in order
    for i in range(len(subject)):
        of[int(subject[i]), int(trial[i])].append(i)
    np.random.seed(seed)  # noqa: NPY002 (the peer's legacy global generator)
    subject_video_mapping = {}
    for s in sorted(set(subject.tolist())):
        subject_video_mapping[s] = sorted(set(trial[subject == s].tolist()))
    out = []
    for subject_id, session_ids in subject_video_mapping.items():
        n_fold = len(session_ids)
        fold_size = len(session_ids) // n_fold
        folds = [session_ids[i : i + fold_size] for i in range(0, len(session_ids), fold_size)]
        for test_sessions in folds:
            train_sessions = [item for item in session_ids if item not in test_sessions]
            windows = [i for t in train_sessions for i in of[subject_id, t]]  # the concatenated trials
            test = [i for t in test_sessions for i in of[subject_id, t]]
            label_np = np.asarray([label[i] for i in windows])
            unique_classes = np.unique(label_np)
            index_train = np.array([], dtype=int)
            index_val = np.array([], dtype=int)
            for class_label in unique_classes:
                class_indices = np.where(label_np == class_label)[0]
                class_indices_copy = copy.deepcopy(class_indices)
                np.random.shuffle(class_indices_copy)  # noqa: NPY002
                split_point = int(len(class_indices_copy) * train_ratio)
                index_train = np.concatenate((index_train, class_indices_copy[:split_point]))
                index_val = np.concatenate((index_val, class_indices_copy[split_point:]))
            train = sorted(windows[j] for j in index_train)
            val = sorted(windows[j] for j in index_val)
            out.append((subject_id, train, val, sorted(test)))
    return out


@pytest.mark.parametrize("seed", [2025, 0])  # EEGain's default --random_seed; another
def test_eegain_loto_tests_each_trial_once_and_validates_on_eegains_window_split(seed, restore_rngs):
    rng = np.random.default_rng(11)
    # trial 0 low, trial 1 high, the rest at random; 4 to 7 windows a trial; subject 2's samples first
    rows = [
        (s, 1, t, int(rng.integers(0, 2)) if t > 1 else t, int(rng.integers(4, 8)))
        for s in (2, 1)
        for t in range(6)
    ]
    subject, _, trial, labels = _samples(rows)
    folds = make_folds("eegain-loto", subject, trial, labels, seed=seed, dataset="deap")
    expected = _eegain_loto(subject, trial, labels[:, 0], seed)
    assert [(f.subject, f.index) for f in folds] == [(s, k) for s in (1, 2) for k in range(1, 7)]
    for f, (s, train, val, test) in zip(folds, expected, strict=True):
        assert f.subject == s
        assert f.test.tolist() == _where(subject, trial, [(s, f.index - 1)])  # trial k-1 tests, in order
        assert f.test.tolist() == test
        assert f.train.tolist() == train
        assert f.val.tolist() == val
        _check_parts(f, len(subject))
        others = [(s, t) for t in range(6) if t != f.index - 1]
        assert sorted(f.train.tolist() + f.val.tolist()) == _where(subject, trial, others)
    shared = [f for f in folds if {int(trial[i]) for i in f.train} & {int(trial[i]) for i in f.val}]
    assert shared  # validation windows come from the training trials


def test_eegain_loto_needs_two_trials():
    subject, _, trial, labels = _samples([(1, 1, 0, 0, 5)])
    with pytest.raises(ConfigError, match="needs 2 or more trials"):
        make_folds("eegain-loto", subject, trial, labels, dataset="deap")
