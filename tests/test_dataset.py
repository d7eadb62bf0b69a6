import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from utils.dataset.clips import clip_id, decode_clips, folder_fingerprint, list_clips, load_clips, read_clip
from utils.dataset.corrections import main as datawarnings_main
from utils.dataset.corrections import record, recorded
from utils.dataset import tables
from utils.dataset.errors import DataError, DataWarning
from utils.dataset.tables import (
    load_test_answers,
    load_train,
    read_answers,
    read_groups,
    read_template,
)
from utils.dataset.words import WORDS


def folder_digest(root: Path) -> str:
    digest = hashlib.sha1()
    for path in sorted(root.rglob("*")):
        digest.update(str(path.relative_to(root)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.mark.parametrize("name, expected", [("train_00042.wav", 42), ("test_7.wav", 7), ("00001.wav", 1)])
def test_clip_id_is_the_number_ending_the_name(name, expected):
    assert clip_id(name) == expected


def test_clip_id_without_number_names_the_file():
    with pytest.raises(DataError, match="noise.wav: expected a file name ending in a number"):
        clip_id("noise.wav")
    with pytest.raises(DataError, match="expected a file name ending in a number"):
        clip_id("test_\u0661\u0662.wav")  # Arabic-Indic digits, which int() would read as 12


def test_a_folder_or_table_that_cannot_be_read_is_named(dacon_folder, tmp_path, monkeypatch):
    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    with monkeypatch.context() as patch:
        patch.setattr(Path, "iterdir", refused)
        with pytest.raises(DataError, match="test: could not be listed .Permission denied.; expected a readable"):
            list_clips(dacon_folder / "test")
    monkeypatch.setattr(tables, "open", refused, raising=False)
    with pytest.raises(DataError, match="train_answer.csv: could not be read .Permission denied.; expected a readable"):
        read_answers(dacon_folder / "train_answer.csv", np.arange(5))


def test_load_train_aligns_clips_and_answers(dacon_folder, tmp_path):
    before = folder_digest(dacon_folder)
    ids, clips, answers = load_train(dacon_folder, cache_dir=tmp_path / "cache")
    assert list(ids) == list(range(12)) and clips.shape == (12, 16000) and clips.dtype == np.int16
    table = pd.read_csv(dacon_folder / "train_answer.csv")
    np.testing.assert_array_equal(answers, table[WORDS].to_numpy(dtype=np.float32))
    data, rate = sf.read(dacon_folder / "train" / "train_00003.wav", dtype="int16")
    np.testing.assert_array_equal(clips[3], data)
    assert folder_digest(dacon_folder) == before  # the data folder is read-only to the kit


def test_answers_are_aligned_by_id_not_row_order(dacon_folder, tmp_path):
    path = dacon_folder / "train_answer.csv"
    table = pd.read_csv(path)
    table.iloc[::-1].to_csv(path, index=False)
    ids, _, answers = load_train(dacon_folder, cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(answers[0], table[WORDS].iloc[0].to_numpy(dtype=np.float32))


def test_cache_is_reused_and_refreshed_when_clips_change(dacon_folder, tmp_path):
    cache = tmp_path / "cache"
    _, first = load_clips(dacon_folder / "test", cache_dir=cache)
    _, again = load_clips(dacon_folder / "test", cache_dir=cache)
    assert first.filename == again.filename and len(list(cache.iterdir())) == 1
    sf.write(dacon_folder / "test" / "test_00000.wav", np.zeros(16000, dtype=np.int16), 16000, subtype="PCM_16")
    _, changed = load_clips(dacon_folder / "test", cache_dir=cache)
    assert changed.filename != first.filename and (changed[0] == 0).all()


def test_a_file_name_that_is_not_utf8_is_read_and_keyed(dacon_folder, tmp_path):
    korean = "테스트_00009.wav".encode("cp949")  # as a Korean Windows zip leaves it, extracted on Linux
    try:
        shutil.copy(dacon_folder / "test" / "test_00000.wav", os.fsdecode(os.fsencode(dacon_folder / "test") + b"/" + korean))
        Path(os.fsdecode(os.fsencode(dacon_folder) + b"/" + "설명.txt".encode("cp949"))).write_text("notes")
    except OSError:
        pytest.skip("this file system takes UTF-8 names only")
    assert folder_fingerprint(dacon_folder)
    ids, clips = load_clips(dacon_folder / "test", cache_dir=tmp_path / "cache")
    assert ids[-1] == 9 and (clips[-1] == clips[0]).all()


def test_test_answers_only_where_the_truth_exists(dacon_folder, tmp_path):
    ids, _ = load_clips(dacon_folder / "test", cache_dir=tmp_path)
    assert load_test_answers(dacon_folder, ids).shape == (5, 30)
    (dacon_folder / "test_answer.csv").unlink()
    assert load_test_answers(dacon_folder, ids) is None


# --- clips that are corrected, with one warning per kind -------------------------------------------


@pytest.mark.parametrize("rate, channels, seconds, subtype, fix", [
    (44100, 2, 1.0, "PCM_16", {"resampled", "downmixed"}),
    (16000, 1, 0.5, "PCM_16", {"padded"}),
    (16000, 1, 3.0, "PCM_16", {"cut"}),
    (16000, 1, 1.0, "FLOAT", set()),
])
def test_odd_clips_are_corrected(tmp_path, rate, channels, seconds, subtype, fix):
    t = np.arange(int(rate * seconds)) / rate
    audio = 0.5 * np.sin(2 * np.pi * 440 * t)
    audio = np.stack([audio] * channels, axis=1) if channels > 1 else audio
    path = tmp_path / "clip_1.wav"
    sf.write(path, audio, rate, subtype=subtype)
    before = folder_digest(tmp_path)
    clip, fixes = read_clip(path)
    assert folder_digest(tmp_path) == before
    assert clip.shape == (16000,) and clip.dtype == np.int16 and set(fixes) == fix
    assert 0.45 < np.abs(clip[:8000]).max() / 32768 < 0.55


def test_float_clip_beyond_full_scale_is_scaled_down_not_clipped(tmp_path):
    t = np.arange(16000) / 16000
    audio = 3.0 * np.sin(2 * np.pi * 440 * t)
    sf.write(tmp_path / "clip_1.wav", audio, 16000, subtype="FLOAT")
    clip, fixes = read_clip(tmp_path / "clip_1.wav")
    assert fixes == {"scaled": "peak 3 times full scale"}
    np.testing.assert_allclose(clip / 32768, audio / 3.0, atol=1e-4)  # the same wave, not a clipped square
    with pytest.warns(DataWarning, match=r"1 clips had samples beyond full scale .*clip_1.wav: peak 3 times full scale"):
        decode_clips([tmp_path / "clip_1.wav"])


def test_a_loud_int16_clip_at_48khz_is_resampled_without_being_turned_down(tmp_path):
    square = np.where(np.sin(2 * np.pi * 440 * np.arange(48000) / 48000) >= 0, 32767, -32768).astype(np.int16)
    sf.write(tmp_path / "clip_1.wav", square, 48000, subtype="PCM_16")
    clip, fixes = read_clip(tmp_path / "clip_1.wav")
    assert set(fixes) == {"resampled"} and np.median(np.abs(clip.astype(np.int32))) > 31000  # full level kept


def test_loud_float_stereo_near_the_float32_limit_is_scaled_not_called_infinite(tmp_path):
    audio = np.full((16000, 2), 3e38, dtype=np.float32)
    audio[::2] *= -1
    sf.write(tmp_path / "clip_1.wav", audio, 16000, subtype="FLOAT")
    clip, fixes = read_clip(tmp_path / "clip_1.wav")
    assert set(fixes) == {"downmixed", "scaled"} and abs(int(clip[1])) >= 32767


def test_corrections_warn_once_per_kind_with_a_count(tmp_path):
    folder = tmp_path / "clips"
    folder.mkdir()
    for i in range(3):
        sf.write(folder / f"c_{i}.wav", np.full(8000, 0.1), 16000, subtype="PCM_16")
    with pytest.warns(DataWarning, match="3 clips were shorter than 1 s") as record:
        load_clips(folder, cache_dir=tmp_path / "cache")
    assert len([w for w in record if issubclass(w.category, DataWarning)]) == 1


def test_truncated_clip_says_what_its_header_promised(tmp_path):
    folder = tmp_path / "clips"
    folder.mkdir()
    sf.write(folder / "c_1.wav", np.full(16000, 0.25), 16000, subtype="PCM_16")
    whole = (folder / "c_1.wav").read_bytes()
    (folder / "c_1.wav").write_bytes(whole[: len(whole) - 16000])  # cut half of the samples
    clip, fixes = read_clip(folder / "c_1.wav")
    assert fixes == {"truncated": "header says 16000 frames, file holds 8000"}
    assert (clip[:8000] == 8192).all() and (clip[8000:] == 0).all()
    expected = r"1 clips are truncated .*first: .*c_1.wav: header says 16000 frames, file holds 8000\)"
    with pytest.warns(DataWarning, match=expected) as record:
        decode_clips(list_clips(folder)[1], record_to=tmp_path / "out" / "metrics.json")
    assert len(record) == 1 and "shorter than 1 s" not in str(record[0].message)
    assert recorded(tmp_path / "out" / "metrics.json") == [str(record[0].message)]


def test_warnings_are_recorded_once_in_metrics(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"holdout": {"val_kld": 1.5}}))
    record(path, ["a", "b"])
    assert record(path, ["b", "c"]) == ["a", "b", "c"]
    assert json.loads(path.read_text()) == {"holdout": {"val_kld": 1.5}, "data_warnings": ["a", "b", "c"]}
    assert recorded(tmp_path / "none.json") == []


def test_show_prints_only_the_new_warnings(tmp_path, capsys):
    path = tmp_path / "metrics.json"
    record(path, ["first", "second"])
    datawarnings_main(["show", str(path), "--after", "1"])
    out = capsys.readouterr()
    assert out.out == "2\n" and out.err == "  data warning: second\n"


# --- clips that are refused, naming the file -------------------------------------------------------


@pytest.mark.parametrize("content, expected", [
    (b"", "not a readable WAV file"),
    (b"RIFF\x24\x00\x00\x00WAVEfmt ", "not a readable WAV file"),
    (b"id,bed\n1,0.25\n", "not a readable WAV file"),
])
def test_unreadable_clips_name_the_file(tmp_path, content, expected):
    path = tmp_path / "train_00001.wav"
    path.write_bytes(content)
    before = folder_digest(tmp_path)
    with pytest.raises(DataError, match=f"train_00001.wav: {expected}"):
        load_clips(tmp_path, cache_dir=tmp_path.parent / "cache")
    assert folder_digest(tmp_path) == before


def test_clip_without_samples_is_refused(tmp_path):
    path = tmp_path / "train_00002.wav"
    sf.write(path, np.zeros(0, dtype=np.int16), 16000, subtype="PCM_16")
    with pytest.raises(DataError, match="train_00002.wav: the WAV file holds no samples by its header; expected"):
        read_clip(path)
    with open(path, "ab") as handle:  # audio after a header that still says 0 bytes: an unfinished recording
        handle.write(np.ones(16000, dtype=np.int16).tobytes())
    with pytest.raises(DataError, match="no samples by its header; yet the file has 32,044 bytes: a recording never"):
        read_clip(path)


def test_silent_clips_are_kept_with_a_warning(tmp_path):
    sf.write(tmp_path / "c_1.wav", np.full(16000, 1e-6), 16000, subtype="FLOAT")  # rounds to 0 at 16 bits
    with pytest.warns(DataWarning, match=r"1 clips are silent .*c_1.wav"):
        clips = decode_clips([tmp_path / "c_1.wav"])
    assert not clips.any()


def test_a_pipe_or_folder_named_like_a_clip_is_refused_without_reading_it(tmp_path):
    os.mkfifo(tmp_path / "train_00001.wav")  # reading it would block
    with pytest.raises(DataError, match="train_00001.wav: not a regular file; expected a WAV file"):
        list_clips(tmp_path)
    (tmp_path / "train_00001.wav").unlink()
    (tmp_path / "train_00002.wav").mkdir()
    with pytest.raises(DataError, match="train_00002.wav: not a regular file"):
        list_clips(tmp_path)


def test_an_id_too_large_for_the_id_column_is_refused_naming_the_file(tmp_path):
    with pytest.raises(DataError, match="train_99999999999999999999.wav: expected a file name ending in a number"):
        clip_id(tmp_path / "train_99999999999999999999.wav")
    assert clip_id("train_9223372036854775807.wav") == 2**63 - 1


def test_audio_files_other_than_wav_are_named_when_left_out(dacon_folder):
    shutil.copy(dacon_folder / "test" / "test_00000.wav", dacon_folder / "test" / "test_00100.flac")
    with pytest.warns(DataWarning, match="1 audio file is not .wav and left out .first: test_00100.flac"):
        ids, _ = list_clips(dacon_folder / "test", record_to=dacon_folder.parent / "metrics.json")
    assert 100 not in ids and "test_00100.flac" in recorded(dacon_folder.parent / "metrics.json")[0]
    for path in (dacon_folder / "test").glob("*.wav"):
        path.rename(path.with_suffix(".mp3"))
    with pytest.raises(DataError, match="has none .* audio files of other kinds, like test_00000.mp3: convert them"):
        list_clips(dacon_folder / "test")


def test_empty_or_missing_folder_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty: expected .wav clips, the folder has none"):
        list_clips(tmp_path / "empty")
    with pytest.raises(DataError, match="nowhere: expected a folder"):
        list_clips(tmp_path / "nowhere")


def test_clips_one_folder_too_deep_are_pointed_to(tmp_path):
    (tmp_path / "train" / "clips").mkdir(parents=True)
    (tmp_path / "train" / "clips" / "train_00000.wav").write_bytes(b"")
    with pytest.raises(DataError, match="train: expected .wav clips, the folder has none .its subfolder clips has some"):
        list_clips(tmp_path / "train")


def test_duplicated_clip_id_is_refused(dacon_folder):
    shutil.copy(dacon_folder / "test" / "test_00001.wav", dacon_folder / "test" / "test_1.wav")
    with pytest.raises(DataError, match="id 1 is used by both"):
        list_clips(dacon_folder / "test")


# --- answer tables ---------------------------------------------------------------------------------


def edit_answers(folder: Path, edit) -> Path:
    path = folder / "train_answer.csv"
    table = pd.read_csv(path)
    table = edit(table)
    table.to_csv(path, index=False)
    return path


def set_cell(row, column, value):
    def edit(table):
        table[column] = table[column].astype(object)
        table.loc[row, column] = value
        return table
    return edit


@pytest.mark.parametrize("edit, expected", [
    (set_cell(3, "bed", np.nan), r"row 5 \(id 3\): expected a number in every word column, found an empty cell in column 'bed'"),
    (set_cell(2, "cat", "low"), r"row 4 \(id 2\): expected a number in every word column, found 'low' in column 'cat'"),
    (set_cell(4, "cat", -0.25), r"row 6 \(id 4\): expected no negative values"),
    (set_cell(0, "zero", 0.5), r"row 2 \(id 0\): expected values summing to 1, found 1.5 .*dividing by their row's sum"),
    (lambda t: t.assign(**{w: t[w] * 100 for w in WORDS}), r"row 2 \(id 0\): expected values summing to 1, found 100 \(12 rows"),
    (lambda t: t.drop(columns="wow"), r"missing \['wow'\]"),
    (lambda t: t.assign(extra=0), r"unknown \['extra'\]"),
    (lambda t: pd.concat([t, t.iloc[[2]]]), r"row 14 \(id 2\): the id appears more than once"),
    (lambda t: t.drop(index=5), r"no row for 1 clips .* \(first id 5\)"),
    (lambda t: pd.concat([t, t.iloc[[0]].assign(id=99)]), r"1 rows have no clip .* \(first id 99\)"),
    (set_cell(1, "id", "x"), r"row 3: expected an integer id below 2\*\*63, found 'x'"),
    (set_cell(1, "id", "NA"), r"row 3: expected an integer id below 2\*\*63, found 'NA'"),
    (set_cell(1, "id", 2**63), r"row 3: expected an integer id below 2\*\*63, found '9223372036854775808'"),
    (lambda t: pd.concat([t.iloc[:3], t.iloc[[0]].map(lambda v: np.nan), t.iloc[3:]]), r"row 5: expected an integer id below 2\*\*63, found an empty row"),
    (lambda t: t.rename(columns={"cat": "bed"}), r"the header names column 'bed' 2 times; expected each column once"),
])
def test_bad_answers_name_the_row(dacon_folder, tmp_path, edit, expected):
    path = edit_answers(dacon_folder, edit)
    before = folder_digest(dacon_folder)
    with pytest.raises(DataError, match=expected) as error:
        load_train(dacon_folder, cache_dir=tmp_path / "cache")
    assert "train_answer.csv" in str(error.value)
    assert folder_digest(dacon_folder) == before
    assert path.is_file()


@pytest.mark.parametrize("sep, name", [(";", "semicolons"), ("\t", "tabs")])
def test_a_table_with_another_separator_is_refused_naming_it(dacon_folder, tmp_path, sep, name):
    path = dacon_folder / "train_answer.csv"
    pd.read_csv(path).to_csv(path, sep=sep, index=False)
    with pytest.raises(DataError, match=f"train_answer.csv: expected an 'id' column.*separated by {name}: expected commas"):
        load_train(dacon_folder, cache_dir=tmp_path / "cache")


def test_a_row_with_more_fields_than_the_header_is_refused_naming_it(dacon_folder, tmp_path):
    path = dacon_folder / "train_answer.csv"
    header, *rows = path.read_text().splitlines()
    path.write_text("\n".join([header, *(row + ",0.5" for row in rows)]) + "\n")  # a column without a header
    with pytest.raises(DataError, match="train_answer.csv: row 2: found 32 fields where the header has 31"):
        load_train(dacon_folder, cache_dir=tmp_path / "cache")


def test_a_row_is_named_by_its_line_in_the_file_past_blank_lines(dacon_folder, tmp_path):
    path = dacon_folder / "train_answer.csv"
    lines = path.read_text().splitlines()
    lines[5] = lines[5].replace("0.25", "-0.25", 1)  # file line 6, id 4
    path.write_text("\n".join([*lines[:3], "", "  ", *lines[3:]]) + "\n")  # two blank lines before it
    with pytest.raises(DataError, match=r"train_answer.csv: row 8 \(id 4\): expected no negative values"):
        load_train(dacon_folder, cache_dir=tmp_path / "cache")


def test_spreadsheet_leftovers_are_dropped_with_a_warning_each(dacon_folder, tmp_path):
    path = dacon_folder / "train_answer.csv"
    expected = pd.read_csv(path)[WORDS].to_numpy(dtype=np.float32)
    lines = [line.replace(",", ", ") + "," for line in path.read_text().splitlines()]  # spaces, a comma ending each line
    path.write_text("\r\n".join([*lines, "," * 31, "," * 31]) + "\r\n")  # and two rows of separators at the end
    with pytest.warns(DataWarning) as record:
        _, _, answers = load_train(dacon_folder, cache_dir=tmp_path / "cache")
    messages = [str(w.message) for w in record]
    assert any("1 columns with neither a header nor a value" in m for m in messages)
    assert any("2 empty rows at the end" in m for m in messages)
    np.testing.assert_array_equal(answers, expected)


def test_a_utf16_table_is_read_and_another_encoding_is_refused_naming_utf8(dacon_folder, tmp_path):
    path = dacon_folder / "train_answer.csv"
    expected = pd.read_csv(path)[WORDS].to_numpy(dtype=np.float32)
    text = path.read_text()
    path.write_text(text, encoding="utf-16")
    _, _, answers = load_train(dacon_folder, cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(answers, expected)
    path.write_bytes(text.replace("id,", "\xefd,", 1).encode("latin-1"))
    with pytest.raises(DataError, match="train_answer.csv: not UTF-8 text; expected a CSV saved as UTF-8"):
        load_train(dacon_folder, cache_dir=tmp_path / "cache2")


def test_semicolons_with_decimal_commas_are_refused_naming_the_separator(dacon_folder, tmp_path):
    path = dacon_folder / "train_answer.csv"
    pd.read_csv(path).to_csv(path, sep=";", decimal=",", index=False)
    with pytest.raises(DataError, match="train_answer.csv: row 2: .*separated by semicolons: expected commas"):
        load_train(dacon_folder, cache_dir=tmp_path / "cache")


def test_template_order_is_kept_and_checked(dacon_folder, tmp_path):
    ids, _ = load_clips(dacon_folder / "test", cache_dir=tmp_path)
    path = dacon_folder / "submission.csv"
    table = pd.read_csv(path).iloc[[3, 1, 0, 4, 2]]
    table.to_csv(path, index=False)
    assert list(read_template(path, ids)[0]) == [3, 1, 0, 4, 2]
    table.iloc[1:].to_csv(path, index=False)
    with pytest.raises(DataError, match=r"submission.csv: no row for 1 clips .*first id 3"):
        read_template(path, ids)


def test_a_saved_pandas_index_is_dropped_with_one_warning(dacon_folder, tmp_path):
    path = dacon_folder / "train_answer.csv"
    expected = pd.read_csv(path)[WORDS].to_numpy(dtype=np.float32)
    pd.read_csv(path).to_csv(path)  # pandas' default: a leading unnamed index column
    assert path.read_text().startswith(",id,bed")
    with pytest.warns(DataWarning, match=r"train_answer.csv: the first column is unnamed and holds 0..11") as record:
        _, _, answers = load_train(dacon_folder, cache_dir=tmp_path / "cache")
    assert len(record) == 1
    np.testing.assert_array_equal(answers, expected)


@pytest.mark.parametrize("index", [np.arange(1, 13), np.arange(12)[::-1]])
def test_an_unnamed_column_that_is_not_an_index_is_refused(dacon_folder, tmp_path, index):
    path = dacon_folder / "train_answer.csv"
    table = pd.read_csv(path)
    table.index = index
    table.to_csv(path)
    with pytest.raises(DataError, match=r"train_answer.csv: expected columns id \+ the 30 words; .*unknown \['Unnamed: 0'\]"):
        load_train(dacon_folder, cache_dir=tmp_path / "cache")


def test_a_broken_link_among_the_clips_is_named(dacon_folder):
    (dacon_folder / "train" / "train_00099.wav").symlink_to(dacon_folder / "gone.wav")
    with pytest.raises(DataError, match=r"train_00099.wav: a link to .*gone.wav, which does not exist"):
        list_clips(dacon_folder / "train")


def test_a_template_whose_id_column_has_no_header_is_read_with_a_warning(dacon_folder, tmp_path):
    ids, _ = load_clips(dacon_folder / "test", cache_dir=tmp_path)
    path = dacon_folder / "submission.csv"
    path.write_text(path.read_text().replace("id,", ",", 1))
    with pytest.warns(DataWarning, match="submission.csv: the first column has no header: read as the ids"):
        template_ids, columns, _ = read_template(path, ids)
    assert list(template_ids) == list(ids) and columns == ["id", *WORDS]


def test_a_separator_ending_every_data_row_does_not_shift_the_columns(dacon_folder, tmp_path):
    path = dacon_folder / "train_answer.csv"
    expected = pd.read_csv(path)[WORDS].to_numpy(dtype=np.float32)
    header, *rows = path.read_text().splitlines()
    path.write_text("\n".join([header, *(row + "," for row in rows)]) + "\n")
    _, _, answers = load_train(dacon_folder, cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(answers, expected)


def test_template_columns_are_kept_in_their_order(dacon_folder, tmp_path):
    ids, _ = load_clips(dacon_folder / "test", cache_dir=tmp_path)
    path = dacon_folder / "submission.csv"
    table = pd.read_csv(path)[["id", *WORDS[::-1]]].rename(columns={"id": "ID"})
    table.to_csv(path)  # with pandas' index as well
    with pytest.warns(DataWarning, match="submission.csv: the first column is unnamed"):
        template_ids, columns, _ = read_template(path, ids)
    assert list(template_ids) == list(ids) and columns == ["ID", *WORDS[::-1]]


def test_template_ids_are_given_as_written_for_the_submission_to_keep(dacon_folder, tmp_path):
    ids, _ = load_clips(dacon_folder / "test", cache_dir=tmp_path)
    path = dacon_folder / "submission.csv"
    table = pd.read_csv(path).iloc[::-1]
    table.insert(0, "id", table.pop("id").map("{:03d}".format))
    table.to_csv(path, index=False)
    template_ids, _, labels = read_template(path, ids)
    assert list(template_ids) == list(ids[::-1]) and list(labels) == [f"{i:03d}" for i in ids[::-1]]
    table.assign(id=table["id"].astype(float)).to_csv(path, index=False)  # 9.0: not digits, written as an integer
    assert list(read_template(path, ids)[2]) == [str(i) for i in ids[::-1]]


@pytest.mark.parametrize("edit, expected", [
    (lambda t: t.drop(columns="bed"), r"missing \['bed'\], unknown \[\]"),
    (lambda t: t.assign(score=0), r"missing \[\], unknown \['score'\]"),
    (lambda t: t.rename(columns={"id": "clip"}), "expected an 'id' column"),
])
def test_template_with_other_columns_is_refused(dacon_folder, tmp_path, edit, expected):
    ids, _ = load_clips(dacon_folder / "test", cache_dir=tmp_path)
    path = dacon_folder / "submission.csv"
    edit(pd.read_csv(path)).to_csv(path, index=False)
    with pytest.raises(DataError, match=f"submission.csv: .*{expected}"):
        read_template(path, ids)


def test_missing_answer_file_is_named(dacon_folder, tmp_path):
    (dacon_folder / "train_answer.csv").unlink()
    with pytest.raises(DataError, match="train_answer.csv: expected a CSV file"):
        load_train(dacon_folder, cache_dir=tmp_path)


def test_read_answers_returns_rows_in_id_order(dacon_folder):
    answers = read_answers(dacon_folder / "test_answer.csv", np.array([4, 0, 1, 2, 3]))
    table = pd.read_csv(dacon_folder / "test_answer.csv")
    np.testing.assert_array_equal(answers[0], table[WORDS].iloc[4].to_numpy(dtype=np.float32))


def test_groups_are_aligned_by_id_and_optional(dacon_folder):
    ids = np.arange(12)
    assert read_groups(dacon_folder, ids) is None
    pd.DataFrame({"id": ids[::-1], "group": ids[::-1] % 3}).to_csv(dacon_folder / "train_groups.csv", index=False)

    def same_group(groups):
        return groups[:, None] == groups[None, :]

    np.testing.assert_array_equal(same_group(read_groups(dacon_folder, ids)), same_group(ids % 3))
    speakers = [f"spk-{i % 4}" for i in ids]  # text labels, a space after the comma
    (dacon_folder / "train_groups.csv").write_text("id, group\n" + "".join(f"{i}, {s}\n" for i, s in zip(ids, speakers)))
    np.testing.assert_array_equal(same_group(read_groups(dacon_folder, ids)), same_group(ids % 4))
    (dacon_folder / "train_groups.csv").write_text("ID,Group\n" + "".join(f"{i},{i % 2}\n" for i in ids))  # any case
    np.testing.assert_array_equal(same_group(read_groups(dacon_folder, ids)), same_group(ids % 2))
    pd.DataFrame({"id": ids, "group": ids % 5}).to_csv(dacon_folder / "train_groups.csv")  # pandas' index saved too
    with pytest.warns(DataWarning, match="train_groups.csv: the first column is unnamed and holds 0..11"):
        np.testing.assert_array_equal(same_group(read_groups(dacon_folder, ids)), same_group(ids % 5))


@pytest.mark.parametrize("table, expected", [
    ("id,speaker\n0,1\n", "expected the columns id, group"),
    ("id;group\n0;1\n", "expected the columns id, group; .*separated by semicolons: expected commas"),
    ("id,group\n0.5,a\n", "row 2: expected an integer id below 2\\*\\*63, found '0.5'"),
    ("id,group\n9223372036854775808,a\n", "row 2: expected an integer id below 2\\*\\*63, found '9223372036854775808'"),
    ("id,group\n0,\n", "row 2 \\(id 0\\): expected a group label"),
    ("id,group\n0,1\n0,2\n", "row 3 \\(id 0\\): the id appears more than once"),
    ("id,group\n0,1\n", "no row for 11 clips"),
])
def test_bad_groups_name_the_file_and_row(dacon_folder, table, expected):
    (dacon_folder / "train_groups.csv").write_text(table)
    with pytest.raises(DataError, match=f"train_groups.csv: {expected}"):
        read_groups(dacon_folder, np.arange(12))
