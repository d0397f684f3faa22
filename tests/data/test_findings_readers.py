"""Findings of the readers' audit: no data dropped or invented in silence, the baseline stated per dataset.

MAHNOB-HCI: an emotion session without its ``session.xml`` or rating is an error naming it, or, with
``skip_unrated`` / ``MAHNOB_SKIP_UNRATED=1``, a skip that ``bench data info`` and the run's tags count; a
BDF channel with an empty range is a DataError; the twin's Status channel has the onset and end pulses
the public readers expect (TorchEEG's event lookup), and the stimulus ends where the end pulse starts.
AMIGOS refuses participant numbers outside 1-40; DEAP names the type of a ``.mat`` ``data`` of the wrong
type. Every dataset says which seconds its feature baseline is.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from scipy.io import savemat

from bench.cli import main
from bench.core.errors import ConfigError, DataError
from bench.data.datasets import get_dataset
from bench.data.datasets import mahnob as M
from bench.data.datasets import mahnob_layout as L
from bench.data.datasets import mahnob_twin as T
from bench.data.datasets.bdf import DIGITAL, write_bdf
from bench.data.synthetic import SyntheticConfig

FS = 256
HINT = "to skip unrated sessions (counted by `bench data info` and in the run's tags)"


def _raises(message: str, error: type[Exception] = DataError):
    """The exact one-line error."""
    return pytest.raises(error, match=f"^{re.escape(message)}$")


def _session(sessions: Path, sid: int, subject: int = 1, attrib: dict | None = None, xml: bool = True,
             bdf_name: str | None = None) -> tuple[Path, Path]:  # fmt: skip
    """A session folder as find sees it: a placeholder .bdf (find never opens it) and a session.xml with
    the four ratings (``attrib`` overrides; None removes one)."""
    folder = sessions / str(sid)
    folder.mkdir(parents=True)
    bdf = folder / (bdf_name or f"Part_{subject}_N_Trial{sid}_emotion.bdf")
    bdf.write_bytes(b"")
    ratings = {"feltVlnc": "3", "feltArsl": "7", "feltCtrl": "5", "feltPred": "1", **(attrib or {})}
    path = folder / L.SESSION_XML
    if xml:
        T._write_session(folder, {k: v for k, v in ratings.items() if v is not None}, subject)
    return bdf, path


@pytest.fixture
def copy(tmp_path) -> Path:
    """Sessions 2, 4 (subject 1) and 6 (subject 2) rated; 3 rated without a recording (subject 1); 5 an
    implicit-tagging session; 7 an emotion recording without session.xml (subject 1); 8 a session of
    subject 2 whose session.xml lacks feltArsl."""
    sessions = tmp_path / "MAHNOB" / "Sessions"
    for sid, subject in ((2, 1), (4, 1), (6, 2)):
        _session(sessions, sid, subject)
    _, xml = _session(sessions, 3)
    (xml.parent / "Part_1_N_Trial3_emotion.bdf").unlink()
    _session(sessions, 5, attrib=dict.fromkeys(L.RATING_ATTRIBUTES), bdf_name="Part_1_N_Trial1_tagging.bdf")
    _session(sessions, 7, xml=False)
    _session(sessions, 8, subject=2, attrib={"feltArsl": None})
    return tmp_path / "MAHNOB"


# --- MAHNOB-HCI: unrated sessions -----------------------------------------------------------------------


def test_an_unrated_emotion_session_is_an_error_naming_it(copy):
    bdf7 = copy / "Sessions" / "7" / "Part_1_N_Trial7_emotion.bdf"
    with _raises(
        f"{bdf7}: emotion session 7 has no session.xml beside it (and 1 more: session(s) 8); pass "
        f"skip_unrated=True {HINT}"
    ):
        M.find_sessions(copy)
    xml8 = copy / "Sessions" / "8" / "session.xml"
    with _raises(f"{xml8}: emotion session 8 has no feltArsl rating; pass skip_unrated=True {HINT}"):
        M.find_sessions(copy, [2])  # session 7 is subject 1's (its file name says so): not asked for
    # the registry's find (every command's) names the environment variable instead
    with _raises(f"{xml8}: emotion session 8 has no feltArsl rating; set MAHNOB_SKIP_UNRATED=1 {HINT}"):
        get_dataset("mahnob-hci").find(copy, [2])


def test_skip_unrated_skips_and_counts_them(copy, monkeypatch):
    from bench.data.datasets import left_out

    sessions = copy / "Sessions"
    found = M.find_sessions(copy, skip_unrated=True)
    assert found == {
        1: (sessions / "2" / "Part_1_N_Trial2_emotion.bdf", sessions / "2" / "session.xml",
            sessions / "4" / "Part_1_N_Trial4_emotion.bdf", sessions / "4" / "session.xml"),
        2: (sessions / "6" / "Part_2_N_Trial6_emotion.bdf", sessions / "6" / "session.xml"),
    }  # fmt: skip
    kinds = {k.tag: k.ids for k in left_out("mahnob-hci", copy)}
    assert kinds == {"missing_recordings": (3,), "unrated_sessions": (7, 8)}
    assert {k.tag: k.ids for k in left_out("mahnob-hci", copy, [2])} == {
        "missing_recordings": (),
        "unrated_sessions": (8,),
    }
    # the environment variable is the CLI's switch; a value other than 0/1 is refused in one line
    monkeypatch.setenv("MAHNOB_SKIP_UNRATED", "1")
    assert get_dataset("mahnob-hci").find(copy, None) == found
    monkeypatch.setenv("MAHNOB_SKIP_UNRATED", "yes")
    with _raises("$MAHNOB_SKIP_UNRATED='yes' is not allowed; allowed: 0, 1", ConfigError):
        get_dataset("mahnob-hci").find(copy, None)


def test_the_runs_tags_count_what_was_left_out(copy):
    from bench.data.datasets import left_out_tags

    features = SimpleNamespace(dataset="mahnob-hci", source=str(copy), subjects=np.array([1, 2]))
    assert left_out_tags(features, "bench.") == {
        "bench.left_out.missing_recordings": "1",
        "bench.left_out.unrated_sessions": "2",
    }
    one = SimpleNamespace(dataset="mahnob-hci", source=str(copy / "Sessions"), subjects=np.array([2]))
    assert left_out_tags(one) == {
        "bench.left_out.missing_recordings": "0",
        "bench.left_out.unrated_sessions": "1",
    }
    deap = SimpleNamespace(dataset="deap", source="/x", subjects=np.array([1]))  # leaves nothing out: no tag
    assert left_out_tags(deap) == {}
    pair = SimpleNamespace(train=deap, test=features)  # cross-dataset: each side's
    assert left_out_tags(pair)["bench.left_out.test.unrated_sessions"] == "2"
    gone = SimpleNamespace(dataset="mahnob-hci", source=str(copy / "gone"), subjects=np.array([1]))
    assert left_out_tags(gone) == {"bench.left_out": "?"}


def test_data_info_counts_what_the_reader_leaves_out(copy, monkeypatch, capsys):
    from bench.cli.common import console

    monkeypatch.setattr(console, "_width", 400)  # one line per row
    monkeypatch.setenv("MAHNOB_DIR", str(copy))
    monkeypatch.setenv("MAHNOB_SKIP_UNRATED", "1")
    assert main(["data", "info"]) == 0
    out = capsys.readouterr().out
    words = " ".join(out.split())
    assert (
        f"│ mahnob-hci │ $MAHNOB_DIR={copy} │ 1 emotion sessions without a recording (left out, a gap the "
        "release documents): 3; 2 emotion sessions without session.xml or a feltVlnc/feltArsl rating "
        "(skipped): 7, 8 │"
    ) in words
    monkeypatch.setenv("MAHNOB_SKIP_UNRATED", "0")
    assert main(["data", "info"]) == 0
    words = " ".join(capsys.readouterr().out.split())
    assert "2 emotion sessions without session.xml or a feltVlnc/feltArsl rating (refused; " in words


@pytest.mark.slow
def test_a_run_on_a_copy_with_a_skipped_session_tags_the_counts(tmp_path, monkeypatch, capsys):
    """End to end (about 15 s: 4 BDF sessions through MNE): a MAHNOB twin, one recording's session.xml
    removed, run with MAHNOB_SKIP_UNRATED=1; the parent run's tags count the skipped session and the
    twin's session without a recording."""
    from mlflow.tracking import MlflowClient

    folder = tmp_path / "twin"
    written = T.write_twin(folder, SyntheticConfig(dataset="mahnob-hci", n_subjects=1, n_trials=5))
    written[-1].unlink()  # the fifth session's session.xml: an unrated emotion session
    monkeypatch.setenv("MAHNOB_SKIP_UNRATED", "1")
    uri = f"sqlite:///{tmp_path}/m.db"
    args = ["run", "--model", "majority", "--dataset", "mahnob-hci", "--data-dir", str(folder),
            "--folds", "2", "--epochs", "1", "--tracking-uri", uri]  # fmt: skip
    assert main(args) == 0, capsys.readouterr().err
    cl = MlflowClient(tracking_uri=uri)
    runs = cl.search_runs([e.experiment_id for e in cl.search_experiments()])
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    assert parent.data.tags["bench.left_out.unrated_sessions"] == "1"
    assert parent.data.tags["bench.left_out.missing_recordings"] == "1"  # the twin's documented gap
    assert parent.data.tags["bench.n_trials"] == "4"


