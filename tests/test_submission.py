import json

import numpy as np
import pandas as pd
import pytest

from utils.dataset.words import WORDS
from utils.results.submission import (
    SubmissionError,
    build_submission,
    column_note,
    floor_probabilities,
    summarize_submission,
    summary_line,
    validate_submission,
    write_submission,
)


def probabilities(n, random_state=0):
    return np.random.default_rng(random_state).dirichlet(np.ones(30), size=n)


def test_submission_follows_template_order():
    p = probabilities(3)
    frame = build_submission(np.array([10, 11, 12]), p, template_ids=np.array([12, 10, 11]))
    assert list(frame.columns) == ["id", *WORDS]
    assert list(frame["id"]) == [12, 10, 11]
    np.testing.assert_allclose(frame[WORDS].iloc[0], p[2], rtol=1e-4)


def test_the_template_ids_are_written_as_the_template_writes_them(tmp_path):
    labels = np.array(["012", "010", "011"])
    frame = build_submission(np.array([10, 11, 12]), probabilities(3), template_ids=np.array([12, 10, 11]), labels=labels)
    validate_submission(frame, expected_ids=np.array([12, 10, 11]))
    with pytest.raises(SubmissionError, match="in the template's id order"):
        validate_submission(frame, expected_ids=np.array([10, 11, 12]))
    write_submission(frame, tmp_path / "submission.csv")
    assert [line.split(",")[0] for line in (tmp_path / "submission.csv").read_text().splitlines()] == ["id", *labels]


def test_without_template_rows_are_sorted_by_id():
    frame = build_submission(np.array([5, 1, 3]), probabilities(3))
    assert list(frame["id"]) == [1, 3, 5]


def test_floor_removes_zeros_and_keeps_rows_summing_to_one():
    p = np.zeros((2, 30))
    p[:, 0] = 1
    floored = floor_probabilities(p)
    assert (floored > 0).all()
    np.testing.assert_allclose(floored.sum(axis=1), 1)


def valid_frame():
    return build_submission(np.arange(4), probabilities(4))


@pytest.mark.parametrize("edit, expected", [
    (lambda f: f.drop(columns="wow"), "expected columns id"),
    (lambda f: f.iloc[:3], "expected 4 rows"),
    (lambda f: f.assign(bed=np.nan), r"row 2 \(id 0\): expected finite probabilities"),
    (lambda f: f.assign(bed=0.0), "no zero or negative probabilities"),
    (lambda f: f.assign(bed=f["bed"] + 0.5), "rows summing to 1"),
])
def test_validation_catches_what_the_leaderboard_rejects(edit, expected):
    validate_submission(valid_frame(), expected_ids=np.arange(4))
    with pytest.raises(SubmissionError, match=expected):
        validate_submission(edit(valid_frame()), expected_ids=np.arange(4))


def test_written_csv_reads_back_valid(tmp_path):
    path = write_submission(valid_frame(), tmp_path / "out" / "submission.csv")
    back = pd.read_csv(path)
    validate_submission(back, expected_ids=np.arange(4))
    assert [p.name for p in path.parent.iterdir()] == ["submission.csv"]


def test_summary_counts_top4_words():
    table = summarize_submission(valid_frame())
    assert table["in_top4"].sum() == 16 and list(table.index) == WORDS


def test_summary_line_names_submission_and_scores(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({
        "holdout": {"val_kld": 1.5}, "kfold": {"oof_kld": 1.25},
        "submission": {"path": "outputs/submission.csv", "rows": 200, "test_kld": 1.3},
    }))
    line = summary_line(path)
    assert line == "Submission: outputs/submission.csv (200 rows), out-of-fold validation KLD 1.2500, test KLD 1.3000"


def test_summary_line_of_a_holdout_submission_gives_the_holdout_score(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({
        "holdout": {"val_kld": 0.6}, "kfold": {"oof_kld": 1.25},  # an ensemble of an earlier run
        "submission": {"path": "s.csv", "rows": 20, "models": ["holdout.keras"], "test_kld": 0.55},
    }))
    assert summary_line(path) == "Submission: s.csv (20 rows), holdout validation KLD 0.6000, test KLD 0.5500"


def template_columns():
    words = WORDS[::-1]
    return ["ID", *words]


def test_submission_follows_the_template_columns():
    p = probabilities(3)
    columns = template_columns()
    frame = build_submission(np.array([10, 11, 12]), p, template_ids=np.array([12, 10, 11]), columns=columns)
    assert list(frame.columns) == columns and list(frame["ID"]) == [12, 10, 11]
    np.testing.assert_allclose(frame[WORDS].iloc[0], p[2], rtol=1e-4)
    validate_submission(frame, expected_ids=np.array([12, 10, 11]), columns=columns)
    with pytest.raises(SubmissionError, match="expected columns id"):
        validate_submission(frame, expected_ids=np.array([12, 10, 11]))


def test_column_note_says_whose_order_was_written():
    assert "no template" in column_note(None)
    assert "kit's order)" in column_note(["id", *WORDS])
    assert column_note(template_columns()) == "columns as the template has them, not the kit's order: ID, zero, yes, wow, ..."
