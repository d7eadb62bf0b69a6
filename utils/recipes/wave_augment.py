"""On-the-fly waveform augmentation for the wave_resnet recipe: cheap, vectorised, applied per batch."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from utils.dataset.mixes import NOISE_BANK_SAMPLES, noise_bank


@dataclass(frozen=True)
class WaveAugment:
    """Random fresh mixtures, speed, shift, re-mixing, noise and gain for a batch of 1 s waveforms.

    Each field is a probability or a range; see ``__call__``. Fresh mixtures
    need ``words``, a ``utils.dataset.saved_words.WordMixer`` (the dataset's saved words,
    restricted to the voices being trained on); without it ``fresh`` does nothing.
    """

    # Share of clips replaced by a fresh mixture of the dataset's words (the wave_resnet_fresh recipe: 0.5; why wave_resnet
    # leaves it off: README, "The wave_resnet recipe").
    fresh: float = 0.0
    words: object = field(default=None, repr=False, compare=False)  # a WordMixer, or None

    # Share of clips summed with another clip of the batch (truths averaged); off by default (README, "The wave_resnet recipe").
    remix: float = 0.0
    speed: tuple[float, float] = (0.85, 1.15)  # resampling factor: tempo and pitch together
    shift: float = 0.15  # largest circular shift, in seconds
    gain_db: tuple[float, float] = (-12.0, 6.0)
    snr_db: tuple[float, float] = (5.0, 40.0)  # Gaussian noise level against the clip's RMS
    noise: float = 0.5  # share of clips that get noise

    @staticmethod
    def load_words(data_dir, *, cache_dir=None):
        """The dataset's saved words as a ``utils.dataset.saved_words.WordMixer``, or None where it has none."""
        from utils.dataset.saved_words import WordMixer

        return WordMixer.load(data_dir)

    def __call__(self, waves: np.ndarray, targets: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Augment a batch.

        Parameters
        ----------
        waves : np.ndarray, shape (batch, samples), float32
        targets : np.ndarray, shape (batch, 30)

        Returns
        -------
        waves, targets : the same shapes; targets still sum to 1.
        """
        n, samples = waves.shape
        if self.words is not None and self.fresh > 0:
            fresh = np.flatnonzero(rng.random(n) < self.fresh)
            if len(fresh):
                waves, targets = np.array(waves, dtype=np.float32), np.array(targets, dtype=np.float32)
                waves[fresh], targets[fresh] = self.words(len(fresh), rng)
        limit = int(self.shift * samples)
        waves = change_speed(waves, rng.uniform(*self.speed, size=n), shifts=rng.integers(-limit, limit + 1, size=n))
        waves, targets = remix(waves, targets, rng, share=self.remix)
        noisy = np.flatnonzero(rng.random(n) < self.noise)
        snr = rng.uniform(*self.snr_db, size=len(noisy))
        starts = rng.integers(0, NOISE_BANK_SAMPLES - samples, size=len(noisy))
        bank = noise_bank()
        for row, db, start in zip(noisy, snr, starts):
            rms = np.sqrt(np.dot(waves[row], waves[row]) / samples) + 1e-6
            waves[row] += np.float32(rms / 10 ** (db / 20)) * bank[start:start + samples]
        waves *= (10 ** (rng.uniform(*self.gain_db, size=(n, 1)) / 20)).astype(np.float32)
        return waves, targets


def change_speed(waves: np.ndarray, factors: np.ndarray, *, shifts: np.ndarray | None = None) -> np.ndarray:
    """Resample each clip by its factor (> 1 faster and higher), keeping its length, then shift it circularly.

    A faster clip is padded with silence at the end; a slower one is longer
    than the clip, and what runs past the end is added onto the start (as the
    circular shift does), so no word is lost. Linear interpolation, float32.

    Parameters
    ----------
    waves : np.ndarray, shape (batch, samples)
    factors : np.ndarray, shape (batch,)
    shifts : np.ndarray of int, shape (batch,), optional
        Circular shift of each result, in samples (positive: later).

    Returns
    -------
    np.ndarray, shape (batch, samples), float32, a new array
    """
    n, samples = waves.shape
    factors = np.asarray(factors, dtype=np.float32)[:, None]
    shifts = np.zeros((n, 1), dtype=np.int64) if shifts is None else np.asarray(shifts, dtype=np.int64)[:, None]
    flat = np.ascontiguousarray(waves, dtype=np.float32).ravel()
    starts = (np.arange(n, dtype=np.int64) * samples)[:, None]

    def read(positions):
        """Slowed/sped clip at output positions (n, m), float32: interpolated input, 0 past its end."""
        at = positions * factors
        whole = np.floor(at)
        frac = at - whole
        left = whole.astype(np.int64)
        inside = left < samples - 1
        np.minimum(left, samples - 2, out=left)
        left += starts
        a = flat[left]
        a += frac * (flat[left + 1] - a)
        a[~inside] = 0
        return a

    wrapped = np.lib.stride_tricks.sliding_window_view(circular_positions(samples), samples)
    out = read(wrapped[samples - shifts[:, 0]])  # output sample t reads position (t - shift) mod samples
    overflow = int(np.ceil(samples / min(float(factors.min()), 1.0))) - samples
    if overflow > 0:  # the part of slowed clips past the end, added onto the start
        tail = np.arange(overflow)[None, :]
        out.ravel()[(tail + shifts) % samples + starts] += read(tail.astype(np.float32) + samples)
    return out


@lru_cache(maxsize=4)
def circular_positions(samples: int) -> np.ndarray:
    """0 .. samples-1 three times over, float32: any window of it is a circularly shifted ramp."""
    return np.tile(np.arange(samples, dtype=np.float32), 3)


def remix(waves: np.ndarray, targets: np.ndarray, rng: np.random.Generator, *, share: float) -> tuple[np.ndarray, np.ndarray]:
    """Sum a share of the clips with another clip of the batch and average their truths."""
    n = len(waves)
    chosen = np.flatnonzero(rng.random(n) < share)
    if n < 2 or not len(chosen):
        return waves, targets
    partners = (chosen + rng.integers(1, n, size=len(chosen))) % n  # never the clip itself
    waves, targets = waves.copy(), targets.copy()
    waves[chosen] = (waves[chosen] + waves[partners]) / 2
    targets[chosen] = (targets[chosen] + targets[partners]) / 2
    return waves, targets