# --- MAHNOB-HCI: BDF ranges, trigger pulses -------------------------------------------------------------


def _bdf(tmp_path: Path) -> tuple[Path, Path]:
    """A real 62 s session (noise EEG, a trigger held from 30 s for 31 s) in ``tmp_path/2``."""
    folder = tmp_path / "2"
    folder.mkdir()
    n = 62 * FS
    data = np.random.default_rng(0).normal(0.0, 20.0, (len(L.BDF_CHANNELS), n))
    data[-1] = 0.0
    data[-1, 30 * FS : 61 * FS] = 7
    ranges = [DIGITAL if c == L.STATUS else (-262144, 262143) for c in L.BDF_CHANNELS]
    bdf = folder / "Part_1_N_Trial1_emotion.bdf"
    write_bdf(bdf, L.BDF_CHANNELS, FS, data, ["uV"] * len(ranges), [r[0] for r in ranges],
                [r[1] for r in ranges])  # fmt: skip
    xml = T._write_session(folder, {"feltVlnc": "3", "feltArsl": "7", "feltCtrl": "5", "feltPred": "1"}, 1)
    return bdf, xml


@pytest.mark.parametrize(
    ("field", "value", "kind", "shown"),
    [(4, b"-262144 ", "physical", "-262144"), (6, b"-8388608", "digital", "-8388608")],
)  # pmax := pmin, dmax := dmin
def test_an_empty_channel_range_is_a_data_error(tmp_path, field, value, kind, shown):
    """MNE reads such a file without a word (a flat or non-finite channel): refused before it does."""
    bdf, xml = _bdf(tmp_path)
    raw = bytearray(bdf.read_bytes())
    ns = len(L.BDF_CHANNELS)
    at = 256 + ns * sum((16, 80, 8, 8, 8, 8, 8, 80, 8, 32)[:field]) + L.BDF_CHANNELS.index("F3") * 8  # spec
    raw[at : at + 8] = value
    bdf.write_bytes(bytes(raw))
    with _raises(
        f"{bdf}: channel F3 has an empty {kind} range in its header (minimum = maximum = {shown}): its "
        "samples cannot be scaled"
    ):
        M.read_subject((bdf, xml), 1)


