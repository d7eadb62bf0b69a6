"""Training and prediction with Keras 3: a resumable run that keeps its best model, and averaged predictions."""
from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import keras
import numpy as np

from utils.keys import key
from utils.recipes.base import adam
from utils.recipes.networks import build_model
from utils.store import write_bytes_atomic
from utils.train.batches import FeatureBatches
from utils.train.devices import MeanReplicaStatistics, data_parallel, input_workers, replica_count, use_cpu_op_threads
from utils.train.precision import dtype_policy, precision_policy


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


@dataclass(frozen=True)
class TrainSettings:
    """How a network trains, besides its data and where its model goes.

    ``optimizer(total_steps)`` makes the optimiser (a schedule can be sized to
    the run). ``transform`` turns stored rows into model inputs and
    ``augment`` alters training batches (see FeatureBatches). With
    ``mixed_precision`` the model computes in float16 on a GPU, bfloat16 on a
    CPU where bfloat16 is faster (``precision_policy``).
    ``devices``: see ``utils.train.devices.replica_count``; ``batch_size`` is
    the global batch, split evenly across them. With ``time_limit`` (seconds)
    training stops after the first batch past it, then validates that last,
    shorter epoch (for comparing recipes at equal training time).
    ``cpu_op_threads`` is passed to ``use_cpu_op_threads``.
    """

    epochs: int
    batch_size: int
    patience: int
    random_state: int
    optimizer: Callable[[int], keras.optimizers.Optimizer] = adam
    transform: Callable[[np.ndarray], np.ndarray] | None = None
    augment: Callable | None = None
    mixed_precision: bool = False
    devices: int | None = None
    time_limit: float | None = None
    cpu_op_threads: int = 0
    verbose: int = 2


