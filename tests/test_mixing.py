import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from conftest import tone_bank

from utils.datagen.cli import main
from utils.datagen.corpus import load_word_folder, speaker_groups, split_bank_by_speaker
from utils.datagen.writer import make_embedded_dataset, mix_words, write_dataset, write_word_bank
from utils.dataset.errors import DataError
from utils.dataset.saved_words import WordMixer
from utils.dataset.words import CLIP_SAMPLES, SAMPLE_RATE, WORDS


def write_tone(path, *, rate=SAMPLE_RATE, freq=440.0):
    """1 s with a 0.3 s tone in the middle, like a Speech Commands clip."""
    audio = np.zeros(rate, dtype=np.float32)
    t = np.arange(int(0.3 * rate)) / rate
    audio[int(0.35 * rate) : int(0.35 * rate) + len(t)] = 0.5 * np.sin(2 * np.pi * freq * t)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio, rate, subtype="PCM_16")


@pytest.fixture
def corpus(tmp_path):
    root = tmp_path / "corpus"
    for word in WORDS:
        for speaker in ("0a7c2a8d", "0b09edd3", "0c40e715"):
            write_tone(root / word / f"{speaker}_nohash_0.wav")
    write_tone(root / "bed" / "0a7c2a8d_nohash_1.wav", rate=8000)  # resampled on load
    write_tone(root / "_background_noise_" / "white_noise.wav")
    return root


def test_mix_words_shapes_and_labels():
    clips, labels, groups = mix_words(tone_bank(), n_clips=1100, random_state=0)  # more than one chunk
    assert (groups == 0).all()
    assert clips.dtype == np.int16 and clips.shape == (1100, CLIP_SAMPLES)
    assert labels.dtype == np.float32 and labels.shape == (1100, len(WORDS))
    assert ((labels == 0.25).sum(axis=1) == 4).all()
    assert ((labels == 0) | (labels == 0.25)).all()
    peaks = np.abs(clips.astype(np.int32)).max(axis=1) / 32767
    assert peaks.min() >= 0.5 - 1e-3 and peaks.max() <= 0.95 + 1e-3


def test_mix_words_depends_only_on_its_random_state():
    bank = tone_bank()
    clips, labels, _ = mix_words(bank, n_clips=50, random_state=1)
    same_clips, same_labels, _ = mix_words(bank, n_clips=50, random_state=1)
    other_clips, other_labels, _ = mix_words(bank, n_clips=50, random_state=2)
    assert np.array_equal(clips, same_clips) and np.array_equal(labels, same_labels)
    assert not np.array_equal(clips, other_clips) and not np.array_equal(labels, other_labels)


def test_grouped_clips_mix_voices_of_one_group_only():
    low = tone_bank(("a", "b"))  # tones below 1.2 kHz; c says its words as tones above 3 kHz
    bank = {w: low[w] + [("c", 0.5 * np.sin(2 * np.pi * (3000 + 30 * i) * np.arange(4000) / SAMPLE_RATE))]
            for i, w in enumerate(WORDS)}
    clips, labels, groups = mix_words(bank, n_clips=200, random_state=0, groups={"a": 0, "b": 0, "c": 1})
    assert set(groups.tolist()) == {0, 1}
    power = np.abs(np.fft.rfft(clips.astype(np.float64), axis=1)) ** 2
    high_share = power[:, 2500:].sum(axis=1) / power.sum(axis=1)  # bins are 1 Hz apart
    assert (high_share[groups == 1] > 0.9).all() and (high_share[groups == 0] < 0.1).all()  # a mix: ~0.25 or more
    again = mix_words(bank, n_clips=200, random_state=0, groups={"a": 0, "b": 0, "c": 1})
    assert np.array_equal(again[0], clips) and np.array_equal(again[2], groups)


def test_a_group_missing_a_word_is_named():
    bank = tone_bank(("a", "b"))
    bank["wow"] = bank["wow"][:1]  # only speaker a says it
    with pytest.raises(ValueError, match="'wow' by a speaker of voice group 1"):
        mix_words(bank, n_clips=5, random_state=0, groups={"a": 0, "b": 1})


def test_speaker_groups_keep_speakers_of_a_key_together():
    keys = {f"en+{v}/r{r}": v for v in ("m1", "m2", "f1", "f2", "f3") for r in (150, 170)}
    groups = speaker_groups(keys, n_groups=3, random_state=0)
    assert set(groups.values()) == {0, 1, 2}
    for variant in ("m1", "m2", "f1", "f2", "f3"):
        assert groups[f"en+{variant}/r150"] == groups[f"en+{variant}/r170"]
    assert set(speaker_groups(keys, n_groups=10, random_state=0).values()) == set(range(5))  # at most one per key


def test_mix_words_needs_every_word():
    bank = tone_bank()
    del bank["wow"]
    with pytest.raises(ValueError, match="wow"):
        mix_words(bank, n_clips=5, random_state=0)


