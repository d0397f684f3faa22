"""The time-domain input: the band-limited signal in the cache, its windows, per-channel standardisation
on the training part, and training on rows of the input without copying a fold's part."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.data.cache import entry_path, prepare_features
from bench.data.contents import Contents
from bench.data.inputs import InputSpec
from bench.data.signal import band_limited, build_signal_inputs
from bench.data.source import open_deap
from bench.training.trainer import Rows, Standardiser

SIGNAL = Contents(signal_band=(4.0, 45.0))


def test_band_limited_passes_the_band_and_stops_the_rest():
    fs, n = 128.0, 7680
    t = np.arange(n) / fs
    eeg = np.stack([np.sin(2 * np.pi * f * t) for f in (1.0, 10.0, 30.0, 60.0)])[None]  # (1, 4, n)
    out = band_limited(eeg, fs, (4.0, 45.0))
    assert out.dtype == np.float32 and out.shape == eeg.shape
    mid = slice(1000, n - 1000)  # away from the trial's edges
    rms = np.sqrt((out[0, :, mid].astype(np.float64) ** 2).mean(axis=-1)) * np.sqrt(2)  # amplitude
    assert rms[1] == pytest.approx(1.0, abs=0.01) and rms[2] == pytest.approx(1.0, abs=0.01)
    assert rms[0] < 0.01 and rms[3] < 0.01  # 1 Hz and 60 Hz (past the 11.25 Hz upper transition): stopped
    # zero phase: the passed 10 Hz sine is not delayed
    np.testing.assert_allclose(out[0, 1, mid], eeg[0, 1, mid], atol=0.01)


def _signals(counts=(3, 2), c=4, n=1280, seed=0):
    rng = np.random.default_rng(seed)
    return tuple(rng.normal(size=(k, c, n)).astype(np.float32) for k in counts)


def test_windows_are_slices_of_the_signal_in_subject_trial_window_order():
    sig = _signals(counts=(3, 3))
    ratings = np.array([[[6, 4], [2, 8], [5, 5.5]], [[9, 1], [1, 9], [7, 7]]], dtype=float)
    spec = InputSpec(layout="signal", n_channels=4, window_s=2.0)  # 256 samples: 5 per 10 s trial
    mi = build_signal_inputs(sig, ratings, np.array([4, 9]), spec)
    assert mi.x.shape == (2 * 3 * 5, 4, 256) and mi.x.dtype == np.float32 and mi.x.flags.c_contiguous
    i = (1 * 3 + 2) * 5 + 3  # subject index 1, trial 2, window 3
    np.testing.assert_array_equal(mi.x[i], sig[1][2, :, 3 * 256 : 4 * 256])
    assert (mi.subject[i], mi.trial[i], mi.segment[i]) == (9, 2, 3)
    assert mi.labels[i].tolist() == [1, 1] and mi.labels[2 * 5].tolist() == [0, 1]  # 5 is low, 5.5 high
    # a hop of 1 s: overlapping windows, (1280 - 256) // 128 + 1 = 9 per trial
    overlap = InputSpec(layout="signal", n_channels=4, window_s=2.0, hop_s=1.0)
    hop = build_signal_inputs(sig, ratings, np.array([4, 9]), overlap)
    assert hop.x.shape[0] == 2 * 3 * 9
    np.testing.assert_array_equal(hop.x[9 + 4], sig[0][1, :, 4 * 128 : 4 * 128 + 256])


def test_subjects_with_fewer_trials_build_no_sample_from_padding():
    sig = _signals(counts=(3, 2))
    ratings = np.full((2, 3, 2), 7.0)
    ratings[1, 2] = np.nan  # padding row of the second subject
    spec = InputSpec(layout="signal", n_channels=4, window_s=5.0)
    mi = build_signal_inputs(sig, ratings, np.array([1, 2]), spec, n_trials=np.array([3, 2]))
    assert mi.x.shape[0] == (3 + 2) * 2 and mi.trial.tolist() == [0, 0, 1, 1, 2, 2, 0, 0, 1, 1]
    np.testing.assert_array_equal(mi.x[-1], sig[1][1, :, 640:1280])
    with pytest.raises(ValueError, match="longer than a trial"):
        long = InputSpec(layout="signal", n_channels=4, window_s=20.0)
        build_signal_inputs(sig, ratings, np.array([1, 2]), long, n_trials=np.array([3, 2]))


def test_the_signal_entry_has_the_data_fingerprint_of_the_maps(deap_dir):
    src = open_deap(deap_dir)
    maps = prepare_features(src)
    fs = prepare_features(src, contents=SIGNAL)
    assert fs.fingerprint == maps.fingerprint and fs.contents == SIGNAL and maps.contents.is_default
    digest = fs.file_digests[1]
    entry = entry_path(fs.config, digest, contents=SIGNAL)
    assert entry != entry_path(fs.config, digest) and (entry / "signal.npy").is_file()
    assert fs.features.shape == (2, 6, 0, 2, 4, 32)  # no maps: the signal's models read the signal only
    from bench.tracking.store import dataset

    assert dataset(fs).profile == dataset(maps).profile  # one MLflow dataset: the maps' 120 windows
    # the cached signal is the reader's stimulus part, band-limited
    from bench.data.recordings import read_subject

    rec = read_subject((src.files[1],), 1)
    expected = band_limited(rec.eeg[:, :, 384:], 128.0, (4.0, 45.0))
    np.testing.assert_array_equal(np.load(fs.signal[0]), expected)
    mi = fs.inputs(InputSpec(layout="signal", window_s=4.0))
    assert mi.x.shape == (2 * 6 * 15, 32, 512)
    np.testing.assert_array_equal(mi.x[15 + 2], expected[1, :, 1024:1536])


def test_a_corrupt_signal_file_is_recomputed_with_one_warning(deap_dir, capsys):
    src = open_deap(deap_dir)
    fs = prepare_features(src, contents=SIGNAL)
    path = fs.signal[0]
    clean = np.load(path)
    with open(path, "r+b") as f:  # flip bytes inside the array
        f.seek(-100, 2)
        f.write(b"\x00\x01\x02\x03")
    again = prepare_features(src, contents=SIGNAL)
    err = capsys.readouterr().err
    assert err.count("warning: feature cache entry") == 1 and "signal.npy does not match its checksum" in err
    np.testing.assert_array_equal(np.load(again.signal[0]), clean)


def test_channel_standardiser_uses_the_training_rows_only():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(50, 3, 40, generator=g) * torch.tensor([1.0, 5.0, 0.1])[None, :, None]
    x[:, 1] += 3.0
    train = torch.arange(0, 30)
    std = Standardiser.fit_channels(x, train, chunk=7)  # chunks do not change the numbers
    part = x[train].transpose(0, 1).reshape(3, -1).double()
    torch.testing.assert_close(std.mean[:, 0], part.mean(dim=1).float())
    torch.testing.assert_close(std.std[:, 0], part.std(dim=1).float())
    z = std(x[train])
    torch.testing.assert_close(
        z.transpose(0, 1).reshape(3, -1).mean(dim=1), torch.zeros(3), atol=1e-5, rtol=0
    )
    rows = Rows(x, torch.arange(10, 40), std)
    assert rows.shape == (30, 3, 40) and rows.dim() == 3 and len(rows) == 30
    torch.testing.assert_close(rows[torch.tensor([0, 29])], std(x[[10, 39]]))
    torch.testing.assert_close(rows[2:4], std(x[12:14]))
    torch.testing.assert_close(rows.to(torch.device("cpu"), chunk=7), std(x[10:40]))


class _LogPower(torch.nn.Module):
    """A test-only time-domain model: log power per channel of a learnt temporal filter, then a linear
    head per task (enough to read the twin's planted band-power effects)."""

    def __init__(self, *, tasks=("valence", "arousal"), input_spec=None):
        super().__init__()
        c = (input_spec or InputSpec(layout="signal")).n_channels
        self.conv = torch.nn.Conv1d(c, c, 33, padding=16, groups=c)
        self.heads = torch.nn.ModuleDict({t: torch.nn.Linear(c, 2) for t in tasks})

    def forward(self, x):
        z = torch.log(self.conv(x).square().mean(dim=-1) + 1e-6)
        return {t: h(z) for t, h in self.heads.items()}


@pytest.fixture
def logpower():
    from bench.models.registry import register_model, unregister_model

    register_model("tmp-logpower", full_name="log power (test)", citation="test", reported={},
                   fidelity="exact", multitask=True,
                   input_spec=InputSpec(layout="signal", window_s=4.0))(_LogPower)  # fmt: skip
    yield "tmp-logpower"
    unregister_model("tmp-logpower")


def test_a_signal_model_runs_whole_set_on_rows_of_the_input(
    logpower, tmp_path, deap_dir, cache_dir, monkeypatch
):
    from bench.config.run import RunConfig, TrainConfig
    from bench.runs import unit as unit_mod
    from bench.runs.plan import load_data, prepare
    from bench.runs.resolved import resolve_run
    from bench.runs.runner import run_experiment

    cfg = RunConfig(model=logpower, protocol="whole-set", n_folds=2, train=TrainConfig(max_epochs=2))
    with pytest.raises(Exception, match="reads the EEG signal, not brain-map features"):
        prepare(RunConfig(model=logpower, features=("de",)))
    fs = prepare_features(open_deap(deap_dir), cache_dir=cache_dir, contents=SIGNAL)
    maps = prepare_features(open_deap(deap_dir), cache_dir=cache_dir)
    p = prepare(cfg, features=fs)
    assert p.inputs.x.shape == (2 * 6 * 15, 32, 512) and p.features.fingerprint == maps.fingerprint
    with pytest.raises(Exception, match="features holding .* given to a run of 'tmp-logpower'"):
        prepare(cfg, features=maps)
    parts = []
    real_parts = unit_mod.unit_parts
    monkeypatch.setattr(unit_mod, "unit_parts", lambda *a: parts.append(real_parts(*a)) or parts[-1])
    res = run_experiment(cfg, tracking_uri=f"sqlite:///{tmp_path / 'a.db'}", prepared=p)
    assert len(parts) == 2 and all(isinstance(parts[0][i], Rows) for i in (0, 2, 4))  # no copies
    assert parts[0][0].base.data_ptr() == torch.from_numpy(p.inputs.x).data_ptr()
    assert 0 < res.summary["acc_arousal_mean"] < 1
    # the plan asks the cache for the signal
    assert load_data(resolve_run(cfg), deap=deap_dir).contents == SIGNAL
    with pytest.raises(Exception, match="reads the EEG signal; stacking is for brain-map models"):
        prepare(
            RunConfig(model=logpower, protocol="subject-specific", train=TrainConfig(stack=4)), features=fs
        )
