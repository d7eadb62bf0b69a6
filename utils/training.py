"""Training and prediction with Keras 3: batches streamed from memory-mapped arrays."""
from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import os
import shutil
import time
import warnings
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
        Its ``rng`` comes from (seed, epoch, batch index), so batches are the
        same whatever order or thread they are made in.
    workers : int
        Threads that prepare batches ahead of the model (1: made when asked).
    multiple_of : int
        Make every batch's size a multiple of this, for a batch split evenly
        across devices; ``batch_size`` must be a multiple of it. Needs targets.
    remainder : {"drop", "pad"}
        How the last batch gets there when ``multiple_of`` > 1. ``"drop"``
        (training) leaves its remainder rows out of this epoch, fewer than
        ``multiple_of``; with ``shuffle`` they are other rows every epoch.
        ``"pad"`` (validation) repeats its last row and serves
        ``(x, targets, weights)``: weight 0 for the padding and
        ``padded rows / real rows`` for every real row, so that Keras' mean
        loss over the padded rows equals the mean over the real rows.
    """

    def __init__(self, features, rows, *, targets=None, batch_size=256, shuffle=False, seed=0, transform=None,
                 augment=None, multiple_of=1, remainder="drop", workers=1):
        super().__init__(workers=workers, max_queue_size=2 * workers)
        self.features = features
        self.targets = targets
        self.rows = np.array(rows, dtype=np.int64)
        self.order = self.rows.copy()
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0
        self.rng = np.random.default_rng(seed)  # the order of rows; batches use their own
        self.transform = transform
        self.augment = augment
        self.multiple_of = multiple_of
        self.remainder = remainder
        if remainder not in ("drop", "pad"):
            raise ValueError(f"remainder must be 'drop' or 'pad', got {remainder!r}")
        if multiple_of > 1:
            if batch_size % multiple_of:
                raise ValueError(f"batch_size {batch_size} is not a multiple of {multiple_of}")
            if targets is None:
                raise ValueError("multiple_of > 1 needs targets")
            if remainder == "drop" and len(self.order) < multiple_of:
                raise ValueError(f"{len(self.order)} rows cannot fill one batch split across {multiple_of} devices")
        if shuffle:
            self.rng.shuffle(self.order)

    def _served(self) -> int:
        """How many rows an epoch serves, padding included."""
        n, m = len(self.order), self.multiple_of
        return n - n % m if self.remainder == "drop" else math.ceil(n / m) * m

    def __len__(self) -> int:
        return math.ceil(self._served() / self.batch_size)

    def __getitem__(self, index: int):
        start = index * self.batch_size
        stop = min(start + self.batch_size, self._served())
        rows = self.order[start:stop]
        padding = stop - start - len(rows)  # only in a padded last batch
        if self.shuffle:
            rows = np.sort(rows)  # sorted reads are faster on a memory map
        if padding:
            rows = np.concatenate([rows, np.repeat(rows[-1:], padding)])
        x = np.asarray(self.features[rows])
        x = self.transform(x) if self.transform else x.astype(np.float32)
        if self.targets is None:
            return (x,)
        y = self.targets[rows]
        if self.augment:
            x, y = self.augment(x, y, np.random.default_rng([self.seed, self.epoch, index]))
        if self.multiple_of > 1 and self.remainder == "pad":
            weights = np.full(len(rows), self._served() / len(self.order), dtype=np.float32)
            weights[len(rows) - padding:] = 0
            return x, y, weights
        return x, y

    def on_epoch_end(self) -> None:
        self.epoch += 1
        if self.shuffle:
            self.rng.shuffle(self.order)

    def set_epoch(self, epoch: int) -> None:
        """Serve epoch ``epoch``'s row order and augmentations, as a run that never stopped has them.

        A run resumed after an interruption starts at a later epoch; without
        this it would replay epoch 0's order and augmentations.
        """
        if epoch == self.epoch:
            return
        self.epoch, self.rng, self.order = epoch, np.random.default_rng(self.seed), self.rows.copy()
        if self.shuffle:
            for _ in range(epoch + 1):  # the shuffle of __init__, then one per finished epoch
                self.rng.shuffle(self.order)


def holdout_split(n: int, *, val_fraction: float = 0.2, seed: int = 0,
                  groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Random train / validation clip indices (80/20 by default).

    With ``groups`` (one per clip), whole groups go to validation, added in
    random order until they hold about ``val_fraction`` of the clips (at
    least one group, never all). With fewer than 2 groups it warns and splits
    by clip.
    """
    numbered = _usable_groups(groups, n, needed=2)
    if numbered is None:
        order = np.random.default_rng(seed).permutation(n)
        n_val = max(1, int(round(n * val_fraction)))
        return np.sort(order[n_val:]), np.sort(order[:n_val])
    group_of, sizes = numbered
    order = np.random.default_rng(seed).permutation(len(sizes))
    taken = np.cumsum(sizes[order])
    n_held = min(max(1, int(np.searchsorted(taken, val_fraction * n) + 1)), len(sizes) - 1)
    if n_held > 1 and abs(taken[n_held - 2] - val_fraction * n) <= abs(taken[n_held - 1] - val_fraction * n):
        n_held -= 1  # one group fewer comes closer to the fraction
    held = np.isin(group_of, order[:n_held])
    return np.flatnonzero(~held), np.flatnonzero(held)


