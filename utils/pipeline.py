"""The steps notebooks 04 to 06 share: train on a split or a fold, predict, keep track of models
(finding the data and building the training set: ``utils.training_data``)."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import keras
import numpy as np

from utils.dataset.errors import DataError
from utils.dataset.tables import TEMPLATE_NAMES, find_template
from utils.keys import code_fingerprint, key
from utils.metrics import kl_divergence, top4_recall
from utils.paths import MODELS_DIR, SUBMISSION_PATH
from utils.training_data import TrainingData, resolve_data_dir
from utils.profiles import Profile, get_profile
from utils.recipes import Recipe, get_recipe
from utils.store import save_json_atomic, save_npz_atomic
from utils.train.calibration import IDENTITY, fit_calibration
from utils.train.precision import precision_policy
from utils.train.loop import TrainSettings, predict, train_model
from utils.train.norm_adaptation import adapted_norms
from utils.train.splits import copy_rows, kfold_splits


def holdout_predictions(net: keras.Model, data: TrainingData, val_idx: np.ndarray) -> tuple[np.ndarray, dict]:
    """A model's raw predictions for its validation clips, and the recipe's calibration fitted on them."""
    raw = predict_clips([net], data.clips, data.recipe, rows=val_idx)
    return raw, fit_recipe_calibration(data.recipe, raw, data.answers[val_idx])


def scores(truth: np.ndarray, predicted: np.ndarray, *, prefix: str, raw: np.ndarray | None = None) -> dict:
    """``{prefix}_kld_raw`` (with ``raw``: before calibration), ``{prefix}_kld`` and ``{prefix}_top4_recall``."""
    found = {} if raw is None else {f"{prefix}_kld_raw": kl_divergence(truth, raw)}
    return {**found, f"{prefix}_kld": kl_divergence(truth, predicted),
            f"{prefix}_top4_recall": top4_recall(truth, predicted)}


def submission_inputs(profile_name: str, data_dir: str, test_dir: str, template_csv: str,
                      submission_path: str) -> tuple[Path, Path | None, Path]:
    """Notebook 06's clips folder, template (None: ids from file names) and submission file, from its parameters.

    A DataError where the submission could not be written there (``check_submission_path``).
    """
    if test_dir:
        clips = Path(test_dir).expanduser().resolve()
        template = Path(template_csv).expanduser().resolve() if template_csv else None
    else:
        folder = resolve_data_dir(data_dir, get_profile(profile_name))
        clips = folder / "test"
        template = Path(template_csv).expanduser().resolve() if template_csv else find_template(folder)
        if template is None:
            print(f"no template in {folder} ({' or '.join(TEMPLATE_NAMES)}): ids come from the file names")
    output = Path(submission_path).expanduser().resolve() if submission_path else SUBMISSION_PATH
    # a test folder inside a data folder (one with train/ or its answers): that folder is the data
    holds_data = (clips.parent / "train").is_dir() or (clips.parent / "train_answer.csv").is_file()
    check_submission_path(output, template=template, data=clips.parent if not test_dir or holds_data else clips)
    return clips, template, output


def check_submission_path(output: Path, *, template: Path | None, data: Path) -> None:
    """A DataError unless ``output`` names a new or old file outside ``data`` (a folder) and other than ``template``."""
    if output == template or data == output or data in output.parents:
        where = "over the template" if output == template else f"inside the data folder {data}"
        raise DataError(f"{output}: the submission would be written {where}; the kit never writes into the "
                        f"data, so give submission_path a file outside it (default {SUBMISSION_PATH})")
    if output.is_dir():
        raise DataError(f"{output}: a folder; expected submission_path to name a file, like {output / 'submission.csv'}")
    blocking = next((folder for folder in output.parents if folder.exists() and not folder.is_dir()), None)
    if blocking is not None:
        raise DataError(f"{output}: {blocking} is a file, not a folder; expected a path whose folders are folders")


def train_on_split(
    data: TrainingData, profile: Profile, *, train_idx: np.ndarray, val_idx: np.ndarray, model_path: Path, random_state: int,
    model_name: str = "", fold: bool = False, epochs: int = 0, time_limit: float | None = None, callbacks: tuple = (),
) -> tuple[keras.Model, keras.callbacks.History]:
    """Train the recipe's network (or ``model_name``) on some clips, validating on others (never their copies).

    It trains for the profile's epochs of a holdout model, or of a fold
    model with ``fold``, unless ``epochs`` is given; ``time_limit`` (seconds)
    stops it sooner and ``callbacks`` join the run's own (see ``train_model``).

    Where the dataset has saved words, the recipe's fresh mixtures take them
    from the voice groups of ``train_idx`` only, so validation stays on unheard voices.
    """
    recipe = data.recipe
    train_rows = copy_rows(train_idx, n_clips=data.n, copies=recipe.copies)
    train_rows = np.tile(train_rows, profile.passes_per_epoch(recipe.family, clips=len(train_rows)))
    epochs = epochs or profile.epochs_for(recipe.family, fold=fold, clips=len(train_rows))
    augment = recipe.augment
    if data.words is not None:  # loaded only for recipes that make fresh mixtures
        groups = None if data.groups is None else np.unique(data.groups[train_idx])
        augment = dataclasses.replace(augment, words=data.words.restricted(groups))
    settings = TrainSettings(
        epochs=epochs, batch_size=max(profile.batch_size, recipe.batch_size), patience=profile.patience, random_state=random_state,
        optimizer=recipe.optimizer, transform=recipe.train_transform, augment=augment,
        mixed_precision=recipe.mixed_precision, time_limit=time_limit, cpu_op_threads=recipe.cpu_op_threads,
    )
    return train_model(model_name or recipe.model, data.features, data.targets, train_rows=train_rows,
                       val_rows=val_idx, model_path=model_path, settings=settings, callbacks=callbacks)


def predict_clips(models: list[keras.Model], clips: np.ndarray, recipe: Recipe, *, rows: np.ndarray | None = None,
                  batch_size: int = 256) -> np.ndarray:
    """The models' averaged probabilities for int16 clips, over the recipe's test-time views.

    Returns
    -------
    np.ndarray, shape (rows, 30)
    """
    return np.mean(model_predictions(models, clips, recipe, rows=rows, batch_size=batch_size), axis=0)


def model_predictions(models: list[keras.Model], clips: np.ndarray, recipe: Recipe, *,
                      rows: np.ndarray | None = None, batch_size: int = 256) -> list[np.ndarray]:
    """Each model's probabilities for int16 clips, averaged over the recipe's test-time views (see ``view_predictions``).

    Returns
    -------
    list of np.ndarray, one per model, each of shape (rows, 30)
    """
    return list(view_predictions(models, clips, recipe, rows=rows, batch_size=batch_size).mean(axis=1))


def view_predictions(models: list[keras.Model], clips: np.ndarray, recipe: Recipe, *,
                     rows: np.ndarray | None = None, batch_size: int = 256) -> np.ndarray:
    """Each model's probabilities for int16 clips in each of the recipe's test-time views
    (``recipe.test_views()``: shifts along the time axis of ``recipe.source(clips)``, and the recipe's own),
    with batch-norm statistics moved toward the clips' own by ``recipe.norm_adaptation``.

    Returns
    -------
    np.ndarray, shape (models, views, rows, 30)
    """
    source = recipe.source(clips)
    predictions = []
    for m in models:
        with adapted_norms(m, source, weight=recipe.norm_adaptation, rows=rows, transform=recipe.featurize):
            predictions.append([predict([m], source, rows=rows, transform=view, batch_size=batch_size)
                                for view in recipe.test_views()])
    return np.array(predictions)


def fit_recipe_calibration(recipe: Recipe, probabilities: np.ndarray, truth: np.ndarray) -> dict:
    """The recipe's calibration fitted on held-out predictions (the identity where the recipe has none)."""
    return fit_calibration(probabilities, truth) if recipe.calibrate else dict(IDENTITY)


def save_model_set(name: str, *, recipe: str, files: list[str], calibration: dict, metrics: dict) -> Path:
    """Record which saved models make up a predictor (``holdout`` or ``ensemble``) and its calibration."""
    path = MODELS_DIR / f"{name}.json"
    save_json_atomic(path, {"recipe": recipe, "models": files, "calibration": calibration, "metrics": metrics})
    return path


def load_model_set(name: str = "auto") -> tuple[Recipe, list[keras.Model], dict]:
    """Load a predictor's models; ``auto`` takes the k-fold ensemble if there is one, else the holdout model."""
    names = ["ensemble", "holdout"] if name == "auto" else [name]
    for candidate in names:
        path = MODELS_DIR / f"{candidate}.json"
        if path.is_file():
            manifest = json.loads(path.read_text())
            models = [keras.models.load_model(MODELS_DIR / f, compile=False) for f in manifest["models"]]  # to predict
            return get_recipe(manifest["recipe"]), models, manifest
    raise FileNotFoundError(
        f"no trained models in {MODELS_DIR} (looked for {', '.join(n + '.json' for n in names)}); "
        "run notebooks 04_train_cnn or 05_kfold_ensemble first"
    )


def fold_key(data: TrainingData, profile: Profile, *, folds: int, model_name: str, test_clips: np.ndarray) -> str:
    """What a saved fold result came from: clips, answers, settings and the kit's code; another key means stale."""
    test = getattr(test_clips, "filename", None) or len(test_clips)
    groups = "no groups" if data.groups is None else data.groups
    return key(data.recipe.name, model_name or data.recipe.model, profile, folds, data.words is not None,
               Path(data.clips.filename).name, data.answers, groups, test, code_fingerprint(),
               precision_policy(data.recipe.mixed_precision))


def train_fold(
    data: TrainingData, profile: Profile, k: int, *, folds: int, test_clips: np.ndarray, model_name: str = "",
) -> dict:
    """Train fold ``k`` of ``folds`` (or reuse its saved result) and predict its held-out clips and the test clips.

    The model goes to models/fold_K.keras and the predictions to
    models/fold_K.npz, so folds can run as separate jobs (on separate GPUs or
    machines sharing outputs/) and a stopped k-fold run resumes at its fold.

    Returns
    -------
    dict with ``val_idx`` (clips), ``oof`` (len(val_idx), 30), ``test`` (len(test_clips), 30), ``epochs_run``
    """
    fold = fold_key(data, profile, folds=folds, model_name=model_name, test_clips=test_clips)
    path = MODELS_DIR / f"fold_{k}.npz"
    if path.is_file():
        saved = np.load(path)
        if str(saved["key"]) == fold:
            return {name: saved[name] for name in ("val_idx", "oof", "test", "epochs_run")}
    train_idx, val_idx = kfold_splits(data.n, folds=folds, random_state=profile.random_state, groups=data.groups)[k]
    net, history = train_on_split(
        data, profile, train_idx=train_idx, val_idx=val_idx, fold=True,
        model_path=MODELS_DIR / f"fold_{k}.keras", random_state=profile.random_state + k, model_name=model_name,
    )
    result = {
        "val_idx": val_idx, "oof": predict_clips([net], data.clips, data.recipe, rows=val_idx),
        "test": predict_clips([net], test_clips, data.recipe), "epochs_run": np.array(len(history.epoch)),
    }
    save_npz_atomic(path, key=np.array(fold), **result)
    return result
