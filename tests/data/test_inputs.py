"""Building each model's input from cached per-channel features."""

from __future__ import annotations

import numpy as np
import pytest

from bench.data.channels import EEG_CHANNELS, grid_positions
from bench.data.inputs import InputSpec, build_inputs


def _features(s=2, t=3, w=12):
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(s, t, w, 2, 4, 32)).astype(np.float32)
    ratings = rng.uniform(1, 9, size=(s, t, 4))
    ratings[0, 0, :2] = [5.0, 5.01]  # exactly 5 is low under "gt", high under "ge"
    return feats, ratings, np.array([3, 7])


def test_grid_single_window():
    feats, ratings, subjects = _features()
    mi = build_inputs(feats, ratings, subjects, InputSpec())
    assert mi.x.shape == (2 * 3 * 12, 8, 8, 9) and mi.x.dtype == np.float32
    r, c = grid_positions("8x9")["F4"]
    ch = EEG_CHANNELS.index("F4")
    # sample for subject index 1, trial 2, window 5: DE alpha is map 1, PSD gamma map 7
    i = (1 * 3 + 2) * 12 + 5
    assert mi.x[i, 1, r, c] == feats[1, 2, 5, 0, 1, ch]
    assert mi.x[i, 7, r, c] == feats[1, 2, 5, 1, 3, ch]
    assert (mi.subject[i], mi.trial[i], mi.segment[i]) == (7, 2, 5)
    np.testing.assert_array_equal(mi.labels[i], (ratings[1, 2, :2] > 5).astype(int))
    assert mi.labels[0].tolist() == [0, 1]
    ge = build_inputs(feats, ratings, subjects, InputSpec(), high_if="ge")
    assert ge.labels[0].tolist() == [1, 1]


def test_feature_subsets_and_9x9():
    feats, ratings, subjects = _features()
    de = build_inputs(feats, ratings, subjects, InputSpec(features=("de",)))
    psd = build_inputs(feats, ratings, subjects, InputSpec(features=("psd",), grid="9x9"))
    assert de.x.shape[1] == 4 and psd.x.shape[1:] == (4, 9, 9)
    r, c = grid_positions("9x9")["Oz"]
    assert psd.x[0, 2, r, c] == feats[0, 0, 0, 1, 2, EEG_CHANNELS.index("Oz")]


def test_time_slices_and_channels_layout():
    feats, ratings, subjects = _features(w=13)  # 13 windows: 2 blocks of 6, one window dropped
    mi = build_inputs(feats, ratings, subjects, InputSpec(features=("de",), time_slices=6))
    assert mi.x.shape == (2 * 3 * 2, 6, 4, 8, 9)
    assert mi.segment.tolist()[:2] == [0, 1]
    r, c = grid_positions("8x9")["Cz"]
    # second block of trial 0: windows 6..11
    np.testing.assert_array_equal(mi.x[1, :, 0, r, c], feats[0, 0, 6:12, 0, 0, EEG_CHANNELS.index("Cz")])
    ch = build_inputs(feats, ratings, subjects, InputSpec(layout="channels", time_slices=4))
    assert ch.x.shape == (2 * 3 * 3, 4, 32, 8)
    np.testing.assert_array_equal(ch.x[0, 1, :, 5], feats[0, 0, 1, 1, 1, :])


def test_spec_validation():
    with pytest.raises(ValueError, match="layout='image'"):
        InputSpec(layout="image")
    with pytest.raises(ValueError, match="subset"):
        InputSpec(features=("de", "xx"))
    with pytest.raises(ValueError, match="order"):
        InputSpec(features=("psd", "de"))
    with pytest.raises(ValueError, match="time_slices"):
        InputSpec(time_slices=0)
    assert InputSpec(time_slices=6).sample_shape() == (6, 8, 8, 9)
    assert InputSpec(layout="channels").sample_shape() == (1, 32, 8)


def test_trials_shorter_than_the_input_are_one_line():
    """A model spanning more windows than the data's trials hold (4D-CRNN's 6 on a twin's 3-s clips) is a
    one-line DataError, not a traceback."""
    from bench.core.errors import DataError

    features = np.zeros((1, 2, 4, 2, 4, 32), dtype=np.float32)
    with pytest.raises(DataError, match=r"^the model's input spans 6 windows, longer than"):
        build_inputs(features, np.full((1, 2, 2), 5.0), np.array([1]), InputSpec(time_slices=6))
