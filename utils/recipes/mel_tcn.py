"""The mel_tcn recipe: log-mel cached once per clip, augmentation and fresh mixtures in the mel domain."""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np

from utils.paths import CACHE_DIR
from utils.recipes.base import EXAMPLE_NAMES, Examples, Recipe, adamw_warmup_cosine
from utils.recipes.mel_augment import MelAugment, MelWords, warp_bands
from utils.recipes.mel_features import FLOOR, cached_log_mel, inverse_log_mel, log_mel, mel_power, standardized


@dataclass(frozen=True)
class MelRecipe(Recipe):
    """Trains on the log-mel of every clip, cached once; ``augment`` (a MelAugment) alters every batch."""

    augment: MelAugment = MelAugment()
    tta_warps: tuple[float, ...] = ()  # test-time mel-axis warps of the unshifted clip, views beside the shifts

    def source(self, clips: np.ndarray) -> np.ndarray:
        return cached_log_mel(clips)

    def featurize(self, rows: np.ndarray) -> np.ndarray:
        """Cached features (float16) -> float32 model inputs."""
        return np.asarray(rows, dtype=np.float32)

    def test_views(self):
        """The shifted views, then one per ``tta_warps``: band b of the clip's log-mel reads band ``b * warp``."""
        return super().test_views() + [partial(_warped, self.featurize, warp) for warp in self.tta_warps]

    def load_words(self, data_dir: str | Path, *, cache_dir: str | Path = CACHE_DIR) -> MelWords | None:
        return self.augment.load_words(data_dir, cache_dir=cache_dir) if self.augment.fresh > 0 else None

    def feature_maps(self, waves: np.ndarray) -> np.ndarray:
        """The log-mel of float waveforms at 16 kHz, standardised per clip as the network does."""
        return standardized(np.log(mel_power(waves) + FLOOR))

    def clip_feature_maps(self, clips: np.ndarray) -> np.ndarray:
        return standardized(log_mel(clips))

    def examples(self, clip: np.ndarray, rng: np.random.Generator) -> Examples:
        """Heard through an inverse mel."""
        targets = np.zeros((3, 30), dtype=np.float32)
        x = np.repeat(log_mel(clip[None, :]), 4, axis=0)
        x[1:], _ = replace(self.augment, words=None)(x[1:], targets, rng)
        return list(EXAMPLE_NAMES), standardized(x), inverse_log_mel(x), 16000

    def fresh_examples(self, data_dir: str | Path, rng: np.random.Generator, n: int = 3) -> Examples | None:
        from utils.results.plots import describe_words

        words = self.load_words(data_dir)
        if words is None:
            return None
        x, labels = words.mix(n, rng, voice=self.augment.word_voice, noise_db=self.augment.noise_db)
        return [describe_words(t) for t in labels], standardized(x), inverse_log_mel(x), 16000


def _warped(featurize, warp: float, rows: np.ndarray) -> np.ndarray:
    x = featurize(rows)
    return warp_bands(x, np.full(len(x), warp, dtype=np.float32))


# test-time views: shifts in frames (odd ones show the network the other phase of its strided front), and two
# voices 5% lower and higher; chosen on the validation voices (README, "The mel_tcn recipe"). Batch-norm
# statistics half the predicted clips' own: the best validation of 0.25, 0.5 and 0.75 (README, "Other speech engines")
MEL_TCN = MelRecipe(name="mel_tcn", family="mel", model="tc_resnet", tta_shifts=(0, -5, 5, -10, 10), tta_warps=(0.95, 1.05),
                    norm_adaptation=0.5, mixed_precision=True, calibrate=True, optimizer=adamw_warmup_cosine,
                    batch_size=128, cpu_op_threads=1)
