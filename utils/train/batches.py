"""Batches of rows of (memory-mapped) arrays for Keras, the same whatever order or thread makes them."""
from __future__ import annotations

import math

import keras
import numpy as np


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
        Its ``rng`` comes from (random_state, epoch, batch index), so batches are the
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

    def __init__(self, features, rows, *, targets=None, batch_size=256, shuffle=False, random_state=0, transform=None,
                 augment=None, multiple_of=1, remainder="drop", workers=1):
        super().__init__(workers=workers, max_queue_size=2 * workers)
        self.features = features
        self.targets = targets
        self.rows = np.array(rows, dtype=np.int64)
        self.order = self.rows.copy()
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.random_state = random_state
        self.epoch = 0
        self.rng = np.random.default_rng(random_state)  # the order of rows; batches use their own
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
            x, y = self.augment(x, y, np.random.default_rng([self.random_state, self.epoch, index]))
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
        self.epoch, self.rng, self.order = epoch, np.random.default_rng(self.random_state), self.rows.copy()
        if self.shuffle:
            for _ in range(epoch + 1):  # the shuffle of __init__, then one per finished epoch
                self.rng.shuffle(self.order)
