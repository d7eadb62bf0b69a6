from dataclasses import replace

import numpy as np
import pytest
from conftest import tone_clips, write_dacon_folder

from utils.dataset.errors import DataError
from utils.pipeline import (
    fit_recipe_calibration,
    model_predictions,
    predict_clips,
    submission_inputs,
    train_fold,
    train_on_split,
)
from utils.profiles import get_profile
from utils.recipes import get_recipe
from utils.train.calibration import IDENTITY
from utils.train.norm_adaptation import MIN_CLIPS
from utils.training_data import prepare_training, resolve_data_dir


@pytest.mark.parametrize("recipe, rows_per_clip, shape", [
    ("seed", 4, (98, 221)), ("wave_resnet", 1, (16000,)), ("mel_tcn", 1, (101, 40)),
])
def test_training_data_of_each_recipe(dacon_folder, tmp_path, recipe, rows_per_clip, shape):
    data = prepare_training(dacon_folder, get_profile("smoke"), recipe, cache_dir=tmp_path)
    assert data.n == 12 and data.features.shape == (12 * rows_per_clip, *shape)
    np.testing.assert_array_equal(data.targets[:12], data.answers)
    np.testing.assert_array_equal(data.targets[-12:], data.answers)


def test_a_dataset_of_one_training_clip_is_refused_naming_its_answer_file(tmp_path):
    data_dir = write_dacon_folder(tmp_path / "one", n_train=1, n_test=1)
    with pytest.raises(DataError, match=r"one/train_answer.csv: 1 training clip; expected at least 2"):
        prepare_training(data_dir, get_profile("tiny"), "mel_tcn", cache_dir=tmp_path / "cache")


def test_wave_resnet_trains_and_predicts_with_test_time_shifts(dacon_folder, tmp_path):
    profile = get_profile("smoke")
    data = prepare_training(dacon_folder, profile, "wave_resnet", cache_dir=tmp_path)
    net, history = train_on_split(
        data, profile, train_idx=np.arange(8), val_idx=np.arange(8, 12), epochs=1, model_path=tmp_path / "m.keras",
        random_state=0,
    )
    assert history.epoch == [0]
    p = predict_clips([net], data.clips, data.recipe, rows=np.arange(8, 12))
    assert p.shape == (4, 30)
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-5)
    assert len(data.recipe.tta_shifts) == 3
    each = model_predictions([net, net], data.clips, data.recipe, rows=np.arange(8, 12))
    assert len(each) == 2
    np.testing.assert_allclose(each[1], p, rtol=1e-6)


def test_mel_tcn_trains_on_cached_log_mel_and_predicts_with_frame_shifts(dacon_folder, tmp_path):
    profile = get_profile("tiny")  # epochs of 2,048 clips
    data = prepare_training(dacon_folder, profile, "mel_tcn", cache_dir=tmp_path)
    assert data.features.dtype == np.float16 and data.words is None  # the folder has no saved words
    net, history = train_on_split(
        data, profile, train_idx=np.arange(8), val_idx=np.arange(8, 12), epochs=2, model_path=tmp_path / "m.keras",
        random_state=0,
    )
    assert history.epoch == [0, 1] and net.name == "tc_resnet"
    p = predict_clips([net], data.clips, data.recipe, rows=np.arange(8, 12))
    assert p.shape == (4, 30)
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-5)
    assert data.recipe.tta_shifts == (0, -5, 5, -10, 10)  # frames: up to 0.1 s either way
    # on as many clips as a test folder holds, batch norms half adapt to them, and the model is left as it was
    clips = tone_clips(MIN_CLIPS, random_state=3)[0] // 3
    fixed = replace(data.recipe, norm_adaptation=0.0)
    before = predict_clips([net], clips, fixed)
    adapted = predict_clips([net], clips, data.recipe)
    assert data.recipe.norm_adaptation == 0.5 and np.abs(adapted - before).max() > 1e-3
    np.testing.assert_array_equal(predict_clips([net], clips, data.recipe), adapted)
    np.testing.assert_array_equal(predict_clips([net], clips, fixed), before)
    more = np.concatenate([clips, tone_clips(MIN_CLIPS, random_state=4)[0]])  # rows beyond the set: not seen
    np.testing.assert_array_equal(predict_clips([net], more, data.recipe, rows=np.arange(MIN_CLIPS)), adapted)


def test_mel_tcn_trains_by_clips_seen_on_all_the_clips():
    profile = get_profile("standard")
    assert profile.train_clips("mel") is None and profile.train_clips("wave") == 1500
    assert profile.passes_per_epoch("mel", clips=8000) == 4 and profile.passes_per_epoch("wave", clips=1200) == 1
    assert profile.epochs_for("mel", fold=False, clips=32000) == 32  # 1,000,000 clips seen, in whole epochs
    assert profile.epochs_for("wave", fold=True, clips=1000) == 10


