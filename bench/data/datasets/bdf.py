"""Biosemi BDF files: a writer (MNE reads BDF but cannot write it) and the header check every BDF read
goes through first.

The format is the published EDF/BDF specification: a 256-byte ASCII header, then 256 bytes per channel
of ASCII fields (each field for all channels in turn: :data:`FIELDS`), then data records, each holding
every channel's samples of that record as 24-bit little-endian two's-complement integers. A sample
``d`` stands for ``pmin + (d - dmin) * (pmax - pmin) / (dmax - dmin)`` with the channel's physical and
digital ranges from the header: a channel whose range is empty (minimum = maximum) cannot be scaled, so
:func:`check_bdf_header` refuses it (MNE reads such a file without a word, returning a flat or
non-finite channel), as it refuses a file holding fewer or more data bytes than its header promises.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np

from bench.core.errors import DataError

DIGITAL = (-(2**23), 2**23 - 1)
"""A BDF sample is a 24-bit little-endian two's-complement integer."""
FIELDS = (16, 80, 8, 8, 8, 8, 8, 80, 8, 32)
"""Widths of the per-channel header fields: label, transducer, physical dimension, physical min/max,
digital min/max, prefiltering, samples per data record, reserved."""


def _field(value: object, width: int) -> bytes:
    text = str(value)
    if len(text) > width or not text.isascii():
        raise ValueError(f"BDF header field {text!r} is not ASCII of at most {width} characters")
    return text.ljust(width).encode("ascii")


def _number(x: float) -> str:
    """``x`` as the header's 8-character number text (as precise as fits)."""
    if float(x).is_integer() and len(str(int(x))) <= 8:
        return str(int(x))
    for digits in range(8, 0, -1):
        text = f"{x:.{digits}g}"
        if len(text) <= 8:
            return text
    raise ValueError(f"{x!r} does not fit an 8-character BDF header field")


def write_bdf(
    path: Path,
    channel_names: Sequence[str],
    sfreq: float,
    data: np.ndarray,
    units: Sequence[str],
    physical_min: Sequence[float],
    physical_max: Sequence[float],
    *,
    transducers: Sequence[str] | None = None,
    start: datetime = datetime(2009, 1, 1, 12, 0, 0),
    patient: str = "X X X X",
    recording: str = "Startdate X X X X",
) -> None:
    """Write ``data`` (channels, samples; physical values in ``units``) as a Biosemi BDF file.

    The format (the published EDF/BDF specification): a 256-byte ASCII header, then 256 bytes per channel
    of ASCII fields (each field for all channels in turn), then data records of one second, each holding
    every channel's samples of that second as 24-bit little-endian two's-complement integers. A value
    ``x`` is stored as ``round((x - pmin) / (pmax - pmin) * (dmax - dmin) + dmin)`` with Biosemi's full
    24-bit digital range, so a reader recovers it within half of ``(pmax - pmin) / (2**24 - 1)``.
    Channels whose physical range equals the digital range (Biosemi's ``Status``) are stored exactly.
    ``sfreq`` must be a whole number of samples per second and the length a whole number of seconds.
    """
    data = np.asarray(data, dtype=np.float64)
    n_ch, n = data.shape
    spr = int(sfreq)
    if spr != sfreq or spr < 1 or n % spr:
        raise ValueError(f"BDF records are 1 s: need integer sfreq and whole seconds ({sfreq}, {n} samples)")
    if not len(channel_names) == len(units) == len(physical_min) == len(physical_max) == n_ch:
        raise ValueError("one name, unit and physical range per channel")
    pmin_text, pmax_text = [_number(v) for v in physical_min], [_number(v) for v in physical_max]
    pmin = np.array([float(v) for v in pmin_text])[:, None]  # the values the header says
    pmax = np.array([float(v) for v in pmax_text])[:, None]
    if not (pmax > pmin).all():
        raise ValueError("physical_max must exceed physical_min")
    bad = np.argwhere((data < pmin) | (data > pmax) | ~np.isfinite(data))
    if len(bad):
        raise ValueError(f"channel {channel_names[bad[0][0]]}: values outside its physical range")
    dmin, dmax = DIGITAL
    digital = np.rint((data - pmin) / (pmax - pmin) * (dmax - dmin) + dmin)
    digital = np.clip(digital, dmin, dmax).astype("<i4")
    n_records = n // spr
    header = b"".join([
        b"\xffBIOSEMI", _field(patient, 80), _field(recording, 80), _field(start.strftime("%d.%m.%y"), 8),
        _field(start.strftime("%H.%M.%S"), 8), _field(256 * (n_ch + 1), 8), _field("24BIT", 44),
        _field(n_records, 8), _field(1, 8), _field(n_ch, 4),
    ])  # fmt: skip
    columns = (
        channel_names, transducers or [""] * n_ch, units, pmin_text, pmax_text, [dmin] * n_ch,
        [dmax] * n_ch, [""] * n_ch, [spr] * n_ch, [""] * n_ch,
    )  # fmt: skip
    for values, width in zip(columns, FIELDS, strict=True):
        header += b"".join(_field(v, width) for v in values)
    # records x channels x samples, each int32 cut to its 3 low (little-endian) bytes
    records = digital.reshape(n_ch, n_records, spr).transpose(1, 0, 2)
    body = np.ascontiguousarray(records).view(np.uint8).reshape(n_records, n_ch, spr, 4)[..., :3]
    with Path(path).open("wb") as f:
        f.write(header)
        f.write(np.ascontiguousarray(body).tobytes())


