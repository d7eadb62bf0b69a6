"""The runner: its options, and its plan for a profile (which notebooks it runs and which models 06 submits)."""
import json
from pathlib import Path

import pytest

from utils.paths import OUTPUTS_DIR
from utils.runner import Options, Refused, papermill_args, parse, trains_ensemble


def options(profile: str) -> Options:
    return Options(profile=profile, recipe="mel_tcn", data="", start="", parallel_folds=False)


def test_smoke_and_standard_runs_submit_their_holdout_model_without_a_k_fold_ensemble():
    for profile in ("smoke", "standard"):
        assert not trains_ensemble(options(profile))
        args = papermill_args(options(profile), Path("06_submit.ipynb"))
        assert args[-3:] == ["-p", "models", "holdout"]


def test_tiny_and_full_runs_train_and_submit_the_ensemble():
    for profile in ("tiny", "full"):
        assert trains_ensemble(options(profile))
        assert "models" not in papermill_args(options(profile), Path("06_submit.ipynb"))
        assert papermill_args(options(profile), Path("05_kfold_ensemble.ipynb"))[-2:] == ["recipe", "mel_tcn"]


def test_a_run_without_an_ensemble_drops_an_earlier_runs_ensemble_and_its_scores(tmp_path, monkeypatch, capsys):
    from utils import runner

    executed, models = tmp_path / "notebooks", tmp_path / "models"
    for folder in (executed, models):
        folder.mkdir()
    stale = [executed / "05_kfold_ensemble.ipynb", executed / ".done-05_kfold_ensemble", models / "ensemble.json"]
    for path in stale:
        path.write_text("{}")
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"holdout": {"val_kld": 0.5}, "kfold": {"oof_kld": 0.6}}))
    monkeypatch.setattr(runner, "EXECUTED_NOTEBOOKS_DIR", executed)
    monkeypatch.setattr(runner, "MODELS_DIR", models)
    monkeypatch.setattr(runner, "METRICS_PATH", metrics)
    monkeypatch.setattr(runner, "run_notebook", lambda options, notebook, *args: 0)  # the other notebooks: not run
    monkeypatch.setattr(runner, "finish", lambda: None)
    runner.run(options("standard"))
    assert not any(path.exists() for path in stale)
    assert json.loads(metrics.read_text()) == {"holdout": {"val_kld": 0.5}}  # no earlier run's k-fold scores
    assert "skipped (the standard profile submits the holdout model of 04)" in capsys.readouterr().out


def test_data_is_found_relative_to_where_run_all_was_called_from(tmp_path, monkeypatch):
    (tmp_path / "mydata").mkdir()
    monkeypatch.setenv("KIT_CALLER_DIR", str(tmp_path))
    assert parse(["--data", "mydata"]).data == str(tmp_path / "mydata")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert parse(["--data=~/mydata"]).data == str(tmp_path / "mydata")


def test_a_data_folder_that_holds_the_kits_outputs_is_refused_before_anything_runs(monkeypatch):
    monkeypatch.delenv("KIT_CALLER_DIR", raising=False)
    with pytest.raises(Refused, match="holds the kit's outputs.*KIT_WORK_DIR"):
        parse(["--data", str(OUTPUTS_DIR.parent.parent)])


def test_outputs_that_cannot_be_written_stop_the_run_naming_the_folder_and_kit_work_dir(tmp_path, monkeypatch, capsys):
    from utils import runner

    (tmp_path / "afile").write_text("not a folder")
    outputs = tmp_path / "afile" / "outputs"
    monkeypatch.setattr(runner, "OUTPUTS_DIR", outputs)
    monkeypatch.setattr(runner, "run", lambda options: pytest.fail("the run started"))
    assert runner.main(["--profile", "tiny"]) == 2
    error = capsys.readouterr().err
    assert str(outputs) in error and "KIT_WORK_DIR" in error and "Traceback" not in error
