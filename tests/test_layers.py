import keras
import librosa
import numpy as np
import pytest

from utils.recipes.layers import LogMel, SpecAugment, TimeBatchNormalization


def librosa_log_mel(wave, fft):
    mel = librosa.feature.melspectrogram(
        y=wave, sr=16000, n_fft=fft, hop_length=160, window="hann", center=True, pad_mode="reflect",
        power=2.0, n_mels=64, fmin=20.0, fmax=8000.0,
    )
    return np.log(mel.T + 1e-6)


@pytest.fixture
def waves():
    return (np.random.default_rng(0).normal(size=(2, 16000)) * 0.1).astype(np.float32)


def test_log_mel_matches_librosa_after_standardising(waves):
    out = keras.ops.convert_to_numpy(LogMel()(waves))
    assert out.shape == (2, 101, 64, 3)
    ref = np.stack([librosa_log_mel(waves[0], fft) for fft in (256, 512, 1024)], axis=-1)
    ref = (ref - ref.mean(axis=(0, 1))) / (ref.std(axis=(0, 1)) + 1e-5)  # per channel
    np.testing.assert_allclose(out[0], ref, atol=2e-3)


def test_log_mel_barely_changes_with_gain(waves):
    layer = LogMel()
    quiet = keras.ops.convert_to_numpy(layer(waves * 0.1))  # 20 dB down
    loud = keras.ops.convert_to_numpy(layer(waves))
    assert np.abs(quiet - loud).mean() < 0.02


def test_spec_augment_masks_only_while_training():
    layer = SpecAugment(random_state=0)
    x = np.ones((4, 101, 64, 3), dtype=np.float32)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x, training=False)), x)
    masked = keras.ops.convert_to_numpy(layer(x, training=True))
    zero_share = (masked == 0).mean()
    assert 0.02 < zero_share < 0.5 and set(np.unique(masked)) <= {0.0, 1.0}


def test_spec_augment_loads_a_config_saved_before_random_state_was_named_so():
    config = SpecAugment(random_state=3, name="masks").get_config()
    config["seed"] = config.pop("random_state")
    assert SpecAugment.from_config(config).get_config() == SpecAugment(random_state=3, name="masks").get_config()


def test_logmel_resnet_round_trips_through_a_saved_file(tmp_path):
    from utils.recipes.networks import build_model

    model = build_model("logmel_resnet")
    x = (np.random.default_rng(1).normal(size=(2, 16000)) * 0.1).astype(np.float32)
    before = model.predict(x, verbose=0)
    model.save(tmp_path / "m.keras")
    after = keras.models.load_model(tmp_path / "m.keras").predict(x, verbose=0)
    np.testing.assert_allclose(before, after, atol=1e-5)
    np.testing.assert_allclose(after.sum(axis=1), 1, rtol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "mixed_bfloat16"])
def test_time_batch_normalization_gives_keras_batch_normalization_outputs_and_statistics(dtype):
    x = np.random.default_rng(0).normal(2.0, 3.0, size=(16, 25, 8)).astype(np.float32)
    fused, plain = (TimeBatchNormalization(momentum=0.9, dtype=dtype), keras.layers.BatchNormalization(momentum=0.9, dtype=dtype))
    for layer in (fused, plain):
        layer.build(x.shape)
        layer.gamma.assign(np.linspace(0.5, 1.5, 8))
        layer.beta.assign(np.linspace(-1.0, 1.0, 8))
    # apart by the moving variance's n / (n - 1) at inference, by bfloat16 rounding in mixed precision
    tolerance = {"rtol": 1e-2, "atol": 1e-3} if dtype == "float32" else {"rtol": 2e-2, "atol": 5e-2}
    for training in (True, False):
        out = [keras.ops.convert_to_numpy(keras.ops.cast(layer(x, training=training), "float32")) for layer in (fused, plain)]
        np.testing.assert_allclose(out[0], out[1], **tolerance)
        assert np.abs(out[0]).max() > 1  # normalised, not zeroed
    np.testing.assert_allclose(fused.moving_mean.numpy(), plain.moving_mean.numpy(), atol=1e-5)
    # the fused kernel's moving variance follows the unbiased batch variance: n / (n - 1) apart
    np.testing.assert_allclose(fused.moving_variance.numpy(), plain.moving_variance.numpy(), rtol=1e-2)
    assert not np.allclose(fused.moving_mean.numpy(), 0)
