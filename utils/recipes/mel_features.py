"""Log-mel power spectrograms in numpy, computed once per clip and per saved word and cached.

The mel_tcn recipe trains on these: augmentation and fresh mixtures work on
them directly (summing mel power approximates the log-mel of summed
waveforms), so no STFT runs while training.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import librosa
import numpy as np

from utils.dataset.words import CLIP_SAMPLES, SAMPLE_RATE
from utils.keys import file_identity, key
from utils.store import cached_array, save_npy_atomic

N_MELS = 40
WINDOW = 400  # 25 ms Hann window
N_FFT = 512
HOP = 160  # 10 ms
FMIN, FMAX = 20.0, SAMPLE_RATE / 2
FLOOR = 1e-6  # added to the mel power before the log
CLIP_FRAMES = 1 + CLIP_SAMPLES // HOP  # 101
SETTINGS = f"mels={N_MELS},window={WINDOW},fft={N_FFT},hop={HOP},fmin={FMIN},fmax={FMAX},floor={FLOOR}"
_CHUNK = 512  # clips transformed at a time


@lru_cache(maxsize=1)
def mel_filters() -> np.ndarray:
    """(N_FFT // 2 + 1, N_MELS) float32: power spectrum -> mel power (slaney-normalised filters)."""
    return librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=FMIN, fmax=FMAX).T.astype(np.float32)


@lru_cache(maxsize=1)
def band_frequencies() -> np.ndarray:
    """(N_MELS,) float32: the centre frequency of each mel band, Hz."""
    return librosa.mel_frequencies(N_MELS + 2, fmin=FMIN, fmax=FMAX)[1:-1].astype(np.float32)


def _window() -> np.ndarray:
    return np.hanning(WINDOW + 1)[:-1].astype(np.float32)


@lru_cache(maxsize=1)
def white_noise_mel() -> np.ndarray:
    """(N_MELS,) float32: the expected mel power of unit-variance white noise."""
    return (np.sum(np.square(_window(), dtype=np.float64)) * mel_filters().sum(axis=0)).astype(np.float32)


