import keras
import numpy as np
import pytest

from utils.recipes.layers import SpecAugment, TimeBatchNormalization
from utils.train.norm_adaptation import MIN_CLIPS, adapted_norms


def normed_model(norm=keras.layers.BatchNormalization) -> keras.Model:
    """Frames (20, 3) -> a batch norm -> mean over frames -> softmax over 3: its inputs' offsets move its outputs."""
    inputs = keras.Input((20, 3))
    x = keras.layers.GlobalAveragePooling1D()(norm()(inputs))
    return keras.Model(inputs, keras.layers.Softmax()(x))


def frames(n: int, offset: float, random_state: int = 0) -> np.ndarray:
    return (np.random.default_rng(random_state).normal(size=(n, 20, 3)) + offset).astype(np.float32)


def trained_on(model: keras.Model, x: np.ndarray) -> keras.Model:
    """The model's batch norm left with the statistics of ``x``, as training leaves them."""
    norm = model.layers[1]
    norm.moving_mean.assign(x.mean(axis=(0, 1)))
    norm.moving_variance.assign(x.var(axis=(0, 1)))
    return model


@pytest.mark.parametrize("norm", [keras.layers.BatchNormalization, TimeBatchNormalization])
def test_clips_offset_from_the_training_voices_are_predicted_as_the_training_voices_are(norm):
    model = trained_on(normed_model(norm), frames(300, 0.0))
    heard, shifted = frames(300, 0.0, random_state=1), frames(300, 0.0, random_state=1) + np.float32([2, -1, 0.5])
    expected = model.predict(heard, verbose=0)
    assert np.abs(model.predict(shifted, verbose=0) - expected).max() > 0.3
    with adapted_norms(model, shifted, weight=1.0):
        np.testing.assert_allclose(model.predict(shifted, verbose=0), expected, atol=0.03)


def test_the_weight_mixes_the_rows_statistics_with_the_training_ones_and_exit_restores_them():
    model = trained_on(normed_model(), frames(300, 0.0))
    norm = model.layers[1]
    before = norm.moving_mean.numpy().copy(), norm.moving_variance.numpy().copy()
    target = np.concatenate([frames(100, -4.0, random_state=2), 3 * frames(300, 0.0, random_state=3) + 4])
    with adapted_norms(model, target, weight=0.5, rows=np.arange(100, 400)):  # the rows of mean 4, variance 9
        np.testing.assert_allclose(norm.moving_mean.numpy(), 0.5 * before[0] + 0.5 * 4, atol=0.1)
        np.testing.assert_allclose(norm.moving_variance.numpy(), 0.5 * before[1] + 0.5 * 9, rtol=0.05)
    np.testing.assert_array_equal(norm.moving_mean.numpy(), before[0])
    np.testing.assert_array_equal(norm.moving_variance.numpy(), before[1])
    assert norm.momentum == 0.99


def test_random_layers_are_switched_off_while_the_statistics_are_gathered_and_after_are_as_they_were():
    inputs = keras.Input((20, 3))
    noisy = SpecAugment(time_masks=3, freq_masks=1, time_width=8, freq_width=2, random_state=0)
    x = keras.layers.Reshape((20, 3))(noisy(keras.layers.Reshape((20, 3, 1))(keras.layers.Dropout(0.8)(inputs))))
    model = keras.Model(inputs, keras.layers.BatchNormalization()(x))
    norm, dropout = model.layers[-1], model.layers[1]
    target = frames(300, 2.0)
    with adapted_norms(model, target, weight=1.0):
        np.testing.assert_allclose(norm.moving_mean.numpy(), target.mean(axis=(0, 1)), atol=1e-3)
    assert (dropout.rate, noisy.time_masks, noisy.freq_masks) == (0.8, 3, 1)
    with pytest.raises(ValueError, match="weight 1.5: expected a number from 0 to 1"):
        with adapted_norms(model, target, weight=1.5):
            pass


def test_an_error_while_predicting_still_restores_the_training_statistics():
    model = trained_on(normed_model(), frames(300, 0.0))
    before = model.layers[1].moving_mean.numpy().copy()
    with pytest.raises(RuntimeError), adapted_norms(model, frames(300, 3.0), weight=1.0):
        raise RuntimeError("stopped")
    np.testing.assert_array_equal(model.layers[1].moving_mean.numpy(), before)


def test_too_few_clips_or_a_zero_weight_keep_the_training_statistics():
    model = trained_on(normed_model(), frames(300, 0.0))
    before = model.layers[1].moving_mean.numpy().copy()
    for inputs, weight in ((frames(MIN_CLIPS - 1, 3.0), 1.0), (frames(300, 3.0), 0.0)):
        with adapted_norms(model, inputs, weight=weight):
            np.testing.assert_array_equal(model.layers[1].moving_mean.numpy(), before)
