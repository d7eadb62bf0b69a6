import librosa
import numpy as np
import pytest
import soundfile as sf
from scipy import signal

from utils.recipes import get_recipe
from utils.recipes.seed_features import log_spectrogram, seed_features, standardize_frequencies, to_seed_rate


@pytest.fixture
def clips():
    return np.random.default_rng(0).integers(-8000, 8000, size=(3, 16000)).astype(np.int16)


def test_seed_rate_matches_librosa_load(tmp_path, clips):
    path = tmp_path / "clip.wav"
    sf.write(path, clips[0], 16000, subtype="PCM_16")
    expected, rate = librosa.load(path)
    assert rate == 22050
    np.testing.assert_allclose(to_seed_rate(clips[:1])[0], expected, atol=1e-6)


def test_log_spectrogram_matches_scipy_reference(clips):
    audio = to_seed_rate(clips)
    spec = log_spectrogram(audio)
    assert spec.shape == (3, 98, 221)
    _, _, ref = signal.spectrogram(audio[1], fs=22050, window="hann", nperseg=441, noverlap=220, detrend=False)
    np.testing.assert_allclose(spec[1], np.log(ref.T.astype(np.float32) + 1e-10), rtol=1e-5)


def test_standardised_columns_have_zero_mean_unit_std(clips):
    feats = seed_features(to_seed_rate(clips))
    assert feats.dtype == np.float32 and np.isfinite(feats).all()
    np.testing.assert_allclose(feats.mean(axis=1), 0, atol=1e-4)
    # 16 kHz clips hold nothing above 8 kHz (bin 160); the resampler leaves the top bins constant
    np.testing.assert_allclose(feats[:, :, :160].std(axis=1), 1, atol=1e-3)


def test_silent_clip_gives_zeros_not_nan():
    feats = standardize_frequencies(log_spectrogram(np.zeros((1, 22050), dtype=np.float32)))
    assert np.isfinite(feats).all() and (feats == 0).all()


def test_seed_recipe_featurises_int16_clips(clips):
    recipe = get_recipe("seed")
    assert recipe.featurize(clips).shape == (3, 98, 221)
    np.testing.assert_array_equal(recipe.featurize(clips), seed_features(to_seed_rate(clips)))
    with pytest.raises(ValueError, match="unknown recipe 'nope'; expected one of mel_tcn, wave_resnet, wave_resnet_fresh, seed"):
        get_recipe("nope")
