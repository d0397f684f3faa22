"""MAHNOB-HCI (Soleymani et al., IEEE TAC 2012): the emotion-elicitation sessions of the database.

Layout read
-----------
The release's ``Sessions/`` folder (``root`` may be that folder or the folder holding it) has one
sub-folder per recording session, named by its integer session id (1 ... 3810, not contiguous)::

    Sessions/<session id>/Part_<subject>_<N|S>_Trial<k>_emotion.bdf   the recording
    Sessions/<session id>/session.xml                                  the session's description

as documented by TorchEEG's and EEGain's MAHNOB readers and bob.db.hci_tagging. A session is an
emotion-elicitation trial iff its ``session.xml`` root element ``<session>`` carries the ``feltVlnc`` and
``feltArsl`` attributes and its folder holds a ``.bdf``. The subject is the ``id`` of the ``<subject>``
child element. A subject's files are the (``.bdf``, ``session.xml``) pairs of its emotion sessions in
integer session-id order: that order is the trial order, and the session ids are the returned
``trial_ids``. :func:`find_sessions` reads only the XML files, with ElementTree (which resolves no
external entities; expat >= 2.4.1 refuses entity-expansion bombs). Ratings are the ``<session>``
attributes ``feltVlnc``, ``feltArsl``, ``feltCtrl``, ``feltPred`` (valence, arousal, control,
predictability): integers 1-9; high means above 5.

Nothing is left out in silence. The implicit-tagging sessions (no felt* attributes, no
``*_emotion.bdf``) are another experiment and are not read. Emotion sessions whose recording is missing
(rated, no ``.bdf``: a gap the release documents) are left out, as TorchEEG and EEGain leave them out,
and counted (:func:`left_out`: ``bench data info``, the run's tag ``bench.left_out.missing_recordings``).
An emotion session without its rating - a ``*_emotion.bdf`` without ``session.xml``, or a session with
some felt* attributes or an ``*_emotion.bdf`` but no ``feltVlnc`` or ``feltArsl`` - is an error naming
the session; with ``skip_unrated=True`` (the CLI: ``MAHNOB_SKIP_UNRATED=1`` in the environment) it is
skipped instead, and counted likewise (``bench.left_out.unrated_sessions``).

Each ``.bdf`` is a Biosemi BDF (24-bit samples) of 47 channels, read with MNE: 32 EEG channels
(:data:`EEG_CHANNELS`, found by name, case-insensitively, and returned in DEAP's order), the external
electrodes ``EXG1``-``EXG8`` (ECG and others), ``GSR1``, ``GSR2``, ``Erg1``, ``Erg2``, ``Resp``,
``Temp`` and the trigger channel ``Status``. The sampling rate is read from the file (256 Hz in the
released data). A recording holds about 30 s before the stimulus, the stimulus (clips of 34.9-117 s) and
about 30 s after it. The stimulus is located from ``Status`` masked to its low 16 bits (Biosemi's
trigger bits; the high byte holds system status bits). The recordings mark the stimulus's onset and its
end with one trigger pulse each, as the public readers expect (TorchEEG takes the first two
``mne.find_events`` events, from one sample after the first to one sample before the second;
bob.db.hci_tagging the first and last non-zero samples): the stimulus runs from the first sample of the
first pulse up to (not including) the first sample of the second. A trigger held through the whole
stimulus instead (one run of non-zero samples; twins written before the pulses) runs from its first
sample to one past its last. Any other number of pulses is an error: the reader does not guess.
A channel whose header gives an empty physical or digital range (minimum = maximum) is an error too:
its samples cannot be scaled (MNE would return a flat or non-finite channel without a word).

What the reader returns
-----------------------
The recordings are raw (unfiltered, DC-coupled, with offsets of tens of millivolts), so each one gets
DEAP's preprocessing on the whole continuous recording, before cutting: the EEG channels' common
average reference, a 4-45 Hz band-pass (MNE FIR, zero-phase), and resampling to 128 Hz with MNE
(:func:`bench.data.preprocess.deap_like`; stimulus onset and offset are converted to the new rate).
Each trial is then the 30 s before the stimulus onset followed by the LAST 30 s of the stimulus
(clips differ in length; their ends are the comparable part), in microvolts. A recording with less
than 30 s before the onset, or a stimulus shorter than 30 s, is an error.

Every problem (a missing or unreadable file, malformed XML, an unrated emotion session, a rating that
is not an integer 1-9, a missing EEG channel, a truncated BDF, an empty channel range, no trigger or
too many) is a one-line :class:`~bench.core.errors.DataError` naming the file; MNE's own messages and
warnings are kept out of the output.

The synthetic twin is :mod:`bench.data.datasets.mahnob_twin`'s; the names, rates and channels the reader
and the twin share are :mod:`bench.data.datasets.mahnob_layout`'s.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.core.checks import check_option
from bench.core.errors import DataError
from bench.data.datasets import Dataset, LeftOut, SubjectRecording, register_dataset
from bench.data.datasets.bdf import check_bdf_header
from bench.data.datasets.mahnob_layout import (
    BASELINE_S,
    EEG_CHANNELS,
    EMOTION_BDF,
    NAME,
    RATING_ATTRIBUTES,
    RATING_NAMES,
    SCALE,
    SESSION_XML,
    SESSIONS,
    SFREQ,
    SKIP_UNRATED_ENV,
    STATUS,
    THRESHOLD,
    TRIAL_S,
    TRIGGER_MASK,
)
from bench.data.datasets.mahnob_twin import write_twin
from bench.data.preprocess import deap_like
from bench.data.safeload import check_eeg, check_ratings, exception_line, first_non_finite, quiet_mne


def _read_recording(bdf: Path) -> np.ndarray:
    """One session's trial: (32 EEG channels, baseline + trial samples at 128 Hz) in microvolts."""
    import mne

    check_bdf_header(bdf)
    with quiet_mne():
        try:
            raw = mne.io.read_raw_bdf(bdf, preload=True, stim_channel=STATUS, verbose="error")
        except Exception as exc:  # MNE raises many types for a corrupt file
            raise DataError(f"{bdf}: not a readable BDF file ({exception_line(exc)})") from None
        sfreq = float(raw.info["sfreq"])
        if sfreq < SFREQ:
            raise DataError(f"{bdf}: sampling rate {sfreq:g} Hz, expected at least {SFREQ:g} Hz")
        index = {name.lower(): i for i, name in enumerate(raw.ch_names)}
        missing = [c for c in EEG_CHANNELS if c.lower() not in index]
        if missing:
            raise DataError(f"{bdf}: EEG channel(s) {', '.join(missing)} missing")
        if STATUS.lower() not in index:
            raise DataError(f"{bdf}: no {STATUS} channel (the stimulus triggers)")
        onset, offset = _stimulus(bdf, raw.get_data(picks=[index[STATUS.lower()]])[0], sfreq)
        raw.pick([index[c.lower()] for c in EEG_CHANNELS])  # DEAP's channel order
        bad = first_non_finite(raw.get_data())
        if bad is not None:
            raise DataError(f"{bdf}: non-finite EEG value at channel {EEG_CHANNELS[bad[0]]}, sample {bad[1]}")
        try:
            eeg = deap_like(raw.get_data() * 1e6, sfreq)  # volts -> microvolts
        except Exception as exc:
            raise DataError(f"{bdf}: cannot preprocess the EEG ({exception_line(exc)})") from None
    n_base, n_trial = round(BASELINE_S * SFREQ), round(TRIAL_S * SFREQ)
    start, stop = round(onset * SFREQ / sfreq), round(offset * SFREQ / sfreq)
    if start < n_base or stop - start < n_trial or stop > eeg.shape[1]:  # guarded by _stimulus
        raise DataError(f"{bdf}: stimulus at samples {start}-{stop} of {eeg.shape[1]} at {SFREQ:g} Hz")
    return np.concatenate([eeg[:, start - n_base : start], eeg[:, stop - n_trial : stop]], axis=1)


