"""Calibration: a temperature and a share of the uniform prior, fitted to minimise KL divergence.

A network trained on some voices is often confidently wrong on others; a
temperature above 1 softens its probabilities and the prior share bounds the
cost of a confident miss.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit

from utils.dataset.words import N_WORDS
from utils.metrics import kl_divergence

IDENTITY = {"temperature": 1.0, "prior_weight": 0.0}
# the least share of the uniform prior: it costs at most ln(1 / (1 - 0.05)) = 0.051 of KLD on any clip, and caps
# the cost of a word missed with full confidence at 0.25 ln(0.25 * 30 / 0.05) = 1.25 (README, "Other speech engines")
MIN_PRIOR_WEIGHT = 0.05


def calibrate(probabilities: np.ndarray, *, temperature: float, prior_weight: float) -> np.ndarray:
    """Soften probabilities by a temperature, then mix in the uniform prior.

    Parameters
    ----------
    probabilities : np.ndarray, shape (n, 30)

    Returns
    -------
    np.ndarray, shape (n, 30), rows summing to 1
    """
    logits = np.log(np.clip(probabilities, 1e-12, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    soft = np.exp(logits)
    soft /= soft.sum(axis=1, keepdims=True)
    return (1.0 - prior_weight) * soft + prior_weight / N_WORDS


def fit_calibration(probabilities: np.ndarray, truth: np.ndarray) -> dict:
    """The temperature (1..20) and prior weight (MIN_PRIOR_WEIGHT..1) that minimise KLD on held-out predictions.

    It only softens, and always keeps some of the prior: held-out voices of the engine or speakers trained on
    are much closer to the training voices than other engines' are, and what fits them best is too sure of
    itself elsewhere (README, "Other speech engines").
    """

    def unpack(params):
        weight = MIN_PRIOR_WEIGHT + (1 - MIN_PRIOR_WEIGHT) * expit(params[1])
        return {"temperature": float(np.exp(np.clip(params[0], 0, 3))), "prior_weight": float(weight)}

    def loss(params):
        return kl_divergence(truth, calibrate(probabilities, **unpack(params)))

    least = np.array([0.0, -np.inf])  # temperature 1, the least prior weight
    best = minimize(loss, x0=np.array([0.0, -4.0]), method="Nelder-Mead", options={"xatol": 1e-4, "fatol": 1e-6})
    return unpack(best.x if loss(best.x) < loss(least) else least)


def calibrated_mean(predictions, *, temperature: float, prior_weight: float) -> np.ndarray:
    """Several models' probabilities, each calibrated, then averaged.

    The calibration is fitted on single models' out-of-fold predictions, so
    it is applied to each model's predictions, where it was fitted, not to
    their (already softer) average.

    Parameters
    ----------
    predictions : sequence of np.ndarray, each of shape (n, 30)

    Returns
    -------
    np.ndarray, shape (n, 30)
    """
    return np.mean([calibrate(p, temperature=temperature, prior_weight=prior_weight) for p in predictions], axis=0)