def test_seed_recipe_is_never_calibrated():
    p = np.full((3, 30), 1 / 30)
    assert fit_recipe_calibration(get_recipe("seed"), p, p) == IDENTITY


def test_explicit_data_folder_must_exist(tmp_path):
    with pytest.raises(DataError, match="expected a data folder.*found no such folder"):
        resolve_data_dir(tmp_path / "missing", get_profile("smoke"))


def test_a_clip_folder_given_as_the_data_folder_is_refused_pointing_one_level_up(dacon_folder):
    with pytest.raises(DataError, match="train: expected a data folder.*but .wav clips: give the folder that holds"):
        resolve_data_dir(dacon_folder / "train", get_profile("smoke"))
    assert resolve_data_dir(dacon_folder, get_profile("smoke")) == dacon_folder


def test_a_submission_never_goes_over_the_template_or_into_the_data(dacon_folder, tmp_path):
    data, test = str(dacon_folder), str(dacon_folder / "test")
    for test_dir, template, output in [("", "", dacon_folder / "submission.csv"), ("", "", dacon_folder / "out.csv"),
                                       (test, "", dacon_folder / "test" / "out.csv"),
                                       (test, "", dacon_folder / "out.csv"),
                                       (test, str(tmp_path / "t.csv"), tmp_path / "t.csv")]:
        with pytest.raises(DataError, match="never writes into the data"):
            submission_inputs("smoke", data, test_dir, template, str(output))
    clips, template, output = submission_inputs("smoke", data, "", "", str(tmp_path / "submission.csv"))
    assert (clips, template, output) == (dacon_folder / "test", dacon_folder / "submission.csv",
                                         tmp_path / "submission.csv")


def test_a_submission_path_that_is_a_folder_or_lies_under_a_file_is_refused_before_any_work(dacon_folder, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "notes.txt").write_text("")
    for output, expected in [(tmp_path / "out", "a folder; expected submission_path to name a file"),
                             (tmp_path / "notes.txt" / "sub.csv", "notes.txt is a file, not a folder")]:
        with pytest.raises(DataError, match=expected):
            submission_inputs("smoke", str(dacon_folder), "", "", str(output))


def test_a_test_folder_of_its_own_takes_a_submission_beside_it(tmp_path):
    clips = tmp_path / "my clips"
    clips.mkdir()
    _, template, output = submission_inputs("smoke", "", str(clips), "", str(tmp_path / "submission.csv"))
    assert template is None and output == tmp_path / "submission.csv"
    output.write_text("id\n")  # a second run, its first submission beside the clips: not taken for a data folder
    assert submission_inputs("smoke", "", str(clips), "", str(output))[2] == output


def test_a_template_named_sample_submission_is_used_where_there_is_no_submission_csv(dacon_folder, tmp_path):
    (dacon_folder / "submission.csv").rename(dacon_folder / "sample_submission.csv")
    _, template, _ = submission_inputs("smoke", str(dacon_folder), "", "", str(tmp_path / "submission.csv"))
    assert template == dacon_folder / "sample_submission.csv"
    (dacon_folder / "sample_submission.csv").unlink()
    _, template, _ = submission_inputs("smoke", str(dacon_folder), "", "", str(tmp_path / "submission.csv"))
    assert template is None


def test_hosted_competition_data_is_found_unless_a_folder_is_given(dacon_folder, tmp_path, monkeypatch):
    import utils.training_data as training_data

    monkeypatch.setattr(training_data, "hosted_data_dir", lambda: dacon_folder)
    assert resolve_data_dir("", get_profile("smoke")) == dacon_folder
    other = tmp_path / "other"
    (other / "test").mkdir(parents=True)
    assert resolve_data_dir(str(other), get_profile("smoke")) == other.resolve()


def test_outputs_go_where_the_kit_may_write(tmp_path, monkeypatch):
    import importlib

    import utils.paths as paths

    monkeypatch.setenv("KIT_WORK_DIR", str(tmp_path))
    try:
        assert importlib.reload(paths).OUTPUTS_DIR == tmp_path / "outputs"
    finally:
        monkeypatch.delenv("KIT_WORK_DIR")
        importlib.reload(paths)
    assert paths.OUTPUTS_DIR == paths.PROJECT_ROOT / "outputs"


def test_what_the_kit_learns_about_the_machine_goes_to_the_users_cache_folder(tmp_path, monkeypatch):
    import importlib

    import utils.paths as paths

    monkeypatch.delenv("KIT_MACHINE_CACHE", raising=False)
    try:
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert importlib.reload(paths).MACHINE_CACHE_DIR == tmp_path / "xdg" / "overlap-words-kit"
        monkeypatch.setenv("KIT_MACHINE_CACHE", str(tmp_path / "mine"))
        assert importlib.reload(paths).MACHINE_CACHE_DIR == tmp_path / "mine"
    finally:
        monkeypatch.undo()
        importlib.reload(paths)


