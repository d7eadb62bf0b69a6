"""Read a DACON-layout data folder: clips, answers and the submission template.

The layout (read-only: nothing here writes inside it)::

    DATA_DIR/train/train_00000.wav ...   16 kHz mono int16, 1 s each
    DATA_DIR/train_answer.csv            id, then the 30 word columns
    DATA_DIR/test/test_00000.wav ...
    DATA_DIR/submission.csv              id, then the 30 word columns
    DATA_DIR/train_groups.csv            optional: id, group (clips of a group are validated together)

Clips are decoded once into an int16 array cached under outputs/cache and
memory-mapped on later calls while the folder is unchanged.
"""
from __future__ import annotations

import hashlib
import os
import re
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from scipy.signal import resample_poly
from tqdm.auto import tqdm

from utils.datawarnings import record as record_data_warnings
from utils.paths import CACHE_DIR, METRICS_PATH
from utils.store import save_npy_atomic
from utils.words import CLIP_SAMPLES, SAMPLE_RATE, WORDS


class DataError(ValueError):
    """Bad input: the message names the file or row and what was expected."""


class DataWarning(UserWarning):
    """Input that was corrected on the way in (resampled, downmixed, truncated, padded, cut)."""


_ID_PATTERN = re.compile(r"(\d+)$")


def clip_id(path: str | Path) -> int:
    """The id of a clip: the number that ends its file name (train_00042.wav is 42)."""
    match = _ID_PATTERN.search(Path(path).stem)
    if match is None:
        raise DataError(f"{path}: expected a file name ending in a number, like train_00042.wav")
    return int(match.group(1))


def list_clips(folder: str | Path) -> tuple[np.ndarray, list[Path]]:
    """The clips of a folder, sorted by id.

    Returns
    -------
    ids : np.ndarray, shape (n,), int64
    paths : list of Path, length n
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: expected a folder of .wav clips, found none")
    paths = [p for p in folder.iterdir() if p.suffix.lower() == ".wav" and not p.name.startswith(".")]
    if not paths:
        raise DataError(f"{folder}: expected .wav clips, the folder has none")
    by_id: dict[int, Path] = {}
    for path in paths:
        i = clip_id(path)
        if i in by_id:
            raise DataError(f"{folder}: id {i} is used by both {by_id[i].name} and {path.name}")
        by_id[i] = path
    ids = np.array(sorted(by_id), dtype=np.int64)
    return ids, [by_id[i] for i in ids]


def header_frames(path: str | Path) -> int | None:
    """The frame count a WAV file's RIFF header promises (its data chunk size), or None where it cannot tell."""
    with open(path, "rb") as handle:
        head = handle.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        block_align = 0
        while len(chunk := handle.read(8)) == 8:
            name, size = chunk[:4], int.from_bytes(chunk[4:], "little")
            if name == b"fmt ":
                fmt = handle.read(size + (size & 1))
                block_align = int.from_bytes(fmt[12:14], "little") if len(fmt) >= 14 else 0
            elif name == b"data":
                return size // block_align if block_align and size not in (0, 0xFFFFFFFF) else None
            else:
                handle.seek(size + (size & 1), os.SEEK_CUR)
    return None


