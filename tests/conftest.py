"""Small DACON-layout folders made on the fly: each word is a tone, so clips are cheap and learnable."""
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from utils.dataset.words import CLIP_SAMPLES, SAMPLE_RATE, WORDS
from utils.paths import PROJECT_ROOT

IGNORE = shutil.ignore_patterns(".git", ".venv", "outputs", "data", "__pycache__", ".pytest_cache", ".ipynb_checkpoints")


def tone_clips(n: int, random_state: int) -> tuple[np.ndarray, np.ndarray]:
    """n clips of four overlapping word tones; returns (int16 (n, 16000), answers (n, 30))."""
    rng = np.random.default_rng(random_state)
    t = np.arange(CLIP_SAMPLES) / SAMPLE_RATE
    clips = np.zeros((n, CLIP_SAMPLES), dtype=np.int16)
    answers = np.zeros((n, len(WORDS)), dtype=np.float32)
    for i in range(n):
        words = rng.choice(len(WORDS), size=4, replace=False)
        audio = sum(np.sin(2 * np.pi * (200 + 120 * w) * t) for w in words) / 4
        clips[i] = np.round(audio * 20000 + rng.normal(0, 200, CLIP_SAMPLES)).astype(np.int16)
        answers[i, words] = 0.25
    return clips, answers


def tone_bank(speakers=("s1", "s2", "s3")):
    """A cheap word bank: each word is a tone of its own pitch, one per speaker."""
    bank = {}
    for w, word in enumerate(WORDS):
        bank[word] = []
        for s, speaker in enumerate(speakers):
            t = np.arange(3000 + 1000 * s) / SAMPLE_RATE
            bank[word].append((speaker, np.sin(2 * np.pi * (200 + 30 * w) * t).astype(np.float32)))
    return bank


def write_dacon_folder(root: Path, *, n_train: int = 12, n_test: int = 5, random_state: int = 0) -> Path:
    """A complete DACON-layout folder, with the test side's truth as the embedded data has."""
    for split, n, offset in (("train", n_train, 0), ("test", n_test, 1)):
        clips, answers = tone_clips(n, random_state + offset)
        (root / split).mkdir(parents=True)
        for i, clip in enumerate(clips):
            sf.write(root / split / f"{split}_{i:05d}.wav", clip, SAMPLE_RATE, subtype="PCM_16")
        table = pd.DataFrame(answers, columns=WORDS)
        table.insert(0, "id", np.arange(n))
        name = "train_answer.csv" if split == "train" else "test_answer.csv"
        table.to_csv(root / name, index=False)
        if split == "test":
            table[WORDS] = 0
            table.to_csv(root / "submission.csv", index=False)
    return root


def step_outcomes(stdout: str) -> list[str]:
    """run_all.sh's line for each step's outcome; a step long enough to show progress also has its label alone
    above its progress lines, which this leaves out."""
    return [line for line in stdout.splitlines() if line.startswith("[0") and len(line.split()) > 2]


def pytest_collection_modifyitems(config, items):
    """Files with the most end-to-end (slow) tests first, so the two workers end with the short files."""
    slow = {}
    for item in items:
        slow[item.path] = slow.get(item.path, 0) + (item.get_closest_marker("slow") is not None)
    items.sort(key=lambda item: -slow[item.path])  # stable: a file's tests keep their order


@pytest.fixture
def dacon_folder(tmp_path: Path) -> Path:
    return write_dacon_folder(tmp_path / "data")


@pytest.fixture(scope="module")
def kit(tmp_path_factory) -> Path:
    """A copy of the kit without data or outputs, one per test file."""
    root = tmp_path_factory.mktemp("clone") / "kit"
    shutil.copytree(PROJECT_ROOT, root, ignore=IGNORE)
    return root
