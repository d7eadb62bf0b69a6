"""Figures and tables for the notebooks."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from utils.words import SAMPLE_RATE, WORDS


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
