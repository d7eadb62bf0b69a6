"""Read the clips of a DACON-layout folder (read-only: nothing here writes inside it).

Clips are decoded once into an int16 array cached under outputs/cache and
memory-mapped on later calls while the folder is unchanged.
"""
from __future__ import annotations

import os
import re
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly
from tqdm.auto import tqdm

from utils.dataset.corrections import record as record_data_warnings
from utils.dataset.errors import DataError, DataWarning
from utils.dataset.words import CLIP_SAMPLES, SAMPLE_RATE
from utils.keys import file_identity, key
from utils.paths import CACHE_DIR, METRICS_PATH
from utils.store import save_npy_atomic

_ID_PATTERN = re.compile(r"([0-9]+)$")  # ASCII digits: int() would also read other scripts' digits
HEADER_BYTES = 1024  # more than any plain WAV header
OTHER_AUDIO = (".wave", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aac", ".aif", ".aiff", ".webm")  # named in a warning


def clip_id(path: str | Path) -> int:
    """The id of a clip: the number that ends its file name (train_00042.wav is 42)."""
    match = _ID_PATTERN.search(Path(path).stem)
    if match is None or int(match.group(1)) >= 2**63:
        raise DataError(f"{path}: expected a file name ending in a number below 2**63, like train_00042.wav")
    return int(match.group(1))


def list_clips(folder: str | Path, *, record_to: str | Path | None = None) -> tuple[np.ndarray, list[Path]]:
    """The clips of a folder, sorted by id; with ``record_to`` (a metrics.json) its warning is kept there too.

    Returns
    -------
    ids : np.ndarray, shape (n,), int64
    paths : list of Path, length n
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: expected a folder of .wav clips, found none")
    try:
        files = [p for p in folder.iterdir() if not p.name.startswith(".")]
    except OSError as error:  # unreadable (permissions)
        raise DataError(f"{folder}: could not be listed ({error.strerror or error}); expected a readable folder") from None
    paths = [p for p in files if p.suffix.lower() == ".wav"]
    other = sorted(p.name for p in files if p.suffix.lower() in OTHER_AUDIO)
    if not paths:
        inner = next((p for p in sorted(files) if p.is_dir() and any(p.glob("*.[wW][aA][vV]"))), None)
        hint = f" (its subfolder {inner.name} has some: the clips must sit in {folder} itself)" if inner else ""
        hint += f" ({len(other)} audio files of other kinds, like {other[0]}: convert them to WAV)" if other else ""
        raise DataError(f"{folder}: expected .wav clips, the folder has none{hint}")
    if other:
        message = (f"{folder}: {len(other)} audio file{'s are' if len(other) > 1 else ' is'} not .wav and left out "
                   f"(first: {other[0]}); convert them to WAV to use them")
        warnings.warn(message, DataWarning, stacklevel=2)
        if record_to is not None:
            record_data_warnings(record_to, [message])
    by_id: dict[int, Path] = {}
    for path in paths:
        if path.is_symlink() and not path.exists():
            raise DataError(f"{path}: a link to {os.readlink(path)}, which does not exist; expected a WAV file")
        if path.exists() and not path.is_file():  # a folder, or a pipe or device that would block the read
            raise DataError(f"{path}: not a regular file; expected a WAV file")
        i = clip_id(path)
        if i in by_id:
            raise DataError(f"{folder}: id {i} is used by both {by_id[i].name} and {path.name}; "
                            "expected each clip's name to end in its own id")
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
        What was corrected or is suspect, a subset of {"resampled", "downmixed", "truncated", "scaled", "padded",
        "cut", "silent"},
        each with a detail ("header says N frames, file holds M" for "truncated", the peak for
        "scaled", else "").
    """
    path = Path(path)
    try:
        audio, rate = sf.read(_libsndfile_name(path), dtype="float32", always_2d=True)
    except Exception as error:  # libsndfile's errors carry no file name
        raise DataError(f"{path}: not a readable WAV file ({error})") from None
    if audio.shape[0] == 0:
        size = path.stat().st_size
        beyond = f"; yet the file has {size:,} bytes: a recording never finished?" if size > HEADER_BYTES else ""
        raise DataError(f"{path}: the WAV file holds no samples by its header{beyond}; expected 1 s of audio")
    if not np.all(np.isfinite(audio)):
        raise DataError(f"{path}: the audio holds NaN or infinite samples")
    fixes = {}
    promised = header_frames(path)
    if promised is not None and promised > audio.shape[0]:
        fixes["truncated"] = f"header says {promised} frames, file holds {audio.shape[0]}"
    audio = _one_second(_mono_16k(audio, rate, fixes), fixes)
    clip = np.clip(np.round(audio * 32768.0), -32768, 32767).astype(np.int16)
    if not clip.any():
        fixes["silent"] = ""
    return clip, fixes


def _libsndfile_name(path: Path) -> str | bytes:
    """The path as text where it is UTF-8 (libsndfile's errors then show it as such), else as the bytes it is."""
    try:
        str(path).encode("utf-8")
        return str(path)
    except UnicodeEncodeError:  # a name in another encoding, kept by Python as surrogates
        return os.fsencode(path)


def _mono_16k(audio: np.ndarray, rate: int, fixes: dict[str, str]) -> np.ndarray:
    """(frames, channels) float32 at ``rate`` -> (samples,) mono at 16 kHz within full scale, noting what changed."""
    if audio.shape[1] > 1:
        fixes["downmixed"] = ""
    audio = audio.mean(axis=1, dtype=np.float64).astype(np.float32)  # float64: no overflow near float32's limit
    peak = float(np.abs(audio).max())
    if peak > 1.0:  # float samples past full scale: int16 would clip them
        fixes["scaled"] = f"peak {peak:.3g} times full scale"
        audio = audio / peak
    if rate != SAMPLE_RATE:  # after scaling: the filter's small overshoot past full scale is clipped, not scaled
        fixes["resampled"] = ""
        g = np.gcd(int(rate), SAMPLE_RATE)
        audio = resample_poly(audio, SAMPLE_RATE // g, int(rate) // g).astype(np.float32)
    return audio


def _one_second(audio: np.ndarray, fixes: dict[str, str]) -> np.ndarray:
    """Padded with silence, or cut, to CLIP_SAMPLES, noting which."""
    if len(audio) < CLIP_SAMPLES:
        if "truncated" not in fixes:  # a truncated clip's warning already says it is padded
            fixes["padded"] = ""
        return np.pad(audio, (0, CLIP_SAMPLES - len(audio)))
    if len(audio) > CLIP_SAMPLES:
        fixes["cut"] = ""
    return audio[:CLIP_SAMPLES]


_FIX_TEXT = {
    "resampled": f"were not at {SAMPLE_RATE} Hz: resampled",
    "downmixed": "had several channels: downmixed to mono",
    "truncated": "are truncated (the file ends before the samples its header promises): "
                 "the audio there is used, padded with silence to 1 s",
    "scaled": "had samples beyond full scale (float WAV): scaled down to fit, not clipped",
    "padded": "were shorter than 1 s: padded with silence at the end",
    "cut": "were longer than 1 s: cut to their first second",
    "silent": "are silent (every sample 0 at 16 bits): kept as they are, though no word can be heard",
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
    return key(*(file_identity(path) for path in paths))[:16]


def folder_fingerprint(folder: str | Path) -> str:
    """A key that changes when any file below ``folder`` is added, removed, resized or touched."""
    return _folder_key(sorted(p for p in Path(folder).rglob("*") if p.is_file()))


def load_clips(folder: str | Path, *, cache_dir: str | Path = CACHE_DIR) -> tuple[np.ndarray, np.ndarray]:
    """Decode a folder of clips once; later calls memory-map the cached array.

    The cache is keyed on the clips' paths, sizes and times (``file_identity``), so
    a changed folder is decoded again. Decoding with the kit's own cache keeps
    its warnings in outputs/metrics.json as well (utils/dataset/corrections.py).

    Returns
    -------
    ids : np.ndarray, shape (n,), int64
    clips : np.ndarray, shape (n, 16000), int16 (read-only memory map)
    """
    record_to = METRICS_PATH if Path(cache_dir) == CACHE_DIR else None
    ids, paths = list_clips(folder, record_to=record_to)
    cache = Path(cache_dir) / f"clips-{Path(folder).name}-{_folder_key(paths)}.npy"
    if not cache.exists():
        save_npy_atomic(cache, decode_clips(paths, record_to=record_to))
    return ids, np.load(cache, mmap_mode="r")
