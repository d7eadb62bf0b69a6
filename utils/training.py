"""Training and prediction with Keras 3: batches streamed from memory-mapped arrays."""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Callable

import keras
import numpy as np

from utils.models import build_model


class FeatureBatches(keras.utils.PyDataset):
    """Batches of rows of a (memory-mapped) feature array, with or without targets.

    Parameters
    ----------
    features : np.ndarray, shape (rows, ...)
    rows : np.ndarray of int
        Which rows to serve.
    targets : np.ndarray, shape (rows, 30), optional
    transform : callable, optional
        Applied to each batch of features (for example a featuriser for raw clips).
    """

    def __init__(self, features, rows, *, targets=None, batch_size=256, shuffle=False, seed=0, transform=None):
        super().__init__()
        self.features = features
        self.targets = targets
        self.order = np.array(rows, dtype=np.int64)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.rng = np.random.default_rng(seed)
        self.transform = transform
        if shuffle:
            self.rng.shuffle(self.order)

    def __len__(self) -> int:
        return math.ceil(len(self.order) / self.batch_size)

    def __getitem__(self, index: int):
        rows = self.order[index * self.batch_size:(index + 1) * self.batch_size]
        if self.shuffle:
            rows = np.sort(rows)  # sorted reads are faster on a memory map
        x = np.asarray(self.features[rows])
        x = self.transform(x) if self.transform else x.astype(np.float32)
        if x.ndim == 3:
            x = x[..., None]  # a channel axis for Conv2D
        if self.targets is None:
            return (x,)
        return x, self.targets[rows]

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self.rng.shuffle(self.order)


def holdout_split(n: int, *, val_fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random train / validation clip indices (80/20 by default)."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = max(1, int(round(n * val_fraction)))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def kfold_splits(n: int, *, folds: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """K (train, validation) clip index pairs; every clip is validated exactly once."""
    if not 2 <= folds <= n:
        raise ValueError(f"folds must be between 2 and the number of clips ({n}), got {folds}")
    parts = np.array_split(np.random.default_rng(seed).permutation(n), folds)
    return [(np.sort(np.concatenate(parts[:k] + parts[k + 1:])), np.sort(parts[k])) for k in range(folds)]


def copy_rows(clip_indices: np.ndarray, *, n_clips: int, copies: int) -> np.ndarray:
    """Rows of a copy-major training set (row = copy * n_clips + clip) that belong to the given clips."""
    return np.concatenate([c * n_clips + np.asarray(clip_indices) for c in range(copies)])


def train_model(
    model_name: str, features: np.ndarray, targets: np.ndarray, *, train_rows: np.ndarray, val_rows: np.ndarray,
    epochs: int, batch_size: int, patience: int, model_path: str | Path, seed: int, verbose: int = 2,
) -> tuple[keras.Model, keras.callbacks.History]:
    """Train a fresh network with KL divergence and Adam, keeping the weights of the best validation loss.

    The best model is written to ``model_path`` (.keras) when training ends;
    until then checkpoints go to a hidden sibling, so no half model is left.
    """
    keras.utils.set_random_seed(seed)
    model = build_model(model_name)
    model.compile(optimizer=keras.optimizers.Adam(), loss=keras.losses.KLDivergence())
    model_path = Path(model_path)
    model_path.parent.mkdir(parents=True, exist_ok=True)
    partial = model_path.with_name(f".{model_path.stem}.partial.keras")
    train = FeatureBatches(features, train_rows, targets=targets, batch_size=batch_size, shuffle=True, seed=seed)
    val = FeatureBatches(features, val_rows, targets=targets, batch_size=batch_size)
    history = model.fit(
        train, validation_data=val, epochs=epochs, verbose=verbose,
        callbacks=[
            keras.callbacks.ModelCheckpoint(partial, monitor="val_loss", save_best_only=True),
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience),
        ],
    )
    os.replace(partial, model_path)
    return keras.models.load_model(model_path), history


def predict(
    models: list[keras.Model], inputs: np.ndarray, *, rows: np.ndarray | None = None,
    transform: Callable[[np.ndarray], np.ndarray] | None = None, batch_size: int = 256,
) -> np.ndarray:
    """Average the models' predicted word probabilities.

    Returns
    -------
    np.ndarray, shape (rows, 30), float64
    """
    rows = np.arange(len(inputs)) if rows is None else rows
    batches = FeatureBatches(inputs, rows, batch_size=batch_size, transform=transform)
    return np.mean([m.predict(batches, verbose=0).astype(np.float64) for m in models], axis=0)
