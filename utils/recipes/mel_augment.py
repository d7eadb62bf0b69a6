"""Augmentation in the log-mel domain for the mel_tcn recipe: vectorised per batch, on the host.

Fresh mixtures sum the mel power of four saved words (``MelWords``); every
word of a fresh mixture, and every real clip, gets a voice change (mel-axis
warp, tempo, spectral tilt and a smooth random EQ); some clips lose the bands
above a random cutoff, as audio recorded or spoken at a lower sample rate
does; every clip gets a noise floor, a circular time shift and SpecAugment
masks.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from utils.dataset.mixes import draw_mixes
from utils.dataset.saved_words import WordMixer
from utils.paths import CACHE_DIR
from utils.recipes.mel_features import CLIP_FRAMES, HOP, N_MELS, SETTINGS, band_frequencies, white_noise_mel, word_log_mels
from utils.keys import file_identity, key
from utils.store import cached_array, save_npz_atomic

DB = np.log(10.0) / 10  # natural-log units per dB of power


@dataclass(frozen=True)
class VoiceChange:
    """Ranges of the per-word (or per-clip) voice change."""

    warp: tuple[float, float] = (0.8, 1.2)  # mel-axis scale, log-uniform
    tempo: tuple[float, float] = (0.8, 1.25)  # playback rate, log-uniform
    tilt_db: float = 10.0  # largest spectral tilt, dB from the lowest to the highest band
    eq_db: float = 3.0  # std of each of the EQ's three cosine terms, dB

    def draw(self, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        """Random changes for ``n`` items: warp (n,), tempo (n,), and a band gain in log units (n, N_MELS)."""
        bands = np.linspace(0.0, 1.0, N_MELS, dtype=np.float32)
        tilt = rng.uniform(-self.tilt_db, self.tilt_db, size=(n, 1)) * (bands - 0.5)
        terms = np.cos(np.pi * np.arange(1, 4)[:, None] * bands[None, :])  # (3, N_MELS)
        eq = rng.normal(0.0, self.eq_db, size=(n, 3)) @ terms
        return {
            "warp": np.exp(rng.uniform(*np.log(self.warp), size=n)).astype(np.float32),
            "tempo": np.exp(rng.uniform(*np.log(self.tempo), size=n)).astype(np.float32),
            "band_gain": ((tilt + eq) * DB).astype(np.float32),
        }


def interpolate_frames(flat: np.ndarray, base: np.ndarray, length: np.ndarray, positions: np.ndarray):
    """Frames read at fractional ``positions`` of sequences stored in ``flat``, linearly interpolated.

    Parameters
    ----------
    flat : np.ndarray, shape (total_frames, bands)
    base, length : np.ndarray of int, shape (n,)
        Sequence i is ``flat[base[i] : base[i] + length[i]]``.
    positions : np.ndarray, shape (n, frames), float

    Returns
    -------
    frames : np.ndarray, shape (n, frames, bands), float32
    inside : np.ndarray of bool, shape (n, frames): whether the position falls inside its sequence
    """
    last = (length - 1)[:, None]
    inside = (positions >= 0) & (positions <= last)
    p = np.clip(positions, 0, last)
    i0 = np.floor(p).astype(np.int64)
    frac = (p - i0).astype(np.float32)[..., None]
    i1 = np.minimum(i0 + 1, last) + base[:, None]
    i0 += base[:, None]
    a = np.take(flat, i0, axis=0).astype(np.float32, copy=False)
    b = np.take(flat, i1, axis=0).astype(np.float32, copy=False)
    b -= a
    b *= frac
    b += a
    return b, inside


def warp_bands(x: np.ndarray, warp: np.ndarray) -> np.ndarray:
    """Scale the mel axis: band b of the result reads band ``b * warp`` (linear interpolation, edges held).

    Parameters
    ----------
    x : np.ndarray, shape (n, frames, N_MELS)
    warp : np.ndarray, shape (n,)
    """
    bands = x.shape[-1]
    source = np.clip(np.arange(bands, dtype=np.float32)[None, :] * warp[:, None], 0, bands - 1)  # (n, bands)
    j0 = np.floor(source).astype(np.int64)
    frac = source - j0
    matrix = np.zeros((len(x), bands, bands), dtype=np.float32)  # (n, source band, result band)
    rows, cols = np.arange(len(x))[:, None], np.arange(bands)[None, :]
    matrix[rows, j0, cols] += 1 - frac
    matrix[rows, np.minimum(j0 + 1, bands - 1), cols] += frac
    return np.matmul(x, matrix)


class MelWords:
    """The log-mel of a dataset's saved words, grouped by word and voice group, for fresh mixtures.

    ``MelWords.load(data_dir)`` computes (once, cached) the log-mel of every
    utterance in ``data_dir/train_words/``; ``restricted(groups)`` keeps the
    voices of some groups; ``mix(n, rng, voice=...)`` makes mixtures.
    """

    def __init__(self, mixer: WordMixer, flat: np.ndarray, frame_starts: np.ndarray):
        self.mixer, self.frame_starts = mixer, frame_starts  # frame_starts in mixer order
        self.flat = np.asarray(flat, dtype=np.float32)  # read often: float16 would be converted at every batch
        self.frames = 1 + mixer.lengths // HOP

    @classmethod
    def load(cls, data_dir: str | Path, *, cache_dir: str | Path = CACHE_DIR) -> "MelWords | None":
        """The saved words' log-mel, or None when the dataset has no saved words."""
        mixer = WordMixer.load(data_dir)
        if mixer is None:
            return None
        words_key = key(file_identity(mixer.audio.filename), SETTINGS)
        path = Path(cache_dir) / f"words-mel-{words_key[:16]}.npz"
        cached = cached_array(path, words_key, lambda p: save_npz_atomic(
            p, **dict(zip(("flat", "frame_starts"), word_log_mels(mixer.audio, mixer.starts, mixer.lengths)))))
        return cls(mixer, cached["flat"], cached["frame_starts"])

    def restricted(self, groups) -> "MelWords":
        """The same words by the voices of ``groups`` only (labels as in train_groups.csv); None keeps all."""
        if groups is None:
            return self
        mixer = self.mixer.restricted(groups)
        order = np.argsort(self.mixer.starts)  # utterances are found by where their samples start
        positions = order[np.searchsorted(self.mixer.starts, mixer.starts, sorter=order)]
        return MelWords(mixer, self.flat, self.frame_starts[positions])

    def mix(self, n: int, rng: np.random.Generator, *, voice: VoiceChange,
            noise_db: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
        """``n`` fresh mixtures of four different words of one voice group, each word changed by ``voice``.

        Words, utterances, offsets and gains are drawn as the dataset's own
        clips were (``utils.dataset.mixes``); the mel powers of the words are summed
        with white noise ``noise_db`` (range, dB) below a full-scale word.

        Returns
        -------
        log_mel : np.ndarray, shape (n, 101, N_MELS), float32
        labels : np.ndarray, shape (n, 30), float32
        """
        m = self.mixer
        mixes = draw_mixes(rng, n, m.first, m.count, m.lengths, grouped=True)
        utterance = mixes["utterance"].ravel()  # (n * 4,)
        change = voice.draw(rng, len(utterance))
        offsets = (mixes["offset"].ravel() / HOP).astype(np.float32)
        positions = (np.arange(CLIP_FRAMES, dtype=np.float32)[None, :] - offsets[:, None]) * change["tempo"][:, None]
        frames, inside = interpolate_frames(self.flat, self.frame_starts[utterance], self.frames[utterance], positions)
        power = _changed_power(frames, change)
        power *= ((mixes["gain"].ravel() ** 2)[:, None] * inside)[..., None]
        power = power.reshape(n, 4, CLIP_FRAMES, N_MELS).sum(axis=1)
        noise = 10 ** (rng.uniform(*noise_db, size=(n, 1, 1)) / 10) * white_noise_mel()
        return np.log(power + noise.astype(np.float32)), mixes["labels"]


@dataclass(frozen=True)
class MelAugment:
    """Fresh mixtures, voice changes, noise floor, time shift and SpecAugment for a batch of log-mel clips.

    ``words`` (``MelWords``) supplies the fresh mixtures; without it ``fresh`` does nothing.
    """

    fresh: float = 0.75  # share of each batch replaced by fresh mixtures of the saved words (README: 0.75 against 0.5)
    words: object = field(default=None, repr=False, compare=False)  # a MelWords, or None
    word_voice: VoiceChange = VoiceChange(warp=(0.8, 1.2), tempo=(0.85, 1.18), tilt_db=6.0, eq_db=2.0)
    clip_voice: VoiceChange = VoiceChange(warp=(0.9, 1.1), tempo=(1.0, 1.0), tilt_db=4.0, eq_db=1.0)
    noise_db: tuple[float, float] = (-60.0, -25.0)  # fresh mixtures: white noise below a full-scale word
    added_noise_db: tuple[float, float] = (-40.0, -10.0)  # real clips: white noise below the clip's mean power
    added_noise: float = 0.3  # share of real clips that get it
    band_limit: float = 0.1  # share of clips whose bands above a random cutoff fall to the clip's floor
    cutoff_hz: tuple[float, float] = (3000.0, 7000.0)  # its range, log-uniform (telephone to 14 kHz sampling)
    shift: int = 15  # largest circular shift, frames
    time_masks: tuple[int, int] = (1, 8)  # count, largest width in frames
    band_masks: tuple[int, int] = (1, 4)  # count, largest width in bands

    @staticmethod
    def load_words(data_dir: str | Path, *, cache_dir: str | Path = CACHE_DIR) -> MelWords | None:
        return MelWords.load(data_dir, cache_dir=cache_dir)

    def __call__(self, x: np.ndarray, targets: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Augment a batch.

        Parameters
        ----------
        x : np.ndarray, shape (batch, 101, N_MELS), float: log-mel clips
        targets : np.ndarray, shape (batch, 30)

        Returns
        -------
        x, targets : new arrays of the same shapes (float32); targets still sum to 1.
        """
        x, targets = np.array(x, dtype=np.float32), np.array(targets, dtype=np.float32)
        n = len(x)
        fresh = np.flatnonzero(rng.random(n) < self.fresh) if self.words is not None else np.array([], int)
        real = np.setdiff1d(np.arange(n), fresh)
        if len(fresh):
            x[fresh], targets[fresh] = self.words.mix(len(fresh), rng, voice=self.word_voice, noise_db=self.noise_db)
        if len(real):
            x[real] = self._change_clips(x[real], rng)
        limited = np.flatnonzero(rng.random(n) < self.band_limit)
        if len(limited):
            x[limited] = _low_pass(x[limited], np.exp(rng.uniform(*np.log(self.cutoff_hz), size=len(limited))))
        x = _roll_frames(x, rng.integers(-self.shift, self.shift + 1, size=n))
        return _mask(x, rng, self.time_masks, self.band_masks), targets

    def _change_clips(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Voice change of whole clips (tempo wraps around the clip's end) and an added noise floor."""
        n = len(x)
        change = self.clip_voice.draw(rng, n)
        positions = np.mod(np.arange(CLIP_FRAMES, dtype=np.float32)[None, :] * change["tempo"][:, None], CLIP_FRAMES)
        x, _ = interpolate_frames(x.reshape(-1, N_MELS), np.arange(n) * CLIP_FRAMES, np.full(n, CLIP_FRAMES), positions)
        power = _changed_power(x, change)
        noisy = rng.random(n) < self.added_noise
        level = power.mean(axis=(1, 2)) * 10 ** (rng.uniform(*self.added_noise_db, size=n) / 10)
        power += ((noisy * level / white_noise_mel().mean())[:, None, None] * white_noise_mel()).astype(np.float32)
        return np.log(power, out=power)


def _changed_power(x: np.ndarray, change: dict[str, np.ndarray]) -> np.ndarray:
    """Mel power of log-mel ``x`` (n, frames, N_MELS) after a ``VoiceChange.draw``'s band warp and band gain."""
    power = warp_bands(x, change["warp"])
    power += change["band_gain"][:, None, :]
    return np.exp(power, out=power)


def _low_pass(x: np.ndarray, cutoff_hz: np.ndarray) -> np.ndarray:
    """Log-mel clips (n, frames, N_MELS) whose bands above ``cutoff_hz`` (n,) fall, 20 dB a band, to the clip's floor
    (its 5th percentile); the bands below are kept as they are."""
    centres = band_frequencies()
    above = np.maximum(centres[None, :] - cutoff_hz[:, None], 0.0) / np.gradient(centres)  # in bands
    floor = np.percentile(x, 5, axis=(1, 2), keepdims=True)
    faded = np.logaddexp(x - (20 * DB * above)[:, None, :], floor)
    return np.where(above[:, None, :] > 0, faded, x).astype(np.float32)


def _roll_frames(x: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Each clip rolled circularly along time by its own shift (positive: later)."""
    frames = x.shape[1]
    index = (np.arange(frames)[None, :] - shifts[:, None]) % frames
    return x[np.arange(len(x))[:, None], index]


def _mask(x: np.ndarray, rng: np.random.Generator, time_masks: tuple[int, int], band_masks: tuple[int, int]) -> np.ndarray:
    """SpecAugment: random time and band stripes set to each clip's mean."""
    n, frames, bands = x.shape
    keep = np.ones((n, frames, bands), dtype=bool)
    for axis, (count, width), size in ((1, time_masks, frames), (2, band_masks, bands)):
        position = np.arange(size)[None, :]
        for _ in range(count):
            w = rng.integers(0, width + 1, size=(n, 1))
            start = rng.integers(0, size, size=(n, 1))
            stripe = (position >= start) & (position < start + w)
            keep &= ~(stripe[:, :, None] if axis == 1 else stripe[:, None, :])
    mean = x.mean(axis=(1, 2), keepdims=True)
    return np.where(keep, x, mean).astype(np.float32)
