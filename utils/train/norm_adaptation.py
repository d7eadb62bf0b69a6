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

from utils.recipes.layers import SpecAugment

MIN_CLIPS = 64  # fewer clips keep the training statistics: too few to describe a voice
BATCH_SIZE = 256
RANDOM_STATE = 0  # draws which clips share a batch
# layers that are random while training, and what switches them off while the statistics are gathered
_RANDOM_LAYERS = ((keras.layers.Dropout, ("rate",)), (keras.layers.GaussianDropout, ("rate",)),
                  (keras.layers.AlphaDropout, ("rate",)), (keras.layers.GaussianNoise, ("stddev",)),
                  (SpecAugment, ("time_masks", "freq_masks")))


@contextmanager
def adapted_norms(model: keras.Model, inputs: np.ndarray, *, weight: float, rows: np.ndarray | None = None,
                  transform: Callable[[np.ndarray], np.ndarray] | None = None) -> Iterator[keras.Model]:
    """The model with each BatchNormalization's statistics moved toward those of ``inputs``, restored on exit.

    Each layer's mean and variance become ``weight`` (0 to 1) times their
    average over batches of the rows (``rows`` of ``inputs``, all by
    default; each batch through ``transform``), plus ``1 - weight`` times
    the training statistics. The batches run through the model in training
    mode with its random layers (dropout, noise, SpecAugment) switched off.
    With ``weight`` 0, fewer than MIN_CLIPS distinct rows or no batch norm
    among the layers ``model.layers`` reaches, the model is left as it is.
    """
    if not 0 <= weight <= 1:
        raise ValueError(f"norm adaptation weight {weight!r}: expected a number from 0 to 1")
    rows = np.unique(np.arange(len(inputs)) if rows is None else rows)
    layers = _all_layers(model) if weight > 0 and len(rows) >= MIN_CLIPS else []
    norms = [layer for layer in layers if isinstance(layer, keras.layers.BatchNormalization)]
    saved = [(layer.momentum, layer.moving_mean.numpy(), layer.moving_variance.numpy()) for layer in norms]
    quieted = [(layer, name, getattr(layer, name)) for layer in layers for kind, names in _RANDOM_LAYERS
               if isinstance(layer, kind) for name in names]
    try:
        if norms:
            for layer, name, _ in quieted:
                setattr(layer, name, 0)
            _average_statistics(model, norms, inputs, rows, transform)
            for layer, (_, mean, variance) in zip(norms, saved):
                layer.moving_mean.assign(weight * layer.moving_mean.numpy() + (1 - weight) * mean)
                layer.moving_variance.assign(weight * layer.moving_variance.numpy() + (1 - weight) * variance)
        yield model
    finally:
        for layer, name, value in quieted:
            setattr(layer, name, value)
        for layer, (momentum, mean, variance) in zip(norms, saved):
            layer.momentum = momentum
            layer.moving_mean.assign(mean)
            layer.moving_variance.assign(variance)


def _all_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The model's layers, those of nested models included, each once."""
    found = {}
    for layer in model.layers:
        for inner in _all_layers(layer) if isinstance(layer, keras.Model) else [layer]:
            found.setdefault(id(inner), inner)
    return list(found.values())


def _average_statistics(model, norms, inputs, rows, transform) -> None:
    """Leave in each batch norm the mean of its batch statistics over near-equal shuffled batches of ``rows``."""
    order = np.random.default_rng(RANDOM_STATE).permutation(rows)
    for k, batch in enumerate(np.array_split(order, -(-len(order) // BATCH_SIZE))):
        for layer in norms:
            layer.momentum = k / (k + 1)  # the running mean of the batches so far
        x = inputs[np.sort(batch)]
        model(x if transform is None else transform(x), training=True)
