"""End to end: ./run_all.sh --profile smoke in a fresh copy of the kit, then 06_submit on an unseen folder."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from conftest import step_outcomes, write_dacon_folder
from test_dataset import folder_digest

from utils.paths import PROJECT_ROOT
from utils.results.submission import validate_submission

RUN = ["01_eda", "02_features", "03_augment", "04_train_cnn", "06_submit"]  # smoke submits 04's model: no 05


def run(args, cwd, timeout=900):
    env = {**os.environ, "PYTHON": sys.executable}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def smoke_run(kit):
    return run(["bash", "run_all.sh", "--profile", "smoke"], cwd=kit)


@pytest.mark.slow
def test_smoke_run_succeeds_and_reports(smoke_run, kit):
    assert smoke_run.returncode == 0, smoke_run.stdout + smoke_run.stderr
    lines = smoke_run.stdout.strip().splitlines()
    steps = step_outcomes(smoke_run.stdout)
    assert [line[:4] for line in steps] == ["[01]", "[02]", "[03]", "[04]", "[05]", "[06]"]
    assert "skipped (the smoke profile submits the holdout model of 04)" in steps[4]
    assert all("done in" in line for line in steps[:4] + steps[5:])
    assert lines[-1].startswith(f"Submission: {kit / 'outputs' / 'submission.csv'} (200 rows)")
    assert "validation KLD" in lines[-1] and "test KLD" in lines[-1]
    assert lines[-2] == f"Report: {kit / 'outputs' / 'report.html'}"


@pytest.mark.slow
def test_smoke_run_writes_a_report_without_code(smoke_run, kit):
    report = (kit / "outputs" / "report.html").read_text()
    for path in [kit / "notebooks" / f"{name}.ipynb" for name in RUN]:
        title = json.loads(path.read_text())["cells"][0]["source"]
        assert "".join(title).splitlines()[0].lstrip("# ") in report
    assert "from utils" not in report and "import numpy" not in report


@pytest.mark.slow
def test_smoke_run_writes_its_five_executed_notebooks_without_errors(smoke_run, kit):
    executed = sorted((kit / "outputs" / "notebooks").glob("*.ipynb"))
    assert [p.stem for p in executed] == RUN
    for path in executed:
        outputs = [o for c in json.loads(path.read_text())["cells"] for o in c.get("outputs", [])]
        assert outputs and not [o for o in outputs if o["output_type"] == "error"], path.name


@pytest.mark.slow
def test_smoke_submission_is_valid_for_the_template(smoke_run, kit):
    data = kit / "data" / "embedded-smoke"
    template = pd.read_csv(data / "submission.csv")
    submission = pd.read_csv(kit / "outputs" / "submission.csv")
    validate_submission(submission, expected_ids=template["id"].to_numpy())
    metrics = json.loads((kit / "outputs" / "metrics.json").read_text())
    assert metrics["holdout"]["recipe"] == "mel_tcn" and metrics["submission"]["recipe"] == "mel_tcn"
    # the default recipe learns within the smoke run: clearly better than the uniform guess on unheard voices
    assert metrics["submission"]["test_kld"] < np.log(7.5) - 0.1


@pytest.mark.slow
def test_submit_predicts_a_folder_the_kit_has_never_seen(smoke_run, kit, tmp_path):
    unseen = write_dacon_folder(tmp_path / "unseen", n_train=2, n_test=7, random_state=5)
    (unseen / "test_answer.csv").unlink()
    template = pd.read_csv(unseen / "submission.csv").sample(frac=1, random_state=0)
    template.to_csv(unseen / "submission.csv", index=False)
    before = folder_digest(unseen)
    out = tmp_path / "answers" / "my_submission.csv"
    result = run([
        sys.executable, "-m", "papermill", "notebooks/06_submit.ipynb", str(tmp_path / "out.ipynb"), "-k", "python3",
        "-p", "test_dir", str(unseen / "test"), "-p", "template_csv", str(unseen / "test" / ".." / "submission.csv"),
        "-p", "submission_path", str(out),
    ], cwd=kit, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    submission = pd.read_csv(out)
    validate_submission(submission, expected_ids=template["id"].to_numpy())
    assert folder_digest(unseen) == before


@pytest.mark.slow
def test_failing_notebook_is_named_with_its_error(kit, tmp_path):
    bad = write_dacon_folder(tmp_path / "bad", n_train=3, n_test=2)
    answers = pd.read_csv(bad / "train_answer.csv")
    answers.loc[1, "bed"] = -1
    answers.to_csv(bad / "train_answer.csv", index=False)
    result = run(["bash", "run_all.sh", "--profile", "smoke", "--data", str(bad)], cwd=kit, timeout=300)
    assert result.returncode == 1
    assert "notebooks/01_eda.ipynb failed" in result.stderr
    assert "DataError" in result.stderr and "row 3 (id 1): expected no negative values" in result.stderr


def test_a_stopped_run_stops_its_notebook_before_it_frees_the_outputs(kit, tmp_path):
    data = write_dacon_folder(tmp_path / "data", n_train=12, n_test=4)
    work = tmp_path / "work"
    env = {**os.environ, "PYTHON": sys.executable, "KIT_WORK_DIR": str(work)}
    run_all = subprocess.Popen(["bash", "run_all.sh", "--profile", "smoke", "--data", str(data)], cwd=kit, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log = work / "outputs" / "notebooks" / "01_eda.log"
    deadline = time.time() + 120
    while not log.is_file() and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(2)  # papermill has started the notebook
    run_all.send_signal(signal.SIGTERM)
    run_all.communicate(timeout=120)
    assert run_all.returncode == 143
    assert not (work / "outputs" / "run.lock").exists()
    running = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(work) not in running  # papermill (its command names the outputs) stopped with the run


@pytest.mark.parametrize("args, expected", [
    (["--profile", "huge"], "unknown profile 'huge'"),
    (["--recipe", "magic"], "unknown recipe 'magic'"),
    (["--from", "9"], "--from expects a notebook number 01..06"),
    (["--data", "/no/such/folder"], "is not a folder"),
    (["--bogus"], "unknown argument '--bogus'"),
])
def test_bad_arguments_are_refused(args, expected):
    result = run(["bash", "run_all.sh", *args], cwd=PROJECT_ROOT, timeout=30)
    assert result.returncode == 2 and expected in result.stderr
