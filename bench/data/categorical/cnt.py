"""NeuroScan continuous (``.cnt``) files: a writer for synthetic twins (MNE reads CNT but cannot write it)
and the header check every CNT read goes through first.

The layout is the one ``mne.io.read_raw_cnt`` parses (mne/io/cnt/cnt.py and _utils.py, after Paul
Bourke's description of NeuroScan's SETUP, ELECTLOC and TEEG structures), all little-endian:

* a 900-byte SETUP header; the fields MNE reads are ``rev`` (0, text), ``id`` (21, 20 bytes of text),
  ``patient`` (121, 20), ``sex`` and ``hand`` (143, 144), the session ``label`` (205, 20), ``date``
  (225, 10, ``mm/dd/yy``) and ``time`` (235, 12, ``hh:mm:ss``), ``nchannels`` (370, uint16), ``rate``
  (376, uint16, Hz), ``heogchnl``/``veogchnl`` (402, 404, int16 channel indices or -1), the filter
  toggles (438, 439), ``NumSamples`` (864, int32), ``LowCutoff``/``HighCutoff`` (869, 875, float32),
  ``EventTablePos`` (886, int32: the byte where the event table starts), ``ContinousSeconds`` (890,
  float32) and ``ChannelOffset`` (894, int32: bytes per block of one channel's successive samples; the
  bytes of one sample mean plain multiplexed samples, which this writer writes);
* one 75-byte ELECTLOC record per channel: the label (0, 10 bytes), the ``bad`` flag (14), the display
  position ``x_coord``/``y_coord`` (19, 23, float32), ``baseline`` (47, int16), ``sensitivity`` (59,
  float32) and ``calib`` (71, float32); a sample ``d`` stands for
  ``(d - baseline) * calib * sensitivity / 204.8`` microvolts;
* the data: ``NumSamples`` samples, each holding every channel's value as an int16 or int32 (which one
  is not in the header: MNE infers it from the data's size, ``EventTablePos`` minus the data's start,
  divided by channels and samples);
* the event table at ``EventTablePos``: a 9-byte TEEG (``Teeg`` uint8 = the event type, ``Size`` int32 =
  the events' bytes, ``Offset`` int32 = 0), then ``Size`` bytes of events; type 2 events are 19 bytes
  (``StimType`` uint16, ``KeyBoard`` uint8, ``KeyPad_Accept`` int8, ``Offset`` int32, ``Type`` int16,
  ``Code`` int16, ``Latency`` float32, ``EpochEvent``, ``Accept2``, ``Accuracy`` int8). MNE reads an event
  whose ``Offset`` is byte ``o`` as sample ``(o - data start) // (channels * bytes) - 1``; the writer
  stores the offset that MNE reads back as the intended sample.

A file shorter than its header promises (cut short in a copy, or a download that stopped) is refused
by :func:`check_cnt_header` with one line; MNE would otherwise fail with a multi-line message or read a
shorter recording without a word.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from bench.core.errors import DataError

SETUP_BYTES = 900
"""Size of the SETUP header."""
ELECTRODE_BYTES = 75
"""Size of one channel's ELECTLOC record."""
TEEG_BYTES = 9
"""Size of the event table's own header (type, size, offset)."""
_EVENT2 = struct.Struct("<HBblhhfbbb")
"""A type 2 event: 19 bytes."""
_FORMATS = {"int16": ("<i2", 2), "int32": ("<i4", 4)}
_MAX_SAMPLE = {2: 2**15 - 1, 4: 2**31 - 1}


@dataclass(frozen=True)
class CntHeader:
    """What :func:`check_cnt_header` read: the sizes MNE will use, and the channel labels."""

    channels: tuple[str, ...]
    sfreq: float
    n_samples: int
    n_bytes: int
    """2 (int16 samples) or 4 (int32)."""

    @property
    def seconds(self) -> float:
        return self.n_samples / self.sfreq


def _text(value: str, width: int) -> bytes:
    raw = value.encode("ascii")
    if len(raw) > width:
        raise ValueError(f"CNT header text {value!r} is longer than {width} bytes")
    return raw.ljust(width, b"\x00")


