"""Scoreboard: train every recipe on the same clips and split, score them side by side.

    python benchmarks/compare_recipes.py [--profile NAME] [--data DIR]
                                         [--recipes seed,wave_resnet,mel_tcn] [--budget SECONDS|seed]
                                         [--extra-test DIR[,DIR...]]

For each recipe: one model on the profile's 80/20 holdout split (as notebook
04 trains it), its validation KLD (raw, and after the calibration fitted on
those same clips), its KLD and top-4 recall on the test side
(unseen voices on the embedded data), training time and parameter count;
with ``--extra-test``, KLD (before and after calibration) and top-4 recall on
other labelled folders too (other speech engines: benchmarks/other_engines.py).
With ``--budget`` every recipe trains for the same wall time instead of its
profile's length, from an ample number of epochs, stopped when the budget
ends. A recipe sized by clips seen (its learning rate warms up, then decays
to 0) gets that schedule over the budget's seconds instead of its steps, so
its rate reaches 0 as the budget ends, however the machine's speed varies
meanwhile; the others train at their constant rate. ``--budget seed`` trains
the seed first, at its profile's length, and gives every other recipe the
seconds the seed's training took in this run, so the host's speed that hour
weighs on both alike.
With more than one recipe each trains and scores in a process of its own,
as the notebooks do, so its TensorFlow threads and precision are set as in
``run_all.sh`` (a process keeps the thread settings it first trained with).
Writes outputs/scoreboard.csv and outputs/scoreboard.md and prints the table.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import utils  # noqa: E402,F401  (TensorFlow's settings, before it loads)

import keras  # noqa: E402
import pandas as pd  # noqa: E402

from utils.dataset.clips import load_clips  # noqa: E402
from utils.dataset.tables import load_test_answers  # noqa: E402
from utils.metrics import kl_divergence  # noqa: E402
from utils.paths import MODELS_DIR, OUTPUTS_DIR  # noqa: E402
from utils.pipeline import holdout_predictions, predict_clips, scores, train_on_split  # noqa: E402
from utils.training_data import prepare_training, resolve_data_dir  # noqa: E402
from utils.profiles import PROFILES, get_profile  # noqa: E402
from utils.recipes.base import PEAK_RATE, WARMUP, WEIGHT_DECAY, adamw_warmup_cosine  # noqa: E402
from utils.store import write_bytes_atomic  # noqa: E402
from utils.train.calibration import calibrate  # noqa: E402
from utils.train.splits import holdout_split  # noqa: E402


class WallClockCosine(keras.callbacks.Callback):
    """adamw_warmup_cosine's schedule over ``seconds`` of wall time: before each batch the optimizer's
    rate becomes the schedule's at the share of the seconds gone (linear warm-up, then a cosine to 0)."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_begin(self, batch, logs=None):
        done = min(1.0, (time.perf_counter() - self.start) / self.seconds)
        after = (done - WARMUP) / (1 - WARMUP)
        rate = done / WARMUP if done < WARMUP else 0.5 * (1 + math.cos(math.pi * after))
        self.model.optimizer.learning_rate = PEAK_RATE * rate


def adamw_set_from_outside(total_steps: int):
    """AdamW as adamw_warmup_cosine makes it, with a plain rate that WallClockCosine sets."""
    return keras.optimizers.AdamW(learning_rate=0.0, weight_decay=WEIGHT_DECAY)


def over_budget(data, profile, budget: float):
    """The training data, epochs and callbacks of a run that fills ``budget`` seconds."""
    plan = profile.training[data.recipe.family]
    if not plan.clips_seen:
        return data, 10 * plan.epochs, []
    if data.recipe.optimizer is not adamw_warmup_cosine:
        raise ValueError(f"--budget stretches adamw_warmup_cosine over the budget; {data.recipe.name} trains with "
                         f"{data.recipe.optimizer.__name__}")
    recipe = dataclasses.replace(data.recipe, optimizer=adamw_set_from_outside)
    return dataclasses.replace(data, recipe=recipe), 100_000, [WallClockCosine(budget)]


SEED_TIME = "seed"  # --budget seed: the seed's own training time in this run


def budget_arg(text: str) -> float | str:
    """--budget's value: seconds above 0, or "seed"."""
    if text == SEED_TIME:
        return SEED_TIME
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0, or {SEED_TIME!r}; got {text!r}")
    return seconds


def training_order(recipes: list[str], budget: float | str | None) -> list[str]:
    """The recipes in the order they train: with ``--budget seed``, the seed first."""
    if budget != SEED_TIME:
        return recipes
    if "seed" not in recipes:
        raise ValueError(f"--budget seed needs the seed among --recipes, got {','.join(recipes)}")
    return ["seed"] + [r for r in recipes if r != "seed"]


