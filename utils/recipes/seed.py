"""The seed recipe: an offline training set of each clip and three augmented copies, as log spectrograms."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from utils.recipes.base import Examples, Recipe
from utils.recipes.seed_augment import SEED_COPIES, build_seed_training_set, seed_augmented_copies
from utils.recipes.seed_features import SEED_SAMPLE_RATE, seed_features, to_seed_rate
from utils.store import cached_array


@dataclass(frozen=True)
class OfflineRecipe(Recipe):
    """Trains on features of every clip and its augmented copies, built once before training and cached."""

    copies = len(SEED_COPIES)

    def featurize(self, rows: np.ndarray) -> np.ndarray:
        """int16 clips (n, 16000) -> standardised log spectrograms (n, 98, 221), float32."""
        return seed_features(to_seed_rate(rows))

    @property
    def train_transform(self) -> None:
        return None

    def training_inputs(self, clips: np.ndarray, *, n: int, random_state: int, cache_file: Path, key: str) -> np.ndarray:
        return cached_array(cache_file, key, lambda path: build_seed_training_set(clips[:n], path, random_state=random_state))

    def feature_maps(self, waves: np.ndarray) -> np.ndarray:
        """Log spectrograms of float waveforms at 22,050 Hz, the seed's rate."""
        return seed_features(waves)

    def clip_feature_maps(self, clips: np.ndarray) -> np.ndarray:
        return self.featurize(clips)

    def examples(self, clip: np.ndarray, rng: np.random.Generator) -> Examples:
        """The offline copies at librosa's rate."""
        waves = seed_augmented_copies(to_seed_rate(clip), rng)
        return list(SEED_COPIES), seed_features(waves), waves, SEED_SAMPLE_RATE


SEED = OfflineRecipe(name="seed", family="seed", model="seed_cnn")
