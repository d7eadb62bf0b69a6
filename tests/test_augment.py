import numpy as np
import pytest

from utils.recipes import get_recipe
from utils.recipes.seed_augment import (
    SEED_COPIES,
    add_noise,
    build_seed_training_set,
    seed_augmented_copies,
    time_shift,
)


def test_copies_are_original_noise_shift_pitch():
    rng = np.random.default_rng(0)
    audio = np.sin(np.linspace(0, 2000, 22050)).astype(np.float32) * 0.5
    copies = seed_augmented_copies(audio, rng)
    assert copies.shape == (4, 22050) and SEED_COPIES == ("original", "noise", "shift", "pitch")
    np.testing.assert_array_equal(copies[0], audio)
    np.testing.assert_array_equal(copies[2], np.roll(audio, 2205))
    assert not np.allclose(copies[1], audio)


def test_noise_scale_is_between_0_005_and_0_5():
    for random_state in range(20):
        noise = add_noise(np.zeros(22050, dtype=np.float32), np.random.default_rng(random_state))
        assert 0.004 < noise.std() < 0.51


def test_time_shift_is_a_tenth_of_a_second():
    x = np.arange(22050, dtype=np.float32)
    assert time_shift(x)[2205] == 0


def test_training_set_layout_and_determinism(tmp_path):
    clips = np.random.default_rng(1).integers(-5000, 5000, size=(5, 16000)).astype(np.int16)
    a = build_seed_training_set(clips, tmp_path / "a.npy", random_state=3, chunk=2, n_jobs=1)
    b = build_seed_training_set(clips, tmp_path / "b.npy", random_state=3, chunk=5, n_jobs=2)
    assert a.shape == (20, 98, 221) and a.dtype == np.float16
    np.testing.assert_array_equal(a, b)  # chunking and workers do not change the result
    # rows 0..n-1 are the un-augmented clips
    np.testing.assert_allclose(a[:5].astype(np.float32), get_recipe("seed").featurize(clips), atol=2e-2)
    assert not list(tmp_path.glob(".*"))  # no temporary file left


def test_interrupted_build_leaves_no_file(tmp_path, monkeypatch):
    import utils.recipes.seed_augment as augment

    featurize = augment._featurize_chunk

    def fail_on_second_chunk(clips, rows, random_state):
        if rows[0] > 0:
            raise KeyboardInterrupt
        return featurize(clips, rows, random_state)

    monkeypatch.setattr(augment, "_featurize_chunk", fail_on_second_chunk)
    clips = np.zeros((4, 16000), dtype=np.int16)
    with pytest.raises(KeyboardInterrupt):
        build_seed_training_set(clips, tmp_path / "set.npy", random_state=0, chunk=2, n_jobs=1)
    assert list(tmp_path.iterdir()) == []
