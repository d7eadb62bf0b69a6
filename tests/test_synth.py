import numpy as np

from utils.datagen.synth import (
    ACCENTS,
    Speaker,
    build_word_bank,
    speak_word,
    split_speakers,
    trim_silence,
    voice_variants,
)
from utils.dataset.words import CLIP_SAMPLES, WORDS

SPEAKER = Speaker(accent="en-US", variant="f3", rate=150, pitch=50)


def test_speak_word_is_trimmed_normalised_16k_audio():
    audio = speak_word("marvin", SPEAKER)
    assert audio.dtype == np.float32 and audio.ndim == 1
    # "marvin" lasts a few tenths of a second; eSpeak's 22050 Hz output would be longer.
    assert 2_000 < len(audio) <= CLIP_SAMPLES
    assert np.isclose(np.abs(audio).max(), 1.0)
    # Trimmed: the first and last 10 ms are not long silences.
    assert np.abs(audio[:320]).max() > 1e-3 and np.abs(audio[-320:]).max() > 1e-3


def test_speak_word_depends_on_speaker():
    first = speak_word("seven", SPEAKER)
    others = [
        SPEAKER._replace(variant="m3"),
        SPEAKER._replace(accent="en-GB-scotland"),
        SPEAKER._replace(rate=210),
        SPEAKER._replace(pitch=80),
    ]
    for other in others:
        audio = speak_word("seven", other)
        assert len(audio) != len(first) or not np.allclose(audio, first), other.name


def test_speak_word_caps_at_one_second():
    audio = speak_word("one two three four five six seven", SPEAKER._replace(rate=120))
    assert len(audio) == CLIP_SAMPLES


def test_voice_variants_found():
    variants = voice_variants()
    assert len(variants) > 20
    assert variants == sorted(variants)
    assert {"f3", "m3", "klatt"} <= set(variants)


def test_speaker_names():
    assert SPEAKER.voice == "en-us+f3"
    assert SPEAKER.name == "en-US+f3/r150/p50"


def test_split_speakers_is_deterministic_with_unseen_test_variants():
    train, test = split_speakers(n_train=200, n_test=50, random_state=7)
    assert (train, test) == split_speakers(n_train=200, n_test=50, random_state=7)
    assert (train, test) != split_speakers(n_train=200, n_test=50, random_state=8)
    assert len(train) == len(set(train)) == 200 and len(test) == len(set(test)) == 50
    train_variants, test_variants = {s.variant for s in train}, {s.variant for s in test}
    assert not train_variants & test_variants
    assert len(test_variants) > 5
    for speaker in train + test:
        assert speaker.accent in ACCENTS
        assert 120 <= speaker.rate <= 220 and 20 <= speaker.pitch <= 80


def test_trim_silence():
    t = np.arange(1600) / 16_000
    tone = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    padded = np.concatenate([np.zeros(4000, np.float32), tone, np.zeros(4000, np.float32)])
    trimmed = trim_silence(padded)
    assert 1600 <= len(trimmed) <= 1600 + 4 * 160
    assert len(trim_silence(np.zeros(500, np.float32))) == 0


def test_build_word_bank_has_every_word_from_every_speaker_reproducibly():
    speakers, _ = split_speakers(n_train=3, n_test=1, random_state=0)
    bank = build_word_bank(speakers)
    assert list(bank) == WORDS
    for word, utterances in bank.items():
        assert [name for name, _ in utterances] == [s.name for s in speakers]
        for _, audio in utterances:
            assert audio.dtype == np.float32 and 0 < len(audio) <= CLIP_SAMPLES
    assert len(bank["go"][0][1]) != len(bank["sheila"][0][1])
    again = build_word_bank(speakers, processes=1)
    for word in WORDS:
        assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(bank[word], again[word]))
