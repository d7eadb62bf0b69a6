import numpy as np
import pytest
from conftest import tone_bank

from utils.datagen.writer import write_dataset
from utils.dataset.words import WORDS
from utils.recipes.mel_augment import MelAugment, MelWords, VoiceChange, interpolate_frames, warp_bands
from utils.recipes.mel_features import CLIP_FRAMES, N_MELS, band_frequencies, log_mel

NO_CHANGE = VoiceChange(warp=(1.0, 1.0), tempo=(1.0, 1.0), tilt_db=0.0, eq_db=0.0)


@pytest.fixture
def words_folder(tmp_path):
    """A dataset whose saved words are tones: group "1" speaks them, group "0" is silent."""
    bank = {w: [(s, a if s == "loud" else 0 * a) for s, a in u] for w, u in tone_bank(("loud", "silent")).items()}
    return write_dataset(tmp_path / "data", train_bank=bank, test_bank=tone_bank(("c",)), n_train=4, n_test=2,
                         random_state=0, train_groups={"loud": 1, "silent": 0})


def batch(n=8, random_state=0):
    rng = np.random.default_rng(random_state)
    clips = np.round(rng.normal(0, 3000, size=(n, 16000))).astype(np.int16)
    targets = np.zeros((n, 30), dtype=np.float32)
    targets[:, :4] = 0.25
    return log_mel(clips), targets


def test_with_every_change_off_a_batch_comes_back_unchanged():
    x, y = batch()
    off = MelAugment(fresh=0.0, clip_voice=NO_CHANGE, added_noise=0.0, band_limit=0.0, shift=0, time_masks=(0, 0),
                     band_masks=(0, 0))
    out, targets = off(x, y, np.random.default_rng(0))
    np.testing.assert_allclose(out, x, atol=1e-4)
    np.testing.assert_array_equal(targets, y)


def test_augmented_batches_keep_shapes_and_truths_and_depend_only_on_the_generator():
    x, y = batch()
    first, targets = MelAugment()(x, y, np.random.default_rng(3))
    again, _ = MelAugment()(x, y, np.random.default_rng(3))
    assert first.shape == x.shape and first.dtype == np.float32 and np.isfinite(first).all()
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(targets, y)  # without saved words, no fresh mixtures
    assert not np.allclose(first, x)


def test_fresh_mixtures_come_from_the_chosen_voice_groups_with_their_truths(words_folder, tmp_path):
    words = MelWords.load(words_folder, cache_dir=tmp_path / "cache")
    assert (tmp_path / "cache").is_dir()
    quiet = dict(voice=NO_CHANGE, noise_db=(-80.0, -80.0))
    silent, _ = words.restricted(["0"]).mix(16, np.random.default_rng(0), **quiet)
    loud, labels = words.restricted(["1"]).mix(16, np.random.default_rng(0), **quiet)
    assert loud.shape == (16, CLIP_FRAMES, N_MELS) and silent.max() < loud.max() - 10
    assert ((labels == 0.25).sum(axis=1) == 4).all() and np.allclose(labels.sum(axis=1), 1)
    # Each word of tone_bank is a tone of its own pitch: the four loudest bands belong to the four words.
    tones = log_mel(np.round(32000 * np.sin(2 * np.pi * (200 + 30 * np.arange(len(WORDS)))[:, None]
                                             * np.arange(16000) / 16000)).astype(np.int16))
    band_of_word = tones.mean(axis=1).argmax(axis=1)
    for clip, truth in zip(loud, labels):
        present = band_of_word[truth > 0]
        far = np.abs(np.arange(N_MELS)[:, None] - present[None, :]).min(axis=1) >= 3
        assert clip.max(axis=0)[present].min() > clip.max(axis=0)[far].max() + 3  # e^3: 13 dB louder


def test_fresh_mixtures_replace_their_share_of_a_batch(words_folder, tmp_path):
    words = MelWords.load(words_folder, cache_dir=tmp_path)
    x, y = batch(64)
    y[:] = 0
    y[:, 0] = 1  # real clips say "bed" only; fresh mixtures have four words
    _, targets = MelAugment(fresh=0.5, words=words)(x, y, np.random.default_rng(0))
    fresh = (targets > 0).sum(axis=1) == 4
    assert 16 < fresh.sum() < 48 and np.allclose(targets.sum(axis=1), 1)


def test_interpolated_frames_say_which_positions_fall_inside_their_sequence():
    flat = np.arange(10, dtype=np.float32)[:, None] * np.ones((1, 3), dtype=np.float32)
    frames, inside = interpolate_frames(flat, np.array([0, 4]), np.array([4, 6]), np.array([[0.5, 3.0, 3.5], [-1.0, 2.25, 5.0]]))
    np.testing.assert_allclose(frames[..., 0], [[0.5, 3.0, 3.0], [4.0, 6.25, 9.0]])
    assert inside.tolist() == [[True, True, False], [False, True, True]]


def test_a_band_limit_drops_the_bands_above_its_cutoff_to_the_clips_floor_and_keeps_the_rest():
    x = np.zeros((4, CLIP_FRAMES, N_MELS), dtype=np.float32)  # loud in every band...
    x[:, :20] = -10.0  # ...after a fifth of silence, the clips' floor
    y = np.zeros((4, 30), dtype=np.float32)
    y[:, :4] = 0.25
    limit = MelAugment(fresh=0.0, clip_voice=NO_CHANGE, added_noise=0.0, band_limit=1.0, cutoff_hz=(4000.0, 4000.0),
                       shift=0, time_masks=(0, 0), band_masks=(0, 0))
    out, _ = limit(x, y, np.random.default_rng(0))
    below, above = band_frequencies() < 4000, band_frequencies() > 4500
    np.testing.assert_allclose(out[..., below], x[..., below], atol=1e-5)
    assert np.all(out[:, 20:, above] < -6.0) and np.all(out[..., above] > -10.0 - 1e-5)


def test_band_warp_moves_a_peak_along_the_mel_axis():
    x = np.zeros((2, 1, N_MELS), dtype=np.float32)
    x[:, 0, 20] = 1
    out = warp_bands(x, np.array([1.0, 1.25]))
    assert out[0, 0].argmax() == 20 and out[1, 0].argmax() == 16
