"""Write and check a submission: id, then the 30 word probabilities, in the template's row and column order."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from utils.dataset.words import N_WORDS, WORDS
from utils.store import write_bytes_atomic

PROBABILITY_FLOOR = 1e-6  # no zeros: a zero where the truth is positive makes the KLD infinite


class SubmissionError(ValueError):
    """A submission that the leaderboard would reject or score as infinite."""


def floor_probabilities(probabilities: np.ndarray, *, floor: float = PROBABILITY_FLOOR) -> np.ndarray:
    """Raise every probability to at least ``floor`` and renormalise rows to sum to 1.

    Parameters
    ----------
    probabilities : np.ndarray, shape (n, 30)
    """
    p = np.maximum(np.asarray(probabilities, dtype=np.float64), floor)
    return p / p.sum(axis=1, keepdims=True)


KIT_COLUMNS = ["id", *WORDS]


def id_column(columns: list[str]) -> str:
    """The one column of a submission's columns that is not a word."""
    return next(c for c in columns if c not in WORDS)


def build_submission(ids: np.ndarray, probabilities: np.ndarray, *, template_ids: np.ndarray | None = None,
                     columns: list[str] | None = None, labels: np.ndarray | None = None) -> pd.DataFrame:
    """A submission frame in the template's row and column order (by id, in the kit's columns, without a template).

    Parameters
    ----------
    ids : np.ndarray, shape (n,)
        The clip id of each row of ``probabilities``.
    probabilities : np.ndarray, shape (n, 30)
    template_ids : np.ndarray, shape (n,), optional
        The template's ids in its row order.
    columns : list of str, optional
        The template's columns: its id column's name and the 30 words, in its order.
    labels : np.ndarray, shape (n,), optional
        The template's ids as it writes them (``009``, say), written in the id column instead of the integers.
    """
    frame = pd.DataFrame(floor_probabilities(probabilities), columns=WORDS)
    frame.insert(0, "id", np.asarray(ids, dtype=np.int64))
    frame = frame.set_index("id", drop=False)
    order = np.sort(frame.index.to_numpy()) if template_ids is None else np.asarray(template_ids)
    columns = columns or KIT_COLUMNS
    frame = frame.loc[order].reset_index(drop=True)
    if labels is not None:
        if template_ids is None:
            raise ValueError("labels are the template's ids as written: they need template_ids")
        frame["id"] = np.asarray(labels)
    frame = frame.rename(columns={"id": id_column(columns)})
    return frame[columns]


def validate_submission(frame: pd.DataFrame, *, expected_ids: np.ndarray, columns: list[str] | None = None) -> None:
    """Raise SubmissionError unless the frame is one the leaderboard scores as finite.

    ``columns``: the template's (id column and words in its order); by default id, then WORDS.
    """
    columns = columns or KIT_COLUMNS
    if list(frame.columns) != list(columns):
        raise SubmissionError(f"expected columns {id_column(columns)} + the {N_WORDS} words in order "
                              f"({', '.join(columns[:4])}, ...), found {list(frame.columns)}")
    ids = pd.to_numeric(frame[id_column(columns)], errors="coerce")  # ids written as the template writes them: 009 is 9
    if len(frame) != len(expected_ids) or not np.array_equal(ids.to_numpy(), np.asarray(expected_ids)):
        raise SubmissionError(f"expected {len(expected_ids)} rows in the template's id order, found {len(frame)} rows")
    values = frame[WORDS].to_numpy(dtype=np.float64)
    checks = (
        (~np.isfinite(values).all(axis=1), "finite probabilities"),
        ((values <= 0).any(axis=1), "no zero or negative probabilities"),
        (np.abs(values.sum(axis=1) - 1) > 1e-4, "rows summing to 1"),
    )
    for failed, expected in checks:
        rows = np.flatnonzero(failed)
        if len(rows):
            raise SubmissionError(f"row {rows[0] + 2} (id {ids.iloc[rows[0]]}): expected {expected}")


def column_note(columns: list[str] | None) -> str:
    """Which column order a submission was written in, for the printed summary."""
    if columns is None:
        return "columns: id, then the 30 words in the kit's order (no template)"
    if list(columns) == KIT_COLUMNS:
        return "columns as the template has them (id, then the 30 words in the kit's order)"
    return f"columns as the template has them, not the kit's order: {', '.join(columns[:4])}, ..."


def write_submission(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write the CSV through a temporary file, so an interrupted run leaves the old one whole."""
    path = Path(path)
    write_bytes_atomic(path, frame.to_csv(index=False, float_format="%.8g").encode())
    return path


def summarize_submission(frame: pd.DataFrame) -> pd.DataFrame:
    """How often each word is among a clip's four most probable, with its mean probability."""
    values = frame[WORDS].to_numpy()
    top4 = np.argsort(-values, axis=1)[:, :4]
    counts = np.bincount(top4.ravel(), minlength=N_WORDS)
    return pd.DataFrame({"in_top4": counts, "mean_probability": values.mean(axis=0)}, index=WORDS)


def summary_line(metrics_path: str | Path) -> str:
    """One line naming the submission, its validation KLD and, where known, its test KLD."""
    metrics = json.loads(Path(metrics_path).read_text())
    submission = metrics.get("submission")
    if not submission:
        return f"No submission recorded in {metrics_path}"
    parts = [f"Submission: {submission['path']} ({submission['rows']} rows)"]
    holdout = submission.get("models") == ["holdout.keras"]
    if "kfold" in metrics and not holdout:
        parts.append(f"out-of-fold validation KLD {metrics['kfold']['oof_kld']:.4f}")
    elif "holdout" in metrics:
        parts.append(f"holdout validation KLD {metrics['holdout']['val_kld']:.4f}")
    if "test_kld" in submission:
        parts.append(f"test KLD {submission['test_kld']:.4f}")
    return ", ".join(parts)
