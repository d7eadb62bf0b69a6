"""Every recipe gives the same interface: what it trains on, the pictures 01 to 03 show, its fresh mixtures."""
import numpy as np
import pytest
from conftest import tone_bank, tone_clips

from utils.datagen.writer import write_word_bank
from utils.profiles import PROFILES
from utils.recipes import RECIPES, get_recipe
from utils.recipes.networks import MODELS


@pytest.mark.parametrize("name", list(RECIPES))
def test_every_recipe_names_a_network_and_is_sized_by_every_profile(name):
    recipe = get_recipe(name)
    assert recipe.name == name and recipe.model in MODELS
    assert all(recipe.family in profile.training for profile in PROFILES.values())


def test_only_the_seed_trains_on_an_offline_set_of_copies():
    assert get_recipe("seed").copies == 4 and get_recipe("seed").train_transform is None
    for name in ("wave_resnet", "wave_resnet_fresh", "mel_tcn"):
        assert get_recipe(name).copies == 1 and get_recipe(name).train_transform is not None


@pytest.mark.parametrize("name, rate", [("seed", 22050), ("wave_resnet", 16000), ("mel_tcn", 16000)])
def test_examples_are_the_clip_and_three_augmented_versions(name, rate):
    clip = tone_clips(1, random_state=0)[0][0]
    names, maps, waves, sample_rate = get_recipe(name).examples(clip, np.random.default_rng(0))
    assert len(names) == len(maps) == len(waves) == 4 and sample_rate == rate
    assert maps.ndim == 3 and np.isfinite(maps).all() and np.isfinite(waves).all()
    assert not np.array_equal(maps[0], maps[1])  # augmented


@pytest.mark.parametrize("name", ["seed", "wave_resnet", "mel_tcn"])
def test_clip_feature_maps_are_one_map_per_clip(name):
    clips = tone_clips(2, random_state=1)[0]
    maps = get_recipe(name).clip_feature_maps(clips)
    assert maps.shape[0] == 2 and maps.ndim == 3 and np.isfinite(maps).all()


def test_fresh_mixtures_come_only_from_recipes_that_train_on_them(dacon_folder):
    write_word_bank(dacon_folder / "train_words", tone_bank(), None)
    rng = np.random.default_rng(0)
    assert get_recipe("seed").fresh_examples(dacon_folder, rng) is None
    assert get_recipe("wave_resnet").fresh_examples(dacon_folder, rng) is None
    names, maps, waves, rate = get_recipe("wave_resnet_fresh").fresh_examples(dacon_folder, rng)
    assert len(names) == 3 and maps.shape[0] == 3 and waves.shape == (3, 16000) and rate == 16000
    assert all(len(n.split(" + ")) == 4 for n in names)  # four words each


def test_no_saved_words_no_fresh_mixtures(dacon_folder):
    assert get_recipe("wave_resnet_fresh").fresh_examples(dacon_folder, np.random.default_rng(0)) is None
    assert get_recipe("wave_resnet_fresh").load_words(dacon_folder) is None


@pytest.mark.parametrize("name", list(RECIPES))
def test_test_views_start_with_the_unchanged_clip_and_keep_the_input_shape(name):
    recipe = get_recipe(name)
    rows = recipe.source(tone_clips(2, random_state=2)[0])
    views = recipe.test_views()
    assert len(views) >= len(recipe.tta_shifts) and recipe.tta_shifts[0] == 0
    plain = recipe.featurize(rows)
    np.testing.assert_array_equal(views[0](rows), plain)
    assert all(view(rows).shape == plain.shape for view in views)


def test_mel_tcn_also_views_each_clip_with_its_mel_axis_warped_both_ways():
    recipe = get_recipe("mel_tcn")
    assert recipe.tta_warps == (0.95, 1.05)
    rows = np.zeros((1, 101, 40), dtype=np.float16)
    rows[0, :, 20] = 1  # all the energy in one band
    lower, higher = (view(rows)[0].argmax(axis=1) for view in recipe.test_views()[-2:])
    assert (lower == 21).all() and (higher == 19).all()  # band b reads band b * warp
