"""Test-time views: what each set of views gives a trained mel_tcn holdout model, on validation and test clips.

    python benchmarks/test_views.py [--profile standard] [--data DIR]

Run it after notebook 04 (``./run_all.sh`` trains the holdout model): it
loads outputs/models/holdout.keras, rebuilds the profile's holdout split, and
predicts the validation and test clips in every view, as 06_submit predicts
(batch norms adapted to the clips, once per set): the clip shifted along
time by each of the recipe's shifts, and with its mel axis warped by each of
its warps. For each set of views (one view; shifts 0 and ±10, the recipe's
earlier set; the recipe's shifts; the recipe's shifts and warps) it averages
those predictions, fits the calibration on the validation clips and scores
the calibrated test predictions (KLD; on the embedded data, unseen voices).
Prints a table, then a JSON line.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import utils  # noqa: E402,F401  (TensorFlow's settings, before it loads)

import numpy as np  # noqa: E402

from utils.dataset.clips import load_clips  # noqa: E402
from utils.dataset.tables import load_test_answers  # noqa: E402
from utils.metrics import kl_divergence  # noqa: E402
from utils.pipeline import fit_recipe_calibration, load_model_set, view_predictions  # noqa: E402
from utils.training_data import prepare_training, resolve_data_dir  # noqa: E402
from utils.profiles import PROFILES, get_profile  # noqa: E402
from utils.train.calibration import calibrate  # noqa: E402
from utils.train.splits import holdout_split  # noqa: E402


def view_sets(recipe) -> dict[str, list[tuple[str, float]]]:
    """Named sets of views, each view ("shift", frames) or ("warp", factor)."""
    shifts = [("shift", s) for s in recipe.tta_shifts]
    return {
        "one view": [("shift", 0)],
        "shifts 0, ±10": [("shift", s) for s in (0, -10, 10)],
        "the recipe's shifts": shifts,
        "the recipe's shifts and warps": shifts + [("warp", w) for w in recipe.tta_warps],
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="standard", choices=list(PROFILES))
    parser.add_argument("--data", default="", help="a DACON-layout folder (default: the profile's embedded dataset)")
    args = parser.parse_args(argv)
    recipe, models, _ = load_model_set("holdout")
    if not hasattr(recipe, "tta_warps"):
        sys.exit(f"test_views.py compares the views of mel_tcn models; the holdout model is a {recipe.name} model")
    profile = get_profile(args.profile)
    data_dir = resolve_data_dir(args.data, profile)
    data = prepare_training(data_dir, profile, recipe.name)
    _, val_idx = holdout_split(data.n, random_state=profile.random_state, groups=data.groups)
    test_ids, test_clips = load_clips(data_dir / "test")
    test_truth = load_test_answers(data_dir, test_ids)
    sets = view_sets(recipe)
    every = list(dict.fromkeys(v for views in sets.values() for v in views))
    shifts = [amount for kind, amount in every if kind == "shift"]
    viewed = dataclasses.replace(recipe, tta_shifts=tuple(shifts),
                                 tta_warps=tuple(amount for kind, amount in every if kind == "warp"))
    order = [("shift", a) for a in viewed.tta_shifts] + [("warp", a) for a in viewed.tta_warps]  # test_views' order
    # each set's clips predicted in every view at once (mean over models): its batch norms adapted once
    val_each = view_predictions(models, data.clips, viewed, rows=val_idx).mean(axis=0)
    test_each = None if test_truth is None else view_predictions(models, test_clips, viewed).mean(axis=0)
    figures = {}
    for name, views in sets.items():
        picked = [order.index(v) for v in views]
        val = np.mean(val_each[picked], axis=0)
        calibration = fit_recipe_calibration(recipe, val, data.answers[val_idx])
        row = {"views": len(views), "val_kld": kl_divergence(data.answers[val_idx], calibrate(val, **calibration))}
        if test_truth is not None:
            test = np.mean(test_each[picked], axis=0)
            row["test_kld"] = kl_divergence(test_truth, calibrate(test, **calibration))
        figures[name] = {k: round(v, 4) for k, v in row.items()}
    print(f"{'views':32} {'n':>3} {'val KLD':>8} {'test KLD':>9}")
    for name, row in figures.items():
        print(f"{name:32} {row['views']:>3} {row['val_kld']:>8.4f} {row.get('test_kld', float('nan')):>9.4f}")
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
