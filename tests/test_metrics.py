import keras
import numpy as np
import pytest

from utils.dataset.words import N_WORDS
from utils.metrics import kl_divergence, kl_divergence_per_clip, top4_recall


def truth_for(*word_sets):
    y = np.zeros((len(word_sets), N_WORDS))
    for row, words in enumerate(word_sets):
        y[row, list(words)] = 0.25
    return y


def test_uniform_prediction_scores_log_7_5():
    y = truth_for([0, 1, 2, 3], [4, 5, 6, 7])
    # ln 7.5 from the present words, a few 1e-5 less from the clipped absent ones
    assert kl_divergence(y, np.full_like(y, 1 / 30)) == pytest.approx(np.log(7.5), abs=1e-4)


def test_perfect_prediction_scores_near_zero():
    y = truth_for([0, 1, 2, 3])
    # absent words: 1e-7 * log(1e-7 / 1e-7) = 0; present: 0.25 * log(1) = 0
    assert kl_divergence(y, y) == pytest.approx(0.0, abs=1e-9)


def test_hand_computed_value():
    y = truth_for([0, 1, 2, 3])
    p = np.full((1, N_WORDS), 0.01)
    p[0, :4] = [0.4, 0.2, 0.1, 0.04]  # sums to 0.74 + 26 * 0.01 = 1
    present = 0.25 * np.log(0.25 / np.array([0.4, 0.2, 0.1, 0.04])).sum()
    absent = 26 * 1e-7 * np.log(1e-7 / 0.01)
    assert kl_divergence_per_clip(y, p)[0] == pytest.approx(present + absent, rel=1e-9)


def test_zero_probability_is_clipped_not_infinite():
    y = truth_for([0, 1, 2, 3])
    p = np.zeros((1, N_WORDS))
    p[0, 10] = 1.0
    assert kl_divergence(y, p) == pytest.approx(4 * 0.25 * np.log(0.25 / 1e-7), rel=1e-6)


def test_matches_keras_kl_divergence():
    rng = np.random.default_rng(0)
    y = truth_for(*[rng.choice(N_WORDS, 4, replace=False) for _ in range(16)])
    p = rng.dirichlet(np.ones(N_WORDS), size=16)
    expected = float(keras.losses.KLDivergence()(y.astype("float32"), p.astype("float32")))
    assert kl_divergence(y, p) == pytest.approx(expected, rel=1e-4)


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shape"):
        kl_divergence(np.zeros((2, 30)), np.zeros((3, 30)))


def test_top4_recall_counts_true_words_in_top_four():
    y = truth_for([0, 1, 2, 3])
    p = np.zeros((1, N_WORDS))
    p[0, [0, 1, 10, 11]] = 0.25  # two of four right
    assert top4_recall(y, p) == 0.5
