"""Read the tables of a DACON-layout data folder: answers, the submission template and voice groups.

The layout (read-only: nothing here writes inside it)::

    DATA_DIR/train/train_00000.wav ...   16 kHz mono int16, 1 s each
    DATA_DIR/train_answer.csv            id, then the 30 word columns
    DATA_DIR/test/test_00000.wav ...
    DATA_DIR/submission.csv              id, then the 30 word columns (or sample_submission.csv)
    DATA_DIR/train_groups.csv            optional: id, group (clips of a group are validated together)
"""
from __future__ import annotations

import csv
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from utils.dataset.clips import load_clips
from utils.dataset.errors import DataError, DataWarning
from utils.dataset.words import WORDS
from utils.paths import CACHE_DIR


def _row(frame: pd.DataFrame, index: int) -> str:
    return f"row {frame.index[index]} (id {frame['id'].iloc[index]})"  # _read_csv indexes rows by file line


UTF16_MARKS = (b"\xff\xfe", b"\xfe\xff")  # a spreadsheet's "Unicode text" starts with one


def _read_csv(csv_path: Path) -> pd.DataFrame:
    """The table, every cell as text (callers convert), its header names and cells stripped of spaces.

    UTF-8, or UTF-16 with its byte-order mark. Columns with neither a header nor
    a value, and empty rows at the end (a spreadsheet's leftovers), are dropped
    with a warning. A header naming a column twice, or a row with more fields
    than the header (pandas would drop the extra ones), is refused.
    """
    try:
        with open(csv_path, "rb") as file:
            encoding = "utf-16" if file.read(2) in UTF16_MARKS else "utf-8-sig"
    except OSError as error:  # unreadable (permissions), a folder, gone
        raise DataError(f"{csv_path}: could not be read ({error.strerror or error}); expected a readable CSV file") from None
    try:  # index_col=False: a separator ending every data row (not the header) does not shift the columns
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            frame = pd.read_csv(csv_path, index_col=False, encoding=encoding, dtype=str, skipinitialspace=True,
                                keep_default_na=False, na_values=[""])  # only an empty cell is missing, not "NA" text
    except UnicodeDecodeError:
        raise DataError(f"{csv_path}: not {'UTF-16' if encoding == 'utf-16' else 'UTF-8'} text; "
                        "expected a CSV saved as UTF-8 (in a spreadsheet: CSV UTF-8)") from None
    except Exception as error:
        raise DataError(f"{csv_path}: not a readable CSV file ({error})") from None
    for warning in caught:
        if not issubclass(warning.category, pd.errors.ParserWarning):
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    rows = _file_rows(csv_path, encoding)
    if any(issubclass(w.category, pd.errors.ParserWarning) for w in caught):
        _refuse_long_row(csv_path, frame, rows)
    header = [name.strip() for name in rows[0][1]] if rows else []
    lines = [line for line, _ in rows[1:]]
    frame.index = lines if len(lines) == len(frame) else frame.index + 2  # + 2: the header, and counting from 1
    twice = next((name for name in header if name and header.count(name) > 1), None)
    if twice is not None:
        raise DataError(f"{csv_path}: the header names column {twice!r} {header.count(twice)} times; "
                        "expected each column once")
    frame.columns = [name.strip() if isinstance(name, str) else name for name in frame.columns]
    return _drop_empty(frame, header, csv_path)


def _file_rows(csv_path: Path, encoding: str) -> list[tuple[int, list[str]]]:
    """Each row pandas reads (it skips blank lines), the header first, with its line in the file and its fields."""
    try:
        with open(csv_path, newline="", encoding=encoding, errors="replace") as file:
            reader = csv.reader(file)
            return [(reader.line_num, row) for row in reader if len(row) > 1 or "".join(row).strip()]
    except csv.Error:
        return []


