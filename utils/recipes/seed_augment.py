"""The seed recipe's offline augmentation: every training clip four times over."""
from __future__ import annotations

import os
from pathlib import Path

import librosa
import numpy as np
from joblib import Parallel, delayed
from tqdm.auto import tqdm

from utils.recipes.seed_features import SEED_FEATURE_SHAPE, SEED_SAMPLE_RATE, seed_features, to_seed_rate
from utils.store import temporary_path

SEED_COPIES = ("original", "noise", "shift", "pitch")


def add_noise(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Add Gaussian noise scaled by uniform(0.005, 0.5)."""
    scale = rng.uniform(0.005, 0.5)
    return (audio + scale * rng.standard_normal(audio.shape)).astype(np.float32)


def time_shift(audio: np.ndarray, *, sample_rate: int = SEED_SAMPLE_RATE) -> np.ndarray:
    """Roll the clip circularly by a tenth of a second."""
    return np.roll(audio, sample_rate // 10, axis=-1)


def pitch_shift(audio: np.ndarray, rng: np.random.Generator, *, sample_rate: int = SEED_SAMPLE_RATE) -> np.ndarray:
    """Shift the pitch by randint(-5, 5) semitones (numpy's randint: -5 to 4)."""
    steps = int(rng.integers(-5, 5))
    return librosa.effects.pitch_shift(audio, sr=sample_rate, n_steps=steps).astype(np.float32)


def seed_augmented_copies(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The four versions of one clip, in the order of SEED_COPIES.

    Parameters
    ----------
    audio : np.ndarray, shape (22050,), float32

    Returns
    -------
    np.ndarray, shape (4, 22050), float32
    """
    return np.stack([audio, add_noise(audio, rng), time_shift(audio), pitch_shift(audio, rng)])


def _featurize_chunk(clips: np.ndarray, rows: np.ndarray, random_state: int) -> np.ndarray:
    audio = to_seed_rate(clips)
    copies = np.stack([
        seed_augmented_copies(a, np.random.default_rng([random_state, int(row)])) for a, row in zip(audio, rows)
    ])  # (chunk, 4, 22050)
    return seed_features(copies).astype(np.float16)


def build_seed_training_set(
    clips: np.ndarray, out_path: str | Path, *, random_state: int, chunk: int = 64, n_jobs: int | None = None
) -> np.ndarray:
    """Featurise every clip and its three augmented copies into one array on disk.

    Row ``copy * n + i`` holds copy ``copy`` (see SEED_COPIES) of clip ``i``, so
    rows ``0..n-1`` are the un-augmented clips. Each clip's randomness comes from
    (random_state, i), so the result does not depend on chunking or workers. The file is
    written under a temporary name and renamed when complete.

    Parameters
    ----------
    clips : np.ndarray, shape (n, 16000), int16

    Returns
    -------
    np.ndarray, shape (4 * n, 98, 221), float16 (read-only memory map)
    """
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    n = len(clips)
    rows = len(SEED_COPIES) * n
    tmp = temporary_path(out_path)
    # The header and a sparse file of the full size; rows are then written with pwrite, not through a memory
    # map, so the written pages never count in this process's memory (about 17 GB at the full profile).
    header = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16, shape=(rows, *SEED_FEATURE_SHAPE))
    del header
    row_bytes = np.dtype(np.float16).itemsize * int(np.prod(SEED_FEATURE_SHAPE))
    data_start = tmp.stat().st_size - rows * row_bytes
    starts = range(0, n, chunk)
    jobs = (delayed(_featurize_chunk)(np.asarray(clips[s:s + chunk]), np.arange(s, min(s + chunk, n)), random_state) for s in starts)
    results = Parallel(n_jobs=n_jobs or os.cpu_count(), return_as="generator")(jobs)
    bar = tqdm(results, total=len(starts), desc="augment and featurise", unit="chunk", mininterval=5,
               disable=n < 5000)
    fd = os.open(tmp, os.O_WRONLY)
    try:
        for start, features in zip(starts, bar):
            for copy in range(len(SEED_COPIES)):
                block = np.ascontiguousarray(features[:, copy])
                if os.pwrite(fd, block, data_start + (copy * n + start) * row_bytes) != block.nbytes:
                    raise OSError(f"{tmp}: short write (disk full?)")
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)  # a half training set is of no use, and large
        raise
    os.close(fd)
    os.replace(tmp, out_path)
    return np.load(out_path, mmap_mode="r")