def read_clip(path: str | Path) -> tuple[np.ndarray, dict[str, str]]:
    """Read one clip as 1 s of 16 kHz mono int16.

    Returns
    -------
    clip : np.ndarray, shape (16000,), int16
    fixes : dict of str to str
        What was corrected, a subset of {"resampled", "downmixed", "truncated", "padded", "cut"},
        each with a detail ("header says N frames, file holds M" for "truncated", else "").
    """
    path = Path(path)
    try:
        audio, rate = sf.read(path, dtype="float32", always_2d=True)
    except Exception as error:  # libsndfile's errors carry no file name
        raise DataError(f"{path}: not a readable WAV file ({error})") from None
    if audio.shape[0] == 0:
        raise DataError(f"{path}: the WAV file holds no samples; expected 1 s of audio")
    fixes = {}
    promised = header_frames(path)
    if promised is not None and promised > audio.shape[0]:
        fixes["truncated"] = f"header says {promised} frames, file holds {audio.shape[0]}"
    if audio.shape[1] > 1:
        fixes["downmixed"] = ""
    audio = audio.mean(axis=1)
    if rate != SAMPLE_RATE:
        fixes["resampled"] = ""
        g = np.gcd(int(rate), SAMPLE_RATE)
        audio = resample_poly(audio, SAMPLE_RATE // g, int(rate) // g).astype(np.float32)
    if not np.all(np.isfinite(audio)):
        raise DataError(f"{path}: the audio holds NaN or infinite samples")
    if len(audio) < CLIP_SAMPLES:
        if "truncated" not in fixes:  # a truncated clip's warning already says it is padded
            fixes["padded"] = ""
        audio = np.pad(audio, (0, CLIP_SAMPLES - len(audio)))
    elif len(audio) > CLIP_SAMPLES:
        fixes["cut"] = ""
        audio = audio[:CLIP_SAMPLES]
    clip = np.clip(np.round(audio * 32768.0), -32768, 32767).astype(np.int16)
    return clip, fixes


_FIX_TEXT = {
    "resampled": f"were not at {SAMPLE_RATE} Hz: resampled",
    "downmixed": "had several channels: downmixed to mono",
    "truncated": "are truncated (the file ends before the samples its header promises): "
                 "the audio there is used, padded with silence to 1 s",
    "padded": "were shorter than 1 s: padded with silence at the end",
    "cut": "were longer than 1 s: cut to their first second",
}


def decode_clips(paths: list[Path], *, record_to: str | Path | None = None) -> np.ndarray:
    """Decode clips into one array, warning once per kind of correction made.

    Each warning names the count and the first file; with ``record_to`` (a
    metrics.json) the warnings are also kept in its "data_warnings" list.

    Returns
    -------
    clips : np.ndarray, shape (len(paths), 16000), int16
    """
    clips = np.empty((len(paths), CLIP_SAMPLES), dtype=np.int16)
    fixed: dict[str, list[tuple[Path, str]]] = {kind: [] for kind in _FIX_TEXT}
    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) * 2)) as pool:
        decoded = pool.map(read_clip, paths, chunksize=64)
        bar = tqdm(decoded, total=len(paths), desc=f"decode {paths[0].parent.name}" if paths else "decode",
                   unit="clip", mininterval=5, disable=len(paths) < 5000)
        for row, (clip, fixes) in enumerate(bar):
            clips[row] = clip
            for kind, detail in fixes.items():
                fixed[kind].append((paths[row], detail))
    messages = [fix_message(kind, hit) for kind, hit in fixed.items() if hit]
    for message in messages:
        warnings.warn(message, DataWarning, stacklevel=2)
    if record_to is not None and messages:
        record_data_warnings(record_to, messages)
    return clips


def fix_message(kind: str, hit: list[tuple[Path, str]]) -> str:
    """One line for a kind of correction: the count and the first file (with its detail, if any)."""
    first, detail = hit[0]
    return f"{len(hit)} clips {_FIX_TEXT[kind]} (first: {first}{': ' + detail if detail else ''})"


