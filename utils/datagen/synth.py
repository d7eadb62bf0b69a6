"""Single words spoken by eSpeak NG, called through ctypes.

The library and its voice data come with the ``espeakng_loader`` wheel. A
speaker is an English accent, a voice variant (from ``voices/!v``), a speaking
rate and a pitch. The engine is started lazily, once per process, with a fixed
random state.

eSpeak keeps some state from one utterance to the next (pitch flutter, noise),
so the same word said twice in one process differs slightly. build_word_bank
therefore synthesises in fresh worker processes, in fixed groups of speakers,
which makes a bank depend only on its speakers and words.
"""
from __future__ import annotations

import ctypes
import multiprocessing
import os
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np
from scipy.signal import firwin, resample_poly

from utils.dataset.words import CLIP_SAMPLES, SAMPLE_RATE, WORDS

# English accents in espeak-ng-data/lang/gmw (en-Shaw, a Shavian-script voice, left out).
ACCENTS = (
    "en",
    "en-029",
    "en-GB-scotland",
    "en-GB-x-gbclan",
    "en-GB-x-gbcwmd",
    "en-GB-x-rp",
    "en-US",
    "en-US-nyc",
)
RATE_RANGE = (120, 220)  # words per minute, both ends included
PITCH_RANGE = (20, 80)  # eSpeak's 0..100 pitch scale, both ends included
TEST_VARIANT_FRACTION = 0.2
_SPEAKERS_PER_WORKER = 50  # fixed, so a bank does not depend on the number of processes

# A word bank: word -> list of (speaker name, float32 audio at 16 kHz).
WordBank = dict[str, list[tuple[str, np.ndarray]]]

# Values from speak_lib.h.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_ESPEAK_CHARS_UTF8 = 1
_ESPEAK_RATE = 1
_ESPEAK_PITCH = 3
_SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class Speaker(NamedTuple):
    """One synthetic voice: accent, voice variant, rate (words per minute) and pitch (0..100)."""

    accent: str
    variant: str
    rate: int
    pitch: int

    @property
    def voice(self) -> str:
        """The name eSpeak's SetVoiceByName takes, like ``en-us+f3``."""
        return f"{self.accent.lower()}+{self.variant}"

    @property
    def name(self) -> str:
        """A readable unique name, like ``en-US+f3/r150/p40``."""
        return f"{self.accent}+{self.variant}/r{self.rate}/p{self.pitch}"


class _Engine:
    """An initialised eSpeak NG library that synthesises into memory."""

    def __init__(self) -> None:
        import espeakng_loader

        library_path = espeakng_loader.get_library_path()
        try:
            data_path = Path(espeakng_loader.get_data_path())
            self.lib = ctypes.CDLL(library_path)
        except (OSError, RuntimeError) as error:
            raise RuntimeError(f"could not load eSpeak NG from {library_path}: {error}") from error
        lib = self.lib
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
            ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_ng_SetRandSeed.restype = None
        # The path argument is the folder that holds espeak-ng-data.
        self.sample_rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, str(data_path.parent).encode(), 0
        )
        if self.sample_rate <= 0:
            raise RuntimeError(
                f"eSpeak NG from {library_path} failed to initialise with data {data_path} "
                f"(espeak_Initialize returned {self.sample_rate})"
            )
        lib.espeak_ng_SetRandSeed(0)  # otherwise seeded from the clock
        self._chunks: list[np.ndarray] = []
        self._callback = _SYNTH_CALLBACK(self._collect)  # kept alive while the library holds it
        lib.espeak_SetSynthCallback(self._callback)
        self._voice: str | None = None

    def _collect(self, samples, n_samples, events) -> int:
        if n_samples > 0:
            self._chunks.append(np.ctypeslib.as_array(samples, (n_samples,)).copy())
        return 0  # 0 = go on

    def set_voice(self, speaker: Speaker) -> None:
        if speaker.voice != self._voice:
            if self.lib.espeak_SetVoiceByName(speaker.voice.encode()) != 0:
                raise ValueError(f"eSpeak NG has no voice {speaker.voice!r}")
            self._voice = speaker.voice
        # Cheap, so set on every call rather than tracked.
        self.lib.espeak_SetParameter(_ESPEAK_RATE, int(speaker.rate), 0)
        self.lib.espeak_SetParameter(_ESPEAK_PITCH, int(speaker.pitch), 0)

    def synth(self, text: str) -> np.ndarray:
        """int16 samples at ``self.sample_rate``, shape (n,)."""
        data = text.encode("utf-8") + b"\0"
        self._chunks = []
        status = self.lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _ESPEAK_CHARS_UTF8, None, None)
        if status != 0:
            raise RuntimeError(f"espeak_Synth failed on {text!r} (error {status})")
        if not self._chunks:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(self._chunks)


_engine: _Engine | None = None


def _get_engine() -> _Engine:
    global _engine
    if _engine is None:
        _engine = _Engine()
    return _engine


def _data_path() -> Path:
    import espeakng_loader

    return Path(espeakng_loader.get_data_path())


def voice_variants() -> list[str]:
    """Names of the voice variants in eSpeak's data (``voices/!v``), sorted."""
    return sorted(p.name for p in (_data_path() / "voices" / "!v").iterdir() if p.is_file())


