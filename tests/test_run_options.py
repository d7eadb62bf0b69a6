"""./run_all.sh options end to end on small tone folders: another recipe, --from, --parallel-folds."""
import json

import pandas as pd
import pytest
from conftest import step_outcomes, write_dacon_folder
from test_run_all import run

from utils.results.submission import validate_submission


@pytest.mark.slow
def test_seed_recipe_runs_from_the_augment_step(kit, tmp_path):
    data = write_dacon_folder(tmp_path / "data", n_train=40, n_test=10)
    result = run(["bash", "run_all.sh", "--profile", "tiny", "--data", str(data), "--recipe", "seed", "--from", "03"], cwd=kit)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [line[:4] for line in step_outcomes(result.stdout)] == ["[03]", "[04]", "[05]", "[06]"]
    metrics = json.loads((kit / "outputs" / "metrics.json").read_text())
    assert metrics["holdout"]["parameters"] == 780_862 and metrics["submission"]["recipe"] == "seed"
    template = pd.read_csv(data / "submission.csv")
    validate_submission(pd.read_csv(kit / "outputs" / "submission.csv"), expected_ids=template["id"].to_numpy())


@pytest.mark.slow
def test_folds_run_as_parallel_jobs_then_gather(kit, tmp_path):
    data = write_dacon_folder(tmp_path / "data", n_train=40, n_test=10)
    result = run(["bash", "run_all.sh", "--profile", "tiny", "--data", str(data), "--from", "05", "--parallel-folds"], cwd=kit)
    assert result.returncode == 0, result.stdout + result.stderr
    out = kit / "outputs"
    assert sorted(p.name for p in (out / "notebooks").glob("05_fold_*.log")) == ["05_fold_0.log", "05_fold_1.log"]
    gather = json.loads((out / "notebooks" / "05_kfold_ensemble.ipynb").read_text())
    printed = "".join("".join(o.get("text", "")) for c in gather["cells"] for o in c.get("outputs", []))
    assert "Epoch" not in printed and "oof_kld" in printed  # the gathering run trained nothing
    assert json.loads((out / "models" / "ensemble.json").read_text())["models"] == ["fold_0.keras", "fold_1.keras"]
