"""Shared fixtures: an isolated cache per test session, tiny DEAP-format folders, a wide console; and the
suite's disk diet (temporary folders removed once their test or module is done)."""

from __future__ import annotations

import math
import os
import pickle
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from bench.data.datasets import list_datasets


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own feature cache and MLflow store; nothing touches ~/.cache."""
    root = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("DEAP_BENCH_CACHE", str(root))
    for env in {"DEAP_DIR", *(ds.env for ds in list_datasets())}:  # a user's copies never leak in
        monkeypatch.delenv(env, raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    yield root
    # The suite writes gigabytes of twins, caches and stores; a CI machine may have little disk, so what a
    # test wrote is removed once it is done (its module's folders: see pytest_runtest_teardown below)
    shutil.rmtree(root, ignore_errors=True)


SLOW_DEADLINE_ENV = "BENCH_SLOW_TESTS_UNTIL"
"""Unix time after which a slow test is skipped (set by CI to keep within its time budget; unset: none)."""


def pytest_runtest_setup(item):
    """Skip a ``slow`` test that would start past CI's deadline, saying so (the summary lists each)."""
    until = os.environ.get(SLOW_DEADLINE_ENV)
    if until and item.get_closest_marker("slow") is not None and time.time() > float(until):
        pytest.skip(f"CI's time budget for slow tests is spent (${SLOW_DEADLINE_ENV})")


_KEEP_FOR_FAILED: set[Path] = set()
"""Temporary folders of modules that had a failure: kept for a look (pytest keeps the last sessions')."""
_FAILED_MODULES: set[str] = set()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed:
        _FAILED_MODULES.add(item.module.__name__)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """When a module's last test is torn down (its module-scoped fixtures with it), remove the temporary
    folders made during the module, unless one of its tests failed. No fixture here is session-scoped
    with a folder of its own (tests/test_suite_hygiene.py checks it), so every folder left is the
    finished module's."""
    result = yield
    if nextitem is None or nextitem.module is not item.module:
        basetemp = item.config._tmp_path_factory.getbasetemp()
        folders = {p for p in basetemp.iterdir() if p.is_dir()} - _KEEP_FOR_FAILED
        if item.module.__name__ in _FAILED_MODULES:
            _KEEP_FOR_FAILED.update(folders)
        else:
            for folder in folders:
                shutil.rmtree(folder, ignore_errors=True)
    return result


def write_deap_file(path: Path, data: np.ndarray, labels: np.ndarray, protocol: int = 2) -> Path:
    """Write one subject file the way DEAP's data_preprocessed_python does (a pickled dict)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        pickle.dump({"data": data, "labels": labels}, f, protocol=protocol)
    return path


def random_subject(n_trials: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian EEG of DEAP's shape (n_trials, 40, 8064) and ratings on 1-9."""
    rng = np.random.default_rng(seed)
    data = rng.normal(0.0, 10.0, size=(n_trials, 40, 8064))
    labels = rng.uniform(1.0, 9.0, size=(n_trials, 4))
    return data, labels


@pytest.fixture
def tiny_deap(tmp_path) -> Path:
    """A DEAP-like folder with two subjects (s01, s02) of three trials each."""
    folder = tmp_path / "deap" / "data_preprocessed_python"
    for s in (1, 2):
        data, labels = random_subject(3, seed=s)
        write_deap_file(folder / f"s{s:02d}.dat", data, labels)
    return tmp_path / "deap"


@pytest.fixture(scope="module")
def deap_dir(tmp_path_factory) -> Path:
    """A synthetic DEAP folder (2 subjects x 6 trials), one per test module."""
    from bench.data.synthetic import SyntheticConfig, write_synthetic_deap

    folder = tmp_path_factory.mktemp("syn") / "data"
    write_synthetic_deap(folder, SyntheticConfig(n_subjects=2, n_trials=6, seed=0))
    return folder


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    """A feature cache folder per test module (workers of pool/Dask tests read features from it)."""
    return tmp_path_factory.mktemp("features")


@pytest.fixture(scope="module")
def features(deap_dir, cache_dir):
    """The features of ``deap_dir``, prepared once per module into ``cache_dir``."""
    from bench.data.cache import prepare_features
    from bench.data.source import open_deap

    return prepare_features(open_deap(deap_dir), cache_dir=cache_dir)


@pytest.fixture(autouse=True, scope="session")
def _fp32_unless_asked():
    """``precision="auto"`` resolves to fp32 in tests, whatever the CPU: numbers and run names asserted
    here must not depend on whether the test machine has native bf16 (tests/test_precision.py covers
    the bf16 side by patching this back)."""
    import bench.core.host

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(bench.core.host, "native_bf16", lambda device: False)
        yield


@pytest.fixture(autouse=True)
def _no_pulse_lines_unless_asked(request, monkeypatch):
    """No progress line that only the machine's speed decides ("loading grid ... (3 s)" when the box is
    loaded) enters a test's exact comparison of stderr: :class:`bench.runs.progress.Pulse` stays quiet
    unless a test is marked ``pulse`` (the tests of the pulse itself, with fake clocks)."""
    if request.node.get_closest_marker("pulse") is None:
        import bench.runs.progress

        monkeypatch.setattr(bench.runs.progress, "PULSE_S", math.inf)


@pytest.fixture(autouse=True)
def _restore_threads():
    """A test that sets torch's thread count (a run with num_threads) does not leak it into the next."""
    import torch

    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


@pytest.fixture
def wide_console(monkeypatch):
    """The CLI console 200 columns wide, so table cells do not wrap in assertions."""
    from bench.cli.common import console

    # rich's width setter stores the value: patching the property would, on undo, pin the console to the
    # width read at patch time (80 under capture) for every later test; the stored width is None unset
    monkeypatch.setattr(console, "_width", 200)