class BestAndResume(keras.callbacks.Callback):
    """Keeps a run's best model (lowest val_loss) and what it needs to resume after an interruption.

    Until the run ends the best model goes to a hidden sibling of
    ``model_path``, with a backup of weights, optimiser and epoch every epoch,
    and the best val_loss with the run's key. Called again with the same key
    after a crash (even ``kill -9``), the run resumes from its last finished
    epoch with that best val_loss; another key starts afresh.
    """

    def __init__(self, model_path: Path, run_key: str):
        super().__init__()
        self.model_path, self.run_key = model_path, run_key
        self.partial = model_path.with_name(f".{model_path.stem}.partial.keras")
        backup = model_path.with_name(f".{model_path.stem}.backup")  # weights, optimizer and epoch, every epoch
        self.best_file = model_path.with_name(f".{model_path.stem}.best.json")  # best val_loss so far
        state = json.loads(self.best_file.read_text()) if self.best_file.is_file() else {}
        resuming = backup.is_dir() and self.partial.is_file() and state.get("run") == run_key
        if not resuming:
            shutil.rmtree(backup, ignore_errors=True)  # left by an interrupted run of something else
        self.checkpoint = keras.callbacks.ModelCheckpoint(
            self.partial, monitor="val_loss", save_best_only=True,
            initial_value_threshold=state["val_loss"] if resuming else None,
        )
        self.backup = keras.callbacks.BackupAndRestore(backup, double_checkpoint=True)
        self.parts = (self.checkpoint, self.backup)

    def set_model(self, model):
        super().set_model(model)
        for part in self.parts:
            part.set_model(model)

    def set_params(self, params):
        super().set_params(params)
        for part in self.parts:
            part.set_params(params)

    def on_train_begin(self, logs=None):
        for part in self.parts:
            part.on_train_begin(logs)

    def on_epoch_begin(self, epoch, logs=None):
        for part in self.parts:
            part.on_epoch_begin(epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        for part in self.parts:
            part.on_train_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        for part in self.parts:
            part.on_train_batch_end(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self.checkpoint.on_epoch_end(epoch, logs)
        write_bytes_atomic(self.best_file, json.dumps({"run": self.run_key, "val_loss": float(self.checkpoint.best)}).encode())
        self.backup.on_epoch_end(epoch, logs)

    def on_train_end(self, logs=None):
        for part in self.parts:
            part.on_train_end(logs)

    def finish(self) -> None:
        """Put the best model in place and forget the run's resume state."""
        os.replace(self.partial, self.model_path)
        self.best_file.unlink()


def run_key(model_name: str, features: np.ndarray, targets: np.ndarray, train_rows: np.ndarray, val_rows: np.ndarray,
            settings: TrainSettings) -> str:
    """What a run trains on and how long: a run with another key does not resume this one's state."""
    source = getattr(features, "filename", len(features))
    return key(model_name, source, np.asarray(train_rows), np.asarray(val_rows), np.asarray(targets),
               settings.epochs, settings.batch_size, settings.random_state, precision_policy(settings.mixed_precision))


def train_model(
    model_name: str, features: np.ndarray, targets: np.ndarray, *, train_rows: np.ndarray, val_rows: np.ndarray,
    model_path: str | Path, settings: TrainSettings, callbacks: tuple = (),
) -> tuple[keras.Model, keras.callbacks.History]:
    """Train a fresh network with KL divergence, keeping the weights of the best validation loss.

    The best model is written to ``model_path`` (.keras) when training ends,
    so no half model is left, and an interrupted run resumes (``BestAndResume``).
    ``callbacks`` join the run's own. With several devices (see
    ``utils.train.devices``) each epoch leaves out its last training batch's
    remainder rows and pads the last validation batch with weight-0 rows, so
    val_loss is still the mean over every validation row. The returned model
    is loaded from ``model_path`` outside any distribution, compiled as it trained.
    """
    s = settings
    replicas = replica_count(s.devices, s.batch_size)
    if s.batch_size % replicas:
        raise ValueError(f"batch_size {s.batch_size} does not split evenly across {replicas} devices: use a multiple "
                         f"of {replicas}, or fewer devices (the devices argument, or CUDA_VISIBLE_DEVICES)")
    use_cpu_op_threads(s.cpu_op_threads)
    keras.utils.set_random_seed(s.random_state)
    model_path = Path(model_path)
    model_path.parent.mkdir(parents=True, exist_ok=True)
    best = BestAndResume(model_path, run_key(model_name, features, targets, train_rows, val_rows, s))
    train = FeatureBatches(features, train_rows, targets=targets, batch_size=s.batch_size, shuffle=True, random_state=s.random_state,
                           transform=s.transform, augment=s.augment, multiple_of=replicas, remainder="drop",
                           workers=input_workers())
    val = FeatureBatches(features, val_rows, targets=targets, batch_size=s.batch_size, transform=s.transform,
                         multiple_of=replicas, remainder="pad")
    policy = precision_policy(s.mixed_precision)
    with dtype_policy(policy), data_parallel(replicas):
        model = build_model(model_name)
        model.compile(optimizer=s.optimizer(s.epochs * len(train)), loss=keras.losses.KLDivergence())
        # its slots made now, not inside the first step, which TensorFlow would then trace a second time
        model.optimizer.build(model.trainable_variables)
        history = model.fit(train, validation_data=val, epochs=s.epochs, verbose=s.verbose, callbacks=[
            best,
            keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: train.set_epoch(epoch)),
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=s.patience),
            *([MeanReplicaStatistics()] if replicas > 1 and keras.config.backend() == "tensorflow" else []),
            *([StopAfter(s.time_limit)] if s.time_limit else []),
            *callbacks,
        ])
    best.finish()
    with dtype_policy(policy):  # its optimizer as it trained: with float16's loss scaling
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
    # batch by batch: the same numbers as model.predict, at about twice its rate on a CPU
    return np.mean([np.concatenate([np.asarray(m.predict_on_batch(batches[i][0]), dtype=np.float64) for i in range(len(batches))])
                    for m in models], axis=0)