def trim_silence(audio: np.ndarray, *, threshold_db: float = -35.0, frame: int = 160) -> np.ndarray:
    """Cut leading and trailing silence.

    Frames whose RMS is below ``threshold_db`` relative to the loudest frame
    count as silence; one frame of margin is kept on each side.

    Parameters
    ----------
    audio : np.ndarray, shape (n,), float
    threshold_db : float
    frame : int
        Frame length in samples.

    Returns
    -------
    np.ndarray, shape (m,), m <= n (empty if ``audio`` is all zeros)
    """
    n_frames = -(-len(audio) // frame)
    padded = np.zeros(n_frames * frame, dtype=np.float32)
    padded[: len(audio)] = audio
    rms = np.sqrt(np.mean(padded.reshape(n_frames, frame) ** 2, axis=1))
    if n_frames == 0 or rms.max() == 0:
        return audio[:0]
    loud = np.flatnonzero(rms >= rms.max() * 10 ** (threshold_db / 20))
    start = max(loud[0] - 1, 0) * frame
    stop = min((loud[-1] + 2) * frame, len(audio))
    return audio[start:stop]


@lru_cache(maxsize=None)
def _resampling_filter(up: int, down: int) -> np.ndarray:
    """resample_poly's default low-pass filter, designed once instead of on every call."""
    max_rate = max(up, down)
    return firwin(20 * max_rate + 1, 1.0 / max_rate, window=("kaiser", 5.0))


def speak_word(word: str, speaker: Speaker) -> np.ndarray:
    """Say one word.

    Parameters
    ----------
    word : str
    speaker : Speaker

    Returns
    -------
    np.ndarray, shape (n,), float32
        Mono audio at 16 kHz, silence trimmed, peak 1, n <= 16000.
    """
    engine = _get_engine()
    engine.set_voice(speaker)
    raw = engine.synth(word).astype(np.float32)
    g = np.gcd(SAMPLE_RATE, engine.sample_rate)
    up, down = SAMPLE_RATE // g, engine.sample_rate // g
    audio = resample_poly(raw, up, down, window=_resampling_filter(up, down)).astype(np.float32)
    audio = trim_silence(audio)[:CLIP_SAMPLES]
    peak = np.abs(audio).max(initial=0.0)
    if peak == 0:
        raise RuntimeError(f"eSpeak NG produced no sound for {word!r} with {speaker.name}")
    return audio / peak


def _draw_speakers(rng: np.random.Generator, variants: Sequence[str], n: int) -> list[Speaker]:
    """``n`` distinct random speakers using only ``variants``."""
    n_rates, n_pitches = RATE_RANGE[1] - RATE_RANGE[0] + 1, PITCH_RANGE[1] - PITCH_RANGE[0] + 1
    n_possible = len(ACCENTS) * len(variants) * n_rates * n_pitches
    if n > n_possible:
        raise ValueError(f"asked for {n} distinct speakers, but only {n_possible} exist")
    speakers: dict[Speaker, None] = {}  # ordered set
    while len(speakers) < n:
        speaker = Speaker(
            accent=ACCENTS[rng.integers(len(ACCENTS))],
            variant=variants[rng.integers(len(variants))],
            rate=int(rng.integers(RATE_RANGE[0], RATE_RANGE[1] + 1)),
            pitch=int(rng.integers(PITCH_RANGE[0], PITCH_RANGE[1] + 1)),
        )
        speakers[speaker] = None
    return list(speakers)


def split_speakers(*, n_train: int, n_test: int, random_state: int) -> tuple[list[Speaker], list[Speaker]]:
    """Random train and test speakers whose voice variants do not overlap.

    About ``TEST_VARIANT_FRACTION`` of the variants, picked from ``random_state``, are
    kept for test, so the test side measures generalisation to unseen voices.

    Returns
    -------
    train_speakers : list of Speaker, length n_train
    test_speakers : list of Speaker, length n_test
    """
    rng = np.random.default_rng(random_state)
    variants = voice_variants()
    n_held = max(1, round(TEST_VARIANT_FRACTION * len(variants)))
    order = rng.permutation(len(variants))
    test_variants = sorted(variants[i] for i in order[:n_held])
    train_variants = sorted(variants[i] for i in order[n_held:])
    return _draw_speakers(rng, train_variants, n_train), _draw_speakers(rng, test_variants, n_test)


def _say_words(speakers: Sequence[Speaker], words: Sequence[str]) -> list[list[np.ndarray]]:
    """Every word by every speaker: ``result[speaker][word]``, float32 audio of shape (n,)."""
    return [[speak_word(word, speaker) for word in words] for speaker in speakers]


def build_word_bank(
    speakers: Sequence[Speaker], words: Sequence[str] = WORDS, *, processes: int | None = None
) -> WordBank:
    """Every word said by every speaker.

    Speakers are synthesised in groups of a fixed size, each group in a fresh
    process (so with a fresh eSpeak), up to ``processes`` at a time (default:
    the number of CPUs). The result depends only on ``speakers`` and ``words``.

    Returns
    -------
    WordBank
        word -> list of (speaker name, float32 audio of shape (n,) at 16 kHz),
        one entry per speaker, in ``speakers`` order.
    """
    speakers = list(speakers)
    groups = [speakers[i : i + _SPEAKERS_PER_WORKER] for i in range(0, len(speakers), _SPEAKERS_PER_WORKER)]
    bank: WordBank = {word: [] for word in words}
    if not groups:
        return bank
    n_processes = min(processes or os.cpu_count() or 1, len(groups))
    # spawn, not fork: a forked child would carry over this process's eSpeak state.
    context = multiprocessing.get_context("spawn")
    with context.Pool(n_processes, maxtasksperchild=1) as pool:
        results = pool.starmap(_say_words, [(group, list(words)) for group in groups], chunksize=1)
    for group, said in zip(groups, results):
        for speaker, audios in zip(group, said):
            for word, audio in zip(words, audios):
                bank[word].append((speaker.name, audio))
    return bank
