import warnings

import keras
import numpy as np
import pytest

from utils.train.batches import FeatureBatches
from utils.train.loop import TrainSettings, predict, train_model
from utils.train.splits import copy_rows, holdout_split, kfold_splits


def test_holdout_split_is_80_20_and_disjoint():
    train, val = holdout_split(100, random_state=1)
    assert len(train) == 80 and len(val) == 20
    assert not set(train) & set(val)


@pytest.mark.parametrize("folds", [2, 3, 5])
def test_kfold_validates_every_clip_once(folds):
    splits = kfold_splits(23, folds=folds, random_state=0)
    val = np.concatenate([v for _, v in splits])
    assert sorted(val) == list(range(23))
    for train, v in splits:
        assert not set(train) & set(v) and len(train) + len(v) == 23


def test_kfold_refuses_too_few_clips():
    with pytest.raises(ValueError, match="folds"):
        kfold_splits(3, folds=5)


def test_copy_rows_picks_every_copy_of_a_clip():
    assert sorted(copy_rows(np.array([1]), n_clips=10, copies=4)) == [1, 11, 21, 31]


def test_batches_serve_requested_rows_as_float32():
    x = np.arange(10 * 4 * 3, dtype=np.float16).reshape(10, 4, 3)
    y = np.eye(10, 30, dtype=np.float32)
    batches = FeatureBatches(x, np.array([7, 2, 5]), targets=y, batch_size=2, shuffle=True, random_state=0)
    seen = []
    for i in range(len(batches)):
        xb, yb = batches[i]
        assert xb.dtype == np.float32 and xb.shape[1:] == (4, 3)
        seen += list(np.argmax(yb, axis=1))
        np.testing.assert_array_equal(xb, x[np.argmax(yb, axis=1)])
    assert sorted(seen) == [2, 5, 7]


def test_augmented_batches_do_not_depend_on_the_order_they_are_made_in():
    from concurrent.futures import ThreadPoolExecutor

    from utils.recipes.wave_augment import WaveAugment

    x = np.random.default_rng(0).integers(-3000, 3000, size=(40, 16000)).astype(np.int16)
    y = np.full((40, 30), 1 / 30, dtype=np.float32)

    def batches():
        return FeatureBatches(x, np.arange(40), targets=y, batch_size=8, shuffle=True, random_state=5,
                              transform=lambda b: b.astype(np.float32) / 32768, augment=WaveAugment(), workers=4)

    forward = [batches()[i] for i in range(5)]
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(batches().__getitem__, reversed(range(5))))[::-1]
    for (xa, ya), (xb, yb) in zip(forward, threaded):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    again = batches()
    again.on_epoch_end()
    assert not np.array_equal(again[0][0], forward[0][0])  # the next epoch is augmented afresh


def test_grouped_holdout_keeps_whole_groups_out():
    groups = np.repeat(np.arange(10), 7)
    train, val = holdout_split(70, random_state=3, groups=groups)
    assert len(np.unique(groups[val])) == 2  # 20% of the groups
    assert not set(groups[train]) & set(groups[val]) and len(train) + len(val) == 70


def test_grouped_folds_validate_each_group_once():
    groups = np.random.default_rng(0).integers(0, 7, size=60)
    splits = kfold_splits(60, folds=3, random_state=1, groups=groups)
    seen = np.concatenate([val for _, val in splits])
    assert sorted(seen) == list(range(60))
    for train, val in splits:
        assert not set(groups[train]) & set(groups[val])


def test_too_few_groups_fall_back_to_a_split_by_clip():
    with pytest.warns(UserWarning, match="2 groups, fewer than the 3"):
        splits = kfold_splits(10, folds=3, groups=np.array([0, 1] * 5))
    assert sorted(np.concatenate([val for _, val in splits])) == list(range(10))
    with pytest.raises(ValueError, match="one group per clip"):
        holdout_split(10, groups=np.zeros(9))


def test_grouped_splits_balance_clips_not_groups():
    groups = np.repeat(["a", "b", "c", "d", "e", "f"], [40, 5, 5, 5, 5, 40])
    for random_state in range(5):
        train, val = holdout_split(100, random_state=random_state, groups=groups)
        assert 5 <= len(val) <= 40 and not set(groups[train]) & set(groups[val])
    sizes = [len(val) for _, val in kfold_splits(100, folds=2, random_state=0, groups=groups)]
    assert sizes == [50, 50]


def test_train_model_saves_best_model_and_predicts(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 98, 221)).astype(np.float16)
    y = rng.dirichlet(np.ones(30), size=12).astype(np.float32)
    path = tmp_path / "m.keras"
    model, history = train_model(
        "seed_cnn", x, y, train_rows=np.arange(8), val_rows=np.arange(8, 12), model_path=path,
        settings=TrainSettings(epochs=1, batch_size=4, patience=1, random_state=0, verbose=0),
    )
    assert path.is_file() and not list(tmp_path.glob(".*"))
    assert history.epoch == [0] and "val_loss" in history.history
    p = predict([model, model], x, rows=np.arange(8, 12))
    assert p.shape == (4, 30)
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-5)


