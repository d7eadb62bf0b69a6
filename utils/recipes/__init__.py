"""Recipes: how clips become model inputs, what the network trains on, and how it predicts."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from utils.recipes.mel_augment import MelAugment
from utils.recipes.mel_features import FLOOR, cached_log_mel, inverse_log_mel, log_mel, mel_power, standardized
from utils.recipes.seed_augment import SEED_COPIES, build_seed_training_set
from utils.recipes.seed_features import seed_features, to_seed_rate
from utils.recipes.wave_augment import WaveAugment


@dataclass(frozen=True)
class Recipe:
    """A way to train and predict.

    ``build_training_set(clips, out_path, *, seed)`` writes an offline training
    set with ``copies`` rows per clip (row = copy * n_clips + clip, copy 0 the
    clip itself); without it the model trains on ``inputs(clips)`` (the
    decoded clips themselves, or features cached once per clip) through
    ``featurize`` and ``augment`` on the fly.
    """

    name: str
    family: str  # "seed", "kit" or "mel": how long the profiles train it
    model: str  # default network, a name in utils.recipes.networks.MODELS
    featurize: Callable[[np.ndarray], np.ndarray]  # rows of inputs(clips) -> model inputs
    build_training_set: Callable[..., np.ndarray] | None = None
    copies: int = 1
    augment: Callable | None = None  # (inputs, targets, rng) -> (inputs, targets), on training batches
    inputs: Callable[[np.ndarray], np.ndarray] | None = None  # int16 clips -> what rows are read from (None: the clips)
    tta_shifts: tuple[int, ...] = (0,)  # circular shifts along the inputs' time axis whose predictions are averaged
    mixed_precision: bool = False
    calibrate: bool = False  # fit a temperature and prior weight on held-out predictions
    optimizer: Callable[[int], object] | None = None  # total training steps -> Keras optimizer (None: Adam)
    batch_size: int = 0  # smallest training batch; the profile's when larger
    cpu_op_threads: int = 0  # TensorFlow threads per op when training on a CPU (0: its default; 1: byte-identical runs)

    def source(self, clips: np.ndarray) -> np.ndarray:
        """What training and prediction read rows from for these int16 clips."""
        return clips if self.inputs is None else self.inputs(clips)


def seed_featurize(clips: np.ndarray) -> np.ndarray:
    """int16 clips (n, 16000) -> standardised log spectrograms (n, 98, 221), float32."""
    return seed_features(to_seed_rate(clips))


def waveform(clips: np.ndarray) -> np.ndarray:
    """int16 clips (n, 16000) -> float32 waveforms in [-1, 1]."""
    return np.asarray(clips, dtype=np.float32) / 32768.0


def as_float32(rows: np.ndarray) -> np.ndarray:
    """Cached features (float16) -> float32 model inputs."""
    return np.asarray(rows, dtype=np.float32)


def adamw_warmup_cosine(total_steps: int, *, peak: float = 3e-3, warmup: float = 0.05, weight_decay: float = 1e-2):
    """AdamW whose learning rate rises linearly to ``peak`` over ``warmup`` of the run, then follows a cosine to 0."""
    import keras

    warmup_steps = max(1, int(warmup * total_steps))
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=max(1, total_steps - warmup_steps), warmup_target=peak, warmup_steps=warmup_steps,
    )
    return keras.optimizers.AdamW(learning_rate=schedule, weight_decay=weight_decay)


_KIT = Recipe(
    name="kit", family="kit", model="kit_resnet", featurize=waveform, augment=WaveAugment(),
    tta_shifts=(0, -1600, 1600), mixed_precision=True, calibrate=True,
)

MEL_TCN = Recipe(
    name="mel_tcn", family="mel", model="tc_resnet", featurize=as_float32, augment=MelAugment(),
    inputs=cached_log_mel, tta_shifts=(0, -10, 10), mixed_precision=True, calibrate=True,
    optimizer=adamw_warmup_cosine, batch_size=128, cpu_op_threads=1,
)

DEFAULT_RECIPE = "mel_tcn"  # run_all.sh's and the notebooks' default
RECIPES = {
    # log-mel cached once per clip, augmentation and fresh mixtures in the mel domain, a temporal ResNet
    "mel_tcn": MEL_TCN,
    "seed": Recipe(
        name="seed", family="seed", model="seed_cnn", featurize=seed_featurize,
        build_training_set=build_seed_training_set, copies=len(SEED_COPIES),
    ),
    "kit": _KIT,
    # kit, with half the training clips replaced by fresh mixtures of the dataset's saved words
    # (embedded data and mixed folder corpora have them; elsewhere it is kit)
    "kit_fresh": replace(_KIT, name="kit_fresh", augment=WaveAugment(fresh=0.5)),
}


def get_recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; expected one of {sorted(RECIPES)}")
    return RECIPES[name]


def augmentation_examples(recipe: Recipe, clip: np.ndarray,
                          rng: np.random.Generator) -> tuple[list[str], np.ndarray, np.ndarray, int]:
    """A clip and three augmented versions as the recipe makes them, for looking and listening.

    Returns
    -------
    names : list of 4 str
    maps : np.ndarray, shape (4, time, frequency): what the network looks at first
    waves : np.ndarray, shape (4, samples), float32 (for mel_tcn, heard through an inverse mel)
    sample_rate : int
    """
    if recipe.build_training_set is not None:  # the seed's offline copies at librosa's rate
        from utils.recipes.seed_augment import seed_augmented_copies
        from utils.recipes.seed_features import SEED_SAMPLE_RATE

        waves = seed_augmented_copies(to_seed_rate(clip), rng)
        return list(SEED_COPIES), seed_features(waves), waves, SEED_SAMPLE_RATE
    names = ["original", "augmented 1", "augmented 2", "augmented 3"]
    targets = np.zeros((4, 30), dtype=np.float32)
    if isinstance(recipe.augment, MelAugment):
        x = np.repeat(log_mel(clip[None, :]), 4, axis=0)
        x[1:], _ = replace(recipe.augment, words=None)(x[1:], targets[1:], rng)
        return names, standardized(x), inverse_log_mel(x), 16000
    waves = np.repeat(waveform(clip[None, :]), 4, axis=0)
    augmented, _ = recipe.augment(waves[1:], targets[1:], rng)
    waves = np.concatenate([waves[:1], augmented])
    return names, feature_maps(recipe, waves), waves, 16000


def fresh_examples(recipe: Recipe, data_dir, rng: np.random.Generator,
                   n: int = 3) -> tuple[list[str], np.ndarray, np.ndarray, int] | None:
    """``n`` fresh mixtures of the dataset's saved words as the recipe makes them (None without saved words).

    Returns names, maps, waves and sample rate as ``augmentation_examples`` does.
    """
    from utils.results.plots import describe_words

    words = (recipe.augment or WaveAugment()).load_words(data_dir)
    if words is None:
        return None
    if isinstance(recipe.augment, MelAugment):
        x, labels = words.mix(n, rng, voice=recipe.augment.word_voice, noise_db=recipe.augment.noise_db)
        return [describe_words(t) for t in labels], standardized(x), inverse_log_mel(x), 16000
    waves, labels = words(n, rng)
    return [describe_words(t) for t in labels], feature_maps(get_recipe("kit"), waves), waves, 16000


def feature_maps(recipe: Recipe, waves: np.ndarray) -> np.ndarray:
    """What the recipe's network looks at first, as (n, time, frequency) maps.

    ``waves`` are float waveforms: at 22,050 Hz for the seed (its log
    spectrogram), else 16 kHz (the kit's in-model log-mel, 32 ms window
    channel; mel_tcn's log-mel, standardised per clip as its network does).
    """
    if recipe.build_training_set is not None:
        return seed_features(waves)
    if isinstance(recipe.augment, MelAugment):
        return standardized(np.log(mel_power(waves) + FLOOR))
    import keras

    from utils.recipes.layers import LogMel

    return keras.ops.convert_to_numpy(LogMel()(np.asarray(waves, dtype=np.float32)))[..., 1]


def clip_feature_maps(recipe: Recipe, clips: np.ndarray) -> np.ndarray:
    """``feature_maps`` of int16 clips (n, 16000)."""
    if recipe.build_training_set is not None:
        return seed_featurize(clips)
    if isinstance(recipe.augment, MelAugment):
        return standardized(log_mel(clips))
    return feature_maps(recipe, waveform(clips))