def trigger_pulses(status: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts, stops) of the runs of non-zero trigger bits (:data:`TRIGGER_MASK`) in a Status channel:
    the first sample of each run and one past its last."""
    on = (np.rint(status).astype(np.int64) & TRIGGER_MASK) != 0
    edges = np.diff(on.astype(np.int8), prepend=0, append=0)
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def _stimulus(bdf: Path, status: np.ndarray, sfreq: float) -> tuple[int, int]:
    """(onset, end) samples of the stimulus (end exclusive): from the onset pulse to the start of the end
    pulse, or the span of one trigger held through it (module doc); refuse a recording too short before
    it, a stimulus too short to cut, or any other number of pulses."""
    starts, stops = trigger_pulses(status)
    if not starts.size:
        raise DataError(f"{bdf}: no stimulus trigger in the {STATUS} channel (its low 16 bits are all 0)")
    if starts.size > 2:
        at = ", ".join(f"{s / sfreq:.2f}" for s in starts[:4]) + (", ..." if starts.size > 4 else "")
        raise DataError(
            f"{bdf}: {starts.size} trigger pulses in the {STATUS} channel (at {at} s); expected one at the "
            "stimulus onset and one at its end"
        )
    onset = int(starts[0])
    offset = int(starts[1]) if starts.size == 2 else int(stops[0])
    if onset < round(BASELINE_S * sfreq):
        raise DataError(
            f"{bdf}: the stimulus starts {onset / sfreq:.2f} s into the recording; "
            f"{BASELINE_S:g} s of baseline are needed before it"
        )
    if offset - onset < round(TRIAL_S * sfreq):
        raise DataError(
            f"{bdf}: the stimulus lasts {(offset - onset) / sfreq:.2f} s "
            f"({onset / sfreq:.2f}-{offset / sfreq:.2f} s); at least {TRIAL_S:g} s are needed"
        )
    return onset, offset


# --- session.xml ------------------------------------------------------------------------------------


def _parse_session(xml: Path) -> ET.Element:
    try:
        root = ET.parse(xml).getroot()
    except FileNotFoundError:
        raise DataError(f"{xml}: file not found") from None
    except OSError as exc:
        raise DataError(f"{xml}: cannot read ({exc.strerror or exc})") from None
    except ET.ParseError as exc:
        raise DataError(f"{xml}: malformed XML ({exception_line(exc)})") from None
    if root.tag != "session":
        raise DataError(f"{xml}: root element is <{root.tag}>, expected <session>")
    return root


def _is_emotion(session: ET.Element) -> bool:
    """Rated as an emotion session: valence and arousal, the ratings every run uses."""
    return all(a in session.attrib for a in RATING_ATTRIBUTES[:2])


def _subject_id(xml: Path, session: ET.Element) -> int:
    element = session.find("subject")
    value = element.get("id") if element is not None else None
    if value is None:
        raise DataError(f"{xml}: no <subject id=...> element")
    try:
        subject = int(value)
    except ValueError:
        subject = 0
    if subject < 1:
        raise DataError(f"{xml}: subject id {value!r} is not a positive integer")
    return subject


def _ratings(xml: Path, session: ET.Element) -> list[float]:
    lo, hi = SCALE
    row = []
    for attr, name in zip(RATING_ATTRIBUTES, RATING_NAMES, strict=True):
        value = session.get(attr)
        if value is None:
            raise DataError(f"{xml}: no {attr} attribute ({name} rating) on <session>")
        try:
            x = float(value)
        except ValueError:
            x = float("nan")
        if not (x.is_integer() and lo <= x <= hi):
            raise DataError(f"{xml}: {attr} ({name}) is {value!r}, expected an integer {lo:g}-{hi:g}")
        row.append(x)
    return row


# --- find and read ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Unrated:
    """An emotion session without its rating: its id, its subject where known, the file to name, and what
    is missing."""

    session: int
    subject: int | None
    where: Path
    missing: str


@dataclass
class _Scan:
    """A ``Sessions`` folder read through its ``session.xml`` files."""

    sessions: dict[int, list[tuple[int, Path, Path]]] = field(default_factory=dict)
    """Subject -> its rated emotion sessions with a recording: (session id, bdf, xml)."""
    no_recording: list[tuple[int, int]] = field(default_factory=list)
    """(session id, subject) of the rated emotion sessions without a ``.bdf``."""
    unrated: list[_Unrated] = field(default_factory=list)


def _sessions_folder(root: Path) -> Path:
    """The ``Sessions`` folder of a copy (``root`` may be it or the folder holding it)."""
    if not root.is_dir():
        raise DataError(f"{root}: MAHNOB-HCI folder not found")
    return root / SESSIONS if (root / SESSIONS).is_dir() else root


def _scan(folder: Path) -> _Scan:
    """Every session folder of ``folder`` sorted into rated emotion sessions, sessions without a recording,
    unrated emotion sessions, and the rest (implicit tagging: not this experiment, not reported)."""
    scan = _Scan()
    folders = [p for p in folder.iterdir() if p.name.isdigit() and p.is_dir()]
    for session in sorted(folders, key=lambda p: int(p.name)):
        sid, xml = int(session.name), session / SESSION_XML
        bdfs = sorted(session.glob("*.bdf"))
        emotion_bdf = next((b for b in bdfs if EMOTION_BDF.match(b.name)), None)
        named = int(EMOTION_BDF.match(emotion_bdf.name).group(1)) if emotion_bdf is not None else None
        if not xml.is_file():
            if emotion_bdf is not None:
                scan.unrated.append(_Unrated(sid, named, emotion_bdf, f"no {SESSION_XML} beside it"))
            continue
        element = _parse_session(xml)
        missing = [a for a in RATING_ATTRIBUTES[:2] if a not in element.attrib]
        if missing:
            if emotion_bdf is not None or any(a.startswith("felt") for a in element.attrib):
                try:
                    subject = _subject_id(xml, element)
                except DataError:
                    subject = named
                scan.unrated.append(_Unrated(sid, subject, xml, f"no {' and no '.join(missing)} rating"))
            continue  # else an implicit-tagging session
        subject = _subject_id(xml, element)
        if not bdfs:  # a session whose recording is missing from the release
            scan.no_recording.append((sid, subject))
            continue
        if len(bdfs) > 1:
            raise DataError(f"{session}: {len(bdfs)} .bdf files, expected one per session")
        scan.sessions.setdefault(subject, []).append((sid, bdfs[0], xml))
    return scan


def _wanted(subject: int | None, subjects: set[int] | None) -> bool:
    """A session counts for ``subjects`` (None: all); one whose subject is unknown counts for any."""
    return subjects is None or subject is None or subject in subjects


def find_sessions(
    root: str | Path,
    subjects: Iterable[int] | None = None,
    *,
    skip_unrated: bool = False,
    how_to_skip: str = "pass skip_unrated=True",
) -> dict[int, tuple[Path, ...]]:
    """``{subject: (bdf, xml, bdf, xml, ...)}``: each requested subject's emotion sessions in session-id
    order (all subjects found if ``subjects`` is None). Reads only the ``session.xml`` files.

    An emotion session without its rating (module doc) is a DataError naming it unless ``skip_unrated``;
    ``how_to_skip`` is the error's hint (the CLI's: ``set MAHNOB_SKIP_UNRATED=1``). What is left out is
    counted by :func:`left_out`."""
    folder = _sessions_folder(Path(root).expanduser())
    scan = _scan(folder)
    wanted = None if subjects is None else set(subjects)
    unrated = [u for u in scan.unrated if _wanted(u.subject, wanted)]
    if unrated and not skip_unrated:
        first, more = unrated[0], unrated[1:]
        ids = ", ".join(str(u.session) for u in more)
        also = f" (and {len(more)} more: session(s) {ids})" if more else ""
        raise DataError(
            f"{first.where}: emotion session {first.session} has {first.missing}{also}; {how_to_skip} to "
            "skip unrated sessions (counted by `bench data info` and in the run's tags)"
        )
    if not scan.sessions:
        raise DataError(
            f"{folder}: no MAHNOB-HCI emotion sessions (<session id>/session.xml with feltVlnc and "
            "feltArsl, and a .bdf) found"
        )
    found = scan.sessions
    files = {s: tuple(p for _, bdf, xml in sorted(v) for p in (bdf, xml)) for s, v in sorted(found.items())}
    if wanted is None:
        return files
    missing = [s for s in sorted(wanted) if s not in files]
    if missing:
        raise DataError(
            f"{folder}: no emotion sessions of subject(s) {', '.join(map(str, missing))} "
            f"(found {', '.join(map(str, files))})"
        )
    return {s: files[s] for s in sorted(wanted)}


def skip_unrated_from_env() -> bool:
    """Whether ``$MAHNOB_SKIP_UNRATED`` asks to skip unrated sessions (``1``; ``0`` or unset: refuse)."""
    value = os.environ.get(SKIP_UNRATED_ENV, "").strip() or "0"
    return check_option(f"${SKIP_UNRATED_ENV}", value, ("0", "1")) == "1"


def _find(root: Path, subjects: Iterable[int] | None) -> dict[int, tuple[Path, ...]]:
    """The registry's ``find``: :func:`find_sessions` with ``skip_unrated`` from the environment."""
    return find_sessions(
        root, subjects, skip_unrated=skip_unrated_from_env(), how_to_skip=f"set {SKIP_UNRATED_ENV}=1"
    )


