"""A run stopped by kill -9 in the middle of training picks up where it stopped; unchanged steps are skipped."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from conftest import IGNORE, step_outcomes, write_dacon_folder

from utils.paths import PROJECT_ROOT


@pytest.mark.slow
def test_killed_run_resumes_and_unchanged_steps_are_skipped(tmp_path):
    kit = tmp_path / "kit"
    shutil.copytree(PROJECT_ROOT, kit, ignore=IGNORE)
    data = write_dacon_folder(tmp_path / "data", n_train=200, n_test=6)  # tiny: three epochs of a few seconds
    command = ["bash", "run_all.sh", "--profile", "tiny", "--data", str(data)]
    env = {**os.environ, "PYTHON": sys.executable}

    first = subprocess.Popen(command, cwd=kit, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             start_new_session=True)
    epoch_saved = kit / "outputs" / "models" / ".holdout.backup" / "training_metadata.json"
    deadline = time.time() + 600
    while not epoch_saved.is_file() and time.time() < deadline and first.poll() is None:
        time.sleep(0.2)
    assert epoch_saved.is_file(), "training never finished its first epoch"
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    assert not (kit / "outputs" / "models" / "holdout.keras").exists()

    second = subprocess.run(command, cwd=kit, env=env, capture_output=True, text=True, timeout=900)
    assert second.returncode == 0, second.stdout + second.stderr
    steps = step_outcomes(second.stdout)
    assert all("skipped" in line for line in steps[:3]) and all("done in" in line for line in steps[3:])
    train_log = json.loads((kit / "outputs" / "notebooks" / "04_train_cnn.ipynb").read_text())
    printed = "".join("".join(o.get("text", "")) for c in train_log["cells"] for o in c.get("outputs", []))
    assert "Epoch 2/" in printed and "Epoch 1/" not in printed  # the finished epoch was not trained again

    third = subprocess.run(command, cwd=kit, env=env, capture_output=True, text=True, timeout=300)
    assert third.returncode == 0
    assert sum("skipped" in line for line in third.stdout.splitlines()) == 6
