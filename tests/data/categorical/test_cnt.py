"""The NeuroScan CNT writer against MNE's reader, and the header check's one-line refusals."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import mne
import numpy as np
import pytest

from bench.core.errors import DataError
from bench.data.categorical.cnt import check_cnt_header, write_cnt

NAMES = ["FP1", "FPZ", "CB1", "M1", "VEO", "HEO"]


def _data(n: int = 3000) -> np.ndarray:
    rng = np.random.default_rng(7)
    x = rng.normal(0.0, 20.0, (len(NAMES), n))
    x[0] += 1500.0  # a DC offset
    return x


@pytest.mark.parametrize("fmt", ["int32", "int16"])
def test_mne_reads_back_what_was_written(tmp_path: Path, fmt: str) -> None:
    x = _data()
    path = tmp_path / "a.cnt"
    step = write_cnt(path, NAMES, 1000, x, data_format=fmt, events=[(0, 1), (1234, 2), (2999, 3)],
                     start=datetime(2018, 5, 7, 14, 30, 0))  # fmt: skip
    header = check_cnt_header(path)
    assert header.channels == tuple(NAMES) and header.sfreq == 1000.0
    assert header.n_samples == 3000 and header.n_bytes == (4 if fmt == "int32" else 2)
    raw = mne.io.read_raw_cnt(path, preload=True, verbose="error")
    assert raw.ch_names == NAMES and raw.info["sfreq"] == 1000.0 and raw.n_times == 3000
    back = raw.get_data() * 1e6
    assert np.abs(back - x).max() <= step / 2 * (1 + 1e-6)
    assert np.abs(back - x).max() > step / 4  # really quantised, not stored exactly
    assert step == pytest.approx(0.01 if fmt == "int32" else 0.1, rel=1e-6)
    np.testing.assert_allclose(raw.annotations.onset, [0.0, 1.234, 2.999])
    assert list(raw.annotations.description) == ["1", "2", "3"]
    assert raw.info["meas_date"].replace(tzinfo=None) == datetime(2018, 5, 7, 14, 30, 0)


def test_writer_is_deterministic(tmp_path: Path) -> None:
    write_cnt(tmp_path / "a.cnt", NAMES, 500, _data())
    write_cnt(tmp_path / "b.cnt", NAMES, 500, _data())
    assert (tmp_path / "a.cnt").read_bytes() == (tmp_path / "b.cnt").read_bytes()


def test_truncated_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "a.cnt"
    write_cnt(path, NAMES, 1000, _data())
    raw = path.read_bytes()
    for cut in (len(raw) - 10, len(raw) // 2, 1000, 500):
        path.write_bytes(raw[:cut])
        with pytest.raises(DataError) as err:
            check_cnt_header(path)
        msg = str(err.value)
        assert str(path) in msg and "\n" not in msg
        assert "truncated" in msg or "not a NeuroScan" in msg


def test_missing_and_not_a_cnt(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        check_cnt_header(tmp_path / "none.cnt")
    bad = tmp_path / "bad.cnt"
    bad.write_bytes(b"\x00" * 2000)
    with pytest.raises(DataError, match="not a NeuroScan|truncated"):
        check_cnt_header(bad)


def test_writer_refuses_what_the_format_cannot_hold(tmp_path: Path) -> None:
    x = _data()
    with pytest.raises(ValueError, match="int16 range"):
        write_cnt(tmp_path / "a.cnt", NAMES, 1000, x * 1000, data_format="int16")
    x[1, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        write_cnt(tmp_path / "a.cnt", NAMES, 1000, x)
