"""How a clip is mixed from single words: the random draws, the sum, its noise floor and peak.

Shared by the dataset writer (``utils.datagen``) and fresh mixtures while training.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from utils.dataset.words import CLIP_SAMPLES, N_WORDS, WORDS_PER_CLIP

NOISE_BANK_SAMPLES = 1 << 20  # white noise that clips take their noise from, at random offsets


@lru_cache(maxsize=1)
def noise_bank() -> np.ndarray:
    """A fixed stretch of unit Gaussian noise (float32), the same in every process."""
    bank = np.random.default_rng(0).standard_normal(NOISE_BANK_SAMPLES, dtype=np.float32)
    bank.flags.writeable = False
    return bank


GAIN_RANGE = (0.4, 1.0)  # per word, on peak-normalised utterances
NOISE_DB_RANGE = (-50.0, -30.0)  # noise std relative to the mix's peak
PEAK_RANGE = (0.5, 0.95)  # final peak, as a fraction of int16 full scale
MIN_INSIDE = 0.75  # fraction of each word kept inside the clip


def draw_mixes(rng: np.random.Generator, n_clips: int, first: np.ndarray, count: np.ndarray,
                lengths: np.ndarray, *, grouped: bool) -> dict[str, np.ndarray]:
    """Every random choice of ``n_clips`` mixtures but the noise; arrays of shape (n_clips, 4) or (n_clips,).

    ``first``/``count`` (30, n_groups) locate each word's utterances per group
    and ``lengths`` give the utterances' lengths (see ``_flatten_bank``).
    """
    words = np.argsort(rng.random((n_clips, N_WORDS)), axis=1)[:, :WORDS_PER_CLIP]
    group = rng.integers(first.shape[1], size=n_clips) if grouped else np.zeros(n_clips, dtype=np.int64)
    first, count = first[words, group[:, None]], count[words, group[:, None]]
    utterance = first + (rng.random(words.shape) * count).astype(np.int64)
    length = lengths[utterance]
    max_offset = CLIP_SAMPLES - np.ceil(MIN_INSIDE * length).astype(np.int64)
    offset = (rng.random(words.shape) * (max_offset + 1)).astype(np.int64)
    labels = np.zeros((n_clips, N_WORDS), dtype=np.float32)
    np.put_along_axis(labels, words, 1 / WORDS_PER_CLIP, axis=1)
    return {
        "utterance": utterance, "offset": offset, "kept": np.minimum(length, CLIP_SAMPLES - offset),
        "gain": rng.uniform(*GAIN_RANGE, size=words.shape).astype(np.float32),
        "noise_scale": 10 ** (rng.uniform(*NOISE_DB_RANGE, size=n_clips) / 20),
        "peak": rng.uniform(*PEAK_RANGE, size=n_clips), "group": group, "labels": labels,
    }


def render_mixes(flat: np.ndarray, starts: np.ndarray, mixes: dict[str, np.ndarray], rows: slice,
            noise: np.ndarray) -> np.ndarray:
    """Mixtures ``rows`` of ``mixes`` as float32 (n, 16000) scaled to their int16 peak, not yet rounded.

    ``flat`` holds the utterances end to end (float, or int16 with gains
    already divided by 32767), ``starts`` where each begins; ``noise`` is unit
    Gaussian noise of the mixtures' shape.
    """
    mix = np.zeros((rows.stop - rows.start, CLIP_SAMPLES), dtype=np.float32)
    # Plain Python numbers: numpy scalars make this loop several times slower.
    placements = zip(starts[mixes["utterance"][rows]].tolist(), mixes["offset"][rows].tolist(),
                     mixes["kept"][rows].tolist(), mixes["gain"][rows].tolist())
    for clip, (srcs, offs, ns, gs) in zip(mix, placements):
        for src, off, n, g in zip(srcs, offs, ns, gs):
            clip[off : off + n] += g * flat[src : src + n]
    mix_peak = np.abs(mix).max(axis=1)
    mix += noise * (mix_peak * mixes["noise_scale"][rows]).astype(np.float32)[:, None]
    scale = mixes["peak"][rows] * 32767 / np.maximum(np.abs(mix).max(axis=1), 1e-12)
    mix *= scale.astype(np.float32)[:, None]
    return mix