def _drop_empty(frame: pd.DataFrame, header: list[str], csv_path: Path) -> pd.DataFrame:
    """Drop columns with neither a header nor a value, and empty rows at the end, with one warning each."""
    empty = [column for column, name in zip(frame.columns, header) if not name and frame[column].isna().all()]
    if empty:
        warnings.warn(f"{csv_path}: {len(empty)} columns with neither a header nor a value (say, a separator "
                      "ending every line): ignored", DataWarning, stacklevel=4)
        frame = frame.drop(columns=empty)
    filled = np.flatnonzero(~frame.isna().all(axis=1).to_numpy())
    end = filled[-1] + 1 if len(filled) else 0
    if end < len(frame):
        warnings.warn(f"{csv_path}: {len(frame) - end} empty rows at the end (separators only, say from a "
                      "spreadsheet): ignored", DataWarning, stacklevel=4)
        frame = frame.iloc[:end].copy()
    return frame


def _refuse_long_row(csv_path: Path, frame: pd.DataFrame, rows: list[tuple[int, list[str]]]) -> None:
    """Name the first row holding more fields than the header (one empty field at the end is allowed)."""
    header = rows[0][1] if rows else []
    for number, row in rows[1:]:
        if len(row) > len(header) + (row[-1:] == [""]):
            raise DataError(f"{csv_path}: row {number}: found {len(row)} fields where the header has "
                            f"{len(header)}; expected one field per column" + _separator_hint(frame))
    raise DataError(f"{csv_path}: some rows have more fields than the header; expected one field per column")


