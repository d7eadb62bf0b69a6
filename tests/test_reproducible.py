"""Reproducibility: the same seed and profile give a byte-identical submission on CPU (the default recipe)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import write_dacon_folder
from test_run_all import IGNORE

from utils.paths import PROJECT_ROOT

# The submission, and the raw predictions behind it (the submission floors and rounds them).
COMPARED = ["submission.csv", "val_predictions.npy", "oof_predictions.npy", "test_predictions.npy"]


def smoke_outputs(kit: Path, data: Path) -> dict[str, bytes]:
    """Run notebooks 02..06 of the smoke profile in ``kit`` on ``data``; return the compared outputs' bytes."""
    env = {**os.environ, "PYTHON": sys.executable}
    result = subprocess.run(
        ["bash", "run_all.sh", "--profile", "smoke", "--data", str(data), "--from", "02"],
        cwd=kit, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return {name: (kit / "outputs" / name).read_bytes() for name in COMPARED}


@pytest.mark.slow
def test_same_seed_and_profile_give_the_same_submission(tmp_path):
    data = write_dacon_folder(tmp_path / "data", n_train=40, n_test=10, seed=0)
    runs = []
    for name in ("first", "second"):
        kit = tmp_path / name
        shutil.copytree(PROJECT_ROOT, kit, ignore=IGNORE)
        runs.append(smoke_outputs(kit, data))
    assert [name for name in COMPARED if runs[0][name] != runs[1][name]] == []