def _stft(audio: np.ndarray) -> np.ndarray:
    """(n, samples) float32 -> (n, 1 + samples // HOP, N_FFT // 2 + 1) complex: frames centred every HOP samples."""
    padded = np.pad(audio, ((0, 0), (WINDOW // 2, WINDOW // 2)))
    frames = np.lib.stride_tricks.sliding_window_view(padded, WINDOW, axis=1)[:, ::HOP][:, : 1 + audio.shape[1] // HOP]
    return np.fft.rfft(frames * _window(), n=N_FFT, axis=-1)


def _istft(spectrum: np.ndarray, length: int) -> np.ndarray:
    """The inverse of ``_stft`` (windowed overlap-add), ``length`` samples."""
    window = _window()
    pieces = np.fft.irfft(spectrum, n=N_FFT, axis=-1)[..., :WINDOW] * window
    span = (spectrum.shape[1] - 1) * HOP + WINDOW
    audio, weight = np.zeros((len(spectrum), span), dtype=np.float32), np.zeros(span, dtype=np.float32)
    squared = np.square(window)
    for t in range(spectrum.shape[1]):
        audio[:, t * HOP : t * HOP + WINDOW] += pieces[:, t]
        weight[t * HOP : t * HOP + WINDOW] += squared
    return (audio / np.maximum(weight, 1e-3))[:, WINDOW // 2 : WINDOW // 2 + length]


def mel_power(audio: np.ndarray) -> np.ndarray:
    """Mel power spectrogram, frames centred every HOP samples (zero padding at both ends).

    Parameters
    ----------
    audio : np.ndarray, shape (n, samples), float in [-1, 1]

    Returns
    -------
    np.ndarray, shape (n, 1 + samples // HOP, N_MELS), float32
    """
    spectrum = _stft(np.asarray(audio, dtype=np.float32))
    power = np.square(spectrum.real) + np.square(spectrum.imag)
    return power.astype(np.float32) @ mel_filters()


def log_mel(clips: np.ndarray) -> np.ndarray:
    """Log-mel of int16 clips.

    Parameters
    ----------
    clips : np.ndarray, shape (n, 16000), int16

    Returns
    -------
    np.ndarray, shape (n, 101, N_MELS), float32
    """
    out = np.empty((len(clips), CLIP_FRAMES, N_MELS), dtype=np.float32)
    for start in range(0, len(clips), _CHUNK):
        chunk = np.asarray(clips[start : start + _CHUNK], dtype=np.float32) / 32768.0
        out[start : start + len(chunk)] = np.log(mel_power(chunk) + FLOOR)
    return out


def cached_log_mel(clips: np.ndarray, *, cache_dir: str | Path | None = None) -> np.ndarray:
    """``log_mel`` of clips as float16, cached beside the int16 decode cache they were memory-mapped from.

    Clips that are not a memory-mapped cache file are transformed in memory.

    Returns
    -------
    np.ndarray, shape (n, 101, N_MELS), float16 (a read-only memory map when cached)
    """
    source = getattr(clips, "filename", None)
    if source is None or np.load(source, mmap_mode="r").shape != clips.shape:  # not a whole cache file
        return log_mel(clips).astype(np.float16)
    source = Path(source)
    path = Path(cache_dir or source.parent) / f"mel-{source.stem}.npy"
    return cached_array(path, key(file_identity(source), SETTINGS), lambda p: save_npy_atomic(p, log_mel(clips).astype(np.float16)))


def word_log_mels(audio: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log-mel of utterances stored end to end, each framed on its own.

    Parameters
    ----------
    audio : np.ndarray, shape (total,), int16
    starts, lengths : np.ndarray, shape (n,), int64
        Each utterance's samples are ``audio[start : start + length]``, length <= 16000.

    Returns
    -------
    flat : np.ndarray, shape (total_frames, N_MELS), float16
        Every utterance's frames end to end, in the order given.
    frame_starts : np.ndarray, shape (n,), int64
        Utterance i has the frames ``flat[frame_starts[i] : frame_starts[i] + 1 + lengths[i] // HOP]``.
    """
    n_frames = 1 + np.asarray(lengths, dtype=np.int64) // HOP
    frame_starts = np.concatenate([[0], np.cumsum(n_frames)[:-1]]).astype(np.int64)
    flat = np.empty((int(n_frames.sum()), N_MELS), dtype=np.float16)
    for first in range(0, len(starts), _CHUNK):
        rows = range(first, min(first + _CHUNK, len(starts)))
        chunk = np.zeros((len(rows), CLIP_SAMPLES), dtype=np.float32)
        for row, i in enumerate(rows):
            chunk[row, : lengths[i]] = audio[starts[i] : starts[i] + lengths[i]]
        chunk /= 32768.0
        mel = np.log(mel_power(chunk) + FLOOR).astype(np.float16)
        for row, i in enumerate(rows):
            flat[frame_starts[i] : frame_starts[i] + n_frames[i]] = mel[row, : n_frames[i]]
    return flat, frame_starts


def standardized(x: np.ndarray) -> np.ndarray:
    """Each clip's log-mel at zero mean and unit deviation, as the network's first layer makes it.

    Parameters
    ----------
    x : np.ndarray, shape (n, frames, N_MELS)
    """
    x = np.asarray(x, dtype=np.float32)
    mean = x.mean(axis=(1, 2), keepdims=True)
    return (x - mean) / (x.std(axis=(1, 2), keepdims=True) + 1e-5)


def inverse_log_mel(x: np.ndarray, *, n_iter: int = 32) -> np.ndarray:
    """Audio that sounds like the given log-mel, for listening only: each frame's spectrum from its mel
    power by least squares (clipped at 0), its phase by ``n_iter`` rounds of fast Griffin-Lim from a
    fixed random start.

    Parameters
    ----------
    x : np.ndarray, shape (n, frames, N_MELS)

    Returns
    -------
    np.ndarray, shape (n, (frames - 1) * HOP), float32, peak-normalised
    """
    power = np.maximum(np.exp(np.asarray(x, dtype=np.float32)) - FLOOR, 0.0)
    magnitude = np.sqrt(np.maximum(power @ np.linalg.pinv(mel_filters()), 0.0))
    length = (x.shape[1] - 1) * HOP
    angles = np.exp(2j * np.pi * np.random.default_rng(0).random(magnitude.shape))
    previous = np.zeros_like(angles)
    for _ in range(n_iter):
        rebuilt = _stft(_istft(magnitude * angles, length))
        angles = rebuilt - 0.99 / 1.99 * previous  # the momentum of fast Griffin-Lim
        angles /= np.abs(angles) + 1e-12
        previous = rebuilt
    audio = _istft(magnitude * angles, length)
    return (audio / (np.abs(audio).max(axis=-1, keepdims=True) + 1e-9) * 0.9).astype(np.float32)