def test_the_stimulus_ends_where_the_end_pulse_starts():
    """Onset pulse at 30 s, end pulse at 65 s, each 6 samples: the stimulus is [7680, 16640); the code
    before took one past the end pulse's last sample, 6 samples late. One trigger held through the
    stimulus (earlier twins) still spans it; three pulses are refused."""
    status = np.full(100 * FS, float(1 << 16))  # a system bit set throughout
    for at in (30 * FS, 65 * FS):
        status[at : at + 6] += 3
    assert M._stimulus(Path("x.bdf"), status, FS) == (30 * FS, 65 * FS)
    held = np.zeros(100 * FS)
    held[30 * FS : 65 * FS] = 3
    assert M._stimulus(Path("x.bdf"), held, FS) == (30 * FS, 65 * FS)
    status[80 * FS : 80 * FS + 6] += 3
    with _raises(
        "x.bdf: 3 trigger pulses in the Status channel (at 30.00, 65.00, 80.00 s); expected one at the "
        "stimulus onset and one at its end"
    ):
        M._stimulus(Path("x.bdf"), status, FS)


def test_the_twins_status_reads_with_torcheegs_event_lookup(tmp_path):
    """TorchEEG's MAHNOB reader: ``events = mne.find_events(raw, stim_channel='Status')``, then the
    stimulus is samples ``events[0][0] + 1`` to ``events[1][0] - 1`` (an IndexError on the twin before:
    its trigger was one level held through the stimulus, one event). The harness reads the same span,
    from the onset sample up to the end pulse's first sample."""
    import mne

    folder = tmp_path / "twin"
    written = T.write_twin(folder, SyntheticConfig(dataset="mahnob-hci", n_subjects=1, n_trials=1))
    raw = mne.io.read_raw_bdf(written[0], preload=True, stim_channel="Status", verbose="error")
    events = mne.find_events(raw, stim_channel="Status", verbose="error")
    start, end = events[0][0] + 1, events[1][0] - 1
    n_base, n_stim = 30 * FS, T._TWIN_STIMULUS[0]
    assert (start, end) == (n_base + 1, n_base + n_stim - 1)
    status = raw.get_data(picks=["Status"])[0]
    assert M._stimulus(written[0], status, FS) == (n_base, n_base + n_stim)
    # a twin of the new layout is not taken for an earlier one (its config and folder key say so)
    assert json.loads((folder / "SYNTHETIC.json").read_text())["config"]["twin_revision"] == 2


# --- AMIGOS, DEAP -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def amigos_file(tmp_path_factory) -> Path:
    from bench.data.datasets.amigos import twin_subject

    folder = tmp_path_factory.mktemp("amigos")
    variables = twin_subject(SyntheticConfig(dataset="amigos", n_subjects=1, n_trials=2), 1)
    path = folder / "Data_Preprocessed_P01.mat"
    savemat(path, variables, appendmat=False)
    return path