def _folder_key(paths: list[Path]) -> str:
    digest = hashlib.sha1()
    for path in paths:
        stat = path.stat()
        digest.update(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def folder_fingerprint(folder: str | Path) -> str:
    """A key that changes when any file below ``folder`` is added, removed, resized or touched."""
    return _folder_key(sorted(p for p in Path(folder).rglob("*") if p.is_file()))


def load_clips(folder: str | Path, *, cache_dir: str | Path = CACHE_DIR) -> tuple[np.ndarray, np.ndarray]:
    """Decode a folder of clips once; later calls memory-map the cached array.

    The cache is keyed on the clips' paths, sizes and modification times, so
    a changed folder is decoded again. Decoding with the kit's own cache keeps
    its warnings in outputs/metrics.json as well (utils/datawarnings.py).

    Returns
    -------
    ids : np.ndarray, shape (n,), int64
    clips : np.ndarray, shape (n, 16000), int16 (read-only memory map)
    """
    ids, paths = list_clips(folder)
    cache = Path(cache_dir) / f"clips-{Path(folder).name}-{_folder_key(paths)}.npy"
    if not cache.exists():
        record_to = METRICS_PATH if Path(cache_dir) == CACHE_DIR else None
        save_npy_atomic(cache, decode_clips(paths, record_to=record_to))
    return ids, np.load(cache, mmap_mode="r")


def _row(frame: pd.DataFrame, index: int) -> str:
    return f"row {index + 2} (id {frame['id'].iloc[index]})"  # +2: header, 1-based


def _read_csv(csv_path: Path, **kwargs) -> pd.DataFrame:
    try:
        return pd.read_csv(csv_path, **kwargs)
    except Exception as error:
        raise DataError(f"{csv_path}: not a readable CSV file ({error})") from None


def _set_unique_ids(frame: pd.DataFrame, ids: pd.Series, csv_path: Path) -> None:
    """Store the checked integer ids in the frame, refusing one that appears twice."""
    frame["id"] = ids.astype(np.int64)
    dup = np.flatnonzero(frame["id"].duplicated().to_numpy())
    if len(dup):
        raise DataError(f"{csv_path}: {_row(frame, dup[0])}: the id appears more than once")


def _drop_index_column(frame: pd.DataFrame, csv_path: Path) -> pd.DataFrame:
    """Drop a leading unnamed column holding 0..n-1 (a pandas index saved with the table), with one warning.

    Any other unnamed column stays, to be refused as unknown.
    """
    first = str(frame.columns[0]) if len(frame.columns) else "id"
    if first.strip() and first != "Unnamed: 0":  # pandas names an empty header "Unnamed: 0"
        return frame
    values = pd.to_numeric(frame.iloc[:, 0], errors="coerce").to_numpy()
    if not np.array_equal(values, np.arange(len(frame))):
        return frame
    warnings.warn(f"{csv_path}: the first column is unnamed and holds 0..{len(frame) - 1} "
                  "(an index saved by pandas): ignored", DataWarning, stacklevel=5)
    return frame.iloc[:, 1:].copy()


def _read_word_frame(csv_path: Path) -> tuple[pd.DataFrame, list[str]]:
    """A word table's frame, checked to hold an id column (any case) and the 30 words, nothing else."""
    if not csv_path.is_file():
        raise DataError(f"{csv_path}: expected a CSV file, found none")
    frame = _drop_index_column(_read_csv(csv_path), csv_path)
    id_column = next((c for c in frame.columns if str(c).strip().lower() == "id"), None)
    if id_column is None:
        raise DataError(f"{csv_path}: expected an 'id' column, found columns {list(frame.columns)[:5]}...")
    missing = [w for w in WORDS if w not in frame.columns]
    unknown = [c for c in frame.columns if c != id_column and c not in WORDS]
    if missing or unknown:
        raise DataError(f"{csv_path}: expected columns id + the 30 words; missing {missing}, unknown {unknown}")
    columns = [str(c) for c in frame.columns]
    return frame.rename(columns={id_column: "id"}), columns


def read_word_table(csv_path: str | Path, *, probabilities: bool) -> pd.DataFrame:
    """Read an answer or template CSV: an id column, then the 30 word columns.

    The id column may be named id in any case (ID, Id); a leading unnamed column
    holding 0..n-1 (pandas' index) is dropped with a warning.
    With ``probabilities`` every row must be finite, non-negative and sum to 1.
    Returns the frame indexed by id, columns in the order of WORDS.
    """
    return _word_table(Path(csv_path), probabilities=probabilities)[0]


def _word_table(csv_path: Path, *, probabilities: bool) -> tuple[pd.DataFrame, list[str]]:
    """read_word_table's frame, and the file's own columns (its id column's name, the words in its order)."""
    frame, columns = _read_word_frame(csv_path)
    ids = pd.to_numeric(frame["id"], errors="coerce")
    bad = np.flatnonzero(ids.isna().to_numpy() | (ids % 1 != 0).to_numpy())
    if len(bad):
        raise DataError(f"{csv_path}: row {bad[0] + 2}: expected an integer id, found {frame['id'].iloc[bad[0]]!r}")
    _set_unique_ids(frame, ids, csv_path)
    values = frame[WORDS].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    if probabilities:
        for test, expected in (
            (~np.isfinite(values).all(axis=1), "numbers in every word column (found an empty cell or NaN)"),
            ((values < 0).any(axis=1), "no negative values"),
            (np.abs(values.sum(axis=1) - 1) > 1e-3, "values summing to 1"),
        ):
            hit = np.flatnonzero(test)
            if len(hit):
                raise DataError(f"{csv_path}: {_row(frame, hit[0])}: expected {expected} ({len(hit)} rows affected)")
    return pd.DataFrame(values.astype(np.float32), index=frame["id"].to_numpy(), columns=WORDS), columns


def _check_ids_match(clip_ids: np.ndarray, table_ids: np.ndarray, *, clips_where: Path, table_where: Path) -> None:
    no_row = np.setdiff1d(clip_ids, table_ids)
    if len(no_row):
        raise DataError(
            f"{table_where}: no row for {len(no_row)} clips of {clips_where} (first id {no_row[0]}); "
            "expected one row per clip"
        )
    no_clip = np.setdiff1d(table_ids, clip_ids)
    if len(no_clip):
        raise DataError(
            f"{table_where}: {len(no_clip)} rows have no clip in {clips_where} (first id {no_clip[0]}); "
            "expected one clip per row"
        )


def read_answers(csv_path: str | Path, ids: np.ndarray, *, clips_dir: str | Path = "train") -> np.ndarray:
    """Answers aligned to clip ids.

    Returns
    -------
    answers : np.ndarray, shape (len(ids), 30), float32, columns in WORDS order
    """
    table = read_word_table(csv_path, probabilities=True)
    _check_ids_match(np.asarray(ids), table.index.to_numpy(), clips_where=Path(clips_dir), table_where=Path(csv_path))
    return table.loc[np.asarray(ids)].to_numpy()


def read_template(csv_path: str | Path, ids: np.ndarray, *, clips_dir: str | Path = "test") -> tuple[np.ndarray, list[str]]:
    """The template's ids in its own row order, checked against the clips' ids, and its columns.

    Returns
    -------
    ids : np.ndarray, shape (n,), int64
    columns : list of str
        The template's id column name and the 30 words, in its own order, as the submission should have them.
    """
    csv_path = Path(csv_path)
    table, columns = _word_table(csv_path, probabilities=False)
    _check_ids_match(np.asarray(ids), table.index.to_numpy(), clips_where=Path(clips_dir), table_where=csv_path)
    return table.index.to_numpy(), columns


def read_template_ids(csv_path: str | Path, ids: np.ndarray, *, clips_dir: str | Path = "test") -> np.ndarray:
    """The template's ids in its own row order, checked against the clips' ids."""
    return read_template(csv_path, ids, clips_dir=clips_dir)[0]


def load_train(data_dir: str | Path, *, cache_dir: str | Path = CACHE_DIR) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The training side of a data folder.

    Returns
    -------
    ids : np.ndarray, shape (n,), int64
    clips : np.ndarray, shape (n, 16000), int16
    answers : np.ndarray, shape (n, 30), float32
    """
    data_dir = Path(data_dir)
    ids, clips = load_clips(data_dir / "train", cache_dir=cache_dir)
    answers = read_answers(data_dir / "train_answer.csv", ids, clips_dir=data_dir / "train")
    return ids, clips, answers


def read_groups(data_dir: str | Path, ids: np.ndarray) -> np.ndarray | None:
    """Each training clip's group from ``train_groups.csv``, or None when the file is absent.

    Clips of one group share voices (the embedded data) or speakers (a user's
    own file); splits then hold out whole groups, so validation measures
    voices the model never heard.

    Group labels may be numbers or text (a speaker id, say).

    Returns
    -------
    np.ndarray, shape (len(ids),), str: each clip's group label as written, or None
    """
    csv_path = Path(data_dir) / "train_groups.csv"
    if not csv_path.is_file():
        return None
    frame = _read_csv(csv_path, dtype={"group": str}, skipinitialspace=True)
    if list(frame.columns) != ["id", "group"]:
        raise DataError(f"{csv_path}: expected the columns id, group; found {list(frame.columns)}")
    table_ids = pd.to_numeric(frame["id"], errors="coerce")
    bad = np.flatnonzero(table_ids.isna().to_numpy() | (table_ids % 1 != 0).to_numpy() | frame["group"].isna().to_numpy())
    if len(bad):
        raise DataError(f"{csv_path}: {_row(frame, bad[0])}: expected an integer id and a group label")
    _set_unique_ids(frame, table_ids, csv_path)
    _check_ids_match(np.asarray(ids), frame["id"].to_numpy(), clips_where=Path(data_dir) / "train", table_where=csv_path)
    labels = pd.Series(frame["group"].str.strip().to_numpy(dtype=str), index=frame["id"].to_numpy())
    return labels.loc[np.asarray(ids)].to_numpy(dtype=str)


def load_test_answers(data_dir: str | Path, ids: np.ndarray) -> np.ndarray | None:
    """The test side's truth where the folder has one (the embedded data does), else None."""
    path = Path(data_dir) / "test_answer.csv"
    if not path.is_file():
        return None
    return read_answers(path, ids, clips_dir=Path(data_dir) / "test")


def load_truth_if_matching(csv_path: str | Path, ids: np.ndarray) -> np.ndarray | None:
    """A truth table's rows for ``ids`` if the file exists and holds exactly those ids, else None (with a note)."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        return None
    table = read_word_table(csv_path, probabilities=True)
    if set(table.index) != set(np.asarray(ids).tolist()):
        print(f"{csv_path} holds other ids than the clips: not scoring against it")
        return None
    return table.loc[np.asarray(ids)].to_numpy()
