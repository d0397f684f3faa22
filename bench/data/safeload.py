"""Loading untrusted data files safely, and the checks every dataset reader shares.

A pickle can run arbitrary code when loaded, so pickles are read with a restricted unpickler that only
builds what an EEG data file contains: numpy arrays, dtypes and scalars, dicts, lists, strings and
numbers. MATLAB files are read with scipy (which runs no code) and every value is checked against the
layout the reader expects, so a file holding something else (a MATLAB object, a function handle, a
struct with other fields) is refused by name. Every problem is a one-line
:class:`~bench.core.errors.DataError`
naming the file.
"""

from __future__ import annotations

import contextlib
import io
import pickle
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from bench.core.errors import DataError


# The only globals a data pickle needs (numpy moved `core` to `_core` in 2.0; Python 2 pickles name
# `copy_reg`, Python 3 pickles of bytes name `_codecs.encode`).
def _safe_globals() -> dict[tuple[str, str], object]:
    import codecs
    import copyreg

    from numpy._core import multiarray as ma  # numpy >= 2
    from numpy._core import numeric

    table: dict[tuple[str, str], object] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): codecs.encode,
        ("copy_reg", "_reconstructor"): copyreg._reconstructor,
        ("copyreg", "_reconstructor"): copyreg._reconstructor,
    }
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        table[(mod, "_reconstruct")] = ma._reconstruct
        table[(mod, "scalar")] = ma.scalar
    for mod in ("numpy.core.numeric", "numpy._core.numeric"):  # pickle protocol 5 buffers
        table[(mod, "_frombuffer")] = numeric._frombuffer
    for mod in ("__builtin__", "builtins"):
        for name, obj in (("object", object), ("dict", dict), ("list", list), ("tuple", tuple)):
            table[(mod, name)] = obj
    return table


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that refuses every global outside a data file's vocabulary."""

    _allowed = _safe_globals()

    def find_class(self, module: str, name: str) -> object:
        obj = self._allowed.get((module, name))
        if obj is None:
            raise pickle.UnpicklingError(f"refused to load '{module}.{name}' (not part of a DEAP file)")
        return obj


