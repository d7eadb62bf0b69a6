"""Training and prediction with Keras 3: a resumable run that keeps its best model, and averaged predictions."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Callable

import keras
import numpy as np

from utils.recipes.networks import build_model
from utils.store import write_bytes_atomic
from utils.train.batches import FeatureBatches
from utils.train.devices import (
    MeanReplicaStatistics,
    data_parallel,
    gpu_available,
    input_workers,
    replica_count,
    use_cpu_op_threads,
)


class StopAfter(keras.callbacks.Callback):
    """Stops training after the first batch that ends ``seconds`` after training began."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if time.perf_counter() - self.start > self.seconds:
            self.model.stop_training = True


class EpochTimes(keras.callbacks.Callback):
    """Seconds each epoch took, validation included."""

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)


def train_model(
    model_name: str, features: np.ndarray, targets: np.ndarray, *, train_rows: np.ndarray, val_rows: np.ndarray,
    epochs: int, batch_size: int, patience: int, model_path: str | Path, seed: int, transform=None, augment=None,
    mixed_precision: bool = False, verbose: int = 2, devices: int | None = None,
    optimizer: Callable[[int], keras.optimizers.Optimizer] | None = None, time_limit: float | None = None,
    cpu_op_threads: int = 0, callbacks: tuple = (),
) -> tuple[keras.Model, keras.callbacks.History]:
    """Train a fresh network with KL divergence, keeping the weights of the best validation loss.

    ``optimizer(total_steps)`` makes the optimiser (for a schedule sized to
    the run); without it, Adam with its defaults. With ``time_limit``
    (seconds) training stops after the first batch past it, then validates
    that last, shorter epoch (for comparing recipes at equal training time).
    ``callbacks`` are added to the run's own. ``cpu_op_threads`` is passed
    to ``use_cpu_op_threads``.

    ``transform`` turns stored rows into model inputs and ``augment`` alters
    training batches (see FeatureBatches). With ``mixed_precision`` the model
    computes in float16 where a GPU is present. The best model is written to
    ``model_path`` (.keras) when training ends; until then checkpoints go to a
    hidden sibling, so no half model is left. An interrupted run (even a
    ``kill -9``) resumes from its last finished epoch when called again.

    Data parallelism: with ``devices`` left as None the model is replicated
    over every GPU when the backend sees several (TensorFlow:
    ``MirroredStrategy``, JAX: ``keras.distribution.DataParallel``; the torch
    backend stays on one device). An integer uses the first ``devices``
    devices of the backend, CPUs where it has no GPU; 1 turns it off.
    ``batch_size`` is the global batch, split evenly across the devices: by
    default as many GPUs as split it evenly are used; an explicit count that
    does not divide it raises a ValueError naming both. With
    several devices each epoch leaves out its last training batch's
    remainder rows (fewer than the device count; other rows every epoch) and
    pads the last validation batch with weight-0 rows, so val_loss is still
    the mean over every validation row. The returned model is loaded from
    ``model_path`` outside any distribution.
    """
    replicas = replica_count(devices, batch_size)
    if batch_size % replicas:
        raise ValueError(f"batch_size {batch_size} does not split evenly across {replicas} devices: use a multiple "
                         f"of {replicas}, or fewer devices (the devices argument, or CUDA_VISIBLE_DEVICES)")
    use_cpu_op_threads(cpu_op_threads)
    keras.utils.set_random_seed(seed)
    keras.config.set_dtype_policy("mixed_float16" if mixed_precision and gpu_available() else "float32")
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
                           transform=transform, augment=augment, multiple_of=replicas, remainder="drop",
                           workers=input_workers())
    val = FeatureBatches(features, val_rows, targets=targets, batch_size=batch_size, transform=transform,
                         multiple_of=replicas, remainder="pad")
    checkpoint = keras.callbacks.ModelCheckpoint(
        partial, monitor="val_loss", save_best_only=True, initial_value_threshold=best
    )
    with data_parallel(replicas):
        model = build_model(model_name)
        model.compile(optimizer=optimizer(epochs * len(train)) if optimizer else keras.optimizers.Adam(),
                      loss=keras.losses.KLDivergence())
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
                keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: train.set_epoch(epoch)),
                keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience),
                *([MeanReplicaStatistics()] if replicas > 1 and keras.config.backend() == "tensorflow" else []),
                *([StopAfter(time_limit)] if time_limit else []),
                *callbacks,
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