def write_cnt(
    path: str | Path,
    channels: Sequence[str],
    sfreq: int,
    data_uv: np.ndarray,
    *,
    data_format: str = "int32",
    resolution_uv: float | None = None,
    positions: np.ndarray | None = None,
    events: Sequence[tuple[int, int]] = (),
    start: datetime = datetime(2018, 1, 1, 9, 0, 0),
    patient: str = "",
    label: str = "",
) -> float:
    """Write ``data_uv`` (channels, samples; microvolts) as a NeuroScan continuous file.

    Each value is stored as ``round(x / step)`` with ``step = resolution_uv`` (default 0.01 uV for
    int32, 0.1 uV for int16) as the header's float32 ``sensitivity`` gives it back, so a reader recovers
    it within half a step; the step used is returned. ``positions`` (channels, 2) are the display
    coordinates written to the ELECTLOC records (default: a circle); ``events`` are (sample, stim type)
    pairs written as type 2 events. Channels named ``HEO``/``VEO`` are named in the header's EOG fields.
    """
    fmt, n_bytes = _FORMATS[data_format]
    data = np.asarray(data_uv, dtype=np.float64)
    n_ch, n = data.shape
    if len(channels) != n_ch or not 1 <= n_ch <= 65535 or n < 1:
        raise ValueError(f"{len(channels)} channel names for data of shape {data.shape}")
    if int(sfreq) != sfreq or not 1 <= sfreq <= 65535:
        raise ValueError(f"CNT stores the rate as a whole number of Hz up to 65535, got {sfreq}")
    step = resolution_uv if resolution_uv is not None else (0.01 if n_bytes == 4 else 0.1)
    sensitivity = np.float32(204.8 * step)  # calib 1: d * 1 * sensitivity / 204.8 uV
    step = float(sensitivity) / 204.8
    if not np.isfinite(data).all():
        raise ValueError("data holds NaN or infinite values")
    digital = np.rint(data / step)
    if np.abs(digital).max() > _MAX_SAMPLE[n_bytes]:
        raise ValueError(f"values exceed the {data_format} range at {step:g} uV per step")
    if positions is None:
        angle = 2 * np.pi * np.arange(n_ch) / n_ch
        positions = np.stack([200 + 150 * np.cos(angle), 200 + 150 * np.sin(angle)], axis=1)
    data_start = SETUP_BYTES + ELECTRODE_BYTES * n_ch
    table_pos = data_start + n * n_ch * n_bytes

    setup = bytearray(SETUP_BYTES)

    def put(offset: int, raw: bytes) -> None:
        setup[offset : offset + len(raw)] = raw

    upper = [c.upper() for c in channels]
    put(0, _text("Version 3.0", 12))
    put(21, _text(patient, 20))
    put(121, _text(patient, 20))
    put(143, b"UU")  # sex, handedness unknown
    put(205, _text(label, 20))
    put(225, _text(start.strftime("%m/%d/%y"), 10))
    put(235, _text(start.strftime("%H:%M:%S"), 12))
    put(370, struct.pack("<H", n_ch))
    put(376, struct.pack("<H", int(sfreq)))
    eog = [upper.index(c) if c in upper else -1 for c in ("HEO", "VEO")]
    put(402, struct.pack("<hh", *eog))
    put(864, struct.pack("<i", n))
    put(886, struct.pack("<i", table_pos))
    put(890, struct.pack("<f", 0.0))
    put(894, struct.pack("<i", n_bytes))  # one sample per block: multiplexed
    records = bytearray()
    for name, (x, y) in zip(channels, np.asarray(positions, dtype=np.float64), strict=True):
        rec = bytearray(ELECTRODE_BYTES)
        rec[0:10] = _text(name, 10)
        rec[19:27] = struct.pack("<ff", x, y)
        rec[47:49] = struct.pack("<h", 0)  # baseline
        rec[59:63] = struct.pack("<f", sensitivity)
        rec[71:75] = struct.pack("<f", 1.0)  # calib
        records += rec
    table = bytearray(struct.pack("<Bii", 2, _EVENT2.size * len(events), 0))
    for sample, code in events:
        if not 0 <= sample < n:
            raise ValueError(f"event at sample {sample} outside 0..{n - 1}")
        offset = data_start + (sample + 1) * n_ch * n_bytes  # MNE reads it back as `sample`
        table += _EVENT2.pack(code, 0, 0, offset, 0, 0, 0.0, 0, 0, 0)
    with Path(path).open("wb") as f:
        f.write(bytes(setup) + bytes(records))
        f.write(np.ascontiguousarray(digital.T).astype(fmt).tobytes())  # samples x channels
        f.write(bytes(table))
    return step


def check_cnt_header(path: Path) -> CntHeader:
    """Read a CNT file's sizes and channel labels; refuse a file too short (or too long) for what its
    header promises, or one whose sizes MNE could not use, with one line naming it."""
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            setup = f.read(SETUP_BYTES)
            n_ch = struct.unpack_from("<H", setup, 370)[0] if len(setup) == SETUP_BYTES else 0
            block = f.read(ELECTRODE_BYTES * n_ch)
            (table_pos,) = struct.unpack_from("<i", setup, 886) if len(setup) == SETUP_BYTES else (0,)
            f.seek(max(table_pos, 0))
            teeg = f.read(TEEG_BYTES)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if len(setup) < SETUP_BYTES:
        raise DataError(f"{path}: not a NeuroScan CNT file ({size} bytes, shorter than its 900-byte header)")
    if n_ch < 1 or len(block) < ELECTRODE_BYTES * n_ch:
        raise DataError(f"{path}: truncated: {size} bytes, too short for the {n_ch} channel records")
    sfreq = float(struct.unpack_from("<H", setup, 376)[0])
    (n_samples,) = struct.unpack_from("<i", setup, 864)
    data_start = SETUP_BYTES + ELECTRODE_BYTES * n_ch
    data_bytes = table_pos - data_start
    per_sample = n_samples * n_ch
    if sfreq <= 0 or n_samples <= 0 or data_bytes <= 0 or data_bytes not in (2 * per_sample, 4 * per_sample):
        raise DataError(
            f"{path}: not a readable NeuroScan CNT file (header: {n_ch} channels, {n_samples} samples at "
            f"{sfreq:g} Hz, event table at byte {table_pos})"
        )
    if len(teeg) < TEEG_BYTES:
        raise DataError(
            f"{path}: truncated: {size} bytes, the header promises {table_pos + TEEG_BYTES} or more "
            f"({n_samples} samples of {n_ch} channels, then the event table)"
        )
    kind, events_bytes, _ = struct.unpack("<Bii", teeg)
    expected = table_pos + TEEG_BYTES + events_bytes
    if kind not in (1, 2, 3) or events_bytes < 0 or size < expected:  # trailing bytes are harmless
        raise DataError(
            f"{path}: truncated: {size} bytes, the header promises {expected} ({n_samples} samples of {n_ch} "
            "channels, then the event table)"
        )
    labels = []
    for i in range(n_ch):
        raw = block[i * ELECTRODE_BYTES : i * ELECTRODE_BYTES + 10].split(b"\x00", 1)[0]
        labels.append(raw.decode("ascii", "replace").strip())
    return CntHeader(tuple(labels), sfreq, int(n_samples), data_bytes // per_sample)
