"""Reading DEAP's preprocessed files safely (kept for callers of the pre-registry names).

The DEAP reader lives in :mod:`bench.data.datasets.deap` (the DEAP entry of the dataset registry), the
restricted unpickler and the shared checks in :mod:`bench.data.safeload`.
"""

from bench.data.datasets import SubjectRecording
from bench.data.datasets.deap import (
    SUBJECT_RE,
    find_subject_files,
    read_subject,
    subject_number,
    validate_arrays,
    validate_ratings,
)
from bench.data.datasets.deap_format import BASELINE_SAMPLES, N_SAMPLES, RATING_NAMES
from bench.data.safeload import first_non_finite, safe_load_pickle

__all__ = [
    "BASELINE_SAMPLES",
    "N_SAMPLES",
    "RATING_NAMES",
    "SUBJECT_RE",
    "SubjectRecording",
    "find_subject_files",
    "first_non_finite",
    "read_subject",
    "safe_load_pickle",
    "subject_number",
    "validate_arrays",
    "validate_ratings",
]
