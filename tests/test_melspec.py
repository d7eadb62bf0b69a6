import librosa
import numpy as np
import pytest

from utils.recipes.mel_features import (
    CLIP_FRAMES,
    FLOOR,
    HOP,
    N_FFT,
    N_MELS,
    WINDOW,
    cached_log_mel,
    inverse_log_mel,
    log_mel,
    mel_power,
    standardized,
    word_log_mels,
)
from utils.store import save_npy_atomic


@pytest.fixture
def clips():
    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    tones = np.sin(2 * np.pi * rng.uniform(200, 3000, size=(6, 1)) * t) * rng.uniform(0.1, 0.8, size=(6, 1))
    return np.round((tones + rng.normal(0, 0.01, size=tones.shape)) * 32767).astype(np.int16)


def test_log_mel_matches_librosa(clips):
    audio = clips.astype(np.float32) / 32768
    expected = librosa.feature.melspectrogram(
        y=audio, sr=16000, n_fft=N_FFT, hop_length=HOP, win_length=WINDOW, center=True, pad_mode="constant",
        n_mels=N_MELS, fmin=20.0, fmax=8000.0,
    )
    ours = log_mel(clips)
    assert ours.shape == (6, CLIP_FRAMES, N_MELS) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, np.log(np.swapaxes(expected, 1, 2) + FLOOR), atol=2e-3)


def test_summed_mel_power_is_close_to_the_mel_of_summed_waveforms():
    """Four voiced 'words' (harmonic tones of their own pitch) that partly overlap in time, plus faint noise."""
    rng = np.random.default_rng(1)
    t = np.arange(16000) / 16000
    words = []
    for k, f0 in enumerate((130.0, 175.0, 220.0, 290.0)):
        envelope = np.clip(np.sin(np.pi * (t - 0.2 * k) / 0.4), 0, None) * ((t >= 0.2 * k) & (t <= 0.2 * k + 0.4))
        voiced = sum(np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6)) / h for h in range(1, 8))
        words.append(0.2 * envelope * voiced + rng.normal(0, 1e-3, 16000))
    words = np.asarray(words, dtype=np.float32)
    mixed = 10 * np.log10(mel_power(words.sum(axis=0, keepdims=True))[0] + FLOOR)
    summed = 10 * np.log10(mel_power(words).sum(axis=0) + FLOOR)
    error = np.abs(mixed - summed)
    assert np.median(error) < 1.0 and np.percentile(error, 90) < 4.0  # dB


def test_mel_cache_is_kept_beside_the_clip_cache_and_rebuilt_when_the_clips_change(clips, tmp_path):
    path = tmp_path / "clips-train-abc.npy"
    save_npy_atomic(path, clips)
    first = cached_log_mel(np.load(path, mmap_mode="r"))
    assert first.dtype == np.float16 and isinstance(first, np.memmap)
    assert (tmp_path / "mel-clips-train-abc.npy").is_file()
    np.testing.assert_allclose(first, log_mel(clips), atol=2e-2)
    save_npy_atomic(path, clips[::-1].copy())
    np.testing.assert_allclose(cached_log_mel(np.load(path, mmap_mode="r")), log_mel(clips[::-1]), atol=2e-2)


def test_a_slice_of_the_clip_cache_is_transformed_not_cached(clips, tmp_path):
    path = tmp_path / "clips-train-abc.npy"
    save_npy_atomic(path, clips)
    part = cached_log_mel(np.load(path, mmap_mode="r")[2:4])
    np.testing.assert_allclose(part, log_mel(clips[2:4]), atol=2e-2)
    assert not (tmp_path / "mel-clips-train-abc.npy").exists()


def test_each_saved_word_is_framed_on_its_own(clips):
    lengths = np.array([16000, 5000, 321])
    audio = np.concatenate([clips[0], clips[1, :5000], clips[2, :321]])
    flat, starts = word_log_mels(audio, np.array([0, 16000, 21000]), lengths)
    assert starts.tolist() == [0, 101, 101 + 32] and flat.shape == (101 + 32 + 3, N_MELS)
    alone = log_mel(np.pad(clips[1, :5000], (0, 11000))[None, :])[0, :32]
    np.testing.assert_allclose(flat[101:133], alone, atol=2e-2)


def test_standardized_maps_have_zero_mean_and_unit_deviation(clips):
    x = standardized(log_mel(clips))
    np.testing.assert_allclose(x.mean(axis=(1, 2)), 0, atol=1e-4)
    np.testing.assert_allclose(x.std(axis=(1, 2)), 1, atol=1e-3)


def test_inverse_log_mel_gives_a_second_of_audio_with_the_same_loud_bands(clips):
    audio = inverse_log_mel(log_mel(clips[:2]))
    assert audio.shape == (2, 16000) and np.isfinite(audio).all()
    again = log_mel(np.round(audio * 32767).astype(np.int16))
    original = log_mel(clips[:2])
    assert (again.mean(axis=1).argmax(axis=1) == original.mean(axis=1).argmax(axis=1)).all()
