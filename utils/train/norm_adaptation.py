"""Batch-norm statistics re-estimated on the clips being predicted (AdaBN), while they are predicted.

A network's BatchNormalization layers normalise with statistics of the
voices it trained on. Clips of another voice or speech engine shift those
statistics; re-estimating them on the clips to be predicted, and mixing the
result with the training statistics, undoes part of that shift (Li et al.,
"Revisiting Batch Normalization For Practical Domain Adaptation", 2016).
Nothing is learned from the clips' answers: only their inputs are seen.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

import keras
import numpy as np

MIN_CLIPS = 64  # fewer clips keep the training statistics: too few to describe a voice
BATCH_SIZE = 256
RANDOM_STATE = 0  # draws which clips share a batch


def _norm_layers(model: keras.Model) -> list[keras.layers.BatchNormalization]:
    """The model's BatchNormalization layers (and subclasses), nested models included."""
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found += _norm_layers(layer)
        elif isinstance(layer, keras.layers.BatchNormalization):
            found.append(layer)
    return found


@contextmanager
def adapted_norms(model: keras.Model, inputs: np.ndarray, *, weight: float, rows: np.ndarray | None = None,
                  transform: Callable[[np.ndarray], np.ndarray] | None = None) -> Iterator[keras.Model]:
    """The model with each BatchNormalization's statistics moved toward those of ``inputs``, restored on exit.

    Each layer's mean and variance become ``weight`` times their average
    over batches of the rows (``rows`` of ``inputs``, all by default; each
    batch through ``transform``), plus ``1 - weight`` times the training
    statistics. With ``weight`` 0, fewer than MIN_CLIPS rows or no such
    layer, the model is left as it is.
    """
    rows = np.arange(len(inputs)) if rows is None else np.asarray(rows)
    layers = _norm_layers(model) if weight > 0 and len(rows) >= MIN_CLIPS else []
    saved = [(layer.momentum, layer.moving_mean.numpy(), layer.moving_variance.numpy()) for layer in layers]
    try:
        if layers:
            _average_statistics(model, layers, inputs, rows, transform)
            for layer, (_, mean, variance) in zip(layers, saved):
                layer.moving_mean.assign(weight * layer.moving_mean.numpy() + (1 - weight) * mean)
                layer.moving_variance.assign(weight * layer.moving_variance.numpy() + (1 - weight) * variance)
        yield model
    finally:
        for layer, (momentum, mean, variance) in zip(layers, saved):
            layer.momentum = momentum
            layer.moving_mean.assign(mean)
            layer.moving_variance.assign(variance)


def _average_statistics(model, layers, inputs, rows, transform) -> None:
    """Leave in each layer the mean of its batch statistics over near-equal shuffled batches of ``rows``."""
    order = np.random.default_rng(RANDOM_STATE).permutation(rows)
    for k, batch in enumerate(np.array_split(order, -(-len(order) // BATCH_SIZE))):
        for layer in layers:
            layer.momentum = k / (k + 1)  # the running mean of the batches so far
        x = inputs[np.sort(batch)]
        model(x if transform is None else transform(x), training=True)
