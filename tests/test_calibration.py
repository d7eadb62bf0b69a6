import numpy as np

from utils.metrics import kl_divergence
from utils.train.calibration import IDENTITY, MIN_PRIOR_WEIGHT, calibrate, calibrated_mean, fit_calibration


def truth_and_overconfident_predictions(n=400, random_state=0):
    rng = np.random.default_rng(random_state)
    truth = np.zeros((n, 30))
    preds = np.full((n, 30), 1e-4)
    for i in range(n):
        words = rng.choice(30, 4, replace=False)
        truth[i, words] = 0.25
        guessed = words.copy()
        guessed[:2] = rng.choice(np.setdiff1d(np.arange(30), words), 2, replace=False)  # half wrong, confidently
        preds[i, guessed] = 0.25
    return truth, preds / preds.sum(axis=1, keepdims=True)


def test_identity_calibration_changes_nothing():
    _, p = truth_and_overconfident_predictions(10)
    np.testing.assert_allclose(calibrate(p, **IDENTITY), p, atol=1e-12)


def test_calibrated_rows_sum_to_one():
    _, p = truth_and_overconfident_predictions(10)
    np.testing.assert_allclose(calibrate(p, temperature=3.0, prior_weight=0.2).sum(axis=1), 1)


def test_fitting_softens_confident_mistakes():
    truth, p = truth_and_overconfident_predictions()
    fitted = fit_calibration(p, truth)
    assert fitted["temperature"] > 1 or fitted["prior_weight"] > 0
    assert kl_divergence(truth, calibrate(p, **fitted)) < 0.6 * kl_divergence(truth, p)
    assert kl_divergence(truth, calibrate(p, **fitted)) < np.log(7.5)


def test_calibration_costs_held_out_predictions_at_most_its_least_prior_share():
    truth, _ = truth_and_overconfident_predictions(200, random_state=1)
    p = 0.9 * truth + 0.1 / 30  # right but timid
    fitted = fit_calibration(p, truth)
    assert fitted == {"temperature": 1.0, "prior_weight": MIN_PRIOR_WEIGHT}
    assert kl_divergence(truth, calibrate(p, **fitted)) <= kl_divergence(truth, p) - np.log(1 - MIN_PRIOR_WEIGHT)


def test_calibration_bounds_the_cost_of_a_word_missed_with_full_confidence():
    truth, _ = truth_and_overconfident_predictions(200, random_state=1)
    p = np.roll(truth, 4, axis=1)  # every word wrong, with full confidence
    assert kl_divergence(truth, calibrate(p, **fit_calibration(truth, truth))) <= np.log(0.25 * 30 / MIN_PRIOR_WEIGHT)


def test_calibration_never_sharpens_timid_predictions():
    truth, _ = truth_and_overconfident_predictions(200, random_state=1)
    p = 0.6 * truth + 0.4 / 30  # right but timid: sharpening would help these voices, and hurt others
    assert fit_calibration(p, truth)["temperature"] >= 1


def test_an_ensemble_is_calibrated_model_by_model_as_fitted():
    rng = np.random.default_rng(0)
    a, b = (rng.dirichlet(np.full(30, 0.3), size=20) for _ in range(2))
    fitted = {"temperature": 0.5, "prior_weight": 0.05}
    np.testing.assert_allclose(calibrated_mean([a], **fitted), calibrate(a, **fitted))
    both = calibrated_mean([a, b], **fitted)
    np.testing.assert_allclose(both, (calibrate(a, **fitted) + calibrate(b, **fitted)) / 2)
    np.testing.assert_allclose(both.sum(axis=1), 1)
    assert not np.allclose(both, calibrate((a + b) / 2, **fitted))  # not the average calibrated afterwards
