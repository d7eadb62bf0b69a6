"""A dataset's saved training words (``train_words/``) and fresh mixtures of them while training."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from utils.dataset.errors import DataError
from utils.dataset.mixes import NOISE_BANK_SAMPLES, draw_mixes, noise_bank, render_mixes
from utils.dataset.words import CLIP_SAMPLES, N_WORDS, WORDS

WORDS_FOLDER = "train_words"  # in a written dataset: its training words, for fresh mixtures


class WordMixer:
    """Fresh training clips, mixed as a dataset's own training clips were, from its saved words.

    ``WordMixer.load(data_dir)`` reads ``data_dir/train_words/``;
    ``restricted(groups)`` keeps the voices of some groups only (those a
    model trains on, never those it is validated on); calling it mixes clips.
    """

    def __init__(self, audio: np.ndarray, index: pd.DataFrame, *, where: Path):
        self.audio, self.where = audio, where  # int16 (total,), every utterance end to end
        self.index = index.reset_index(drop=True)
        word = pd.Categorical(self.index["word"], categories=WORDS).codes.astype(np.int64)
        names, group = np.unique(self.index["group"].to_numpy(dtype=str), return_inverse=True)
        order = np.lexsort((group, word))
        self.starts = self.index["start"].to_numpy(np.int64)[order]
        self.lengths = self.index["length"].to_numpy(np.int64)[order]
        cells = word[order] * len(names) + group[order]
        count = np.bincount(cells, minlength=N_WORDS * len(names))
        self.first = (np.cumsum(count) - count).reshape(N_WORDS, len(names))
        self.count = count.reshape(N_WORDS, len(names))
        missing = np.argwhere(self.count == 0)
        if len(missing):
            w, g = missing[0]
            raise DataError(f"{where}: no utterance of {WORDS[w]!r} by a speaker of voice group {names[g]}")
        self.groups = names

    @classmethod
    def load(cls, data_dir: str | Path) -> "WordMixer | None":
        """The words saved beside a dataset, or None when it has none (like the DACON download)."""
        folder = Path(data_dir) / WORDS_FOLDER
        if not folder.is_dir():
            return None
        index_path, audio_path = folder / "index.csv", folder / "audio.npy"
        try:
            index = pd.read_csv(index_path, dtype={"word": str, "group": str, "speaker": str})
            audio = np.load(audio_path, mmap_mode="r")
        except (OSError, ValueError) as error:
            raise DataError(f"{folder}: expected audio.npy and index.csv as the kit writes them ({error})") from None
        if audio.dtype != np.int16 or audio.ndim != 1:
            raise DataError(f"{audio_path}: expected one row of int16 samples, found {audio.dtype} of shape {audio.shape}")
        if list(index.columns) != ["word", "group", "speaker", "start", "length"] or index.empty:
            raise DataError(f"{index_path}: expected the columns word, group, speaker, start, length, "
                            "and a row per word")
        bad = ~index["word"].isin(WORDS) | index["group"].isna()
        bad |= ~pd.to_numeric(index["start"], errors="coerce").between(0, audio.size - 1)
        bad |= ~pd.to_numeric(index["length"], errors="coerce").between(1, CLIP_SAMPLES)
        if not bad.any():
            bad |= index["start"] + index["length"] > audio.size
        if bad.any():
            raise DataError(f"{index_path}: row {np.flatnonzero(bad)[0] + 2}: expected a word of WORDS, a group, "
                            f"and a start and length inside the samples of {audio_path.name}")
        return cls(audio, index, where=folder)

    def restricted(self, groups) -> "WordMixer":
        """The same words by the voices of ``groups`` only (labels as in train_groups.csv); None keeps all."""
        if groups is None:
            return self
        keep = self.index["group"].isin([str(g) for g in groups])
        if not keep.any():
            raise DataError(f"{self.where}: no words by the voice groups {sorted(map(str, groups))}")
        return WordMixer(self.audio, self.index[keep], where=self.where)

    def __call__(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` fresh mixtures, each from the voices of one random group.

        Returns
        -------
        waves : np.ndarray, shape (n, 16000), float32 in [-1, 1] (int16 scale / 32768, like ``recipes.waveform``)
        labels : np.ndarray, shape (n, 30), float32
        """
        mixes = draw_mixes(rng, n, self.first, self.count, self.lengths, grouped=True)
        mixes["gain"] = mixes["gain"] / np.float32(32767)  # the utterances are int16
        windows = np.lib.stride_tricks.sliding_window_view(noise_bank(), CLIP_SAMPLES)
        noise = windows[rng.integers(0, NOISE_BANK_SAMPLES - CLIP_SAMPLES, size=n)]
        waves = render_mixes(self.audio, self.starts, mixes, slice(0, n), noise)
        waves /= np.float32(32768)
        return waves, mixes["labels"]
