"""Recipes: how clips become model inputs, training sets and a network."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from utils.augment import SEED_COPIES, build_seed_training_set
from utils.features import seed_features, to_seed_rate


@dataclass(frozen=True)
class Recipe:
    name: str
    model: str  # a name in utils.models.MODELS
    copies: int  # rows per clip in the training set; row = copy * n_clips + clip, copy 0 the clip itself
    featurize: Callable[[np.ndarray], np.ndarray]  # int16 clips (n, 16000) -> model inputs
    build_training_set: Callable[..., np.ndarray]  # (clips, out_path, *, seed) -> array on disk


def seed_featurize(clips: np.ndarray) -> np.ndarray:
    """int16 clips (n, 16000) -> standardised log spectrograms (n, 98, 221), float32."""
    return seed_features(to_seed_rate(clips))


RECIPES = {
    "seed": Recipe(
        name="seed", model="seed_cnn", copies=len(SEED_COPIES),
        featurize=seed_featurize, build_training_set=build_seed_training_set,
    ),
}


def get_recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; expected one of {sorted(RECIPES)}")
    return RECIPES[name]
