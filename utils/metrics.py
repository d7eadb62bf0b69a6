"""The competition metric and a few readable companions."""
import numpy as np

EPSILON = 1e-7  # Keras clips both sides to [1e-7, 1] before the log


def kl_divergence_per_clip(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """KL(truth || prediction) of each clip, as keras.losses.KLDivergence computes it.

    Parameters
    ----------
    y_true, y_pred : np.ndarray, shape (n, 30)

    Returns
    -------
    np.ndarray, shape (n,)
    """
    y_true = np.clip(np.asarray(y_true, dtype=np.float64), EPSILON, 1.0)
    y_pred = np.clip(np.asarray(y_pred, dtype=np.float64), EPSILON, 1.0)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"truth has shape {y_true.shape} but prediction has shape {y_pred.shape}")
    return np.sum(y_true * np.log(y_true / y_pred), axis=-1)


def kl_divergence(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """The leaderboard score: KL divergence averaged over clips (lower is better)."""
    return float(np.mean(kl_divergence_per_clip(y_true, y_pred)))


def top4_recall(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Share of the words present that are among each clip's four most probable words."""
    y_true = np.asarray(y_true)
    top4 = np.argsort(-np.asarray(y_pred), axis=-1)[:, :4]
    present = y_true > 0
    hits = np.take_along_axis(present, top4, axis=-1).sum()
    return float(hits / present.sum())