def left_out(root: Path, subjects: Iterable[int] | None = None) -> tuple[LeftOut, LeftOut]:
    """What :func:`find_sessions` leaves out of the copy at ``root`` for ``subjects`` (all if None): the
    rated emotion sessions without a recording, and the unrated ones (skipped only where asked to; an
    error otherwise). ``root`` may also be one session folder (a copy of a single session)."""
    root = Path(root).expanduser()
    if (root / SESSION_XML).is_file() or any(root.glob("*.bdf")):  # a session folder: its Sessions folder
        root = root.parent
    scan = _scan(_sessions_folder(root))
    wanted = None if subjects is None else set(subjects)
    handling = "skipped" if skip_unrated_from_env() else f"refused; {SKIP_UNRATED_ENV}=1 skips them"
    return (
        LeftOut(
            "missing_recordings",
            "emotion sessions without a recording (left out, a gap the release documents)",
            tuple(sid for sid, subject in scan.no_recording if _wanted(subject, wanted)),
        ),
        LeftOut(
            "unrated_sessions",
            f"emotion sessions without {SESSION_XML} or a feltVlnc/feltArsl rating ({handling})",
            tuple(u.session for u in scan.unrated if _wanted(u.subject, wanted)),
        ),
    )


def read_subject(files: tuple[Path, ...], subject: int) -> SubjectRecording:
    """Read one subject's emotion sessions: ``files`` as :func:`find_sessions` returns them."""
    files = tuple(Path(p) for p in files)
    if not files or len(files) % 2:
        where = files[0] if files else f"subject {subject}"
        raise DataError(f"{where}: expected (.bdf, {SESSION_XML}) pairs, got {len(files)} file(s)")
    trials, ratings, ids = [], [], []
    for bdf, xml in zip(files[0::2], files[1::2], strict=True):
        if xml.name != SESSION_XML or bdf.suffix.lower() != ".bdf" or bdf.parent != xml.parent:
            raise DataError(f"{bdf}: expected a .bdf and the {SESSION_XML} of its session folder, got {xml}")
        if not bdf.parent.name.isdigit():
            raise DataError(f"{bdf.parent}: a session folder is named by its integer session id")
        session = _parse_session(xml)
        if not _is_emotion(session):
            raise DataError(f"{xml}: not an emotion session (no feltVlnc/feltArsl attributes)")
        if (found := _subject_id(xml, session)) != subject:
            raise DataError(f"{xml}: session of subject {found}, expected subject {subject}")
        ratings.append(_ratings(xml, session))
        trials.append(_read_recording(bdf))
        ids.append(int(bdf.parent.name))
    eeg = check_eeg(np.stack(trials), files[0], EEG_CHANNELS)
    return SubjectRecording(
        subject=subject,
        eeg=eeg,
        ratings=check_ratings(np.array(ratings), files[1], RATING_NAMES, SCALE),
        path=files[0],
        sfreq=SFREQ,
        channel_names=EEG_CHANNELS,
        trial_ids=tuple(ids),
    )


MAHNOB = register_dataset(
    Dataset(
        name=NAME,
        title="MAHNOB-HCI",
        citation="Soleymani et al., A multimodal database for affect recognition and implicit tagging, "
        "IEEE Trans. Affective Computing 3(1), 2012",
        channels=EEG_CHANNELS,
        sfreq=SFREQ,
        baseline_s=BASELINE_S,
        trial_s=TRIAL_S,
        rating_names=RATING_NAMES,
        scale=SCALE,
        threshold=THRESHOLD,
        n_subjects=30,
        n_trials=20,
        env="MAHNOB_DIR",
        layout="Sessions/<session id>/ holding Part_<subject>_<N|S>_Trial<k>_emotion.bdf and session.xml "
        "(emotion sessions: session.xml with feltVlnc/feltArsl)",
        find=_find,
        read=read_subject,
        write_synthetic=write_twin,
        digest_salt="mahnob-hci/reader-v2/30s+last30s",
        shared_file=False,
        missing_trials=True,
        baseline_where="before the stimulus onset trigger",
        left_out=left_out,
    )
)
