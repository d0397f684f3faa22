"""The embedded twins are the same files on every install: their float arithmetic may differ in the
last bit between numpy builds and CPUs, and a data fingerprint hashes the files."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from bench.data.synthetic import SyntheticConfig


def _files_hash(folder) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "SYNTHETIC.json"):
        h.update(path.read_bytes())
    return h.hexdigest()


def _one_ulp_up(function):
    """``function`` with every inexact result one ulp larger. Exact results stay (every libm gives
    sin(0) = 0 and exp(0) = 1; a zero is exactly on a BDF file's rounding boundary, so moving it would
    test a difference no CPU makes)."""

    def perturbed(*args, **kwargs):
        value = np.asarray(function(*args, **kwargs))
        return np.where((value == 0.0) | (value == 1.0), value, np.nextafter(value, np.inf))

    return perturbed


@pytest.mark.parametrize("dataset", ["deap", "dreamer", "amigos", "mahnob-hci"])
def test_twin_files_do_not_depend_on_the_last_bit_of_the_arithmetic(dataset, tmp_path, monkeypatch):
    """Every value the FFT, the sine and the exponential give one ulp larger (as another numpy build or
    CPU might round: numpy's AVX-512 ``exp`` differs from its AVX2 one): the same files, so the same data
    fingerprint (unrounded, every file changed; DREAMER's ECG went unrounded until 2026-12: its twin had
    another fingerprint on an Intel Xeon than on an AMD EPYC)."""
    from bench.data.synthetic import write_synthetic

    cfg = SyntheticConfig(dataset=dataset, n_subjects=1, n_trials=2, seed=0)
    write_synthetic(tmp_path / "a", cfg)
    for module, name in ((np.fft, "irfft"), (np, "sin"), (np, "exp")):
        monkeypatch.setattr(module, name, _one_ulp_up(getattr(module, name)))
    write_synthetic(tmp_path / "b", cfg)
    monkeypatch.undo()
    assert _files_hash(tmp_path / "a") == _files_hash(tmp_path / "b")


@pytest.mark.parametrize("dataset", ["dreamer", "amigos"])
def test_matlab_twins_do_not_carry_the_time_they_were_written(dataset, tmp_path, monkeypatch):
    """``savemat`` writes "Created on: <time>" into a file's header: the twins write a fixed text, so a
    twin written on another day (another machine, a new cache) is the same files and its runs the same
    run keys (before, every DREAMER and AMIGOS twin had its own data fingerprint)."""
    import time

    from bench.data.datasets.matfile import DESCRIPTION
    from bench.data.synthetic import write_synthetic

    cfg = SyntheticConfig(dataset=dataset, n_subjects=1, n_trials=2)
    write_synthetic(tmp_path / "a", cfg)
    monkeypatch.setattr(time, "asctime", lambda *a: "Thu Jan  1 00:00:00 1970")
    write_synthetic(tmp_path / "b", cfg)
    a, b = (sorted((tmp_path / d).glob("*.mat")) for d in "ab")
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert a[0].read_bytes()[:116] == DESCRIPTION.ljust(116)
