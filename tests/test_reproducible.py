"""Reproducibility: the same random state and profile give a byte-identical submission on CPU (the default recipe)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import IGNORE, write_dacon_folder

from utils.paths import PROJECT_ROOT

# The submission, and the raw predictions behind it (the submission floors and rounds them).
COMPARED = ["submission.csv", "val_predictions.npy", "oof_predictions.npy", "test_predictions.npy"]


def start_tiny_run(kit: Path, data: Path) -> subprocess.Popen:
    """Start notebooks 02..06 of the tiny profile in the copy ``kit`` on ``data``."""
    return subprocess.Popen(
        ["bash", "run_all.sh", "--profile", "tiny", "--data", str(data), "--from", "02"],
        cwd=kit, env={**os.environ, "PYTHON": sys.executable}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


@pytest.mark.slow
def test_same_random_state_and_profile_give_the_same_submission(tmp_path):
    data = write_dacon_folder(tmp_path / "data", n_train=40, n_test=10, random_state=0)
    kits = [tmp_path / name for name in ("first", "second")]
    for kit in kits:
        shutil.copytree(PROJECT_ROOT, kit, ignore=IGNORE)
    runs = [start_tiny_run(kit, data) for kit in kits]  # side by side: each trains on one thread per op
    for run in runs:
        output, _ = run.communicate(timeout=900)
        assert run.returncode == 0, output
    outputs = [{name: (kit / "outputs" / name).read_bytes() for name in COMPARED} for kit in kits]
    assert [name for name in COMPARED if outputs[0][name] != outputs[1][name]] == []