def test_write_dataset_layout(tmp_path):
    out = tmp_path / "data"
    train_bank, test_bank = tone_bank(("a", "b")), tone_bank(("c",))
    assert write_dataset(out, train_bank=train_bank, test_bank=test_bank, n_train=12, n_test=5, random_state=0) == out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]  # no temp folder left
    assert sorted(p.name for p in out.iterdir()) == [
        "submission.csv", "test", "test_answer.csv", "train", "train_answer.csv", "train_words",
    ]
    assert len(WordMixer.load(out).index) == 2 * len(WORDS)  # the training bank only
    for side, n in (("train", 12), ("test", 5)):
        names = sorted(p.name for p in (out / side).iterdir())
        assert names == [f"{side}_{i:05d}.wav" for i in range(n)]
        for name in names:
            info = sf.info(out / side / name)
            expected = (SAMPLE_RATE, 1, CLIP_SAMPLES, "PCM_16")
            assert (info.samplerate, info.channels, info.frames, info.subtype) == expected
        answers = pd.read_csv(out / f"{side}_answer.csv")
        assert list(answers.columns) == ["id"] + WORDS
        assert answers["id"].tolist() == list(range(n))
        values = answers[WORDS].to_numpy()
        assert np.allclose(values.sum(axis=1), 1.0) and ((values == 0.25).sum(axis=1) == 4).all()
    first_line = (out / "train_answer.csv").read_text().splitlines()[1].split(",")
    assert set(first_line[1:]) == {"0", "0.25"}
    template = pd.read_csv(out / "submission.csv")
    assert list(template.columns) == ["id"] + WORDS
    assert template["id"].tolist() == list(range(5)) and (template[WORDS].to_numpy() == 0).all()
    # The same random state writes the same clips.
    again = write_dataset(tmp_path / "again", train_bank=train_bank, test_bank=test_bank, n_train=12, n_test=5, random_state=0)
    assert (out / "train" / "train_00003.wav").read_bytes() == (again / "train" / "train_00003.wav").read_bytes()


def test_saved_words_mix_fresh_clips_of_their_labels_from_chosen_groups(tmp_path):
    bank = {w: [(s, a if s == "loud" else 0 * a) for s, a in u] for w, u in tone_bank(("loud", "silent")).items()}
    out = write_dataset(tmp_path / "data", train_bank=bank, test_bank=tone_bank(("c",)), n_train=4, n_test=2, random_state=0,
                        train_groups={"loud": 1, "silent": 0})
    words = WordMixer.load(out)
    assert list(words.groups) == ["0", "1"]
    everyone, _ = words(64, np.random.default_rng(0))
    assert (np.abs(everyone).max(axis=1) == 0).any()  # some mixed from the silent group

    waves, labels = words.restricted([1])(64, np.random.default_rng(0))
    assert waves.dtype == np.float32 and waves.shape == (64, CLIP_SAMPLES)
    peaks = np.abs(waves).max(axis=1)
    assert peaks.min() >= 0.5 - 1e-3 and peaks.max() <= 0.95 + 1e-3  # like the written clips, / 32768
    assert ((labels == 0.25).sum(axis=1) == 4).all() and np.allclose(labels.sum(axis=1), 1)
    spectrum = np.abs(np.fft.rfft(waves, axis=1))  # 1 Hz per bin
    tones = 200 + 30 * np.arange(len(WORDS))  # each word's tone in tone_bank
    energy = np.stack([spectrum[:, f - 3:f + 4].max(axis=1) for f in tones], axis=1)
    heard = np.sort(np.argsort(-energy, axis=1)[:, :4], axis=1)
    np.testing.assert_array_equal(heard, np.sort(np.argsort(-labels, axis=1)[:, :4], axis=1))


def test_saved_words_errors_name_the_file(tmp_path):
    assert WordMixer.load(tmp_path) is None  # a dataset without saved words, like the DACON download
    write_word_bank(tmp_path / "train_words", tone_bank(("a", "b")), {"a": 0, "b": 1})
    with pytest.raises(DataError, match="no words by the voice groups"):
        WordMixer.load(tmp_path).restricted(["7"])
    index_path = tmp_path / "train_words" / "index.csv"
    index = pd.read_csv(index_path)
    index.drop(index.index[(index["word"] == "wow") & (index["group"] == 1)]).to_csv(index_path, index=False)
    with pytest.raises(DataError, match="train_words: no utterance of 'wow' by a speaker of voice group 1"):
        WordMixer.load(tmp_path)
    index.loc[5, "word"] = "hello"
    index.to_csv(index_path, index=False)
    with pytest.raises(DataError, match="index.csv: row 7: expected a word of WORDS"):
        WordMixer.load(tmp_path)
    index.iloc[:0].to_csv(index_path, index=False)
    with pytest.raises(DataError, match="index.csv: expected the columns .* and a row per word"):
        WordMixer.load(tmp_path)
    np.save(tmp_path / "train_words" / "audio.npy", np.zeros(10, dtype=np.float32))
    with pytest.raises(DataError, match="audio.npy: expected one row of int16 samples"):
        WordMixer.load(tmp_path)


