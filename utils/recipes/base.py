"""What every recipe gives: model inputs from clips, the training set, and the pictures notebooks 01 to 03 show.

Each kind of recipe is a subclass in its own module (seed.py, wave.py, mel_tcn.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np

from utils.paths import CACHE_DIR

EXAMPLE_NAMES = ["original", "augmented 1", "augmented 2", "augmented 3"]
Examples = tuple[list[str], np.ndarray, np.ndarray, int]  # names, maps (n, time, frequency), waves (n, samples), rate


def adam(total_steps: int):
    """Adam with Keras' defaults, whatever the run's length."""
    import keras

    return keras.optimizers.Adam()


@dataclass(frozen=True)
class Recipe:
    """A way to train and predict; subclasses say how clips become model inputs."""

    name: str
    family: str  # "seed", "wave" or "mel": how long the profiles train it
    model: str  # default network, a name in utils.recipes.networks.MODELS
    augment: Callable | None = None  # (inputs, targets, rng) -> (inputs, targets), on training batches
    tta_shifts: tuple[int, ...] = (0,)  # circular shifts along the inputs' time axis whose predictions are averaged
    norm_adaptation: float = 0.0  # weight of the predicted clips' own batch-norm statistics (utils.train.norm_adaptation)
    mixed_precision: bool = False
    calibrate: bool = False  # fit a temperature and prior weight on held-out predictions
    optimizer: Callable[[int], object] = adam  # total training steps -> Keras optimizer
    batch_size: int = 0  # smallest training batch; the profile's when larger
    cpu_op_threads: int = 0  # TensorFlow threads per op when training on a CPU (0: its default; 1: byte-identical runs)

    copies = 1  # training rows per clip (row = copy * n_clips + clip, copy 0 the clip itself)

    def source(self, clips: np.ndarray) -> np.ndarray:
        """What training and prediction read rows from for these int16 clips (n, 16000)."""
        return clips

    def featurize(self, rows: np.ndarray) -> np.ndarray:
        """Rows of ``source(clips)`` -> model inputs."""
        raise NotImplementedError

    @property
    def train_transform(self) -> Callable[[np.ndarray], np.ndarray] | None:
        """What turns rows of the training set into model inputs (None: they already are)."""
        return self.featurize

    def training_inputs(self, clips: np.ndarray, *, n: int, random_state: int, cache_file: Path, key: str) -> np.ndarray:
        """What training reads rows from, for the first ``n`` of all the training ``clips``.

        ``cache_file`` and ``key`` are where a recipe that builds its training set keeps it, and what it was built for.
        """
        return self.source(clips)[:n]  # of all clips: cached features are keyed on the whole cache file

    def load_words(self, data_dir: str | Path, *, cache_dir: str | Path = CACHE_DIR) -> object | None:
        """The dataset's saved words as the recipe's fresh mixtures use them; None where it makes none."""
        return None

    def feature_maps(self, waves: np.ndarray) -> np.ndarray:
        """What the network looks at first, as (n, time, frequency) maps, for float waveforms (n, samples)."""
        raise NotImplementedError

    def clip_feature_maps(self, clips: np.ndarray) -> np.ndarray:
        """``feature_maps`` of int16 clips (n, 16000)."""
        return self.feature_maps(waveform(clips))

    def examples(self, clip: np.ndarray, rng: np.random.Generator) -> Examples:
        """A clip (16000,) int16 and three augmented versions as the recipe makes them, for looking and listening."""
        raise NotImplementedError

    def fresh_examples(self, data_dir: str | Path, rng: np.random.Generator, n: int = 3) -> Examples | None:
        """``n`` fresh mixtures of the dataset's saved words as the recipe makes them; None if it makes none."""
        return None

    def test_views(self) -> list[Callable[[np.ndarray], np.ndarray]]:
        """Test-time views: each turns rows of ``source(clips)`` into model inputs; their predictions are averaged.

        One per ``tta_shifts``: the rows rolled along their time axis, then featurized.
        """
        return [partial(_shifted, self.featurize, shift) for shift in self.tta_shifts]


def _shifted(featurize: Callable[[np.ndarray], np.ndarray], shift: int, rows: np.ndarray) -> np.ndarray:
    return featurize(np.roll(rows, shift, axis=1))


def waveform(clips: np.ndarray) -> np.ndarray:
    """int16 clips (n, 16000) -> float32 waveforms in [-1, 1]."""
    return np.asarray(clips, dtype=np.float32) / 32768.0


PEAK_RATE, WARMUP, WEIGHT_DECAY = 3e-3, 0.05, 1e-2  # adamw_warmup_cosine's defaults


def adamw_warmup_cosine(total_steps: int, *, peak: float = PEAK_RATE, warmup: float = WARMUP,
                        weight_decay: float = WEIGHT_DECAY):
    """AdamW whose learning rate rises linearly to ``peak`` over ``warmup`` of the run, then follows a cosine to 0."""
    import keras

    warmup_steps = max(1, int(warmup * total_steps))
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=max(1, total_steps - warmup_steps), warmup_target=peak, warmup_steps=warmup_steps,
    )
    return keras.optimizers.AdamW(learning_rate=schedule, weight_decay=weight_decay)
