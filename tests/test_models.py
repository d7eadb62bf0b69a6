import numpy as np
import pytest

from utils.recipes.networks import build_model, seed_cnn


def test_seed_cnn_has_the_seed_parameter_count():
    assert seed_cnn().count_params() == 780_862


def test_seed_cnn_outputs_probabilities_over_30_words():
    model = seed_cnn()
    out = model.predict(np.random.default_rng(0).normal(size=(2, 98, 221, 1)).astype("float32"), verbose=0)
    assert out.shape == (2, 30)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)
    assert np.isfinite(out).all() and (out >= 0).all()


@pytest.mark.parametrize("name", ["logmel_resnet", "logmel_densenet", "wave1d_cnn"])
def test_waveform_networks_take_waveforms_and_start_from_the_uniform_guess(name):
    model = build_model(name)
    out = model.predict(np.random.default_rng(0).normal(size=(2, 16000)).astype("float32") * 0.1, verbose=0)
    np.testing.assert_allclose(out, 1 / 30, rtol=1e-5)  # zero-initialised head


def test_unknown_model_name_is_refused():
    with pytest.raises(ValueError, match="unknown network 'resnet9000'; expected one of seed_cnn, logmel_resnet"):
        build_model("resnet9000")
