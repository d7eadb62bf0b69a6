"""Recipes: how clips become model inputs, what the network trains on, and how it predicts."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from utils.augment import SEED_COPIES, build_seed_training_set
from utils.features import seed_features, to_seed_rate
from utils.waveaug import WaveAugment


@dataclass(frozen=True)
class Recipe:
    """A way to train and predict.

    ``build_training_set(clips, out_path, *, seed)`` writes an offline training
    set with ``copies`` rows per clip (row = copy * n_clips + clip, copy 0 the
    clip itself); without it the model trains on the decoded clips through
    ``featurize`` and ``augment`` on the fly.
    """

    name: str
    family: str  # "seed" or "kit": whose epochs the profiles give it
    model: str  # default network, a name in utils.models.MODELS
    featurize: Callable[[np.ndarray], np.ndarray]  # int16 clips (n, 16000) -> model inputs
    build_training_set: Callable[..., np.ndarray] | None = None
    copies: int = 1
    augment: Callable | None = None  # (inputs, targets, rng) -> (inputs, targets), on training batches
    tta_shifts: tuple[int, ...] = (0,)  # circular shifts (samples) whose predictions are averaged
    mixed_precision: bool = False
    calibrate: bool = False  # fit a temperature and prior weight on held-out predictions


def seed_featurize(clips: np.ndarray) -> np.ndarray:
    """int16 clips (n, 16000) -> standardised log spectrograms (n, 98, 221), float32."""
    return seed_features(to_seed_rate(clips))


def waveform(clips: np.ndarray) -> np.ndarray:
    """int16 clips (n, 16000) -> float32 waveforms in [-1, 1]."""
    return np.asarray(clips, dtype=np.float32) / 32768.0


_KIT = Recipe(
    name="kit", family="kit", model="kit_resnet", featurize=waveform, augment=WaveAugment(),
    tta_shifts=(0, -1600, 1600), mixed_precision=True, calibrate=True,
)

RECIPES = {
    "seed": Recipe(
        name="seed", family="seed", model="seed_cnn", featurize=seed_featurize,
        build_training_set=build_seed_training_set, copies=len(SEED_COPIES),
    ),
    "kit": _KIT,
    # kit, with half the training clips replaced by fresh mixtures of the dataset's saved words
    # (embedded data and mixed folder corpora have them; elsewhere it is kit)
    "kit_fresh": replace(_KIT, name="kit_fresh", augment=WaveAugment(fresh=0.5)),
}


def get_recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; expected one of {sorted(RECIPES)}")
    return RECIPES[name]


def augmentation_examples(recipe: Recipe, clip: np.ndarray, rng: np.random.Generator) -> tuple[list[str], np.ndarray, int]:
    """A clip and three augmented versions as the recipe makes them, for looking and listening.

    Returns
    -------
    names : list of 4 str
    waves : np.ndarray, shape (4, samples), float32
    sample_rate : int
    """
    if recipe.build_training_set is not None:  # the seed's offline copies at librosa's rate
        from utils.augment import seed_augmented_copies
        from utils.features import SEED_SAMPLE_RATE

        return list(SEED_COPIES), seed_augmented_copies(to_seed_rate(clip), rng), SEED_SAMPLE_RATE
    waves = np.repeat(waveform(clip[None, :]), 4, axis=0)
    targets = np.zeros((4, 30), dtype=np.float32)
    augmented, _ = recipe.augment(waves[1:], targets[1:], rng)
    return ["original", "augmented 1", "augmented 2", "augmented 3"], np.concatenate([waves[:1], augmented]), 16000


def feature_maps(recipe: Recipe, waves: np.ndarray) -> np.ndarray:
    """What the recipe's network looks at first, as (n, time, frequency) maps.

    ``waves`` are float waveforms at the rate ``augmentation_examples`` gives:
    22,050 Hz for the seed (its log spectrogram), 16 kHz for the kit (its
    in-model log-mel, 32 ms window channel).
    """
    if recipe.build_training_set is not None:
        return seed_features(waves)
    import keras

    from utils.layers import LogMel

    return keras.ops.convert_to_numpy(LogMel()(np.asarray(waves, dtype=np.float32)))[..., 1]


def clip_feature_maps(recipe: Recipe, clips: np.ndarray) -> np.ndarray:
    """``feature_maps`` of int16 clips (n, 16000)."""
    if recipe.build_training_set is not None:
        return seed_featurize(clips)
    return feature_maps(recipe, waveform(clips))