def test_a_trained_fold_is_saved_and_reused(dacon_folder, tmp_path, monkeypatch):
    import utils.pipeline as pipeline

    monkeypatch.setattr(pipeline, "MODELS_DIR", tmp_path / "models")
    profile = get_profile("smoke")
    data = prepare_training(dacon_folder, profile, "wave_resnet", cache_dir=tmp_path)
    test_clips = data.clips[:3]
    first = train_fold(data, profile, 1, folds=3, test_clips=test_clips)
    assert first["oof"].shape == (4, 30) and first["test"].shape == (3, 30)
    assert (tmp_path / "models" / "fold_1.keras").is_file()

    def no_training(*args, **kwargs):
        raise AssertionError("trained again")

    monkeypatch.setattr(pipeline, "train_on_split", no_training)
    again = train_fold(data, profile, 1, folds=3, test_clips=test_clips)
    np.testing.assert_array_equal(again["oof"], first["oof"])
    with pytest.raises(AssertionError, match="trained again"):  # another fold count: stale, so it trains
        train_fold(data, profile, 1, folds=4, test_clips=test_clips)


def test_a_fold_holds_out_whole_voice_groups(dacon_folder, tmp_path, monkeypatch):
    import pandas as pd

    import utils.pipeline as pipeline

    monkeypatch.setattr(pipeline, "MODELS_DIR", tmp_path / "models")
    groups = np.array([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5])
    pd.DataFrame({"id": np.arange(12), "group": groups}).to_csv(dacon_folder / "train_groups.csv", index=False)
    profile = get_profile("smoke")
    data = prepare_training(dacon_folder, profile, "wave_resnet", cache_dir=tmp_path)
    np.testing.assert_array_equal(data.groups, groups.astype(str))

    class Split(Exception):
        pass

    def record_split(*args, train_idx, val_idx, **kwargs):
        raise Split(train_idx, val_idx)

    monkeypatch.setattr(pipeline, "train_on_split", record_split)
    with pytest.raises(Split) as split:
        train_fold(data, profile, 0, folds=3, test_clips=data.clips[:2])
    train_idx, val_idx = split.value.args
    assert len(val_idx) == 4 and not set(groups[train_idx]) & set(groups[val_idx])


def test_fresh_mixtures_take_only_the_voices_being_trained_on(dacon_folder, tmp_path, monkeypatch):
    import pandas as pd
    from conftest import tone_bank

    import utils.pipeline as pipeline
    from utils.datagen.writer import write_word_bank

    groups = np.arange(12) // 2
    pd.DataFrame({"id": np.arange(12), "group": groups}).to_csv(dacon_folder / "train_groups.csv", index=False)
    write_word_bank(dacon_folder / "train_words", tone_bank(tuple("abcdef")), dict(zip("abcdef", range(6))))
    profile = get_profile("smoke")
    data = prepare_training(dacon_folder, profile, "wave_resnet_fresh", cache_dir=tmp_path)
    assert list(data.words.groups) == ["0", "1", "2", "3", "4", "5"]
    seen = {}
    monkeypatch.setattr(pipeline, "train_model", lambda *args, settings, **kwargs: seen.setdefault("wave_resnet", settings.augment))
    train_on_split(prepare_training(dacon_folder, profile, "wave_resnet", cache_dir=tmp_path), profile,
                   train_idx=np.arange(10), val_idx=np.arange(10, 12), epochs=1, model_path=tmp_path / "m.keras", random_state=0)
    assert seen["wave_resnet"].words is None  # wave_resnet makes no fresh mixtures
    monkeypatch.setattr(pipeline, "train_model", lambda *args, settings, **kwargs: seen.setdefault("augment", settings.augment))
    train_on_split(data, profile, train_idx=np.flatnonzero(groups != 2), val_idx=np.flatnonzero(groups == 2),
                   epochs=1, model_path=tmp_path / "m.keras", random_state=0)
    assert list(seen["augment"].words.groups) == ["0", "1", "3", "4", "5"]
    assert get_recipe("wave_resnet_fresh").augment.words is None  # the recipe itself is left as it was


def test_embedded_data_from_an_older_version_is_used_with_a_note(dacon_folder, monkeypatch, capsys):
    import utils.training_data as training_data

    monkeypatch.setattr(training_data, "hosted_data_dir", lambda: None)
    monkeypatch.setattr(training_data, "embedded_data_dir", lambda name: dacon_folder)
    assert resolve_data_dir("", get_profile("smoke")) == dacon_folder
    note = capsys.readouterr().out
    assert "without voice groups" in note and "saved words" in note and "Delete the folder" in note
