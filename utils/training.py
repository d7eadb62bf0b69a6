"""Training and prediction with Keras 3: batches streamed from memory-mapped arrays."""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from pathlib import Path
from typing import Callable

import keras
import numpy as np

from utils.models import build_model
from utils.store import write_bytes_atomic


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
    augment : callable, optional
        ``augment(x, targets, rng) -> (x, targets)``, applied after ``transform`` (training only).
    """

    def __init__(self, features, rows, *, targets=None, batch_size=256, shuffle=False, seed=0, transform=None,
                 augment=None):
        super().__init__()
        self.features = features
        self.targets = targets
        self.order = np.array(rows, dtype=np.int64)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.rng = np.random.default_rng(seed)
        self.transform = transform
        self.augment = augment
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
        y = self.targets[rows]
        if self.augment:
            x, y = self.augment(x, y, self.rng)
        return x, y

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self.rng.shuffle(self.order)


def holdout_split(n: int, *, val_fraction: float = 0.2, seed: int = 0,
                  groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Random train / validation clip indices (80/20 by default).

    With ``groups`` (one per clip), whole groups go to validation: about
    ``val_fraction`` of the groups, at least one.
    """
    if groups is None:
        order = np.random.default_rng(seed).permutation(n)
        n_val = max(1, int(round(n * val_fraction)))
        return np.sort(order[n_val:]), np.sort(order[:n_val])
    names = _group_names(groups, n, at_least=2)
    n_val = min(max(1, int(round(len(names) * val_fraction))), len(names) - 1)
    held = np.isin(groups, np.random.default_rng(seed).permutation(names)[:n_val])
    return np.flatnonzero(~held), np.flatnonzero(held)


def kfold_splits(n: int, *, folds: int, seed: int = 0,
                 groups: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """K (train, validation) clip index pairs; every clip is validated exactly once.

    With ``groups`` (one per clip), each group is validated in one fold only,
    so a fold's model never heard the voices it is scored on.
    """
    if groups is None:
        if not 2 <= folds <= n:
            raise ValueError(f"folds must be between 2 and the number of clips ({n}), got {folds}")
        parts = np.array_split(np.random.default_rng(seed).permutation(n), folds)
    else:
        names = np.random.default_rng(seed).permutation(_group_names(groups, n, at_least=folds))
        fold_of = dict(zip(names.tolist(), np.arange(len(names)) % folds))
        which = np.array([fold_of[g] for g in np.asarray(groups).tolist()])
        parts = [np.flatnonzero(which == k) for k in range(folds)]
    return [(np.sort(np.concatenate(parts[:k] + parts[k + 1:])), np.sort(parts[k])) for k in range(folds)]


def _group_names(groups: np.ndarray, n: int, *, at_least: int) -> np.ndarray:
    """The distinct groups, checked: one per clip, and enough of them to split."""
    groups = np.asarray(groups)
    if groups.shape != (n,):
        raise ValueError(f"expected one group per clip ({n}), got an array of shape {groups.shape}")
    names = np.unique(groups)
    if len(names) < max(at_least, 2):
        raise ValueError(f"need at least {max(at_least, 2)} groups of clips to split, found {len(names)}")
    return names


def copy_rows(clip_indices: np.ndarray, *, n_clips: int, copies: int) -> np.ndarray:
    """Rows of a copy-major training set (row = copy * n_clips + clip) that belong to the given clips."""
    return np.concatenate([c * n_clips + np.asarray(clip_indices) for c in range(copies)])


def gpu_available() -> bool:
    """Whether the Keras backend sees a GPU."""
    backend = keras.config.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if backend == "jax":
        import jax

        return jax.default_backend() == "gpu"
    if backend == "torch":
        import torch

        return torch.cuda.is_available()
    return False


def train_model(
    model_name: str, features: np.ndarray, targets: np.ndarray, *, train_rows: np.ndarray, val_rows: np.ndarray,
    epochs: int, batch_size: int, patience: int, model_path: str | Path, seed: int, transform=None, augment=None,
    mixed_precision: bool = False, verbose: int = 2,
) -> tuple[keras.Model, keras.callbacks.History]:
    """Train a fresh network with KL divergence and Adam, keeping the weights of the best validation loss.

    ``transform`` turns stored rows into model inputs and ``augment`` alters
    training batches (see FeatureBatches). With ``mixed_precision`` the model
    computes in float16 where a GPU is present. The best model is written to
    ``model_path`` (.keras) when training ends; until then checkpoints go to a
    hidden sibling, so no half model is left. An interrupted run (even a
    ``kill -9``) resumes from its last finished epoch when called again.
    """
    keras.utils.set_random_seed(seed)
    keras.config.set_dtype_policy("mixed_float16" if mixed_precision and gpu_available() else "float32")
    model = build_model(model_name)
    model.compile(optimizer=keras.optimizers.Adam(), loss=keras.losses.KLDivergence())
    model_path = Path(model_path)
    model_path.parent.mkdir(parents=True, exist_ok=True)
    partial = model_path.with_name(f".{model_path.stem}.partial.keras")
    backup = model_path.with_name(f".{model_path.stem}.backup")  # weights, optimizer and epoch, every epoch
    best_file = model_path.with_name(f".{model_path.stem}.best.json")  # best val_loss of an interrupted run
    data_key = hashlib.sha1(np.asarray(train_rows).tobytes() + np.asarray(val_rows).tobytes()
                            + np.ascontiguousarray(targets).tobytes()).hexdigest()
    run_key = f"{model_name}|{getattr(features, 'filename', len(features))}|{data_key}|{epochs}|{batch_size}|{seed}"
    state = json.loads(best_file.read_text()) if best_file.is_file() else {}
    resuming = backup.is_dir() and partial.is_file() and state.get("run") == run_key
    if not resuming:
        shutil.rmtree(backup, ignore_errors=True)  # left by an interrupted run of something else
    best = state["val_loss"] if resuming else None
    train = FeatureBatches(features, train_rows, targets=targets, batch_size=batch_size, shuffle=True, seed=seed,
                           transform=transform, augment=augment)
    val = FeatureBatches(features, val_rows, targets=targets, batch_size=batch_size, transform=transform)
    checkpoint = keras.callbacks.ModelCheckpoint(
        partial, monitor="val_loss", save_best_only=True, initial_value_threshold=best
    )
    history = model.fit(
        train, validation_data=val, epochs=epochs, verbose=verbose,
        callbacks=[
            checkpoint,
            keras.callbacks.LambdaCallback(
                on_epoch_end=lambda epoch, logs: write_bytes_atomic(
                    best_file, json.dumps({"run": run_key, "val_loss": float(checkpoint.best)}).encode()
                )
            ),
            keras.callbacks.BackupAndRestore(backup, double_checkpoint=True),
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience),
        ],
    )
    os.replace(partial, model_path)
    best_file.unlink()
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
