"""MAHNOB-HCI: the BDF writer, the twin round trip, the planted effect through the reader's
preprocessing, and one-line errors for every bad input."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from bench.core.errors import DataError
from bench.data.datasets import get_dataset
from bench.data.datasets import mahnob as M
from bench.data.datasets import mahnob_layout as L
from bench.data.datasets import mahnob_twin as T
from bench.data.datasets.bdf import DIGITAL, write_bdf
from bench.data.synthetic import MARKER, SyntheticConfig, planted_signals, subject_rng

CONFIG = SyntheticConfig(dataset="mahnob-hci", n_subjects=2, n_trials=4, seed=0, effect_size=3.0)
FS = 256
N_BASE = 30 * FS


def _raises(message: str):
    """The exact one-line error (``^...$`` without MULTILINE: no newline inside)."""
    return pytest.raises(DataError, match=f"^{re.escape(message)}$")


def _planted(subject: int):
    rng = subject_rng(CONFIG, subject)
    return planted_signals(
        rng, CONFIG, channels=M.EEG_CHANNELS, sfreq=L.FILE_SFREQ, n_trials=CONFIG.n_trials,
        n_baseline=N_BASE, n_stimulus=max(T._TWIN_STIMULUS), scale=(1.0, 9.0), threshold=5.0,
        integer_ratings=True,
    )  # fmt: skip


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mahnob") / "MAHNOB-HCI"
    written = T.write_twin(folder, CONFIG)
    found = M.find_sessions(folder)
    records = {s: M.read_subject(files, s) for s, files in found.items()}
    return folder, written, found, records


# --- the twin through find and read -------------------------------------------------------------------


def test_find_lists_emotion_sessions_in_session_order(twin):
    folder, written, found, _ = twin
    sessions = folder / "Sessions"
    assert list(found) == [1, 2]
    assert found[1] == (
        sessions / "2" / "Part_1_N_Trial1_emotion.bdf", sessions / "2" / "session.xml",
        sessions / "4" / "Part_1_N_Trial2_emotion.bdf", sessions / "4" / "session.xml",
        sessions / "6" / "Part_1_N_Trial3_emotion.bdf", sessions / "6" / "session.xml",
        sessions / "8" / "Part_1_N_Trial4_emotion.bdf", sessions / "8" / "session.xml",
    )  # fmt: skip
    assert written == [*found[1], *found[2]]
    # skipped: session 3 (emotion, no .bdf) and 61 (implicit tagging: no felt* attributes, has a .bdf)
    assert not list((sessions / "3").glob("*.bdf")) and (sessions / "3" / "session.xml").is_file()
    assert list((sessions / "61").glob("*.bdf"))
    assert "feltVlnc" not in (sessions / "61" / "session.xml").read_text()
    assert M.find_sessions(sessions, [2]) == {2: found[2]}  # the Sessions folder itself works too
    assert (folder / MARKER).is_file()


def test_read_returns_the_planted_ratings_and_shapes(twin):
    folder, _, found, records = twin
    for s, rec in records.items():
        ratings, _, _ = _planted(s)
        assert rec.subject == s and rec.path == found[s][0]
        assert rec.eeg.shape == (4, 32, 7680) and rec.eeg.dtype == np.float64
        assert rec.channel_names == M.EEG_CHANNELS and rec.sfreq == 128.0
        assert rec.trial_ids == tuple((s - 1) * 130 + 2 * t + 2 for t in range(4))
        np.testing.assert_array_equal(rec.ratings, ratings)  # valence, arousal, control, predictability
    xml = (found[1][1]).read_text()
    r = records[1].ratings[0]
    assert f'feltVlnc="{int(r[0])}"' in xml and f'feltArsl="{int(r[1])}"' in xml and 'sessionId="2"' in xml


def test_eeg_is_the_generators_signal_rereferenced_and_filtered(twin):
    """The reader removes the tens-of-mV offsets, keeps the 4-45 Hz signal, and cuts 30 s before onset
    and the last 30 s of the stimulus: compared with the generator's common-average-referenced signal
    at every second sample (the 256 Hz generator has little power outside 4-45 Hz)."""
    _, _, _, records = twin
    _, base, stim = _planted(1)
    eeg = records[1].eeg
    assert np.abs(eeg.mean(axis=-1)).max() < 0.5  # microvolts; the offsets were up to 30 000 uV
    for t in range(4):
        n = T._TWIN_STIMULUS[t]
        want_base = (base[t] - base[t].mean(axis=0))[:, ::2]
        want_stim = stim[t, :, n - N_BASE : n]
        want_stim = (want_stim - want_stim.mean(axis=0))[:, ::2]
        inner = slice(10, -10)  # away from the filter's edges at the cut
        assert np.corrcoef(eeg[t, :, :3840][:, inner].ravel(), want_base[:, inner].ravel())[0, 1] > 0.99
        if n % 2 == 0:  # an odd stimulus end falls between two 128 Hz samples
            assert np.corrcoef(eeg[t, :, 3840:][:, inner].ravel(), want_stim[:, inner].ravel())[0, 1] > 0.99
        freqs = np.fft.rfftfreq(3840, 1 / 128)
        alpha = (freqs >= 8) & (freqs < 14)
        got = (np.abs(np.fft.rfft(eeg[t, :, :3840])) ** 2)[:, alpha].sum()
        want = (np.abs(np.fft.rfft(want_base)) ** 2)[:, alpha].sum()
        assert got / want == pytest.approx(1.0, abs=0.05)  # 10 Hz power kept


def test_planted_frontal_alpha_effect_survives_the_reader(twin):
    """Log alpha (8-14 Hz) power of the stimulus part falls with valence at the left-frontal channels
    and rises at the right-frontal ones (subject-centred correlation over 2 subjects x 4 trials)."""
    _, _, _, records = twin
    freqs = np.fft.rfftfreq(3840, 1 / 128)
    alpha = (freqs >= 8) & (freqs < 14)
    for side, sign in ((("Fp1", "AF3", "F3", "F7", "FC5"), -1), (("Fp2", "AF4", "F4", "F8", "FC6"), 1)):
        zs, powers = [], []
        for rec in records.values():
            idx = [M.EEG_CHANNELS.index(c) for c in side]
            spec = np.abs(np.fft.rfft(rec.eeg[:, idx, 3840:], axis=-1)) ** 2
            log_alpha = np.log(spec[..., alpha].mean(axis=-1)).mean(axis=1)
            z = (rec.ratings[:, 0] - 5.0) / 4.0
            zs += list(z - z.mean())
            powers += list(log_alpha - log_alpha.mean())
        assert sign * np.corrcoef(zs, powers)[0, 1] > 0.5


def test_registry_entry():
    ds = get_dataset("mahnob-hci")
    assert ds is M.MAHNOB and ds.name == "mahnob-hci" and ds.title == "MAHNOB-HCI"
    assert ds.n_samples == round((ds.baseline_s + ds.trial_s) * ds.sfreq) == 7680
    assert (ds.sfreq, ds.baseline_s, ds.trial_s) == (128.0, 30.0, 30.0)
    assert (ds.scale, ds.threshold) == ((1.0, 9.0), 5.0)
    assert ds.rating_names == ("valence", "arousal", "control", "predictability")
    assert (ds.n_subjects, ds.n_trials, ds.env, ds.shared_file) == (30, 20, "MAHNOB_DIR", False)
    assert ds.channels == M.EEG_CHANNELS and len(L.BDF_CHANNELS) == 47
    assert ds.digest_salt == "mahnob-hci/reader-v2/30s+last30s"  # v2: the stimulus ends at the end pulse
    assert ds.find is M._find and ds.read is M.read_subject and ds.left_out is M.left_out


def test_twin_refuses_a_real_copy_and_prunes_an_earlier_twin(tmp_path):
    real = tmp_path / "real"
    (real / "Sessions" / "2").mkdir(parents=True)
    (real / "Sessions" / "2" / "Part_1_N_Trial1_emotion.bdf").write_bytes(b"real")
    with _raises(f"{real}: holds data files that are not synthetic; refusing to overwrite them"):
        T.write_twin(real, SyntheticConfig(dataset="mahnob-hci", n_subjects=1, n_trials=1))
    folder = tmp_path / "twin"
    T.write_twin(folder, SyntheticConfig(dataset="mahnob-hci", n_subjects=2, n_trials=2))
    T.write_twin(folder, SyntheticConfig(dataset="mahnob-hci", n_subjects=1, n_trials=1))
    assert sorted(p.name for p in (folder / "Sessions").iterdir()) == ["2", "3", "61"]
    assert list(M.find_sessions(folder)) == [1]


# --- the BDF writer ----------------------------------------------------------------------------------


def _read_bdf(path: Path):
    import mne

    return mne.io.read_raw_bdf(path, preload=True, stim_channel="Status", verbose="error")


def test_write_bdf_bytes_and_mne_reads_it_back(tmp_path):
    path = tmp_path / "x.bdf"
    rng = np.random.default_rng(0)
    eeg = rng.uniform(-1000.0, 1000.0, (2, 512))
    status = np.zeros(512)
    status[:4] = (-1, 1, 2**23 - 1, -(2**23))  # Status: physical range == digital range, stored exactly
    write_bdf(path, ["Fp1", "GSR1", "Status"], 256.0, np.vstack([eeg, status]), ["uV", "Ohm", "Boolean"],
                [-262144, -262144, -(2**23)], [262143, 262143, 2**23 - 1])  # fmt: skip
    raw = path.read_bytes()
    assert len(raw) == 256 * 4 + 2 * 3 * 256 * 3  # header + 2 one-second records of 3 channels
    assert raw[:8] == b"\xffBIOSEMI" and raw[184:192] == b"1024    " and raw[192:197] == b"24BIT"
    assert raw[236:244] == b"2       " and raw[244:252] == b"1       " and raw[252:256] == b"3   "
    assert raw[256:304] == b"Fp1".ljust(16) + b"GSR1".ljust(16) + b"Status".ljust(16)
    status_record = 1024 + 2 * 256 * 3  # the first record's third channel
    assert raw[status_record : status_record + 12] == b"\xff\xff\xff\x01\x00\x00\xff\xff\x7f\x00\x00\x80"
    back = _read_bdf(path)
    assert back.ch_names == ["Fp1", "GSR1", "Status"] and back.info["sfreq"] == 256.0
    assert back.n_times == 512
    step = 524287 / (2**24 - 1)  # uV per bit
    np.testing.assert_allclose(back.get_data(picks=[0])[0] * 1e6, eeg[0], atol=step / 2 + 1e-9)
    np.testing.assert_allclose(back.get_data(picks=[1])[0], eeg[1], atol=step / 2 + 1e-9)  # ohms: no scaling
    # MNE keeps Status bits 0-16 of the raw word (-1 -> 0x1ffff)
    assert back.get_data(picks=[2])[0][:5].tolist() == [2**17 - 1, 1, 2**17 - 1, 0, 0]


def test_twin_bdf_has_the_real_channels_rate_and_triggers(twin):
    _, written, _, _ = twin
    raw = _read_bdf(written[0])
    assert tuple(raw.ch_names) == L.BDF_CHANNELS and raw.info["sfreq"] == 256.0
    n_stim = T._TWIN_STIMULUS[0]
    assert raw.n_times == 2 * N_BASE + n_stim  # 30 s + 35 s + 30 s: whole seconds already
    trigger = raw.get_data(picks=["Status"])[0].astype(int)
    pulse = N_BASE + np.arange(T.TWIN_PULSE)  # a pulse at the onset and one at the end of the stimulus
    assert set(trigger[pulse]) == set(trigger[pulse + n_stim]) == {(1 << 16) + 1}
    trigger[pulse], trigger[pulse + n_stim] = 1 << 16, 1 << 16
    assert set(trigger) == {1 << 16}  # the system bits, and nothing else
    assert np.abs(raw.get_data(picks=["Fp1"])).max() > 1e-4  # a DC offset of tenths of mV or more


# --- bad input: one line naming the file ---------------------------------------------------------------


def _session(sessions: Path, sid: int, subject: int = 1, *, names=L.BDF_CHANNELS, onset_s=30.0, stim_s=31.0,
             total_s=62, attrib=None) -> tuple[Path, Path]:  # fmt: skip
    """A small session folder: noise EEG, a trigger from ``onset_s`` for ``stim_s`` seconds."""
    folder = sessions / str(sid)
    folder.mkdir(parents=True)
    n = total_s * FS
    data = np.random.default_rng(sid).normal(0.0, 20.0, (len(names), n))
    status_row = [i for i, c in enumerate(names) if c.lower() == "status"]
    for i in status_row:
        data[i] = 0.0
        data[i, round(onset_s * FS) : round((onset_s + stim_s) * FS)] = 7
    ranges = [DIGITAL if c.lower() == "status" else (-262144, 262143) for c in names]
    bdf = folder / f"Part_{subject}_N_Trial1_emotion.bdf"
    write_bdf(bdf, names, FS, data, ["uV"] * len(names), [r[0] for r in ranges], [r[1] for r in ranges])
    attrib = {"feltVlnc": "3", "feltArsl": "7", "feltCtrl": "5", "feltPred": "1", **(attrib or {})}
    xml = T._write_session(folder, {k: v for k, v in attrib.items() if v is not None}, subject)
    return bdf, xml


def test_channels_are_found_by_name_in_any_order_and_case(tmp_path):
    names = tuple(c.upper() for c in reversed(M.EEG_CHANNELS)) + ("Status",)
    bdf, xml = _session(tmp_path, 5, names=names)
    freqs = 5.0 + np.arange(32)  # channel i of DEAP's order carries a sinusoid at 5 + i Hz
    t = np.arange(62 * FS) / FS
    data = np.zeros((33, t.size))
    for i, c in enumerate(M.EEG_CHANNELS):
        data[names.index(c.upper())] = 50.0 * np.sin(2 * np.pi * freqs[i] * t)
    data[32, N_BASE : N_BASE + 31 * FS] = 3
    write_bdf(bdf, names, FS, data, ["uV"] * 32 + ["Boolean"], [-262144] * 32 + [-(2**23)],
                [262143] * 32 + [2**23 - 1])  # fmt: skip
    rec = M.read_subject((bdf, xml), 1)
    spectrum = np.abs(np.fft.rfft(rec.eeg[0, :, 3840:], axis=-1))
    peak = np.fft.rfftfreq(3840, 1 / 128)[spectrum.argmax(axis=-1)]
    np.testing.assert_allclose(peak, freqs)
    assert rec.trial_ids == (5,) and rec.ratings.tolist() == [[3.0, 7.0, 5.0, 1.0]]


def test_find_errors(tmp_path):
    with _raises(f"{tmp_path / 'nope'}: MAHNOB-HCI folder not found"):
        M.find_sessions(tmp_path / "nope")
    (tmp_path / "Sessions").mkdir()
    # implicit tagging only (no felt* attributes, no *_emotion.bdf): an emotion session without its
    # rating is an error now (tests/test_findings_readers.py)
    bdf, _ = _session(tmp_path / "Sessions", 9, attrib=dict.fromkeys(L.RATING_ATTRIBUTES))
    bdf.rename(bdf.with_name("Part_1_N_Trial1_tagging.bdf"))
    with _raises(
        f"{tmp_path / 'Sessions'}: no MAHNOB-HCI emotion sessions (<session id>/session.xml with feltVlnc "
        "and feltArsl, and a .bdf) found"
    ):
        M.find_sessions(tmp_path)
    _session(tmp_path / "Sessions", 10, subject=3)
    with _raises(f"{tmp_path / 'Sessions'}: no emotion sessions of subject(s) 1, 2 (found 3)"):
        M.find_sessions(tmp_path, [3, 2, 1])


def test_find_does_not_open_recordings(tmp_path):
    bdf, xml = _session(tmp_path, 4)
    bdf.write_bytes(b"garbage")
    assert M.find_sessions(tmp_path) == {1: (bdf, xml)}
    with _raises(f"{bdf}: not a BDF file (no BDF header)"):
        M.read_subject((bdf, xml), 1)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("<session feltVlnc='1' feltArsl='1'><subject id='1'>",
         "malformed XML (ParseError: no element found: line 1, column 51)"),
        ("<sessions feltVlnc='1' feltArsl='1'/>", "root element is <sessions>, expected <session>"),
        ("<session feltVlnc='1' feltArsl='1'/>", "no <subject id=...> element"),
        ("<session feltVlnc='1' feltArsl='1'><subject id='P1'/></session>",
         "subject id 'P1' is not a positive integer"),
    ],
)  # fmt: skip
def test_bad_session_xml_found_by_find(tmp_path, text, error):
    _, xml = _session(tmp_path, 2)
    xml.write_text(text)
    with _raises(f"{xml}: {error}"):
        M.find_sessions(tmp_path)


@pytest.mark.parametrize(
    ("attrib", "error"),
    [
        ({"feltVlnc": "12"}, "feltVlnc (valence) is '12', expected an integer 1-9"),
        ({"feltArsl": "high"}, "feltArsl (arousal) is 'high', expected an integer 1-9"),
        ({"feltCtrl": "4.5"}, "feltCtrl (control) is '4.5', expected an integer 1-9"),
        ({"feltPred": "nan"}, "feltPred (predictability) is 'nan', expected an integer 1-9"),
        ({"feltPred": None}, "no feltPred attribute (predictability rating) on <session>"),
    ],
)
def test_bad_ratings(tmp_path, attrib, error):
    bdf, xml = _session(tmp_path, 2, attrib=attrib)
    with _raises(f"{xml}: {error}"):
        M.read_subject(M.find_sessions(tmp_path)[1], 1)


def test_read_errors_about_the_files_given(tmp_path):
    bdf, xml = _session(tmp_path, 2)
    with _raises(f"{bdf}: expected (.bdf, session.xml) pairs, got 1 file(s)"):
        M.read_subject((bdf,), 1)
    with _raises(f"{xml}: expected a .bdf and the session.xml of its session folder, got {bdf}"):
        M.read_subject((xml, bdf), 1)
    with _raises(f"{xml}: session of subject 1, expected subject 2"):
        M.read_subject((bdf, xml), 2)
    bdf.unlink()
    with _raises(f"{bdf}: file not found"):
        M.read_subject((bdf, xml), 1)
    xml.unlink()
    with _raises(f"{xml}: file not found"):
        M.read_subject((bdf, xml), 1)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"names": tuple(c for c in L.BDF_CHANNELS if c not in ("Oz", "T8"))},
         "EEG channel(s) Oz, T8 missing"),
        ({"names": L.BDF_CHANNELS[:-1]}, "no Status channel (the stimulus triggers)"),
        ({"stim_s": 0.0}, "no stimulus trigger in the Status channel (its low 16 bits are all 0)"),
        ({"onset_s": 20.0},
         "the stimulus starts 20.00 s into the recording; 30 s of baseline are needed before it"),
        ({"stim_s": 29.5}, "the stimulus lasts 29.50 s (30.00-59.50 s); at least 30 s are needed"),
    ],
)  # fmt: skip
def test_bad_recordings(tmp_path, kwargs, error):
    bdf, xml = _session(tmp_path, 2, **kwargs)
    with _raises(f"{bdf}: {error}"):
        M.read_subject((bdf, xml), 1)


def test_triggers_are_the_low_16_bits_of_status(tmp_path):
    """System bits (16-23) set throughout do not count as a trigger."""
    bdf, xml = _session(tmp_path, 2, stim_s=0.0)
    raw = bytearray(bdf.read_bytes())
    header = 256 * 48
    for record in range(62):  # Status is the last channel of each 1-s record: set bit 16 and 20
        start = header + (record * 47 + 46) * FS * 3
        raw[start + 2 : start + FS * 3 : 3] = bytes([0x11]) * FS
    bdf.write_bytes(bytes(raw))
    assert _read_bdf(bdf).get_data(picks=["Status"])[0].max() == 1 << 16  # what MNE itself keeps
    with _raises(f"{bdf}: no stimulus trigger in the Status channel (its low 16 bits are all 0)"):
        M.read_subject((bdf, xml), 1)


def test_truncated_and_corrupt_bdf(tmp_path):
    bdf, xml = _session(tmp_path, 2)
    whole = bdf.read_bytes()
    bdf.write_bytes(whole[:-1000])
    size = len(whole)
    with _raises(f"{bdf}: truncated: {size - 1000} bytes, the header promises {size} (62 1-s records)"):
        M.read_subject((bdf, xml), 1)
    bdf.write_bytes(whole[:100])
    with _raises(f"{bdf}: not a BDF file (no BDF header)"):
        M.read_subject((bdf, xml), 1)
    # a physical minimum that is no number: MNE's own error, wrapped into one line
    start = 256 + 47 * (16 + 80 + 8)
    bdf.write_bytes(whole[:start] + b"abc     " + whole[start + 8 :])
    start_of_error = re.escape(f"{bdf}: not a readable BDF file (ValueError: ")
    with pytest.raises(DataError, match=f"^{start_of_error}") as e:
        M.read_subject((bdf, xml), 1)
    assert "\n" not in str(e.value)


def test_non_finite_eeg(tmp_path):
    """BDF samples are integers, but a header's physical range can be NaN: MNE then scales to NaN."""
    bdf, xml = _session(tmp_path, 2)
    raw = bdf.read_bytes()
    pmax_f3 = 256 + 47 * (16 + 80 + 8 + 8) + L.BDF_CHANNELS.index("F3") * 8
    bdf.write_bytes(raw[:pmax_f3] + b"nan     " + raw[pmax_f3 + 8 :])
    with _raises(f"{bdf}: non-finite EEG value at channel F3, sample 0"):
        M.read_subject((bdf, xml), 1)


def test_two_recordings_in_one_session_folder(tmp_path):
    bdf, _ = _session(tmp_path, 2)
    (bdf.parent / "copy.bdf").write_bytes(b"")
    with _raises(f"{bdf.parent}: 2 .bdf files, expected one per session"):
        M.find_sessions(tmp_path)
