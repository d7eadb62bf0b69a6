"""Build a DACON-layout dataset by overlapping single spoken words.

The layout written (the kit's contract with its users)::

    DATA_DIR/train/train_00000.wav ...   16 kHz mono int16, exactly 1 s
    DATA_DIR/train_answer.csv            id, then the 30 WORDS; 0.25 for each word present, else 0
    DATA_DIR/test/test_00000.wav ...
    DATA_DIR/submission.csv              id, then the 30 WORDS, all 0 (the template)
    DATA_DIR/test_answer.csv             like train_answer.csv, for scoring only
    DATA_DIR/train_groups.csv            id, group: the voice group each training clip's words come from
    DATA_DIR/train_words/                the training side's single words (audio.npy, index.csv), for
                                         fresh mixtures during training (``utils.dataset.saved_words``)

Words come either from eSpeak NG (``utils.datagen.synth``) or from a folder-per-word
corpus such as Google Speech Commands. Command line::

    python -m utils.datagen --out DIR --train N --test N [--random-state S] [--words-from CORPUS_DIR]
"""
from __future__ import annotations

import json
import shutil
import wave
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np
import pandas as pd

from utils.datagen.corpus import speaker_groups
from utils.datagen.synth import WordBank, build_word_bank, split_speakers
from utils.dataset.mixes import draw_mixes, render_mixes
from utils.dataset.saved_words import WORDS_FOLDER
from utils.dataset.words import CLIP_SAMPLES, N_WORDS, SAMPLE_RATE, WORDS

VOICE_GROUPS = 10  # training clips mix voices of one group; validation can hold out whole groups
_CHUNK = 1024  # clips mixed at a time; fixed so results do not depend on memory use


