"""What a feature-cache entry holds: the brain maps every entry has, plus what a model's input asks for.

Every entry holds DE and PSD maps and the ratings. A model may ask for more: other feature kinds (DASM,
RASM, Hjorth), DEAP's peripheral features, or the band-limited EEG signal of the time-domain models. Those
are computed from the same recordings under the same :class:`~bench.data.features.FeatureConfig`, so
they do not change the data set a run belongs to (its fingerprint: the recipe and the files); they only
name another cache entry. A run's own config (model, options, ``--features``) says which it read, and
that is in its run key.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from bench.data.inputs import BASE_KINDS, FEATURE_KINDS, InputSpec

SIGNAL_CODE_VERSION = 1
"""Bump when the numbers :mod:`bench.data.signal` caches change (part of the entry name and run key)."""
PERIPHERAL_CODE_VERSION = 1
"""Bump when the numbers :mod:`bench.data.peripheral` computes change (part of the entry name and run
key). Other feature kinds are covered by ``FEATURE_CODE_VERSION`` in the feature config's hash."""


@dataclass(frozen=True)
class Contents:
    """The arrays of a cache entry beyond DE/PSD maps and ratings (default: none)."""

    kinds: tuple[str, ...] = BASE_KINDS
    """Feature kinds on the entry's feature axis, in :data:`FEATURE_KINDS` order; always starts with DE
    and PSD, so a default entry's maps are the first two kinds of every entry."""
    peripheral: bool = False
    """Per-window peripheral features (``peripheral.npy``, (trials, windows, P))."""
    signal_band: tuple[float, float] | None = None
    """Band-limited stimulus EEG (``signal.npy``, (trials, channels, samples) float32) with this pass band.
    Such an entry holds no maps (``features.npy`` has 0 windows): its models read the signal only."""

    def __post_init__(self) -> None:
        kinds = tuple(k for k in FEATURE_KINDS if k in self.kinds or k in BASE_KINDS)
        unknown = [k for k in self.kinds if k not in FEATURE_KINDS]
        if unknown:
            raise ValueError(f"unknown feature kind(s) {unknown}; known: {', '.join(FEATURE_KINDS)}")
        object.__setattr__(self, "kinds", kinds)
        if self.signal_band is not None:
            object.__setattr__(self, "signal_band", tuple(float(v) for v in self.signal_band))

    @classmethod
    def for_spec(cls, spec: InputSpec) -> Contents:
        """The entry a model's input is built from."""
        if spec.layout == "signal":
            return cls(signal_band=spec.band)
        return cls(kinds=spec.features, peripheral=spec.peripheral)

    @property
    def is_default(self) -> bool:
        return self == Contents()

    def to_dict(self) -> dict:
        return {
            "kinds": list(self.kinds),
            "peripheral": self.peripheral,
            "signal_band": None if self.signal_band is None else list(self.signal_band),
        }

    def key(self) -> str:
        """Suffix of the entry name, and part of the run key: "" for the default contents (entries and
        runs keep their keys), else a hash of the contents and the code versions of what they add."""
        if self.is_default:
            return ""
        payload = self.to_dict()
        if self.peripheral:
            payload["peripheral_code_version"] = PERIPHERAL_CODE_VERSION
        if self.signal_band is not None:
            payload["signal_code_version"] = SIGNAL_CODE_VERSION
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:8]

    def arrays(self) -> tuple[str, ...]:
        """The ``.npy`` files of an entry with these contents."""
        return (
            ("features.npy", "ratings.npy")
            + (("peripheral.npy",) if self.peripheral else ())
            + (("signal.npy",) if self.signal_band is not None else ())
        )