def score_recipe(recipe: str, profile, data_dir: Path, test_clips, test_truth, *, budget: float | None = None,
                 extra=None) -> dict:
    start = time.perf_counter()
    data = prepare_training(data_dir, profile, recipe)
    prepared = time.perf_counter() - start
    train_idx, val_idx = holdout_split(data.n, random_state=profile.random_state, groups=data.groups)
    trained_data, epochs, callbacks = over_budget(data, profile, budget) if budget else (data, 0, [])
    start = time.perf_counter()
    net, history = train_on_split(
        trained_data, profile, train_idx=train_idx, val_idx=val_idx, epochs=epochs, time_limit=budget,
        model_path=MODELS_DIR / "scoreboard" / f"{recipe}.keras", random_state=profile.random_state, callbacks=callbacks,
    )
    trained = time.perf_counter() - start
    val_raw, calibration = holdout_predictions(net, data, val_idx)
    row = {
        "recipe": recipe, "model": net.name, "parameters": net.count_params(), "epochs": len(history.epoch),
        "val_kld": kl_divergence(data.answers[val_idx], val_raw),
        "val_kld_calibrated": kl_divergence(data.answers[val_idx], calibrate(val_raw, **calibration)),  # fitted here
        "prepare_s": round(prepared, 1), "train_s": round(trained, 1),
    }
    if test_truth is not None:
        start = time.perf_counter()
        test_pred = calibrate(predict_clips([net], test_clips, data.recipe), **calibration)
        row.update(scores(test_truth, test_pred, prefix="test"))
        row["predict_clips_per_s"] = round(len(test_clips) / (time.perf_counter() - start), 1)
    for name, (clips, truth) in (extra or {}).items():
        raw = predict_clips([net], clips, data.recipe)
        row.update(scores(truth, calibrate(raw, **calibration), prefix=name, raw=raw))
    return row


def score_in_own_process(recipe: str, args, data_dir: Path, budget: float | None) -> dict:
    """``score_recipe`` for one recipe in a fresh interpreter running this script; its row."""
    with tempfile.TemporaryDirectory(prefix="scoreboard-") as tmp:
        row_file = Path(tmp) / "row.json"
        command = [sys.executable, str(Path(__file__).resolve()), "--profile", args.profile, "--data", str(data_dir),
                   "--recipes", recipe, "--extra-test", args.extra_test, "--row", str(row_file)]
        if budget:
            command += ["--budget", repr(budget)]
        done = subprocess.run(command)
        if done.returncode != 0 or not row_file.is_file():
            raise RuntimeError(f"{recipe}: its scoring process failed (exit code {done.returncode}); "
                               f"its log is above")
        return json.loads(row_file.read_text())


def markdown_table(table: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(table.columns) + " |", "|" + " --- |" * len(table.columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def main(argv=None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="smoke", choices=list(PROFILES))
    parser.add_argument("--data", default="", help="a DACON-layout folder (default: the profile's embedded dataset)")
    parser.add_argument("--recipes", default="seed,wave_resnet,mel_tcn")
    parser.add_argument("--budget", type=budget_arg, default=None,
                        help="train every recipe for this many seconds, or 'seed': the others for as long as the seed "
                             "takes at its profile's length (default: each for its profile's length)")
    parser.add_argument("--extra-test", default="", help="DIR[,DIR...]: also score on each DACON-layout folder's test/ "
                        "clips and test_answer.csv, as columns named for the folder (benchmarks/other_engines.py "
                        "writes such folders)")
    parser.add_argument("--row", default="", help=argparse.SUPPRESS)  # one recipe's row, as JSON, to this file
    args = parser.parse_args(argv)
    try:
        recipes = training_order(args.recipes.split(","), args.budget)
    except ValueError as error:
        parser.error(str(error))
    profile = get_profile(args.profile)
    data_dir = resolve_data_dir(args.data, profile)
    test_ids, test_clips = load_clips(data_dir / "test")
    test_truth = load_test_answers(data_dir, test_ids)
    extra = {}
    for folder in filter(None, args.extra_test.split(",")):
        folder = Path(folder).expanduser().resolve()
        extra_ids, extra_clips = load_clips(folder / "test")
        truth = load_test_answers(folder, extra_ids)
        if truth is None:
            parser.error(f"--extra-test {folder}: expected a test_answer.csv matching its test/ clips")
        extra[folder.name] = (extra_clips, truth)
    if args.row:
        row = score_recipe(recipes[0], profile, data_dir, test_clips, test_truth, budget=args.budget, extra=extra)
        write_bytes_atomic(Path(args.row), json.dumps(row).encode())
        return pd.DataFrame()
    rows = []
    seconds = None if args.budget == SEED_TIME else args.budget
    for recipe in recipes:
        if len(recipes) == 1:
            rows.append(score_recipe(recipe, profile, data_dir, test_clips, test_truth, budget=seconds, extra=extra))
        else:
            rows.append(score_in_own_process(recipe, args, data_dir, seconds))
        print(rows[-1], flush=True)
        if args.budget == SEED_TIME and recipe == "seed":
            seconds = rows[-1]["train_s"]
    table = pd.DataFrame(rows).round(4)
    write_bytes_atomic(OUTPUTS_DIR / "scoreboard.csv", table.to_csv(index=False).encode())
    if args.budget == SEED_TIME:
        length = f"the seed at its profile's length, the others for its {seconds:g} s of training"
    else:
        length = f"a budget of {args.budget:g} s of training per recipe" if args.budget else profile.deviations
    heading = f"Profile `{profile.name}` ({length}); data {data_dir.name}\n\n"
    write_bytes_atomic(OUTPUTS_DIR / "scoreboard.md", (heading + markdown_table(table) + "\n").encode())
    print(heading + markdown_table(table))
    return table


if __name__ == "__main__":
    main()