def _flatten_bank(bank: WordBank, groups: Mapping[str, int] | None = None):
    """All utterances end to end, grouped by word in WORDS order, then by speaker group.

    Returns
    -------
    flat : np.ndarray, shape (total,), float32
    starts, lengths : np.ndarray, shape (n_utterances,), int64
    first, count : np.ndarray, shape (30, n_groups), int64
        Utterances of word w by speakers of group g are ``first[w, g] + arange(count[w, g])``.
    speakers : list of str, (n_utterances,)
    """
    n_groups = max(groups.values()) + 1 if groups else 1
    pieces, speakers = [], []
    first, count = np.zeros((N_WORDS, n_groups), np.int64), np.zeros((N_WORDS, n_groups), np.int64)
    for w, word in enumerate(WORDS):
        by_group = [[] for _ in range(n_groups)]
        for speaker, audio in bank.get(word, []):
            audio = np.asarray(audio, dtype=np.float32)[:CLIP_SAMPLES]
            if audio.size:
                by_group[groups[speaker] if groups else 0].append((speaker, audio))
        if not any(by_group):
            raise ValueError(f"the word bank has no utterance of {word!r}")
        for g, utterances in enumerate(by_group):
            if not utterances:
                raise ValueError(f"the word bank has no utterance of {word!r} by a speaker of voice group {g}")
            first[w, g], count[w, g] = len(pieces), len(utterances)
            speakers += [speaker for speaker, _ in utterances]
            pieces += [audio for _, audio in utterances]
    lengths = np.array([len(p) for p in pieces], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return np.concatenate(pieces), starts, lengths, first, count, speakers


def _iter_mix(
    bank: WordBank, *, n_clips: int, random_state: int, groups: Mapping[str, int] | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """mix_words in chunks of up to _CHUNK clips, same results, bounded memory; also yields each clip's group."""
    flat, starts, lengths, first, count, _ = _flatten_bank(bank, groups)
    rng = np.random.default_rng(random_state)
    mixes = draw_mixes(rng, n_clips, first, count, lengths, grouped=bool(groups))
    noise_states = rng.integers(2**63, size=-(-n_clips // _CHUNK))
    for chunk, start in enumerate(range(0, n_clips, _CHUNK)):
        rows = slice(start, min(start + _CHUNK, n_clips))
        noise = np.random.default_rng(noise_states[chunk]).standard_normal((rows.stop - start, CLIP_SAMPLES),
                                                                            dtype=np.float32)
        mix = render_mixes(flat, starts, mixes, rows, noise)
        clips = np.clip(np.rint(mix), -32767, 32767).astype(np.int16)
        yield clips, mixes["labels"][rows], mixes["group"][rows]


def mix_words(
    bank: WordBank, *, n_clips: int, random_state: int, groups: Mapping[str, int] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Overlap four different words per clip.

    Each word is a random utterance from ``bank`` at a random offset (at least
    ``MIN_INSIDE`` of it inside the clip) and random gain; the sum gets light
    Gaussian noise and is scaled to a random peak. With ``groups``, each clip
    takes all its words from the speakers of one random group, so whole
    groups of voices can be held out to validate on.

    Parameters
    ----------
    bank : WordBank
        Needs at least one utterance of every word in WORDS (in every group).
    n_clips : int
    random_state : int
    groups : mapping of speaker name to group number (0, 1, ...), optional
        Without it, any speaker goes with any other.

    Returns
    -------
    clips : np.ndarray, shape (n_clips, 16000), int16
    labels : np.ndarray, shape (n_clips, 30), float32
        0.25 in the columns (WORDS order) of the four words, else 0.
    clip_groups : np.ndarray, shape (n_clips,), int64
        Each clip's group (all 0 without ``groups``).
    """
    clips = np.empty((n_clips, CLIP_SAMPLES), dtype=np.int16)
    labels = np.empty((n_clips, N_WORDS), dtype=np.float32)
    clip_groups = np.empty(n_clips, dtype=np.int64)
    done = 0
    for chunk_clips, chunk_labels, chunk_groups in _iter_mix(bank, n_clips=n_clips, random_state=random_state, groups=groups):
        rows = slice(done, done + len(chunk_clips))
        clips[rows], labels[rows], clip_groups[rows] = chunk_clips, chunk_labels, chunk_groups
        done += len(chunk_clips)
    return clips, labels, clip_groups


def write_word_bank(folder: Path, bank: WordBank, groups: Mapping[str, int] | None) -> None:
    """``folder/audio.npy``: every utterance end to end, int16; ``folder/index.csv``: word, group, speaker, start, length."""
    flat, starts, lengths, first, count, speakers = _flatten_bank(bank, groups)
    word, group = np.divmod(np.repeat(np.arange(count.size), count.ravel()), count.shape[1])
    folder.mkdir()
    np.save(folder / "audio.npy", np.clip(np.rint(flat * 32767), -32767, 32767).astype(np.int16))
    index = pd.DataFrame({"word": np.array(WORDS)[word], "group": group, "speaker": speakers,
                          "start": starts, "length": lengths})
    index.to_csv(folder / "index.csv", index=False)


def check_free(out_dir: Path) -> None:
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise FileExistsError(f"{out_dir}: already exists and is not empty; choose a new folder or remove it")


def _write_wav(path: Path, clip: np.ndarray) -> None:
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(SAMPLE_RATE)
        f.writeframes(clip.astype("<i2").tobytes())


def _word_table(ids: np.ndarray, values: np.ndarray) -> pd.DataFrame:
    table = pd.DataFrame(values, columns=WORDS)
    table.insert(0, "id", ids)
    return table


def _write_side(out_dir: Path, side: str, bank: WordBank, n_clips: int, random_state: int,
                groups: Mapping[str, int] | None = None) -> None:
    """Write ``out_dir/side/side_00000.wav ...``, ``out_dir/side_answer.csv`` and, with groups, ``side_groups.csv``."""
    folder = out_dir / side
    folder.mkdir()
    digits = max(5, len(str(n_clips - 1)))
    labels = np.empty((n_clips, N_WORDS), dtype=np.float32)
    clip_groups = np.empty(n_clips, dtype=np.int64)
    done = 0
    for clips, chunk_labels, chunk_groups in _iter_mix(bank, n_clips=n_clips, random_state=random_state, groups=groups):
        for clip in clips:
            _write_wav(folder / f"{side}_{done:0{digits}d}.wav", clip)
            done += 1
        labels[done - len(clips) : done], clip_groups[done - len(clips) : done] = chunk_labels, chunk_groups
    # %g writes the labels as exactly 0.25 and 0.
    _word_table(np.arange(n_clips), labels).to_csv(out_dir / f"{side}_answer.csv", index=False, float_format="%g")
    if groups:
        pd.DataFrame({"id": np.arange(n_clips), "group": clip_groups}).to_csv(out_dir / f"{side}_groups.csv", index=False)


def write_dataset(
    out_dir: str | Path,
    *,
    train_bank: WordBank,
    test_bank: WordBank,
    n_train: int,
    n_test: int,
    random_state: int,
    train_groups: Mapping[str, int] | None = None,
    extra_json: Mapping[str, object] | None = None,
) -> Path:
    """Mix and write a full DACON-layout dataset, atomically.

    Everything is built in ``out_dir.parent / (".tmp-" + out_dir.name)`` and
    renamed to ``out_dir`` at the end, so an interrupted run leaves no half
    dataset. Train and test clips are mixed from their own banks; the
    training bank's words are also saved in ``train_words/``, so training can
    mix fresh clips from them (``WordMixer``).

    Parameters
    ----------
    out_dir : str or Path
        Must not exist, or be an empty folder.
    train_bank, test_bank : WordBank
    n_train, n_test : int
        Number of clips on each side, at least 1.
    random_state : int
    train_groups : mapping of speaker name to group number, optional
        Each training clip then takes its words from one group's speakers,
        and ``train_groups.csv`` records the group of every training clip.
    extra_json : mapping of file name to JSON-serialisable object, optional
        Extra files to write beside the layout (like ``voices.json``).

    Returns
    -------
    Path
        ``out_dir``.
    """
    out_dir = Path(out_dir)
    check_free(out_dir)
    if n_train < 1 or n_test < 1:
        raise ValueError(f"need at least one clip per side, got n_train={n_train}, n_test={n_test}")
    with _building(out_dir) as tmp_dir:
        train_state, test_state = (int(s) for s in np.random.SeedSequence(random_state).generate_state(2))
        _write_side(tmp_dir, "train", train_bank, n_train, train_state, train_groups)
        _write_side(tmp_dir, "test", test_bank, n_test, test_state)
        write_word_bank(tmp_dir / WORDS_FOLDER, train_bank, train_groups)
        template = np.zeros((n_test, N_WORDS), dtype=np.int64)
        _word_table(np.arange(n_test), template).to_csv(tmp_dir / "submission.csv", index=False)
        for name, content in (extra_json or {}).items():
            (tmp_dir / name).write_text(json.dumps(content, indent=1) + "\n")
    return out_dir


@contextmanager
def _building(out_dir: Path) -> Iterator[Path]:
    """A fresh hidden sibling folder to fill; renamed to ``out_dir`` (absent or empty) only if the block completes."""
    tmp_dir = out_dir.parent / (".tmp-" + out_dir.name)
    if tmp_dir.exists():  # left over from an interrupted run
        shutil.rmtree(tmp_dir)
    tmp_dir.mkdir(parents=True)
    try:
        yield tmp_dir
        if out_dir.exists():  # an empty folder
            out_dir.rmdir()
        tmp_dir.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise


def make_embedded_dataset(
    out_dir: str | Path,
    *,
    n_train: int,
    n_test: int,
    random_state: int,
    n_train_speakers: int = 400,
    n_test_speakers: int = 100,
) -> Path:
    """Write a dataset from eSpeak NG speakers; test speakers use unseen voice variants.

    Training speakers fall into ``VOICE_GROUPS`` groups of whole voice
    variants, and each training clip mixes voices of one group (see
    ``train_groups.csv``), so validation can hold out voices as the test side
    does. Also writes ``voices.json`` (train and test speaker names, and each
    training speaker's group) beside the layout.

    Returns
    -------
    Path
        ``out_dir``.
    """
    out_dir = Path(out_dir)
    check_free(out_dir)  # before the banks, which take a few seconds
    train_speakers, test_speakers = split_speakers(n_train=n_train_speakers, n_test=n_test_speakers, random_state=random_state)
    groups = speaker_groups({s.name: s.variant for s in train_speakers}, n_groups=VOICE_GROUPS, random_state=random_state)
    voices = {"train": [s.name for s in train_speakers], "test": [s.name for s in test_speakers], "groups": groups}
    return write_dataset(
        out_dir,
        train_bank=build_word_bank(train_speakers),
        test_bank=build_word_bank(test_speakers),
        n_train=n_train,
        n_test=n_test,
        random_state=random_state,
        train_groups=groups,
        extra_json={"voices.json": voices},
    )
