"""Faults tried on purpose: corrupt cache entries, bad values, dead tracking servers, Ctrl-C.

Each must be caught before it changes a number or leaves a run behind: a corrupt cache entry is
recomputed with one warning line, a bad value is one ``error:`` line with exit code 2 and no run in
the MLflow store.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import numpy as np
import pytest

import bench.data.cache as cache
import bench.data.fingerprints as fingerprints
from bench.cli import main
from bench.config.run import RunConfig, TrainConfig
from bench.core.checks import check_number, check_option, check_type
from bench.core.errors import ConfigError, DataError
from bench.data.entries import ARRAYS, STALE_TMP_SECONDS, checksum, verify_entry
from bench.data.features import FeatureConfig
from bench.data.reader import validate_arrays
from bench.data.source import open_deap
from tests.conftest import random_subject

pytestmark = pytest.mark.usefixtures("wide_console")


def _entry(root: Path, subject_index: int = 0) -> Path:
    return sorted(p for p in (root / "features").iterdir() if not p.name.startswith("."))[subject_index]


def _flip(path: Path) -> None:
    """Flip bytes inside the array data (the file keeps its size, as on bit rot)."""
    raw = bytearray(path.read_bytes())
    for i in (len(raw) - 40, len(raw) - 17, len(raw) - 3):
        raw[i] ^= 0xFF
    path.write_bytes(bytes(raw))


def _rewrite(path: Path, change) -> None:
    """Store a changed array with a matching checksum: only the value checks can catch it."""
    arr = np.load(path)
    np.save(path, change(arr))
    meta = json.loads((path.parent / "meta.json").read_text())
    meta["checksums"][path.name] = checksum(path)
    (path.parent / "meta.json").write_text(json.dumps(meta))


def _nan(a):
    a.flat[5] = np.nan
    return a


def _zero(a):
    return np.zeros_like(a)


CORRUPTIONS = {
    "features.npy flipped": ("features.npy", _flip),
    "features.npy NaN": ("features.npy", lambda p: _rewrite(p, _nan)),
    "ratings.npy flipped": ("ratings.npy", _flip),
    "ratings.npy NaN": ("ratings.npy", lambda p: _rewrite(p, _nan)),
    "ratings.npy set to 0": ("ratings.npy", lambda p: _rewrite(p, _zero)),
    "features.npy shape": ("features.npy", lambda p: _rewrite(p, lambda a: a[:, :-1])),
}


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_corrupt_entry_is_recomputed_with_one_warning(name, tiny_deap, _isolated_cache, capsys):
    src = open_deap(tiny_deap)
    clean = cache.prepare_features(src)
    clean_feats, clean_ratings = np.array(clean.features), np.array(clean.ratings)
    entry = _entry(_isolated_cache)
    array, corrupt = CORRUPTIONS[name]
    before = (entry / array).stat().st_size
    corrupt(entry / array)
    if "flipped" in name:
        assert (entry / array).stat().st_size == before
    capsys.readouterr()
    hits = []
    fs = cache.prepare_features(src, progress=lambda d, t, hit: hits.append(hit))
    err = capsys.readouterr().err.splitlines()
    assert hits == [False, True]
    assert len(err) == 1 and err[0].startswith("warning: feature cache entry") and entry.name in err[0], err
    np.testing.assert_array_equal(fs.features, clean_feats)
    np.testing.assert_array_equal(fs.ratings, clean_ratings)
    assert fs.fingerprint == clean.fingerprint
    hits.clear()
    cache.prepare_features(src, progress=lambda d, t, hit: hits.append(hit))  # replaced: clean hit now
    assert hits == [True, True] and capsys.readouterr().err == ""


def test_missing_checksum_is_a_miss(tiny_deap, _isolated_cache, capsys):
    src = open_deap(tiny_deap)
    clean = np.array(cache.prepare_features(src).features)
    entry = _entry(_isolated_cache, 1)
    meta = json.loads((entry / "meta.json").read_text())
    del meta["checksums"]
    (entry / "meta.json").write_text(json.dumps(meta))
    hits = []
    fs = cache.prepare_features(src, progress=lambda d, t, hit: hits.append(hit))
    assert hits == [True, False]
    assert "no checksums" in capsys.readouterr().err
    np.testing.assert_array_equal(fs.features, clean)
    assert "checksums" in json.loads((entry / "meta.json").read_text())


def test_load_cached_verifies_too(tiny_deap, _isolated_cache, capsys):
    src = open_deap(tiny_deap)
    fs = cache.prepare_features(src)
    clean = np.array(fs.features)
    entry = _entry(_isolated_cache)
    _flip(entry / "features.npy")
    again = cache.load_cached(fs.config, fs.file_digests, synthetic=False)  # recomputed from the source
    np.testing.assert_array_equal(again.features, clean)
    assert "warning: feature cache entry" in capsys.readouterr().err
    _flip(entry / "features.npy")
    os.remove(json.loads((entry / "meta.json").read_text())["source_file"])
    with pytest.raises(DataError, match="feature cache entry of subject"):
        cache.load_cached(fs.config, fs.file_digests, synthetic=False)


def test_stale_tmp_removed_fresh_tmp_kept(tiny_deap, _isolated_cache):
    feats = _isolated_cache / "features"
    stale, fresh = feats / ".abc-def.x1y2.tmp", feats / ".abc-def.z3w4.tmp"
    for d in (stale, fresh):
        d.mkdir(parents=True)
        (d / "features.npy").write_bytes(b"partial")
    old = time.time() - STALE_TMP_SECONDS - 60
    os.utime(stale, (old, old))
    cache.prepare_features(open_deap(tiny_deap))
    assert not stale.exists() and fresh.exists()


def test_unreadable_subject_file_is_named_before_hashing(tmp_path, monkeypatch):
    folder = tmp_path / "s01.dat"
    folder.mkdir()
    with pytest.raises(DataError, match=r"s01\.dat: cannot read"):
        fingerprints.file_digest(folder, tmp_path)
    path = tmp_path / "s02.dat"
    path.write_bytes(b"x")
    real_open = Path.open

    def no_permission(self, *a, **k):
        if self.name == "s02.dat":
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *a, **k)

    monkeypatch.setattr(Path, "open", no_permission)
    monkeypatch.setattr(fingerprints, "_sha256_file", lambda p: pytest.fail("hashed an unreadable file"))
    with pytest.raises(DataError, match=r"s02\.dat: cannot read \(Permission denied\)"):
        fingerprints.file_digest(path, tmp_path)


def test_string_ratings_are_a_data_error(tmp_path):
    data, labels = random_subject(2)
    with pytest.raises(DataError, match=r"'labels' must be an array of numbers, got an array of dtype <U"):
        validate_arrays(data, labels.astype(str), tmp_path / "s01.dat")


def test_verifying_a_real_sized_entry_is_cheap(tmp_path):
    """One subject of DEAP (40 x 120 windows x 2 x 4 bands x 32, float32: 4.9 MB) verifies in well
    under a second (measured: ~10 ms), far below the seconds its features take to compute."""
    rng = np.random.default_rng(0)
    entry = tmp_path / "entry"
    entry.mkdir()
    np.save(entry / "features.npy", rng.normal(size=(40, 120, 2, 4, 32)).astype(np.float32))
    np.save(entry / "ratings.npy", rng.uniform(1, 9, size=(40, 4)))
    meta = {"shape": [40, 120, 2, 4, 32], "checksums": {n: checksum(entry / n) for n in ARRAYS}}
    (entry / "meta.json").write_text(json.dumps(meta))
    t0 = time.perf_counter()
    feats, ratings, _ = verify_entry(entry)
    assert time.perf_counter() - t0 < 1.0 and feats.shape[0] == ratings.shape[0] == 40


# ------------------------------------------------------------------------------ helper and configs
def test_check_helpers():
    assert check_option("x", "a", ("a", "b")) == "a"
    with pytest.raises(ConfigError, match=r"^x='c' is not allowed; allowed: a, b$"):
        check_option("x", "c", ("a", "b"))
    with pytest.raises(ConfigError, match=r"^x=\[1\] is not allowed"):
        check_option("x", [1], ("a",))
    with pytest.raises(ConfigError, match=r"^flag=1: expected true or false$"):
        check_type("flag", 1, bool, "true or false")
    with pytest.raises(ConfigError, match=r"^n=True: expected an integer >= 1$"):
        check_number("n", True, integer=True, low=1)
    with pytest.raises(ConfigError, match=r"^f=1: expected a number in \(0, 1\)$"):
        check_number("f", 1, low=0, high=1, low_open=True, high_open=True)
    assert check_number("f", None, none_ok=True) is None


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: TrainConfig(lr="fast"), "train.lr='fast': expected a number > 0"),
        (lambda: TrainConfig(batch_size=2.5), "train.batch_size=2.5: expected an integer >= 1"),
        (lambda: TrainConfig(lr_decay="yes"), "train.lr_decay='yes': expected true or false"),
        (lambda: TrainConfig(loss_weights=("a", 1)), "train.loss_weights=('a', 1): expected two"),
        (lambda: RunConfig(seed="x"), "seed='x': expected an integer >= 0"),
        (lambda: RunConfig(subjects=(0,)), "subjects=0: expected an integer in [1, 32]"),
        (lambda: RunConfig(model_options=[1]), "model_options=[1]: expected a table"),
        (lambda: RunConfig.from_dict({"train": 3}), "train=3: expected a table of train options"),
        (lambda: FeatureConfig(window_s="abc"), "features.window_s='abc': expected a number > 0"),
        (lambda: FeatureConfig(zero_phase="no"), "features.zero_phase='no': expected true or false"),
        (lambda: FeatureConfig(bands=((4, 8),)), "features.bands=(4, 8): expected a list of"),
        (lambda: FeatureConfig.from_dict({"bands": "nope"}), "features.bands='nope' is not allowed"),
    ],
)
def test_config_values_are_checked_when_built(build, message):
    with pytest.raises(ConfigError) as err:
        build()
    assert str(err.value).startswith(message), str(err.value)


# ------------------------------------------------------------------------------------------- CLI
def _runs(uri: str) -> list:
    from mlflow.tracking import MlflowClient

    cl = MlflowClient(tracking_uri=uri)
    exps = [e.experiment_id for e in cl.search_experiments()]
    return list(cl.search_runs(exps)) if exps else []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


BAD = [
    (["-F", "window_s=abc"], None, "features.window_s='abc': expected a number > 0"),
    ([], '[train]\nlr = "fast"\n', "train.lr='fast': expected a number > 0"),
    ([], "model = 3\n", "model=3: expected a model name or a [model] table"),
    ([], '[features]\nbands = "nope"\n', "features.bands='nope' is not allowed; allowed: authors, paper"),
    (["-M", "unknown=1"], None, "model 'mtcnn' has no option 'unknown'"),
    (["-M", "dropout=abc"], None, "model.dropout='abc': expected a number"),
    (["--tracking-uri", "garbage://x"], None, "tracking URI 'garbage://x': scheme='garbage'"),
    (["--subjects", "3"], None, "missing subject file(s) "),
]


@pytest.mark.parametrize("args, config, message", BAD, ids=[m[:30] for *_, m in BAD])
def test_bad_values_fail_in_one_line_and_track_nothing(args, config, message, deap_dir, tmp_path, capsys):
    uri = f"sqlite:///{tmp_path}/m.db"
    extra = []
    if config is not None:
        (tmp_path / "run.toml").write_text(config)
        extra = ["--config", str(tmp_path / "run.toml")]
    argv = ["run", "--deap", str(deap_dir), "--folds", "2", "--tracking-uri", uri, *extra, *args]
    if "--tracking-uri" in args:
        argv = ["run", "--deap", str(deap_dir), *args]
    code = main(argv)
    err = capsys.readouterr().err.splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    if "--tracking-uri" not in args:
        assert _runs(uri) == []


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_is_refused_before_data(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("bench.api.experiment.prepare", lambda *a, **k: pytest.fail("prepared data"))
    uri = f"sqlite:///{tmp_path}/m.db"
    assert main(["run", "--device", "cuda", "--tracking-uri", uri]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == ["error: device='cuda' requested but no CUDA device is available"]
    assert _runs(uri) == []


@pytest.mark.parametrize("command", [["run"], ["runs"], ["table", "comparison"], ["ui"]])
def test_unreachable_tracking_server_fails_fast(command, capsys):
    uri = f"http://127.0.0.1:{_free_port()}"  # bound, then closed: nothing listens there
    t0 = time.perf_counter()
    assert main([*command, "--tracking-uri", uri]) == 2
    assert time.perf_counter() - t0 < 10
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and f"tracking URI '{uri}': no tracking server answered" in err[0], err


def test_top_level_model_key_is_the_model_name(deap_dir, tmp_path, capsys):
    cfg = tmp_path / "run.toml"
    cfg.write_text('model = "majority"\nn_folds = 2\n')
    uri = f"sqlite:///{tmp_path}/m.db"
    assert main(["run", "--config", str(cfg), "--deap", str(deap_dir), "--tracking-uri", uri]) == 0
    assert "majority | whole-set" in capsys.readouterr().out
    runs = _runs(uri)
    assert runs and {r.data.params.get("model") for r in runs if "model" in r.data.params} == {"majority"}
    cfg.write_text('model = "mtcnn"\n[model]\ndropout = 0.1\n')  # a [model] table stays options
    from bench.api.settings import build_config

    d = build_config({"model": "mtcnn", "x": 1}, train={}, feature_config={}, model_options={})
    assert d["model"] == "mtcnn" and d["model_options"] == {}
    d = build_config({"model": {"dropout": 0.1}}, train={}, feature_config={}, model_options={})
    assert "model" not in d and d["model_options"] == {"dropout": 0.1}


def test_ctrl_c_says_what_was_kept(deap_dir, tmp_path, capsys, monkeypatch):
    from bench.cli.run_progress import LineReporter

    real = LineReporter.unit_end

    def interrupt_after_first(self, result):
        real(self, result)
        raise KeyboardInterrupt

    monkeypatch.setattr(LineReporter, "unit_end", interrupt_after_first)
    uri = f"sqlite:///{tmp_path}/m.db"
    args = ["run", "--model", "majority", "--deap", str(deap_dir), "--folds", "2", "--tracking-uri", uri]
    assert main(args) == 130
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == (
        "interrupted: 1 of 2 units finished and kept in MLflow; run the same command again to resume"
    )
    assert not any(line == "interrupted" for line in err)
    statuses = sorted(r.info.status for r in _runs(uri))
    assert statuses == ["FINISHED", "KILLED"]


def test_answering_tracking_server_passes_the_check():
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from bench.tracking.uris import check_tracking_uri

    class Health(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()
            self.wfile.write(b"OK")

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        uri = f"http://127.0.0.1:{server.server_address[1]}"
        assert check_tracking_uri(uri) == uri
    finally:
        server.shutdown()
        server.server_close()
