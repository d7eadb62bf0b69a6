"""Build a DACON-layout dataset by overlapping single spoken words.

The layout written (the kit's contract with its users)::

    DATA_DIR/train/train_00000.wav ...   16 kHz mono int16, exactly 1 s
    DATA_DIR/train_answer.csv            id, then the 30 WORDS; 0.25 for each word present, else 0
    DATA_DIR/test/test_00000.wav ...
    DATA_DIR/submission.csv              id, then the 30 WORDS, all 0 (the template)
    DATA_DIR/test_answer.csv             like train_answer.csv, for scoring only
    DATA_DIR/train_groups.csv            id, group: the voice group each training clip's words come from
    DATA_DIR/train_words/                the training side's single words (audio.npy, index.csv), for
                                         fresh mixtures during training (``WordMixer``)

Words come either from eSpeak NG (``utils.synth``) or from a folder-per-word
corpus such as Google Speech Commands. Command line::

    python -m utils.mixing --out DIR --train N --test N [--seed S] [--words-from CORPUS_DIR]
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
import wave
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np
import pandas as pd
import soundfile as sf
from scipy.signal import resample_poly

from utils.dataset import DataError
from utils.synth import WordBank, build_word_bank, split_speakers, trim_silence
from utils.waveaug import NOISE_BANK_SAMPLES, noise_bank
from utils.words import CLIP_SAMPLES, N_WORDS, SAMPLE_RATE, WORDS, WORDS_PER_CLIP

GAIN_RANGE = (0.4, 1.0)  # per word, on peak-normalised utterances
NOISE_DB_RANGE = (-50.0, -30.0)  # noise std relative to the mix's peak
PEAK_RANGE = (0.5, 0.95)  # final peak, as a fraction of int16 full scale
MIN_INSIDE = 0.75  # fraction of each word kept inside the clip
TEST_SPEAKER_FRACTION = 0.2  # for folder corpora
VOICE_GROUPS = 10  # training clips mix voices of one group; validation can hold out whole groups
_CHUNK = 1024  # clips mixed at a time; fixed so results do not depend on memory use
WORDS_FOLDER = "train_words"  # in a written dataset: its training words, for fresh mixtures


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


def draw_mixes(rng: np.random.Generator, n_clips: int, first: np.ndarray, count: np.ndarray,
                lengths: np.ndarray, *, grouped: bool) -> dict[str, np.ndarray]:
    """Every random choice of ``n_clips`` mixtures but the noise; arrays of shape (n_clips, 4) or (n_clips,).

    ``first``/``count`` (30, n_groups) locate each word's utterances per group
    and ``lengths`` give the utterances' lengths (see ``_flatten_bank``).
    """
    words = np.argsort(rng.random((n_clips, N_WORDS)), axis=1)[:, :WORDS_PER_CLIP]
    group = rng.integers(first.shape[1], size=n_clips) if grouped else np.zeros(n_clips, dtype=np.int64)
    first, count = first[words, group[:, None]], count[words, group[:, None]]
    utterance = first + (rng.random(words.shape) * count).astype(np.int64)
    length = lengths[utterance]
    max_offset = CLIP_SAMPLES - np.ceil(MIN_INSIDE * length).astype(np.int64)
    offset = (rng.random(words.shape) * (max_offset + 1)).astype(np.int64)
    labels = np.zeros((n_clips, N_WORDS), dtype=np.float32)
    np.put_along_axis(labels, words, 1 / WORDS_PER_CLIP, axis=1)
    return {
        "utterance": utterance, "offset": offset, "kept": np.minimum(length, CLIP_SAMPLES - offset),
        "gain": rng.uniform(*GAIN_RANGE, size=words.shape).astype(np.float32),
        "noise_scale": 10 ** (rng.uniform(*NOISE_DB_RANGE, size=n_clips) / 20),
        "peak": rng.uniform(*PEAK_RANGE, size=n_clips), "group": group, "labels": labels,
    }


def _render(flat: np.ndarray, starts: np.ndarray, mixes: dict[str, np.ndarray], rows: slice,
            noise: np.ndarray) -> np.ndarray:
    """Mixtures ``rows`` of ``mixes`` as float32 (n, 16000) scaled to their int16 peak, not yet rounded.

    ``flat`` holds the utterances end to end (float, or int16 with gains
    already divided by 32767), ``starts`` where each begins; ``noise`` is unit
    Gaussian noise of the mixtures' shape.
    """
    mix = np.zeros((rows.stop - rows.start, CLIP_SAMPLES), dtype=np.float32)
    # Plain Python numbers: numpy scalars make this loop several times slower.
    placements = zip(starts[mixes["utterance"][rows]].tolist(), mixes["offset"][rows].tolist(),
                     mixes["kept"][rows].tolist(), mixes["gain"][rows].tolist())
    for clip, (srcs, offs, ns, gs) in zip(mix, placements):
        for src, off, n, g in zip(srcs, offs, ns, gs):
            clip[off : off + n] += g * flat[src : src + n]
    mix_peak = np.abs(mix).max(axis=1)
    mix += noise * (mix_peak * mixes["noise_scale"][rows]).astype(np.float32)[:, None]
    scale = mixes["peak"][rows] * 32767 / np.maximum(np.abs(mix).max(axis=1), 1e-12)
    mix *= scale.astype(np.float32)[:, None]
    return mix


def _iter_mix(
    bank: WordBank, *, n_clips: int, seed: int, groups: Mapping[str, int] | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """mix_words in chunks of up to _CHUNK clips, same results, bounded memory; also yields each clip's group."""
    flat, starts, lengths, first, count, _ = _flatten_bank(bank, groups)
    rng = np.random.default_rng(seed)
    mixes = draw_mixes(rng, n_clips, first, count, lengths, grouped=bool(groups))
    noise_seeds = rng.integers(2**63, size=-(-n_clips // _CHUNK))
    for chunk, start in enumerate(range(0, n_clips, _CHUNK)):
        rows = slice(start, min(start + _CHUNK, n_clips))
        noise = np.random.default_rng(noise_seeds[chunk]).standard_normal((rows.stop - start, CLIP_SAMPLES),
                                                                            dtype=np.float32)
        mix = _render(flat, starts, mixes, rows, noise)
        clips = np.clip(np.rint(mix), -32767, 32767).astype(np.int16)
        yield clips, mixes["labels"][rows], mixes["group"][rows]


def mix_words(
    bank: WordBank, *, n_clips: int, seed: int, groups: Mapping[str, int] | None = None
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
    seed : int
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
    for chunk_clips, chunk_labels, chunk_groups in _iter_mix(bank, n_clips=n_clips, seed=seed, groups=groups):
        rows = slice(done, done + len(chunk_clips))
        clips[rows], labels[rows], clip_groups[rows] = chunk_clips, chunk_labels, chunk_groups
        done += len(chunk_clips)
    return clips, labels, clip_groups


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
        waves = _render(self.audio, self.starts, mixes, slice(0, n), noise)
        waves /= np.float32(32768)
        return waves, mixes["labels"]


def _write_word_bank(folder: Path, bank: WordBank, groups: Mapping[str, int] | None) -> None:
    """``folder/audio.npy``: every utterance end to end, int16; ``folder/index.csv``: word, group, speaker, start, length."""
    flat, starts, lengths, first, count, speakers = _flatten_bank(bank, groups)
    word, group = np.divmod(np.repeat(np.arange(count.size), count.ravel()), count.shape[1])
    folder.mkdir()
    np.save(folder / "audio.npy", np.clip(np.rint(flat * 32767), -32767, 32767).astype(np.int16))
    index = pd.DataFrame({"word": np.array(WORDS)[word], "group": group, "speaker": speakers,
                          "start": starts, "length": lengths})
    index.to_csv(folder / "index.csv", index=False)


def speaker_groups(keys: Mapping[str, str], *, n_groups: int, seed: int) -> dict[str, int]:
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
    order = np.random.default_rng(seed).permutation(len(distinct))
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


def split_bank_by_speaker(bank: WordBank, *, test_fraction: float, seed: int) -> tuple[WordBank, WordBank]:
    """Split a bank into train and test banks with disjoint speakers.

    About ``test_fraction`` of the speakers (at least one, and never all),
    picked from ``seed``, go to test.

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
    order = np.random.default_rng(seed).permutation(len(speakers))
    test_speakers = {speakers[i] for i in order[:n_test]}
    train_bank = {w: [u for u in utterances if u[0] not in test_speakers] for w, utterances in bank.items()}
    test_bank = {w: [u for u in utterances if u[0] in test_speakers] for w, utterances in bank.items()}
    return train_bank, test_bank


def _check_free(out_dir: Path) -> None:
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


def _write_side(out_dir: Path, side: str, bank: WordBank, n_clips: int, seed: int,
                groups: Mapping[str, int] | None = None) -> None:
    """Write ``out_dir/side/side_00000.wav ...``, ``out_dir/side_answer.csv`` and, with groups, ``side_groups.csv``."""
    folder = out_dir / side
    folder.mkdir()
    digits = max(5, len(str(n_clips - 1)))
    labels = np.empty((n_clips, N_WORDS), dtype=np.float32)
    clip_groups = np.empty(n_clips, dtype=np.int64)
    done = 0
    for clips, chunk_labels, chunk_groups in _iter_mix(bank, n_clips=n_clips, seed=seed, groups=groups):
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
    seed: int,
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
    seed : int
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
    _check_free(out_dir)
    if n_train < 1 or n_test < 1:
        raise ValueError(f"need at least one clip per side, got n_train={n_train}, n_test={n_test}")
    tmp_dir = out_dir.parent / (".tmp-" + out_dir.name)
    if tmp_dir.exists():  # left over from an interrupted run
        shutil.rmtree(tmp_dir)
    tmp_dir.mkdir(parents=True)
    try:
        train_seed, test_seed = (int(s) for s in np.random.SeedSequence(seed).generate_state(2))
        _write_side(tmp_dir, "train", train_bank, n_train, train_seed, train_groups)
        _write_side(tmp_dir, "test", test_bank, n_test, test_seed)
        _write_word_bank(tmp_dir / WORDS_FOLDER, train_bank, train_groups)
        template = np.zeros((n_test, N_WORDS), dtype=np.int64)
        _word_table(np.arange(n_test), template).to_csv(tmp_dir / "submission.csv", index=False)
        for name, content in (extra_json or {}).items():
            (tmp_dir / name).write_text(json.dumps(content, indent=1) + "\n")
        if out_dir.exists():  # an empty folder
            out_dir.rmdir()
        tmp_dir.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    return out_dir


def make_embedded_dataset(
    out_dir: str | Path,
    *,
    n_train: int,
    n_test: int,
    seed: int,
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
    _check_free(out_dir)  # before the banks, which take a few seconds
    train_speakers, test_speakers = split_speakers(n_train=n_train_speakers, n_test=n_test_speakers, seed=seed)
    groups = speaker_groups({s.name: s.variant for s in train_speakers}, n_groups=VOICE_GROUPS, seed=seed)
    voices = {"train": [s.name for s in train_speakers], "test": [s.name for s in test_speakers], "groups": groups}
    return write_dataset(
        out_dir,
        train_bank=build_word_bank(train_speakers),
        test_bank=build_word_bank(test_speakers),
        n_train=n_train,
        n_test=n_test,
        seed=seed,
        train_groups=groups,
        extra_json={"voices.json": voices},
    )


def main(argv: list[str] | None = None) -> None:
    """The command line: see the module docstring."""
    parser = argparse.ArgumentParser(
        prog="python -m utils.mixing", description="Write a DACON-layout dataset of overlapped spoken words."
    )
    parser.add_argument("--out", type=Path, required=True, help="folder to create (must not exist or be empty)")
    parser.add_argument("--train", type=int, required=True, help="number of train clips")
    parser.add_argument("--test", type=int, required=True, help="number of test clips")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--words-from", type=Path, metavar="CORPUS_DIR",
        help="folder-per-word corpus (like Speech Commands), split by speaker; default: eSpeak NG voices",
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        if args.words_from is None:
            make_embedded_dataset(args.out, n_train=args.train, n_test=args.test, seed=args.seed)
        else:
            _check_free(args.out)
            train_bank, test_bank = split_bank_by_speaker(
                load_word_folder(args.words_from), test_fraction=TEST_SPEAKER_FRACTION, seed=args.seed
            )
            speakers = {speaker for utterances in train_bank.values() for speaker, _ in utterances}
            write_dataset(
                args.out, train_bank=train_bank, test_bank=test_bank,
                n_train=args.train, n_test=args.test, seed=args.seed,
                train_groups=speaker_groups({s: s for s in speakers}, n_groups=VOICE_GROUPS, seed=args.seed),
            )
    except (OSError, ValueError, RuntimeError) as error:
        sys.exit(f"error: {error}")
    print(f"wrote {args.out} ({args.train} train + {args.test} test clips) in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
