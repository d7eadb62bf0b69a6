"""Run sizes. `full` is the DACON scale and the seed recipe as written; the
smaller profiles shrink it to fit a CPU and say how."""
from __future__ import annotations

import math
from dataclasses import dataclass

from utils.registry import Registry


@dataclass(frozen=True)
class Training:
    """How much one recipe family trains in a profile: fixed epochs, or a number of clips seen."""

    clips: int | None  # training clips (None: all of the dataset's)
    epochs: int = 0  # the holdout model (04); 0: sized by clips_seen
    fold_epochs: int = 0  # each k-fold model (05)
    clips_seen: int = 0  # the holdout model, in clips (augmented or fresh), rounded up to whole epochs
    fold_clips_seen: int = 0
    epoch_clips: int = 0  # with clips_seen: an epoch passes over the clips as often as it takes to reach this many


@dataclass(frozen=True)
class Profile:
    name: str
    n_train: int  # clips in the embedded dataset
    n_test: int
    training: dict[str, Training]  # per recipe family (Recipe.family)
    folds: int
    ensemble: bool  # run_all.sh trains the k-fold ensemble (05) and submits it; else the holdout model
    patience: int
    batch_size: int
    random_state: int
    deviations: str  # how this profile departs from the seed recipe as written

    def train_clips(self, family: str) -> int | None:
        """How many of the dataset's clips a recipe family trains on (None: all)."""
        return self.training[family].clips

    def passes_per_epoch(self, family: str, *, clips: int) -> int:
        """How many times one epoch goes over ``clips`` training rows (fewer, longer epochs for short clip sets)."""
        return max(1, math.ceil(self.training[family].epoch_clips / max(clips, 1)))

    def epochs_for(self, family: str, *, fold: bool, clips: int) -> int:
        """Epochs for one model of a recipe family: the holdout model (04) or a fold model (05).

        ``clips`` is the number of training rows per epoch. The wave family sees each
        clip once per epoch (augmented afresh), the seed four times (its
        offline copies), so it gets more, shorter epochs; mel_tcn's runs
        are sized by clips seen.
        """
        plan = self.training[family]
        epochs = plan.fold_epochs if fold else plan.epochs
        if epochs:
            return epochs
        return max(1, math.ceil((plan.fold_clips_seen if fold else plan.clips_seen) / max(clips, 1)))


PROFILES: Registry[Profile] = Registry("profile", {
    "tiny": Profile(
        name="tiny", n_train=200, n_test=40,
        training={"seed": Training(40, epochs=2, fold_epochs=1), "wave": Training(40, epochs=2, fold_epochs=1),
                  "mel": Training(None, clips_seen=6_144, fold_clips_seen=2_048, epoch_clips=2_048)},
        folds=2, ensemble=True, patience=10, batch_size=32, random_state=42,
        deviations="seed and wave_resnet: 40 training clips, 2 epochs (1 per fold), batch 32; mel_tcn: 6,144 clips seen "
                   "(2,048 per fold), batch 128; 2 folds: checks that every step runs on a folder, learns next to nothing",
    ),
    "smoke": Profile(
        name="smoke", n_train=1000, n_test=200,
        training={"seed": Training(240, epochs=2, fold_epochs=1), "wave": Training(240, epochs=2, fold_epochs=1),
                  "mel": Training(None, clips_seen=24_000, fold_clips_seen=16_000, epoch_clips=8_000)},
        folds=2, ensemble=False, patience=10, batch_size=32, random_state=42,
        deviations="seed and wave_resnet: 240 training clips, 2 epochs (1 per fold), batch 32; mel_tcn: all 1,000 clips, "
                   "24,000 clips seen (16,000 per fold), batch 128; run_all.sh submits the holdout model "
                   "(05 by hand: 2 folds): a pipeline check that shows the model moves",
    ),
    "standard": Profile(
        name="standard", n_train=10000, n_test=2000,
        training={"seed": Training(1500, epochs=6, fold_epochs=3), "wave": Training(1500, epochs=20, fold_epochs=10),
                  "mel": Training(None, clips_seen=1_000_000, fold_clips_seen=200_000, epoch_clips=32_000)},
        folds=3, ensemble=False, patience=10, batch_size=32, random_state=42,
        deviations="seed and wave_resnet: 1,500 training clips, batch 32, seed 6 epochs (3 per fold), "
                   "wave_resnet 20 (10 per fold); mel_tcn: all 10,000 clips, 1,000,000 clips seen (200,000 per fold), "
                   "batch 128; run_all.sh submits the holdout model (05 by hand: 3 folds): "
                   "12 to 56 minutes on 2 CPU cores, by the CPU and how busy its host is",
    ),
    "full": Profile(
        name="full", n_train=100_000, n_test=10_000,
        training={"seed": Training(None, epochs=150, fold_epochs=150), "wave": Training(None, epochs=40, fold_epochs=40),
                  "mel": Training(None, clips_seen=4_000_000, fold_clips_seen=4_000_000)},
        folds=5, ensemble=True, patience=10, batch_size=256, random_state=42,
        deviations="none: all clips, batch 256, up to 150 epochs (wave_resnet: 40; mel_tcn: 40 passes over the clips) "
                   "with early stopping (patience 10)",
    ),
})
get_profile = PROFILES.pick