def _header_fields(block: bytes, ns: int, k: int) -> list[str]:
    """Field ``k`` (:data:`FIELDS`) of every channel, from the ``256 * ns`` bytes of channel headers."""
    start, width = ns * sum(FIELDS[:k]), FIELDS[k]
    fields = [block[start + i * width : start + (i + 1) * width] for i in range(ns)]
    return [f.decode("ascii", "replace").strip() for f in fields]


def _check_ranges(path: Path, block: bytes, ns: int) -> None:
    """Refuse a channel whose physical or digital range is empty: its samples scale by a division by
    ``max - min`` (fields MNE cannot parse are left to MNE's own error)."""
    labels = _header_fields(block, ns, 0)
    for kind, lo_k in (("physical", 3), ("digital", 5)):
        for label, lo, hi in zip(labels, _header_fields(block, ns, lo_k), _header_fields(block, ns, lo_k + 1),
                                 strict=True):  # fmt: skip
            try:
                empty = float(lo) == float(hi)
            except ValueError:
                continue
            if empty:
                raise DataError(
                    f"{path}: channel {label or '?'} has an empty {kind} range in its header "
                    f"(minimum = maximum = {lo}): its samples cannot be scaled"
                )


def check_bdf_header(path: Path) -> None:
    """Refuse a file that is not a BDF, holds fewer (or more) data bytes than its header promises (MNE
    would warn and read what is there) or has a channel with an empty range (:func:`_check_ranges`)."""
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(256)
            ns = int(head[252:256]) if len(head) == 256 and head[:1] == b"\xff" else 0
            block = f.read(256 * ns) if ns > 0 else b""
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except ValueError:
        raise DataError(f"{path}: not a BDF file (unreadable channel count in its header)") from None
    if len(head) < 256 or head[:1] != b"\xff":
        raise DataError(f"{path}: not a BDF file (no BDF header)")
    try:
        header_bytes, n_records = int(head[184:192]), int(head[236:244])
        spr = [int(v) for v in _header_fields(block, ns, 8)] if len(block) == 256 * ns else []
    except ValueError:
        raise DataError(f"{path}: not a BDF file (unreadable header fields)") from None
    if ns < 1 or header_bytes != 256 * (ns + 1) or len(spr) != ns:
        raise DataError(f"{path}: not a BDF file (header of {header_bytes} bytes for {ns} channels)")
    expected = header_bytes + n_records * sum(spr) * 3
    if n_records >= 0 and size != expected:  # -1: number of records unknown (recording not stopped)
        what = "truncated" if size < expected else "longer than its header says"
        raise DataError(
            f"{path}: {what}: {size} bytes, the header promises {expected} ({n_records} 1-s records)"
        )
    _check_ranges(path, block, ns)
