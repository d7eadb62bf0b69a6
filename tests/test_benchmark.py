"""The benchmark scripts at a tiny size, each ending with a JSON line of its figures; the budgeted schedule."""
import argparse
import importlib.util
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import write_dacon_folder

from utils.train import precision

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"


@pytest.mark.slow
def test_benchmark_quick(tmp_path):
    data = write_dacon_folder(tmp_path / "data", n_train=8, n_test=1)
    out = tmp_path / "figures.json"
    env = {**os.environ, "TMPDIR": str(tmp_path)}  # its temporary files stay under tmp_path too
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--clips", "8", "--data", str(data), "--augment-batch", "4",
         "--batch-size", "2", "--steps", "1", "--json-out", str(out)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    assert figures == json.loads(out.read_text())
    assert figures["clips_seed"] == figures["clips_wave_resnet"] == figures["clips_decode"] == 8
    rates = [k for k in figures if k.endswith("_per_s")]
    assert {"augment_seed_clips_per_s", "augment_wave_resnet_clips_per_s", "decode_clips_per_s", "train_seed_clips_per_s",
            "infer_seed_clips_per_s", "train_wave_resnet_clips_per_s", "infer_wave_resnet_clips_per_s",
            "default_train_clips_per_s", "default_augment_clips_per_s"} <= set(rates)
    assert all(figures[k] > 0 for k in rates)
    ratio = figures["augment_wave_resnet_clips_per_s"] / figures["augment_seed_clips_per_s"]
    assert figures["augment_speedup_vs_seed"] == pytest.approx(ratio, rel=1e-3)
    host = figures["augment_wave_resnet_numpy_clips_per_s"] / figures["augment_seed_clips_per_s"]
    assert figures["augment_host_speedup_vs_seed"] == pytest.approx(host, rel=1e-3)
    assert figures["backend"] and figures["device"] and figures["default_recipe"] == "mel_tcn"
    # a machine that trains in reduced precision also says how fast float32 is
    assert ("default_train_float32_clips_per_s" in figures) == (figures["default_train_dtype_policy"] != "float32")


