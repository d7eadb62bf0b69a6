"""The runner's plan for a profile: which notebooks it runs and which models 06 submits."""
from pathlib import Path

from utils.runner import Options, papermill_args, trains_ensemble


def options(profile: str) -> Options:
    return Options(profile=profile, recipe="mel_tcn", data="", start="", parallel_folds=False)


def test_the_standard_run_submits_its_holdout_model_without_a_k_fold_ensemble():
    assert not trains_ensemble(options("standard"))
    args = papermill_args(options("standard"), Path("06_submit.ipynb"))
    assert args[-3:] == ["-p", "models", "holdout"]


def test_smoke_and_full_runs_train_and_submit_the_ensemble():
    for profile in ("smoke", "full"):
        assert trains_ensemble(options(profile))
        assert "models" not in papermill_args(options(profile), Path("06_submit.ipynb"))
        assert papermill_args(options(profile), Path("05_kfold_ensemble.ipynb"))[-2:] == ["recipe", "mel_tcn"]
