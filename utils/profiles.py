"""Run sizes. `full` is the DACON scale and the seed recipe as written; the
smaller profiles shrink it to fit a CPU and say how."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    n_train: int  # clips in the embedded dataset
    n_test: int
    train_clips: int | None  # clips the recipes train on (None: all)
    epochs: dict[str, int]  # per recipe family (Recipe.family): the holdout model (04)
    fold_epochs: dict[str, int]  # per recipe family: each k-fold model (05)
    folds: int
    patience: int
    batch_size: int
    seed: int
    deviations: str  # how this profile departs from the seed recipe as written

    def epochs_for(self, family: str, *, fold: bool) -> int:
        """Epochs for one model of a recipe family: the holdout model (04) or a fold model (05).

        The kit sees each clip once per epoch (augmented afresh), the seed four
        times (its offline copies), so the kit gets more, shorter epochs.
        """
        return (self.fold_epochs if fold else self.epochs)[family]


PROFILES = {
    "smoke": Profile(
        name="smoke", n_train=1000, n_test=200, train_clips=240,
        epochs={"seed": 2, "kit": 2}, fold_epochs={"seed": 1, "kit": 1}, folds=2,
        patience=10, batch_size=32, seed=42,
        deviations="240 training clips, 2 epochs (1 per fold), batch 32, 2 folds: a pipeline check, not a model",
    ),
    "standard": Profile(
        name="standard", n_train=10000, n_test=2000, train_clips=1500,
        epochs={"seed": 6, "kit": 20}, fold_epochs={"seed": 3, "kit": 10}, folds=3,
        patience=10, batch_size=32, seed=42,
        deviations="1,500 training clips, 6 epochs for seed (3 per fold), 20 for kit (10 per fold), batch 32, "
                   "3 folds: about 30 minutes on a laptop CPU",
    ),
    "full": Profile(
        name="full", n_train=100_000, n_test=10_000, train_clips=None,
        epochs={"seed": 150, "kit": 40}, fold_epochs={"seed": 150, "kit": 40}, folds=5,
        patience=10, batch_size=256, seed=42,
        deviations="none: all clips, batch 256, up to 150 epochs (kit: 40) with early stopping (patience 10)",
    ),
}


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; expected one of {sorted(PROFILES)}")
    return PROFILES[name]
