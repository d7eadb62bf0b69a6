"""Features of the seed recipe: librosa's 22,050 Hz load and a scipy log spectrogram."""
from __future__ import annotations

import librosa
import numpy as np
from scipy import signal

from utils.dataset.words import SAMPLE_RATE

SEED_SAMPLE_RATE = 22_050  # librosa.load's default rate
SEED_WINDOW_MS = 20
SEED_STEP_MS = 10
SEED_FEATURE_SHAPE = (98, 221)  # (time frames, frequency bins) of a 1 s clip


def to_seed_rate(clips: np.ndarray) -> np.ndarray:
    """What ``librosa.load(path)`` returns for 16 kHz int16 clips: float32 at 22,050 Hz.

    Parameters
    ----------
    clips : np.ndarray, shape (..., 16000), int16

    Returns
    -------
    np.ndarray, shape (..., 22050), float32
    """
    audio = np.asarray(clips, dtype=np.float32) / 32768.0
    return librosa.resample(audio, orig_sr=SAMPLE_RATE, target_sr=SEED_SAMPLE_RATE, res_type="soxr_hq", axis=-1)


def log_spectrogram(
    audio: np.ndarray, *, sample_rate: int = SEED_SAMPLE_RATE, window_ms: float = SEED_WINDOW_MS,
    step_ms: float = SEED_STEP_MS, eps: float = 1e-10,
) -> np.ndarray:
    """Log power spectrogram with a Hann window, no detrend, as (time, frequency).

    Parameters
    ----------
    audio : np.ndarray, shape (..., samples)

    Returns
    -------
    np.ndarray, shape (..., frames, window // 2 + 1), float32
        (98, 221) for 1 s at 22,050 Hz.
    """
    nperseg = int(round(window_ms * sample_rate / 1e3))
    noverlap = int(round(step_ms * sample_rate / 1e3))
    _, _, spec = signal.spectrogram(
        audio, fs=sample_rate, window="hann", nperseg=nperseg, noverlap=noverlap, detrend=False, axis=-1
    )
    return np.log(np.swapaxes(spec, -1, -2).astype(np.float32) + eps)


def standardize_frequencies(spec: np.ndarray) -> np.ndarray:
    """Standardise each frequency column over time, per clip.

    A column that is constant over time (digital silence) becomes 0 instead of NaN.

    Parameters
    ----------
    spec : np.ndarray, shape (..., time, frequency)
    """
    spec = np.asarray(spec, dtype=np.float64)
    mean = spec.mean(axis=-2, keepdims=True)
    std = spec.std(axis=-2, keepdims=True)
    return ((spec - mean) / np.where(std > 0, std, 1.0)).astype(np.float32)


def seed_features(audio: np.ndarray) -> np.ndarray:
    """The seed recipe's model input from 22,050 Hz audio.

    Parameters
    ----------
    audio : np.ndarray, shape (..., 22050), float

    Returns
    -------
    np.ndarray, shape (..., 98, 221), float32
    """
    return standardize_frequencies(log_spectrogram(audio))
