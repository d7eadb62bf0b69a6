"""Keras 3 networks, selectable by name."""
from __future__ import annotations

import keras
from keras import layers

from utils.features import SEED_FEATURE_SHAPE
from utils.words import N_WORDS


def _seed_block(x, filters: int):
    conv = dict(kernel_size=3, padding="same", activation="selu", kernel_initializer="lecun_normal")
    first = layers.Conv2D(filters, **conv)(x)
    second = layers.Conv2D(filters, **conv)(layers.BatchNormalization()(first))
    x = layers.BatchNormalization()(layers.Add()([first, second]))
    return layers.Add()([layers.MaxPooling2D(2)(x), layers.AveragePooling2D(2)(x)])


def seed_cnn(input_shape: tuple[int, ...] = (*SEED_FEATURE_SHAPE, 1), n_words: int = N_WORDS) -> keras.Model:
    """The seed solution's SELU CNN: four conv blocks, two dense layers, softmax.

    780,862 parameters on the (98, 221, 1) log spectrogram.
    """
    inputs = keras.Input(shape=input_shape)
    x = inputs
    for _ in range(4):
        x = _seed_block(x, 32)
    x = layers.Flatten()(x)
    for _ in range(2):
        x = layers.Dense(256, activation="selu", kernel_initializer="lecun_normal")(x)
        x = layers.BatchNormalization()(x)
    outputs = layers.Dense(n_words, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="seed_cnn")


MODELS = {"seed_cnn": seed_cnn}


def build_model(name: str) -> keras.Model:
    """A fresh network by name (see MODELS)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; expected one of {sorted(MODELS)}")
    return MODELS[name]()