def safe_load_pickle(path: Path) -> object:
    """Load a pickle allowing only numpy arrays and plain containers; never runs foreign code."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return safe_loads(raw, path)


def safe_loads(raw: bytes, where: object) -> object:
    """:func:`safe_load_pickle` of pickled bytes held elsewhere (a member of an ``.npz`` file): the same
    restricted unpickler, every failure one :class:`DataError` line naming ``where``."""
    try:
        return _RestrictedUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except pickle.UnpicklingError as exc:
        msg = str(exc)
        if msg.startswith("refused"):
            raise DataError(f"{where}: unsafe pickle, {msg}") from None
        raise DataError(f"{where}: not a valid pickle ({msg})") from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, MemoryError) as exc:
        raise DataError(f"{where}: truncated or not a data pickle ({type(exc).__name__}: {exc})") from None


def load_mat(path: Path, variable_names: Sequence[str] | None = None, **options) -> dict:
    """``scipy.io.loadmat`` with a one-line DataError for a missing, unreadable or corrupt file.

    scipy builds only numpy arrays (MATLAB objects and function handles come back as opaque arrays that
    the readers' type checks refuse), so loading runs no code. MATLAB v7.3 files (HDF5) are refused with
    a hint, as no dataset here ships them.
    """
    from scipy.io import loadmat

    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        with path.open("rb") as f:
            head = f.read(128)
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if b"MATLAB 7.3" in head:
        raise DataError(f"{path}: a MATLAB v7.3 (HDF5) file; expected the dataset's v5 .mat file")
    try:
        kwargs = dict(options)
        if variable_names is not None:
            kwargs["variable_names"] = tuple(variable_names)
        return loadmat(path, **kwargs)
    except Exception as exc:  # scipy raises many types for corrupt files
        raise DataError(f"{path}: not a readable MATLAB file ({type(exc).__name__}: {exc})") from None


def describe_mat_value(value: object) -> str:
    """What a value ``scipy.io.loadmat`` returned is, in MATLAB's words, for error messages: ``a 1x18
    cell``, ``a 1x1 struct``, ``a string``, ``a 7808x14 float64 array``, ``a MATLAB object of class 'x'``."""
    from scipy.io.matlab import MatlabFunction, MatlabObject, MatlabOpaque

    if isinstance(value, MatlabObject):
        return f"a MATLAB object of class {value.classname!r}"
    if isinstance(value, MatlabFunction):
        return "a MATLAB function handle"
    if isinstance(value, MatlabOpaque):
        return "an opaque MATLAB object"
    if not isinstance(value, np.ndarray):
        return f"a {type(value).__name__}"
    shape = "x".join(map(str, value.shape)) if value.ndim else "scalar"
    if value.dtype.names is not None:
        return f"a {shape} struct"
    if value.dtype.kind == "O":
        return f"a {shape} cell"
    if value.dtype.kind in "US":
        return "a string"
    return f"a {shape} {value.dtype} array"


def first_non_finite(values: np.ndarray) -> tuple[int, ...] | None:
    """Index of the first NaN/inf in ``values``, or None (a cheap all-finite check first)."""
    if np.isfinite(values).all():
        return None
    return tuple(int(i) for i in np.argwhere(~np.isfinite(values))[0])


def check_ratings(
    labels: object, where: object, names: Sequence[str], scale: tuple[float, float]
) -> np.ndarray:
    """Ratings as float64 (trials, len(names)), all numbers within ``scale``, or a one-line DataError.

    Used on read and again when the feature cache hands ratings back, so both refuse the same values.
    """
    lo, hi = scale
    if not isinstance(labels, np.ndarray) or labels.dtype.kind not in "iuf":  # ints, unsigned, floats
        got = labels.dtype if isinstance(labels, np.ndarray) else type(labels).__name__
        raise DataError(f"{where}: ratings ('labels') must be numbers, got {got}")
    if labels.ndim != 2 or labels.shape[1] != len(names):
        raise DataError(f"{where}: ratings have shape {labels.shape}, expected (trials, {len(names)})")
    labels = labels.astype(np.float64)
    if not np.isfinite(labels).all() or labels.min() < lo or labels.max() > hi:
        bad = np.argwhere(~np.isfinite(labels) | (labels < lo) | (labels > hi))[0]
        raise DataError(
            f"{where}: rating {names[bad[1]]} of trial {bad[0]} is {labels[tuple(bad)]}, "
            f"outside {lo:g}-{hi:g}"
        )
    return labels


def check_eeg(eeg: object, where: object, channels: Sequence[str], what: str = "EEG") -> np.ndarray:
    """A (trials or samples, ...) float array with every value finite, or a one-line DataError saying
    where the first bad value is (trial, channel name, sample for a 3-D (trials, channels, samples))."""
    if not isinstance(eeg, np.ndarray) or eeg.dtype.kind not in "iuf":
        got = eeg.dtype if isinstance(eeg, np.ndarray) else type(eeg).__name__
        raise DataError(f"{where}: {what} must be an array of numbers, got {got}")
    bad = first_non_finite(eeg)
    if bad is not None:
        if eeg.ndim == 3:
            raise DataError(
                f"{where}: non-finite {what} value at trial {bad[0]}, channel {channels[bad[1]]}, "
                f"sample {bad[2]}"
            )
        raise DataError(f"{where}: non-finite {what} value at index {bad}")
    return eeg


@contextlib.contextmanager
def quiet_mne() -> Iterator[None]:
    """MNE logs and warns about everything it reads; a reader's only output is its result or its error."""
    import mne  # heavy optional dependency: imported by the readers that need it only

    with warnings.catch_warnings(), mne.utils.use_log_level("error"):
        warnings.simplefilter("ignore")
        yield


def exception_line(exc: BaseException) -> str:
    """An exception a library raised while reading, as one line for a DataError: its type and message."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
