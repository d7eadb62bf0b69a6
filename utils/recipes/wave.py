"""The waveform recipes: waveforms augmented on the fly, a log-mel computed inside the network."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from utils.paths import CACHE_DIR
from utils.recipes.base import EXAMPLE_NAMES, Examples, Recipe, waveform
from utils.recipes.wave_augment import WaveAugment


@dataclass(frozen=True)
class WaveRecipe(Recipe):
    """Trains on the decoded clips as float waveforms; ``augment`` (a WaveAugment) alters every batch."""

    augment: WaveAugment = WaveAugment()

    def featurize(self, rows: np.ndarray) -> np.ndarray:
        return waveform(rows)

    def load_words(self, data_dir: str | Path, *, cache_dir: str | Path = CACHE_DIR) -> object | None:
        return self.augment.load_words(data_dir) if self.augment.fresh > 0 else None

    def feature_maps(self, waves: np.ndarray) -> np.ndarray:
        """The in-model log-mel's 32 ms window channel, for float waveforms at 16 kHz."""
        import keras

        from utils.recipes.layers import LogMel

        return keras.ops.convert_to_numpy(LogMel()(np.asarray(waves, dtype=np.float32)))[..., 1]

    def examples(self, clip: np.ndarray, rng: np.random.Generator) -> Examples:
        targets = np.zeros((3, 30), dtype=np.float32)
        waves = np.repeat(waveform(clip[None, :]), 4, axis=0)
        augmented, _ = self.augment(waves[1:], targets, rng)
        waves = np.concatenate([waves[:1], augmented])
        return list(EXAMPLE_NAMES), self.feature_maps(waves), waves, 16000

    def fresh_examples(self, data_dir: str | Path, rng: np.random.Generator, n: int = 3) -> Examples | None:
        from utils.results.plots import describe_words

        words = self.load_words(data_dir)
        if words is None:
            return None
        waves, labels = words(n, rng)
        return [describe_words(t) for t in labels], self.feature_maps(waves), waves, 16000


WAVE_RESNET = WaveRecipe(name="wave_resnet", family="wave", model="logmel_resnet", tta_shifts=(0, -1600, 1600),
                         mixed_precision=True, calibrate=True)
# half the training clips replaced by fresh mixtures of the dataset's saved words (where it has them; else as wave_resnet)
WAVE_RESNET_FRESH = replace(WAVE_RESNET, name="wave_resnet_fresh", augment=WaveAugment(fresh=0.5))