def test_training_in_mixed_precision_leaves_the_callers_dtype_policy_alone(tmp_path, monkeypatch):
    from utils.train import loop

    monkeypatch.setattr(loop, "precision_policy", lambda mixed_precision: "mixed_bfloat16")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 98, 221)).astype(np.float16)
    y = rng.dirichlet(np.ones(30), size=8).astype(np.float32)
    model, _ = train_model(
        "seed_cnn", x, y, train_rows=np.arange(6), val_rows=np.arange(6, 8), model_path=tmp_path / "m.keras",
        settings=TrainSettings(epochs=1, batch_size=2, patience=1, random_state=0, verbose=0, mixed_precision=True),
    )
    assert keras.config.dtype_policy().name == "float32"  # a notebook's next model is not built in bfloat16
    assert {layer.dtype_policy.name for layer in model.layers if layer.weights} == {"mixed_bfloat16"}


def test_a_model_trained_in_float16_comes_back_with_its_loss_scaling_and_no_warning(tmp_path, monkeypatch):
    from utils import pipeline
    from utils.train import loop

    monkeypatch.setattr(loop, "precision_policy", lambda mixed_precision: "mixed_float16")  # as on a GPU
    monkeypatch.setattr(pipeline, "MODELS_DIR", tmp_path)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 98, 221)).astype(np.float16)
    y = rng.dirichlet(np.ones(30), size=8).astype(np.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model, _ = train_model(
            "seed_cnn", x, y, train_rows=np.arange(6), val_rows=np.arange(6, 8), model_path=tmp_path / "m.keras",
            settings=TrainSettings(epochs=1, batch_size=2, patience=1, random_state=0, verbose=0, mixed_precision=True),
        )
        pipeline.save_model_set("holdout", recipe="seed", files=["m.keras"], calibration={}, metrics={})
        _, (loaded,), _ = pipeline.load_model_set("holdout")
    assert [str(w.message) for w in caught if "Skipping variable loading" in str(w.message)] == []
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)  # compiled as it trained: it can go on
    np.testing.assert_allclose(loaded.predict_on_batch(x[6:]), model.predict_on_batch(x[6:]), rtol=1e-3, atol=1e-4)


class StopAfter(keras.callbacks.Callback):
    """Interrupts training like a crash would, without cleaning up."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def test_interrupted_training_resumes_from_its_last_epoch(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 98, 221)).astype(np.float16)
    y = rng.dirichlet(np.ones(30), size=12).astype(np.float32)
    args = dict(train_rows=np.arange(8), val_rows=np.arange(8, 12), model_path=tmp_path / "m.keras",
                settings=TrainSettings(epochs=4, batch_size=4, patience=10, random_state=0, verbose=0))
    original_fit = keras.Model.fit

    def crashing_fit(self, *a, callbacks=(), **k):
        return original_fit(self, *a, callbacks=[*callbacks, StopAfter(1)], **k)

    monkeypatch.setattr(keras.Model, "fit", crashing_fit)
    with pytest.raises(KeyboardInterrupt):
        train_model("seed_cnn", x, y, **args)
    monkeypatch.setattr(keras.Model, "fit", original_fit)
    assert not (tmp_path / "m.keras").exists()  # no half model under the real name
    _, history = train_model("seed_cnn", x, y, **args)
    assert history.epoch == [2, 3]  # epochs 0 and 1 were not trained again
    assert (tmp_path / "m.keras").is_file() and not list(tmp_path.glob(".*"))


def test_a_resumed_run_trains_on_the_batches_an_uninterrupted_run_would(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 98, 221)).astype(np.float16)
    y = rng.dirichlet(np.ones(30), size=12).astype(np.float32)
    served = []

    def spy(batch, targets, batch_rng):  # what each training batch holds and how it would be augmented
        served.append((targets.tobytes(), batch_rng.random()))
        return batch, targets

    args = dict(train_rows=np.arange(8), val_rows=np.arange(8, 12),
                settings=TrainSettings(epochs=4, batch_size=4, patience=10, random_state=0, verbose=0, augment=spy))
    train_model("seed_cnn", x, y, model_path=tmp_path / "whole.keras", **args)
    uninterrupted, served[:] = list(served), []
    original_fit = keras.Model.fit
    monkeypatch.setattr(keras.Model, "fit", lambda self, *a, callbacks=(), **k: original_fit(
        self, *a, callbacks=[*callbacks, StopAfter(1)], **k))
    with pytest.raises(KeyboardInterrupt):
        train_model("seed_cnn", x, y, model_path=tmp_path / "m.keras", **args)
    monkeypatch.setattr(keras.Model, "fit", original_fit)
    train_model("seed_cnn", x, y, model_path=tmp_path / "m.keras", **args)
    # Keras may look at a batch or two before training, and may make an epoch's batches in any order;
    # the last four made are epochs 2 and 3 (two batches each).
    assert sorted(served[-4:]) == sorted(uninterrupted[-4:])  # not epochs 0 and 1 again


def test_group_splits_do_not_depend_on_how_labels_are_spelt():
    groups = np.repeat(np.arange(8), 5)[np.random.default_rng(1).permutation(40)]
    spelt = np.array([f"speaker-{'zyxwvuts'[g]}" for g in groups])  # sorts in the opposite order
    np.testing.assert_array_equal(holdout_split(40, random_state=3, groups=groups)[1], holdout_split(40, random_state=3, groups=spelt)[1])
    for (_, a), (_, b) in zip(kfold_splits(40, folds=3, random_state=3, groups=groups), kfold_splits(40, folds=3, random_state=3, groups=spelt)):
        np.testing.assert_array_equal(a, b)
