"""Holdout and k-fold splits of clips, by voice group where the data has them."""
from __future__ import annotations

import warnings

import numpy as np


def holdout_split(n: int, *, val_fraction: float = 0.2, random_state: int = 0,
                  groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Random train / validation clip indices (80/20 by default).

    With ``groups`` (one per clip), whole groups go to validation, added in
    random order until they hold about ``val_fraction`` of the clips (at
    least one group, never all). With fewer than 2 groups it warns and splits
    by clip.
    """
    numbered = _usable_groups(groups, n, needed=2)
    if numbered is None:
        order = np.random.default_rng(random_state).permutation(n)
        n_val = max(1, int(round(n * val_fraction)))
        return np.sort(order[n_val:]), np.sort(order[:n_val])
    group_of, sizes = numbered
    order = np.random.default_rng(random_state).permutation(len(sizes))
    taken = np.cumsum(sizes[order])
    n_held = min(max(1, int(np.searchsorted(taken, val_fraction * n) + 1)), len(sizes) - 1)
    if n_held > 1 and abs(taken[n_held - 2] - val_fraction * n) <= abs(taken[n_held - 1] - val_fraction * n):
        n_held -= 1  # one group fewer comes closer to the fraction
    held = np.isin(group_of, order[:n_held])
    return np.flatnonzero(~held), np.flatnonzero(held)


def kfold_splits(n: int, *, folds: int, random_state: int = 0,
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
        parts = np.array_split(np.random.default_rng(random_state).permutation(n), folds)
    else:
        group_of, sizes = numbered
        order = np.random.default_rng(random_state).permutation(len(sizes))
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
