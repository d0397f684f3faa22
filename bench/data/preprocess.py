"""DEAP's preprocessing, for datasets that ship raw EEG (DREAMER, MAHNOB-HCI).

DEAP's preprocessed release (what the harness's features were designed on) is average-referenced and
band-passed 4-45 Hz at 128 Hz; AMIGOS' preprocessed release applies the same steps. Readers of raw
recordings apply :func:`deap_like` to each continuous recording before cutting trials, so every
dataset's features start from comparably prepared signals.
"""

from __future__ import annotations

import numpy as np

BAND: tuple[float, float] = (4.0, 45.0)
"""DEAP's band-pass, Hz."""
SFREQ = 128.0
"""DEAP's sampling rate, Hz: every reader returns recordings at this rate."""


def deap_like(eeg: np.ndarray, sfreq: float) -> np.ndarray:
    """Common average reference over the channels, the 4-45 Hz band-pass (MNE's FIR, zero phase) and,
    where ``sfreq`` is not 128 Hz, MNE's resampling to 128 Hz: (channels, samples) in, same units out."""
    import mne

    x = np.asarray(eeg, dtype=np.float64)
    x = x - x.mean(axis=0, keepdims=True)
    x = mne.filter.filter_data(x, sfreq, BAND[0], BAND[1], method="fir", phase="zero", fir_design="firwin",
                               verbose=False)  # fmt: skip
    if sfreq != SFREQ:
        x = mne.filter.resample(x, up=SFREQ, down=sfreq, axis=-1, verbose=False)
    return x