def test_write_dataset_refuses_non_empty_folder(tmp_path):
    out = tmp_path / "data"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="data"):
        write_dataset(out, train_bank=tone_bank(), test_bank=tone_bank(), n_train=2, n_test=2, random_state=0)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_write_dataset_accepts_empty_folder(tmp_path):
    out = tmp_path / "data"
    out.mkdir()
    write_dataset(out, train_bank=tone_bank(), test_bank=tone_bank(), n_train=2, n_test=2, random_state=0)
    assert (out / "train" / "train_00001.wav").is_file()


def test_failed_write_leaves_nothing(tmp_path):
    test_bank = tone_bank()
    del test_bank["zero"]  # fails after the train side is written
    with pytest.raises(ValueError, match="zero"):
        write_dataset(tmp_path / "data", train_bank=tone_bank(), test_bank=test_bank, n_train=3, n_test=3, random_state=0)
    assert list(tmp_path.iterdir()) == []


def test_make_embedded_dataset(tmp_path):
    sizes = dict(n_train=6, n_test=3, random_state=0, n_train_speakers=3, n_test_speakers=2)
    out = make_embedded_dataset(tmp_path / "data", **sizes)
    voices = json.loads((out / "voices.json").read_text())
    assert len(voices["train"]) == 3 and len(voices["test"]) == 2
    train_variants = {name.split("+")[1].split("/")[0] for name in voices["train"]}
    test_variants = {name.split("+")[1].split("/")[0] for name in voices["test"]}
    assert not train_variants & test_variants
    assert len(list((out / "train").iterdir())) == 6 and len(pd.read_csv(out / "test_answer.csv")) == 3
    groups = pd.read_csv(out / "train_groups.csv")
    assert groups["id"].tolist() == list(range(6)) and set(groups["group"]) <= set(voices["groups"].values())
    assert set(voices["groups"]) == set(voices["train"])
    again = make_embedded_dataset(tmp_path / "again", **sizes)
    for name in ("train/train_00005.wav", "test/test_00002.wav", "voices.json", "train_groups.csv"):
        assert (out / name).read_bytes() == (again / name).read_bytes()


def test_load_word_folder(corpus):
    bank = load_word_folder(corpus)
    assert list(bank) == WORDS
    assert len(bank["bed"]) == 4 and len(bank["cat"]) == 3
    assert {name for name, _ in bank["bed"]} == {"0a7c2a8d", "0b09edd3", "0c40e715"}
    for utterances in bank.values():
        for _, audio in utterances:
            assert audio.dtype == np.float32
            assert 0.3 * SAMPLE_RATE <= len(audio) < 0.5 * SAMPLE_RATE  # trimmed, at 16 kHz
            assert np.isclose(np.abs(audio).max(), 1.0)


def test_load_word_folder_errors(corpus):
    for path in (corpus / "sheila").iterdir():
        path.unlink()
    with pytest.raises(ValueError, match="sheila"):
        load_word_folder(corpus)
    (corpus / "sheila").rmdir()
    with pytest.raises(FileNotFoundError, match="sheila"):
        load_word_folder(corpus)


def test_split_bank_by_speaker():
    bank = tone_bank(("a", "b", "c", "d", "e"))
    train, test = split_bank_by_speaker(bank, test_fraction=0.4, random_state=0)
    train_speakers = {name for u in train.values() for name, _ in u}
    test_speakers = {name for u in test.values() for name, _ in u}
    assert len(test_speakers) == 2 and train_speakers | test_speakers == set("abcde")
    assert not train_speakers & test_speakers
    for word in WORDS:
        assert len(train[word]) + len(test[word]) == len(bank[word])
    again = split_bank_by_speaker(bank, test_fraction=0.4, random_state=0)[1]
    assert {name for u in again.values() for name, _ in u} == test_speakers


def test_cli_from_word_folder(corpus, tmp_path, capsys):
    main(["--out", str(tmp_path / "data"), "--train", "4", "--test", "2", "--random-state", "3", "--words-from", str(corpus)])
    assert "wrote" in capsys.readouterr().out
    assert len(pd.read_csv(tmp_path / "data" / "train_answer.csv")) == 4
    assert set(pd.read_csv(tmp_path / "data" / "train_groups.csv")["group"]) <= {0, 1}  # 2 training speakers


def test_cli_takes_the_old_name_of_random_state(corpus, tmp_path, capsys):
    for option, folder in (("--random-state", "new"), ("--seed", "old")):
        main(["--out", str(tmp_path / folder), "--train", "4", "--test", "2", option, "3", "--words-from", str(corpus)])
    assert "--seed is now called --random-state" in capsys.readouterr().err
    for name in ("train_answer.csv", "test_answer.csv"):
        assert (tmp_path / "new" / name).read_bytes() == (tmp_path / "old" / name).read_bytes()
