"""Find the data folder and build a recipe's training set: what notebooks 01 to 03 need, without TensorFlow
(importing it takes seconds); notebooks 04 and 05 start from ``open_run``."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from utils.datagen.writer import make_embedded_dataset
from utils.dataset.errors import DataError
from utils.dataset.saved_words import WORDS_FOLDER, WordMixer
from utils.dataset.tables import load_train, read_groups
from utils.environment import hosted_data_dir
from utils.keys import code_fingerprint, key
from utils.paths import CACHE_DIR, embedded_data_dir
from utils.profiles import Profile, get_profile
from utils.recipes import Recipe, get_recipe


def resolve_data_dir(data_dir: str | Path | None, profile: Profile) -> Path:
    """The data folder to use: ``data_dir`` if given; on Kaggle or Colab, competition
    data found where they keep it; else the profile's embedded dataset, generated
    on first use under data/. ``data_dir="embedded"`` forces the embedded one."""
    hosted = hosted_data_dir() if not data_dir else None
    if hosted:
        print(f"Using the data found at {hosted} (set data_dir to choose another)", flush=True)
        return hosted
    if data_dir and data_dir != "embedded":
        path = Path(data_dir).expanduser().resolve()
        if not path.is_dir() or not any((path / name).is_dir() for name in ("train", "test")):
            found = "no such folder" if not path.is_dir() else "neither train/ nor test/" + (
                ", but .wav clips: give the folder that holds this one" if any(path.glob("*.[wW][aA][vV]")) else "")
            raise DataError(f"{path}: expected a data folder with train/, train_answer.csv, test/ and submission.csv; "
                            f"found {found}")
        return path
    path = embedded_data_dir(profile.name)
    if not path.is_dir():
        print(f"Generating the embedded {profile.name} dataset in {path} ...", flush=True)
        make_embedded_dataset(path, n_train=profile.n_train, n_test=profile.n_test, random_state=profile.random_state)
    else:
        lacks = [what for what, name in (("voice groups (validation splits by clip)", "train_groups.csv"),
                                         ("saved words (no fresh mixtures)", WORDS_FOLDER))
                 if not (path / name).exists()]
        if lacks:
            print(f"{path} was made by an older version, without {' or '.join(lacks)}. "
                  "Delete the folder to regenerate it.", flush=True)
    return path


@dataclass
class TrainingData:
    ids: np.ndarray  # (n,) clip ids
    clips: np.ndarray  # (n, 16000) int16
    answers: np.ndarray  # (n, 30)
    features: np.ndarray  # (copies * n, ...) what training reads, row = copy * n + clip
    targets: np.ndarray  # (copies * n, 30)
    recipe: Recipe
    groups: np.ndarray | None = None  # (n,) voice group label of each clip (train_groups.csv), if known
    words: WordMixer | None = None  # the dataset's saved training words (train_words/), where the recipe uses them

    @property
    def n(self) -> int:
        return len(self.ids)


MIN_TRAIN_CLIPS = 2  # one to train on, one to validate with


def prepare_training(data_dir: Path, profile: Profile, recipe_name: str, *, cache_dir: Path = CACHE_DIR) -> TrainingData:
    """The profile's training clips and, for an offline recipe, its training set (built once, cached)."""
    recipe = get_recipe(recipe_name)
    ids, clips, answers = load_train(data_dir, cache_dir=cache_dir)
    if len(ids) < MIN_TRAIN_CLIPS:
        raise DataError(f"{Path(data_dir) / 'train_answer.csv'}: {len(ids)} training clip; expected at least "
                        f"{MIN_TRAIN_CLIPS}, one to train on and one to validate with")
    n = min(profile.train_clips(recipe.family) or len(ids), len(ids))
    groups = read_groups(data_dir, ids)
    features = recipe.training_inputs(
        clips, n=n, random_state=profile.random_state, cache_file=Path(cache_dir) / f"trainset-{recipe.name}-{profile.name}.npy",
        key=key(Path(clips.filename).name, n, profile.random_state, code_fingerprint()),
    )
    ids, clips, answers = ids[:n], clips[:n], answers[:n]
    groups = None if groups is None else groups[:n]
    words = recipe.load_words(data_dir, cache_dir=cache_dir)
    return TrainingData(ids, clips, answers, features, np.tile(answers, (recipe.copies, 1)), recipe, groups, words)


def open_run(profile_name: str, data_dir: str | Path | None, recipe_name: str) -> tuple[Profile, Path, TrainingData]:
    """What notebooks 04 and 05 start from: the profile, the data folder and the recipe's training data."""
    profile = get_profile(profile_name)
    folder = resolve_data_dir(data_dir, profile)
    return profile, folder, prepare_training(folder, profile, recipe_name)
