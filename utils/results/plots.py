"""Figures and tables for the notebooks."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from utils.dataset.words import SAMPLE_RATE, WORDS, WORDS_PER_CLIP
from utils.metrics import kl_divergence_per_clip


def word_counts(answers: np.ndarray) -> pd.Series:
    """How many clips contain each word."""
    return pd.Series((np.asarray(answers) > 0).sum(axis=0), index=WORDS, name="clips")


def cooccurrence(answers: np.ndarray) -> pd.DataFrame:
    """(30, 30) counts of clips in which two words appear together (diagonal: the word's own count)."""
    present = (np.asarray(answers) > 0).astype(np.int64)
    return pd.DataFrame(present.T @ present, index=WORDS, columns=WORDS)


def loudness_table(clips: np.ndarray, *, silence_db: float = -40.0, frame: int = 400) -> pd.DataFrame:
    """Per-clip peak, RMS level (dBFS) and share of 25 ms frames quieter than ``silence_db``.

    Parameters
    ----------
    clips : np.ndarray, shape (n, 16000), int16
    """
    audio = np.asarray(clips, dtype=np.float32) / 32768.0
    frames = audio[:, : audio.shape[1] // frame * frame].reshape(len(audio), -1, frame)
    frame_db = 10 * np.log10(np.mean(frames**2, axis=-1) + 1e-12)
    return pd.DataFrame({
        "peak": np.abs(audio).max(axis=1),
        "rms_db": 10 * np.log10(np.mean(audio**2, axis=1) + 1e-12),
        "silent_share": (frame_db < silence_db).mean(axis=1),
    })


def plot_word_counts(answers: np.ndarray):
    fig, ax = plt.subplots(figsize=(12, 3))
    word_counts(answers).plot.bar(ax=ax)
    ax.set_ylabel("clips")
    ax.set_title("Clips containing each word")
    return fig


def plot_cooccurrence(answers: np.ndarray):
    fig, ax = plt.subplots(figsize=(9, 8))
    table = cooccurrence(answers)
    sns.heatmap(table.where(~np.eye(len(WORDS), dtype=bool)), ax=ax, cmap="viridis", square=True)
    ax.set_title("Clips in which two words overlap")
    return fig


def plot_loudness(table: pd.DataFrame):
    fig, axes = plt.subplots(1, 3, figsize=(12, 3))
    for ax, column in zip(axes, table.columns):
        sns.histplot(table[column], ax=ax, bins=30)
    fig.tight_layout()
    return fig


def plot_waveforms(clips: np.ndarray, titles: list[str]):
    fig, axes = plt.subplots(len(clips), 1, figsize=(10, 1.8 * len(clips)), sharex=True, squeeze=False)
    t = np.arange(clips.shape[1]) / SAMPLE_RATE
    for ax, clip, title in zip(axes[:, 0], clips, titles):
        ax.plot(t, np.asarray(clip) / 32768.0, linewidth=0.5)
        ax.set_title(title, fontsize=9)
    axes[-1, 0].set_xlabel("seconds")
    fig.tight_layout()
    return fig


def plot_features(features: np.ndarray, titles: list[str]):
    """Show (time, frequency) feature maps with time on the x axis."""
    fig, axes = plt.subplots(1, len(features), figsize=(4 * len(features), 3), squeeze=False)
    for ax, feature, title in zip(axes[0], features, titles):
        ax.imshow(np.asarray(feature, dtype=np.float32).T, origin="lower", aspect="auto", cmap="magma")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("frame")
    axes[0, 0].set_ylabel("frequency bin")
    fig.tight_layout()
    return fig


def plot_history(history, *, title: str = "Learning curves"):
    """Loss per epoch from a Keras History (its ``epoch`` list, so early stopping shows)."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    epochs = np.array(history.epoch) + 1
    for key in ("loss", "val_loss"):
        if key in history.history:
            ax.plot(epochs, history.history[key], marker="o", label=key)
    ax.axhline(np.log(7.5), color="grey", linestyle=":", label="uniform guess")
    ax.set_xlabel("epoch")
    ax.set_ylabel("KL divergence")
    ax.set_title(title)
    ax.legend()
    return fig


def describe_words(row: np.ndarray) -> str:
    """The words present in an answer row, as text."""
    return " + ".join(w for w, v in zip(WORDS, row) if v > 0)


# --- what a model gets wrong (validation predictions) ----------------------------------------------


def _top4(predictions: np.ndarray) -> np.ndarray:
    """(n, 30) bool: each clip's four most probable words."""
    order = np.argsort(-np.asarray(predictions), axis=1)[:, :WORDS_PER_CLIP]
    top = np.zeros(np.shape(predictions), dtype=bool)
    np.put_along_axis(top, order, True, axis=1)
    return top


def recall_per_word(truth: np.ndarray, predictions: np.ndarray) -> pd.Series:
    """For each word, the share of the clips holding it that have it among their four most probable words."""
    present = np.asarray(truth) > 0
    hits = (present & _top4(predictions)).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.Series(hits / present.sum(axis=0), index=WORDS, name="recall")


def plot_recall_per_word(truth: np.ndarray, predictions: np.ndarray):
    recall = recall_per_word(truth, predictions).sort_values()
    fig, ax = plt.subplots(figsize=(12, 3))
    recall.plot.bar(ax=ax)
    ax.axhline(WORDS_PER_CLIP / len(WORDS), color="grey", linestyle=":", label="chance")
    ax.set_ylabel("top-4 recall")
    ax.set_title("How often each word present is among the four most probable")
    ax.legend()
    return fig


def confused_pairs(truth: np.ndarray, predictions: np.ndarray, *, top: int = 10) -> pd.DataFrame:
    """The most frequent (missed word, word predicted instead) pairs: in a clip, a word present but
    not in the top four, and a word in the top four but absent; counted once per clip and pair."""
    present = np.asarray(truth) > 0
    predicted = _top4(predictions)
    missed, wrong = (present & ~predicted).astype(np.int64), (predicted & ~present).astype(np.int64)
    counts = pd.DataFrame(missed.T @ wrong, index=WORDS, columns=WORDS).stack()
    counts = counts[counts > 0].sort_values(ascending=False, kind="stable").head(top)
    return pd.DataFrame({"missed": counts.index.get_level_values(0), "predicted instead": counts.index.get_level_values(1),
                         "clips": counts.to_numpy()})


def kld_by_loudness(truth: np.ndarray, predictions: np.ndarray, clips: np.ndarray, *, bins: int = 5) -> pd.DataFrame:
    """Mean KL divergence of the clips in each loudness bin (RMS dBFS quantiles), with the clip counts."""
    table = pd.DataFrame({"rms_db": loudness_table(clips)["rms_db"],
                          "kld": kl_divergence_per_clip(truth, predictions)})
    table["loudness"] = pd.qcut(table["rms_db"], q=bins, duplicates="drop")
    grouped = table.groupby("loudness", observed=True)["kld"]
    return pd.DataFrame({"clips": grouped.size(), "mean_kld": grouped.mean()})


def plot_kld_by_loudness(table: pd.DataFrame):
    """A kld_by_loudness table as bars, quietest bin first."""
    fig, ax = plt.subplots(figsize=(7, 3))
    labels = [f"{b.left:.0f} to {b.right:.0f}" for b in table.index]
    ax.bar(labels, table["mean_kld"])
    ax.axhline(np.log(7.5), color="grey", linestyle=":", label="uniform guess")
    ax.set_xlabel("clip RMS level (dBFS)")
    ax.set_ylabel("mean KL divergence")
    ax.set_title("Validation KLD by clip loudness")
    ax.legend()
    return fig