@pytest.mark.parametrize("number", ["00", "41", "123"])
def test_amigos_participants_outside_1_40_are_refused(amigos_file, tmp_path, number):
    from bench.data.datasets.amigos import find, read

    stray = tmp_path / f"Data_Preprocessed_P{number}.mat"
    shutil.copy(amigos_file, stray)
    shutil.copy(amigos_file, tmp_path / "Data_Preprocessed_P01.mat")
    message = (
        f"{stray}: participant {int(number)} is outside AMIGOS' participants 1-40; not a file of the release "
        "(rename or remove it)"
    )
    with _raises(message):
        find(tmp_path, None)
    with _raises(message):
        read((stray,), int(number))
    assert list(find(tmp_path, [1])) == [1]  # a stray file of a participant not asked for is not read
    with _raises(f"{tmp_path}: subject {int(number)} is outside AMIGOS' participants 1-40"):
        find(tmp_path, [1, int(number)])


def _cell(value: object) -> np.ndarray:
    """A 1x1 MATLAB cell holding ``value``."""
    out = np.empty((1, 1), dtype=object)
    out[0, 0] = value
    return out


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (_cell(np.zeros((2, 2))), "a 1x1 cell"),
        ({"x": np.zeros(3)}, "a 1x1 struct"),
        ("EEG", "a string"),
    ],
)
def test_a_deap_mat_whose_data_is_the_wrong_type_says_so(tmp_path, data, what):
    from bench.data.datasets.deap import read_subject

    path = tmp_path / "s01.mat"
    savemat(path, {"data": data, "labels": np.ones((1, 4))})
    with _raises(f"{path}: 'data' must be an array of numbers, got {what}"):
        read_subject(path)
    savemat(path, {"data": np.zeros((1, 40, 8064)), "labels": _cell(np.ones(4))})
    with _raises(f"{path}: 'labels' must be an array of numbers, got a 1x1 cell"):
        read_subject(path)


def test_a_deap_pickle_whose_data_is_the_wrong_type_says_so(tmp_path):
    from bench.data.datasets.deap import read_subject
    from tests.conftest import write_deap_file

    path = write_deap_file(tmp_path / "s02.dat", np.array([None]), np.ones((1, 4)))
    with _raises(f"{path}: 'data' must be an array of numbers, got an array of dtype object, shape (1,)"):
        read_subject(path)


# --- the baseline, per dataset ------------------------------------------------------------------------


def test_each_dataset_states_its_baseline():
    """The default feature baseline (3 s) is the last 3 s before the stimulus in DEAP, DREAMER and
    MAHNOB-HCI, and seconds 2-5 of the clip itself in AMIGOS, whose release has no pre-stimulus
    recording; ``-F baseline_s=5`` takes AMIGOS' seconds 0-5 (TorchEEG's)."""
    assert {n: get_dataset(n).baseline_segment(3.0) for n in ("deap", "dreamer", "amigos", "mahnob-hci")} == {
        "deap": "the 3 s before the video (DEAP's pre-trial baseline)",
        "dreamer": "the last 3 s of the 61 s baseline recorded before the clip",
        "amigos": "seconds 2-5 of the stimulus itself (no pre-stimulus recording in the release)",
        "mahnob-hci": "the last 3 s before the stimulus onset trigger",
    }
    amigos = get_dataset("amigos")
    assert amigos.baseline_segment(5.0).startswith("seconds 0-5 of the stimulus itself")
    assert amigos.baseline_segment(6.0) == "none: AMIGOS recordings hold 5 s of baseline"
    assert (
        get_dataset("deap").baseline_segment(1.5)
        == "the last 1.5 s before the video (DEAP's pre-trial baseline)"
    )


def test_amigos_baseline_option_selects_the_segment_and_the_default_keeps_its_keys(amigos_file):
    """The rows hold the clip's first 5 s then its last 45 s; the features use the last ``baseline_s``
    seconds of the first part: samples 256-640 by default, 0-640 with ``baseline_s=5``. The default's
    reader key (digest salt) is the one cached features were filed under."""
    from bench.data.datasets.amigos import read
    from bench.data.features import FeatureConfig
    from bench.data.recordings import recording_for

    ds = get_dataset("amigos")
    rec = read((amigos_file,), 1)
    default = recording_for(rec, ds, FeatureConfig())
    np.testing.assert_array_equal(default[..., :384], rec.eeg[..., 256:640])  # seconds 2-5
    np.testing.assert_array_equal(recording_for(rec, ds, FeatureConfig(baseline_s=5.0)), rec.eeg)  # 0-5
    assert ds.digest_salt == "amigos/reader-v1/first5s+last45s"