def _separator_hint(frame: pd.DataFrame) -> str:
    """A hint where a table read as one column looks separated by something other than commas."""
    if len(frame.columns) != 1:
        return ""
    header = str(frame.columns[0])
    found = next((name for sep, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars")) if sep in header), None)
    return f"; the columns look separated by {found}: expected commas" if found else ""


def _set_unique_ids(frame: pd.DataFrame, csv_path: Path) -> None:
    """Store the ids as int64, refusing an empty row, or an id that is not an integer, 2**63 or more, or repeated."""
    ids = pd.to_numeric(frame["id"], errors="coerce")
    too_large = (ids > 2**63 - 1) if ids.dtype.kind == "u" else (ids.abs() >= 2.0**63) if ids.dtype.kind == "f" else False
    bad = np.flatnonzero(ids.isna().to_numpy() | (ids % 1 != 0).to_numpy() | np.asarray(too_large))
    if len(bad):
        row = frame.iloc[bad[0]]
        found = "an empty row" if row.isna().all() else "an empty cell" if pd.isna(row["id"]) else repr(row["id"])
        raise DataError(f"{csv_path}: row {frame.index[bad[0]]}: expected an integer id below 2**63, found {found}")
    frame["id"] = ids.astype(np.int64)
    dup = np.flatnonzero(frame["id"].duplicated().to_numpy())
    if len(dup):
        raise DataError(f"{csv_path}: {_row(frame, dup[0])}: the id appears more than once")


def _drop_index_column(frame: pd.DataFrame, csv_path: Path) -> pd.DataFrame:
    """Drop a leading unnamed column holding 0..n-1 (a pandas index saved with the table), with one warning.

    Where no other column is called id, that column is read as the ids instead (with a warning). Any other
    unnamed column stays, to be refused as unknown.
    """
    first = str(frame.columns[0]) if len(frame.columns) else "id"
    if first and first != "Unnamed: 0":  # pandas names an empty header "Unnamed: 0"
        return frame
    values = pd.to_numeric(frame.iloc[:, 0], errors="coerce").to_numpy()
    if not np.array_equal(values, np.arange(len(frame))):
        return frame
    if not any(str(c).lower() == "id" for c in frame.columns[1:]):
        warnings.warn(f"{csv_path}: the first column has no header: read as the ids", DataWarning, stacklevel=5)
        return frame.rename(columns={frame.columns[0]: "id"})
    warnings.warn(f"{csv_path}: the first column is unnamed and holds 0..{len(frame) - 1} "
                  "(an index saved by pandas): ignored", DataWarning, stacklevel=5)
    return frame.iloc[:, 1:].copy()


def _read_word_frame(csv_path: Path) -> tuple[pd.DataFrame, list[str]]:
    """A word table's frame, checked to hold an id column (any case) and the 30 words, nothing else."""
    if not csv_path.is_file():
        raise DataError(f"{csv_path}: expected a CSV file, found none")
    frame = _drop_index_column(_read_csv(csv_path), csv_path)
    id_column = next((c for c in frame.columns if str(c).lower() == "id"), None)
    if id_column is None:
        raise DataError(f"{csv_path}: expected an 'id' column, found columns {list(frame.columns)[:5]}..."
                        + _separator_hint(frame))
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


def _word_table(csv_path: Path, *, probabilities: bool) -> tuple[pd.DataFrame, list[str], np.ndarray]:
    """read_word_table's frame, the file's own columns (its id column's name, the words in its order), and
    its ids as written where they are digits (009 stays 009), else as integers (1.0 is written 1)."""
    frame, columns = _read_word_frame(csv_path)
    text = frame["id"]
    _set_unique_ids(frame, csv_path)
    labels = np.where(text.str.fullmatch(r"-?\d+"), text, frame["id"].astype(str)).astype(str)
    values = frame[WORDS].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    if probabilities:
        _check_numbers(frame, values, csv_path)
        hit = np.flatnonzero((values < 0).any(axis=1))
        if len(hit):
            raise DataError(f"{csv_path}: {_row(frame, hit[0])}: expected no negative values ({len(hit)} rows affected)")
        sums = values.sum(axis=1)
        hit = np.flatnonzero(np.abs(sums - 1) > 1e-3)
        if len(hit):
            raise DataError(f"{csv_path}: {_row(frame, hit[0])}: expected values summing to 1, found {sums[hit[0]]:.6g} "
                            f"({len(hit)} rows affected; counts, 0/1 marks or percentages need dividing by their row's sum)")
    return pd.DataFrame(values.astype(np.float32), index=frame["id"].to_numpy(), columns=WORDS), columns, labels


def _check_numbers(frame: pd.DataFrame, values: np.ndarray, csv_path: Path) -> None:
    """Refuse a word cell that is empty, text or not finite, naming the first one's row, column and content."""
    rows, cols = np.nonzero(~np.isfinite(values))
    if not len(rows):
        return
    cell = frame[WORDS[cols[0]]].iloc[rows[0]]
    found = "an empty cell" if pd.isna(cell) or not str(cell).strip() else repr(cell)
    raise DataError(f"{csv_path}: {_row(frame, rows[0])}: expected a number in every word column, found {found} "
                    f"in column {WORDS[cols[0]]!r} ({len(np.unique(rows))} rows affected)")


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


def read_template(csv_path: str | Path, ids: np.ndarray, *,
                  clips_dir: str | Path = "test") -> tuple[np.ndarray, list[str], np.ndarray]:
    """The template's ids in its own row order, checked against the clips' ids, its columns, and its ids as written.

    Returns
    -------
    ids : np.ndarray, shape (n,), int64
    columns : list of str
        The template's id column name and the 30 words, in its own order, as the submission should have them.
    labels : np.ndarray, shape (n,), str
        Each row's id as the template writes it (``009``, say), as the submission should write it.
    """
    csv_path = Path(csv_path)
    table, columns, labels = _word_table(csv_path, probabilities=False)
    _check_ids_match(np.asarray(ids), table.index.to_numpy(), clips_where=Path(clips_dir), table_where=csv_path)
    return table.index.to_numpy(), columns, labels


TEMPLATE_NAMES = ("submission.csv", "sample_submission.csv")


def find_template(data_dir: str | Path) -> Path | None:
    """The data folder's submission template: the first of TEMPLATE_NAMES it holds, or None."""
    return next((Path(data_dir) / name for name in TEMPLATE_NAMES if (Path(data_dir) / name).is_file()), None)


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
    frame = _drop_index_column(_read_csv(csv_path), csv_path)
    if [str(c).lower() for c in frame.columns] != ["id", "group"]:
        raise DataError(f"{csv_path}: expected the columns id, group; found {list(frame.columns)}" + _separator_hint(frame))
    frame.columns = ["id", "group"]
    _set_unique_ids(frame, csv_path)
    bad = np.flatnonzero(frame["group"].isna().to_numpy())
    if len(bad):
        raise DataError(f"{csv_path}: {_row(frame, bad[0])}: expected a group label")
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
