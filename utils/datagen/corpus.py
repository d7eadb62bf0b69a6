"""Word banks from folder-per-word corpora (like Google Speech Commands), and speakers into voice groups."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from utils.datagen.synth import WordBank, trim_silence
from utils.dataset.words import CLIP_SAMPLES, SAMPLE_RATE, WORDS

TEST_SPEAKER_FRACTION = 0.2  # for folder corpora


def speaker_groups(keys: Mapping[str, str], *, n_groups: int, random_state: int) -> dict[str, int]:
    """Speakers into about ``n_groups`` groups so that speakers sharing a key share a group.

    Parameters
    ----------
    keys : mapping of speaker name to its key (a voice variant, or the speaker itself)

    Returns
    -------
    dict of speaker name to group number, 0 .. min(n_groups, distinct keys) - 1
    """
    distinct = sorted(set(keys.values()))
    n_groups = min(n_groups, len(distinct))
    order = np.random.default_rng(random_state).permutation(len(distinct))
    group_of = {distinct[i]: position % n_groups for position, i in enumerate(order)}
    return {speaker: group_of[key] for speaker, key in keys.items()}


def _speaker_of(path: Path) -> str:
    """``abc123_nohash_0.wav`` -> ``abc123``; otherwise the file stem."""
    stem = path.stem
    return stem.split("_nohash_")[0] if "_nohash_" in stem else stem


def load_word_folder(root: str | Path) -> WordBank:
    """A word bank from a folder-per-word corpus of single-word WAVs.

    Reads ``root/<word>/*.wav`` for each word of WORDS (other folders, like
    ``_background_noise_``, are ignored): downmixed, resampled to 16 kHz,
    silence trimmed, cut to 1 s and peak-normalised; silent files are skipped.
    The speaker is the file-name part before ``_nohash_``, else the stem.

    Returns
    -------
    WordBank
        word -> list of (speaker, float32 audio of shape (n,), n <= 16000).
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: expected a folder with one sub-folder per word")
    bank: WordBank = {}
    for word in WORDS:
        folder = root / word
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: missing folder for the word {word!r}")
        utterances = []
        for path in sorted(folder.glob("*.wav")):
            audio, rate = sf.read(path, dtype="float32", always_2d=True)
            audio = audio.mean(axis=1)
            if rate != SAMPLE_RATE:
                g = np.gcd(SAMPLE_RATE, rate)
                audio = resample_poly(audio, SAMPLE_RATE // g, rate // g).astype(np.float32)
            audio = trim_silence(audio)[:CLIP_SAMPLES]
            peak = np.abs(audio).max(initial=0.0)
            if peak > 0:
                utterances.append((_speaker_of(path), audio / peak))
        if not utterances:
            raise ValueError(f"{folder}: no usable .wav clips for the word {word!r}")
        bank[word] = utterances
    return bank


def split_bank_by_speaker(bank: WordBank, *, test_fraction: float, random_state: int) -> tuple[WordBank, WordBank]:
    """Split a bank into train and test banks with disjoint speakers.

    About ``test_fraction`` of the speakers (at least one, and never all),
    picked from ``random_state``, go to test.

    Returns
    -------
    train_bank, test_bank : WordBank
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    speakers = sorted({speaker for utterances in bank.values() for speaker, _ in utterances})
    if len(speakers) < 2:
        raise ValueError(f"need at least 2 speakers to split, found {len(speakers)}")
    n_test = min(max(1, round(test_fraction * len(speakers))), len(speakers) - 1)
    order = np.random.default_rng(random_state).permutation(len(speakers))
    test_speakers = {speakers[i] for i in order[:n_test]}
    train_bank = {w: [u for u in utterances if u[0] not in test_speakers] for w, utterances in bank.items()}
    test_bank = {w: [u for u in utterances if u[0] in test_speakers] for w, utterances in bank.items()}
    return train_bank, test_bank
