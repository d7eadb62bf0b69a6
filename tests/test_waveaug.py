import numpy as np
import pytest

from utils.recipes.wave_augment import WaveAugment, change_speed, remix


def tone(freq, n=16000):
    return np.sin(2 * np.pi * freq * np.arange(n) / 16000).astype(np.float32)


def peak_frequency(wave):
    return np.argmax(np.abs(np.fft.rfft(wave))) * 16000 / len(wave)


@pytest.mark.parametrize("factor", [0.9, 1.0, 1.1])
def test_speed_change_scales_pitch(factor):
    out = change_speed(tone(1000)[None, :], np.array([factor]))[0]
    valid = out[: int(16000 / factor) - 1] if factor > 1 else out
    assert abs(peak_frequency(valid) - 1000 * factor) < 15
    assert out.shape == (16000,)


def test_faster_clip_ends_in_silence():
    out = change_speed(tone(500)[None, :], np.array([1.25]))[0]
    assert (out[12800:] == 0).all() and np.abs(out[:12700]).max() > 0.9


def test_remix_averages_waves_and_truths_and_keeps_sums():
    rng = np.random.default_rng(0)
    waves = rng.normal(size=(8, 100)).astype(np.float32)
    targets = np.zeros((8, 30), dtype=np.float32)
    for i in range(8):
        targets[i, [i, i + 1, i + 2, i + 3]] = 0.25
    mixed_w, mixed_t = remix(waves, targets, rng, share=1.0)
    np.testing.assert_allclose(mixed_t.sum(axis=1), 1, rtol=1e-6)
    assert ((mixed_t > 0).sum(axis=1) > 4).all()  # every clip now carries words of another
    assert not np.shares_memory(mixed_w, waves)


def test_augment_keeps_shapes_and_is_deterministic_for_a_random_state():
    waves = np.stack([tone(300 + 100 * i) for i in range(6)]) * 0.5
    targets = np.full((6, 30), 1 / 30, dtype=np.float32)
    augment = WaveAugment()
    a = augment(waves, targets, np.random.default_rng(3))
    b = augment(waves, targets, np.random.default_rng(3))
    c = augment(waves, targets, np.random.default_rng(4))
    assert a[0].shape == waves.shape and a[0].dtype == np.float32
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.allclose(a[0], c[0])
    assert np.isfinite(a[0]).all()


def test_slower_clip_wraps_its_end_onto_its_start():
    wave = np.zeros((1, 16000), dtype=np.float32)
    wave[0, 15900] = 1.0  # a click near the end
    out = change_speed(wave, np.array([0.9]))[0]
    wrapped = round(15900 / 0.9) - 16000  # where the click lands once slowed, past the end
    assert out[wrapped - 3: wrapped + 3].max() > 0.5 and out[15000:].max() == 0


def test_fresh_mixtures_replace_clips_and_their_truths():
    fresh_truth = np.zeros(30, dtype=np.float32)
    fresh_truth[[1, 5, 9, 20]] = 0.25

    def words(n, rng):
        return np.full((n, 16000), 0.1, dtype=np.float32), np.tile(fresh_truth, (n, 1))

    waves = np.stack([tone(300 + 100 * i) for i in range(6)]) * 0.5
    targets = np.full((6, 30), 1 / 30, dtype=np.float32)
    before = waves.copy()
    _, out = WaveAugment(fresh=1.0, words=words)(waves, targets, np.random.default_rng(0))
    np.testing.assert_array_equal(out, np.tile(fresh_truth, (6, 1)))
    np.testing.assert_array_equal(waves, before)  # the caller's batch is left alone
    _, half = WaveAugment(fresh=0.5, words=words)(waves, targets, np.random.default_rng(0))
    assert 0 < (half[:, 1] == 0.25).sum() < 6
    _, none = WaveAugment(fresh=1.0)(waves, targets, np.random.default_rng(0))  # no saved words: no fresh clips
    np.testing.assert_array_equal(none, targets)