def kfold_splits(n: int, *, folds: int, seed: int = 0,
                 groups: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """K (train, validation) clip index pairs; every clip is validated exactly once.

    With ``groups`` (one per clip), each group is validated in one fold only,
    so a fold's model never heard the voices it is scored on; groups go
    largest first to the fold with the fewest clips. With fewer groups than
    folds it warns and splits by clip.
    """
    if not 2 <= folds <= n:
        raise ValueError(f"folds must be between 2 and the number of clips ({n}), got {folds}")
    numbered = _usable_groups(groups, n, needed=folds)
    if numbered is None:
        parts = np.array_split(np.random.default_rng(seed).permutation(n), folds)
    else:
        group_of, sizes = numbered
        order = np.random.default_rng(seed).permutation(len(sizes))
        order = order[np.argsort(-sizes[order], kind="stable")]  # largest first, ties in random order
        fold_of, filled = np.empty(len(sizes), dtype=np.int64), np.zeros(folds, dtype=np.int64)
        for i in order:
            fold_of[i] = np.argmin(filled)
            filled[fold_of[i]] += sizes[i]
        which = fold_of[group_of]
        parts = [np.flatnonzero(which == k) for k in range(folds)]
    return [(np.sort(np.concatenate(parts[:k] + parts[k + 1:])), np.sort(parts[k])) for k in range(folds)]


def _groups_by_first_clip(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each clip's group numbered in order of its first clip, and each group's size.

    So a split depends on which clips share a group, not on how the labels are spelt or sort.
    """
    _, first, inverse, sizes = np.unique(groups, return_index=True, return_inverse=True, return_counts=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    return rank[inverse.ravel()], sizes[np.argsort(rank)]


def _usable_groups(groups: np.ndarray | None, n: int, *, needed: int) -> tuple[np.ndarray, np.ndarray] | None:
    """``_groups_by_first_clip`` of groups checked to be one per clip, or None (with a warning) when
    there are fewer than ``needed``."""
    if groups is None:
        return None
    groups = np.asarray(groups)
    if groups.shape != (n,):
        raise ValueError(f"expected one group per clip ({n}), got an array of shape {groups.shape}")
    group_of, sizes = _groups_by_first_clip(groups)
    if len(sizes) < needed:
        warnings.warn(f"the clips hold {len(sizes)} groups, fewer than the {needed} this split needs: "
                      "splitting by clip instead, so validation may share voices with training", stacklevel=3)
        return None
    return group_of, sizes


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


def accelerator_count() -> int:
    """How many GPUs (or TPUs, on JAX) the Keras backend sees."""
    backend = keras.config.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return len(tf.config.list_physical_devices("GPU"))
    if backend == "jax":
        import jax

        return 0 if jax.default_backend() == "cpu" else jax.device_count()
    if backend == "torch":
        import torch

        return torch.cuda.device_count()
    return 0


def input_workers() -> int:
    """Threads preparing training batches: several beside a GPU, so it never waits; 1 on a CPU, which computes."""
    return min(8, os.cpu_count() or 1) if gpu_available() else 1


def use_cpu_op_threads(threads: int) -> None:
    """Run each TensorFlow op on ``threads`` threads when training on a CPU (0: TensorFlow's default, all cores).

    With several threads, oneDNN's convolution gradients can sum in a
    different order from run to run, so two runs of the same seed differ in
    their last digits; one thread per op (independent ops still run side by
    side) makes them byte-identical. It must be set before TensorFlow runs
    its first op: a process that already runs with other settings keeps
    them, with a warning.
    """
    if not threads or keras.config.backend() != "tensorflow" or gpu_available():
        return
    import tensorflow as tf

    if tf.config.threading.get_intra_op_parallelism_threads() == threads:
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    except RuntimeError:
        warnings.warn(f"TensorFlow already runs ops on its default threads, not {threads} per op: "
                      "two runs of the same seed may differ in their last digits", stacklevel=3)


def replica_count(devices: int | None = None, batch_size: int | None = None) -> int:
    """How many devices ``train_model(devices=...)`` replicates the model over.

    ``None`` means every accelerator when there are several (with
    ``batch_size``, as many as split it evenly), else 1. Data parallelism
    needs the TensorFlow or JAX backend; on the others the default is 1 and
    an explicit count above 1 is an error.
    """
    parallel = keras.config.backend() in ("tensorflow", "jax")
    if devices is None:
        count = max(accelerator_count() if parallel else 1, 1)
        while batch_size and batch_size % count:
            count -= 1
        return count
    if devices < 1:
        raise ValueError(f"devices must be at least 1, got {devices}")
    if devices > 1 and not parallel:
        raise ValueError(f"data-parallel training (devices={devices}) needs the TensorFlow or JAX backend, "
                         f"not {keras.config.backend()}")
    return devices


@functools.cache
def _mirrored_strategy(devices: tuple[str, ...]):
    # one per device set and process: a second MirroredStrategy's all-reduce keys clash with the first's
    import tensorflow as tf

    return tf.distribute.MirroredStrategy(list(devices))


@contextlib.contextmanager
def data_parallel(devices: int):
    """Context in which models are built, compiled and trained replicated over ``devices`` devices.

    The first ``devices`` GPUs, or CPUs where the backend has no GPU. On
    TensorFlow a ``tf.distribute.MirroredStrategy`` scope, on JAX a
    ``keras.distribution.DataParallel``; the previous distribution is
    restored on exit. Yields the strategy or distribution (None for 1 device).
    """
    if devices == 1:
        yield None
        return
    backend = keras.config.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        available = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        names = [d.name for d in available]
    elif backend == "jax":
        names = keras.distribution.list_devices()
    else:
        raise ValueError(f"data-parallel training needs the TensorFlow or JAX backend, not {backend}")
    if devices > len(names):
        raise ValueError(f"devices={devices} but the {backend} backend sees only {len(names)}: {names}")
    if backend == "tensorflow":
        strategy = _mirrored_strategy(tuple(names[:devices]))
        with strategy.scope():
            yield strategy
    else:
        distribution = keras.distribution.DataParallel(devices=names[:devices])
        with distribution.scope():
            yield distribution


class MeanReplicaStatistics(keras.callbacks.Callback):
    """Before each validation, sets every replica's BatchNormalization moving statistics to their mean.

    Under ``tf.distribute.MirroredStrategy`` Keras 3 updates each replica's
    copy of these statistics from that replica's share of the batch only, so
    the copies drift apart: validation would run a slightly different model
    on each device, and the saved model would hold the first device's copy.
    (JAX's DataParallel computes them over the whole batch.)
    """

    def on_test_begin(self, logs=None):
        import tensorflow as tf

        for variable in self.model.non_trainable_variables:
            copies = getattr(variable.value, "values", None)  # the components of a MirroredVariable
            if variable.name in ("moving_mean", "moving_variance") and isinstance(copies, tuple):
                variable.assign(tf.add_n([c.read_value() for c in copies]) / len(copies))


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
