"""The data layer: DEAP files (real or synthetic) -> brain-map features -> model inputs.

It knows nothing about models, protocols or tracking.
"""

from bench.data.cache import list_cached, prepare_features
from bench.data.channels import EEG_CHANNELS, GRIDS, SFREQ, grid_positions, grid_shape, to_grid
from bench.data.features import FeatureConfig, extract_features
from bench.data.featureset import FeatureSet
from bench.data.inputs import FEATURE_KINDS, TASKS, InputSpec, ModelInputs, build_inputs
from bench.data.paths import cache_root
from bench.data.reader import SubjectRecording, find_subject_files, read_subject
from bench.data.source import DataSource, open_deap, resolve_source, synthetic_source

__all__ = [
    "EEG_CHANNELS",
    "FEATURE_KINDS",
    "GRIDS",
    "SFREQ",
    "TASKS",
    "DataSource",
    "FeatureConfig",
    "FeatureSet",
    "InputSpec",
    "ModelInputs",
    "SubjectRecording",
    "build_inputs",
    "cache_root",
    "extract_features",
    "find_subject_files",
    "grid_positions",
    "grid_shape",
    "list_cached",
    "open_deap",
    "prepare_features",
    "read_subject",
    "resolve_source",
    "synthetic_source",
    "to_grid",
]
