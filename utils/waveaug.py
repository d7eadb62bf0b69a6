"""On-the-fly waveform augmentation for the kit recipe: cheap, vectorised, applied per batch."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class WaveAugment:
    """Random re-mixing, speed, shift, gain and noise for a batch of 1 s waveforms.

    Each field is a probability or a range; see ``__call__``.
    """

    remix: float = 0.3  # share of clips summed with another clip of the batch (truths averaged)
    speed: tuple[float, float] = (0.85, 1.15)  # resampling factor: tempo and pitch together
    shift: float = 0.15  # largest circular shift, in seconds
    gain_db: tuple[float, float] = (-12.0, 6.0)
    snr_db: tuple[float, float] = (5.0, 40.0)  # Gaussian noise level against the clip's RMS
    noise: float = 0.5  # share of clips that get noise

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
        waves = change_speed(waves, rng.uniform(*self.speed, size=len(waves)))
        waves, targets = remix(waves, targets, rng, share=self.remix)
        n, samples = waves.shape
        shifts = rng.integers(-int(self.shift * samples), int(self.shift * samples) + 1, size=n)
        rows = (np.arange(samples)[None, :] - shifts[:, None]) % samples
        waves = np.take_along_axis(waves, rows, axis=1)
        waves = waves * (10 ** (rng.uniform(*self.gain_db, size=(n, 1)) / 20))
        rms = np.sqrt(np.mean(waves**2, axis=1, keepdims=True)) + 1e-6
        level = rms / 10 ** (rng.uniform(*self.snr_db, size=(n, 1)) / 20) * (rng.random((n, 1)) < self.noise)
        waves = waves + level * rng.standard_normal(waves.shape, dtype=np.float32)
        return waves.astype(np.float32), targets


def change_speed(waves: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Resample each clip by its factor (> 1 faster and higher), keeping its length.

    A faster clip is padded with silence at the end; a slower one is longer
    than the clip, and what runs past the end is added onto the start (as the
    circular shift does), so no word is lost.

    Parameters
    ----------
    waves : np.ndarray, shape (batch, samples)
    factors : np.ndarray, shape (batch,)
    """
    n, samples = waves.shape
    factors = np.asarray(factors, dtype=np.float64)
    length = int(np.ceil(samples / min(factors.min(), 1.0)))
    positions = np.arange(length)[None, :] * factors[:, None]  # where output sample t reads
    left = np.floor(positions).astype(np.int64)
    frac = (positions - left).astype(np.float32)
    inside = left + 1 < samples
    left = np.minimum(left, samples - 2)
    a = np.take_along_axis(waves, left, axis=1)
    b = np.take_along_axis(waves, left + 1, axis=1)
    stretched = np.where(inside, a + frac * (b - a), 0.0).astype(np.float32)
    out = stretched[:, :samples].copy()
    out[:, : length - samples] += stretched[:, samples:]
    return out


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