def _tc_resnet_step_ab(tmp_path, script: str) -> dict:
    """Runs a step A/B benchmark on tc_resnet alone; its JSON line, which it also wrote to --json-out."""
    out = tmp_path / "figures.json"
    # a timing of the precisions stays under tmp_path
    env = {**os.environ, "KIT_WORK_DIR": str(tmp_path / "work"), "KIT_MACHINE_CACHE": str(tmp_path / "machine")}
    run = subprocess.run([sys.executable, str(SCRIPT.with_name(script)), "--networks", "tc_resnet", "--steps", "2",
                          "--json-out", str(out)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    assert figures == json.loads(out.read_text()) and "wave1d_cnn" not in figures
    return figures


@pytest.mark.slow
def test_batch_norm_benchmark_times_both_normalisations_of_a_network(tmp_path):
    figures = _tc_resnet_step_ab(tmp_path, "batch_norm.py")
    step = figures["tc_resnet"]
    assert step["batch"] == 128 and step["keras_step_s"] > 0 and step["fused_step_s"] > 0
    assert step["ratio"] == pytest.approx(step["fused_step_s"] / step["keras_step_s"], rel=1e-2)


@pytest.mark.slow
def test_precision_benchmark_times_float32_and_bfloat16_steps_and_names_the_kits_choice(tmp_path):
    figures = _tc_resnet_step_ab(tmp_path, "precision.py")
    flags, timings = set(figures["bf16_flags"]), list((tmp_path / "machine").glob("precision-*.json"))
    if "amx_bf16" in flags or not flags:
        assert figures["kit_policy"] == ("mixed_bfloat16" if flags else "float32") and not timings
    else:  # AVX-512 BF16 alone: the kit timed both and kept the times
        assert len(timings) == 1, "the kit's own timing of the precisions was not kept"
        timing = json.loads(timings[0].read_text())
        faster = timing["mixed_bfloat16_step_s"] <= precision.FASTER * timing["float32_step_s"]
        assert figures["kit_policy"] == ("mixed_bfloat16" if faster else "float32")
    step = figures["tc_resnet"]
    assert step["batch"] == 128 and step["float32_step_s"] > 0 and step["bfloat16_step_s"] > 0
    assert step["ratio"] == pytest.approx(step["bfloat16_step_s"] / step["float32_step_s"], rel=1e-2)


@pytest.mark.slow
def test_memory_benchmark_reports_each_stage(tmp_path):
    data = write_dacon_folder(tmp_path / "data", n_train=12, n_test=3)
    env = {**os.environ, "KIT_WORK_DIR": str(tmp_path / "work")}  # caches and models stay under tmp_path
    run = subprocess.run(
        [sys.executable, str(SCRIPT.with_name("memory.py")), "--profile", "smoke", "--data", str(data),
         "--steps", "1", "--predict", "3"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    assert list(figures["stages"]) == [
        "dataset", "decode test", "wave_resnet: training data", "wave_resnet: train 10 clips, batch 32", "wave_resnet: predict 3 clips",
        "seed: training data", "seed: train 10 clips, batch 32", "seed: predict 3 clips",
    ]
    for stage in figures["stages"].values():
        assert 0 < stage["RssAnon"] <= stage["VmRSS"] and stage["seconds"] >= 0
    assert figures["peak_rss_gib"] == max(s["VmRSS"] for s in figures["stages"].values())
    assert not (data / "outputs").exists() and (tmp_path / "work" / "outputs" / "cache").is_dir()


SAVE_UNTRAINED_HOLDOUT = """
import numpy as np
from utils.paths import MODELS_DIR
from utils.pipeline import save_model_set
from utils.recipes.networks import build_model
net = build_model("tc_resnet")
dense = net.layers[-2]  # the head: its zero weights would make every view predict the same
dense.set_weights([np.random.default_rng(0).normal(0, 0.3, dense.kernel.shape), dense.bias.numpy()])
MODELS_DIR.mkdir(parents=True)
net.save(MODELS_DIR / "holdout.keras")
save_model_set("holdout", recipe="mel_tcn", files=["holdout.keras"], calibration={}, metrics={})
"""


@pytest.mark.slow
def test_test_views_scores_every_set_of_views_of_the_holdout_model(tmp_path):
    data = write_dacon_folder(tmp_path / "data", n_train=12, n_test=4)
    env = {**os.environ, "KIT_WORK_DIR": str(tmp_path / "work")}
    root = SCRIPT.parent.parent
    saved = subprocess.run([sys.executable, "-c", SAVE_UNTRAINED_HOLDOUT], cwd=root, env=env, capture_output=True, text=True)
    assert saved.returncode == 0, saved.stderr[-3000:]
    run = subprocess.run([sys.executable, str(SCRIPT.with_name("test_views.py")), "--profile", "smoke", "--data", str(data)],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    assert [row["views"] for row in figures.values()] == [1, 3, 5, 7]
    assert all(row["val_kld"] >= 0 and row["test_kld"] >= 0 for row in figures.values())
    assert figures["one view"] != figures["the recipe's shifts and warps"]  # the views see different inputs


FAKE_ENGINE = """#!/bin/sh
for last; do :; done
cp "$FAKE_WORD" "$last"
"""


def fake_engines(tmp_path) -> dict:
    """Stand-ins for flite and Festival that say every word as the same short sound: PATH and FAKE_WORD."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for program in ("flite", "text2wave"):
        (bin_dir / program).write_text(FAKE_ENGINE)
        (bin_dir / program).chmod(0o755)
    sf.write(tmp_path / "word.wav", np.random.default_rng(0).normal(0, 0.3, 6000).astype(np.float32), 16000)
    return {"FAKE_WORD": str(tmp_path / "word.wav"), "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def load_other_engines():
    spec = importlib.util.spec_from_file_location("other_engines", SCRIPT.with_name("other_engines.py"))
    engines = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(engines)
    return engines


def test_an_engines_clips_are_written_once_and_a_missing_engine_is_named(tmp_path, monkeypatch):
    engines = load_other_engines()
    monkeypatch.setattr(engines, "OUTPUTS_DIR", tmp_path / "outputs")
    for name, value in fake_engines(tmp_path).items():
        monkeypatch.setenv(name, value)
    folder = engines.engine_dataset("flite", 6)
    assert len(list((folder / "test").iterdir())) == 6 and (folder / "test_answer.csv").is_file()
    monkeypatch.setattr(engines.shutil, "which", lambda program: None)
    assert engines.engine_dataset("flite", 6) == folder  # written once: no engine needed again
    with pytest.raises(RuntimeError, match="festival is not installed \\(no text2wave on PATH\\)"):
        engines.engine_dataset("festival", 6)
    assert [p.name for p in (tmp_path / "outputs" / "other-engines").iterdir()] == ["flite-6"]


@pytest.mark.slow
def test_other_engines_scores_the_saved_models_on_each_engines_clips(tmp_path):
    env = {**os.environ, **fake_engines(tmp_path), "KIT_WORK_DIR": str(tmp_path / "work")}
    root = SCRIPT.parent.parent
    save = SAVE_UNTRAINED_HOLDOUT.replace("calibration={}", "calibration={'temperature': 2.0, 'prior_weight': 0.1}")
    saved = subprocess.run([sys.executable, "-c", save], cwd=root, env=env, capture_output=True, text=True)
    assert saved.returncode == 0, saved.stderr[-3000:]
    run = subprocess.run([sys.executable, str(SCRIPT.with_name("other_engines.py")), "--clips", "6"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    for engine in ("flite", "festival"):
        assert 0 < figures[f"{engine}_kld"] < figures[f"{engine}_kld_raw"]  # the calibration softens a wild model
        assert 0 <= figures[f"{engine}_top4_recall"] <= 1
        assert figures[f"{engine}_unadapted_kld"] == figures[f"{engine}_kld"]  # 6 clips: too few to adapt to


def load_compare_recipes():
    spec = importlib.util.spec_from_file_location("compare_recipes", SCRIPT.with_name("compare_recipes.py"))
    compare = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(compare)
    return compare


def test_budget_of_the_seeds_time_trains_the_seed_first_and_bad_budgets_are_named():
    compare = load_compare_recipes()
    assert compare.budget_arg("700") == 700.0 and compare.budget_arg("seed") == "seed"
    for bad in ("0", "-5", "soon", "nan"):
        with pytest.raises(argparse.ArgumentTypeError, match=f"got '{bad}'"):
            compare.budget_arg(bad)
    assert compare.training_order(["mel_tcn", "seed", "wave_resnet"], "seed") == ["seed", "mel_tcn", "wave_resnet"]
    assert compare.training_order(["mel_tcn", "seed"], 700.0) == ["mel_tcn", "seed"]
    with pytest.raises(ValueError, match="needs the seed"):
        compare.training_order(["mel_tcn"], "seed")


def test_a_budgeted_run_warms_up_then_decays_its_rate_to_zero_as_the_seconds_run_out(monkeypatch):
    compare = load_compare_recipes()
    clock = [0.0]
    monkeypatch.setattr(compare.time, "perf_counter", lambda: clock[0])
    schedule = compare.WallClockCosine(100.0)
    schedule.set_model(types.SimpleNamespace(optimizer=types.SimpleNamespace(learning_rate=None)))
    schedule.on_train_begin()
    rates = []
    for clock[0] in (0.0, 2.5, 5.0, 52.5, 100.0, 130.0):
        schedule.on_train_batch_begin(0)
        rates.append(schedule.model.optimizer.learning_rate / compare.PEAK_RATE)
    assert rates == pytest.approx([0.0, 0.5, 1.0, 0.5, 0.0, 0.0], abs=1e-9)  # warm-up over 5% of the seconds


def fake_scoring_process(calls, failing=()):
    """Stands in for subprocess.run: records each command and writes the row a scoring process would."""
    def run(command):
        recipe = command[command.index("--recipes") + 1]
        budget = float(command[command.index("--budget") + 1]) if "--budget" in command else None
        calls.append((recipe, budget))
        if recipe not in failing:
            row = {"recipe": recipe, "train_s": budget or 623.1, "test_kld": 0.5}
            Path(command[command.index("--row") + 1]).write_text(json.dumps(row))
        return subprocess.CompletedProcess(command, 1 if recipe in failing else 0)
    return run


def test_each_recipe_scores_in_a_process_of_its_own_given_the_seeds_training_time(dacon_folder, tmp_path, monkeypatch):
    compare = load_compare_recipes()
    monkeypatch.setattr(compare, "OUTPUTS_DIR", tmp_path / "outputs")
    calls = []
    monkeypatch.setattr(compare.subprocess, "run", fake_scoring_process(calls))
    table = compare.main(["--profile", "tiny", "--data", str(dacon_folder), "--recipes", "mel_tcn,seed,wave_resnet",
                          "--budget", "seed"])
    assert calls == [("seed", None), ("mel_tcn", 623.1), ("wave_resnet", 623.1)]
    assert list(table["recipe"]) == ["seed", "mel_tcn", "wave_resnet"]
    assert "its 623.1 s of training" in (tmp_path / "outputs" / "scoreboard.md").read_text()


def test_a_failed_scoring_process_names_its_recipe_and_writes_no_scoreboard(dacon_folder, tmp_path, monkeypatch):
    compare = load_compare_recipes()
    monkeypatch.setattr(compare, "OUTPUTS_DIR", tmp_path / "outputs")
    monkeypatch.setattr(compare.subprocess, "run", fake_scoring_process([], failing=("mel_tcn",)))
    with pytest.raises(RuntimeError, match="mel_tcn: its scoring process failed"):
        compare.main(["--profile", "tiny", "--data", str(dacon_folder), "--recipes", "seed,mel_tcn"])
    assert not (tmp_path / "outputs" / "scoreboard.csv").exists()
