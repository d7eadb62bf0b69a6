"""Voices of other speech engines: test clips spoken by flite and Festival, scored with the kit's saved models.

    python benchmarks/other_engines.py [--models auto|ensemble|holdout] [--engines flite,festival] [--clips 2000]

The embedded data is spoken by eSpeak NG alone; its test side holds eSpeak
voices the models never heard, not other engines. This writes, once per
engine that is installed, a DACON-layout folder under outputs/other-engines/
(each of the 30 words said by every voice of the engine at three durations,
mixed four to a clip as the embedded data is), then predicts its clips as
06_submit does (the saved models, their test-time views and calibration) and
prints KLD and top-4 recall per engine, before and after calibration (and,
for a recipe that adapts its batch norms to the clips predicted, again with
the training statistics alone and the same calibration, keys starting
``ENGINE_unadapted_``), then a JSON line of the figures. The
folders also serve ``compare_recipes.py --extra-test``.

The engines come from Debian's packages (not pip):

    apt install flite
    apt install festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import utils  # noqa: E402,F401  (TensorFlow's settings, before it loads)

from utils.datagen.corpus import load_word_folder  # noqa: E402
from utils.datagen.writer import write_dataset  # noqa: E402
from utils.dataset.words import WORDS  # noqa: E402
from utils.paths import OUTPUTS_DIR  # noqa: E402

STRETCHES = (0.8, 1.0, 1.25)  # durations, as multiples of each voice's own
RANDOM_STATE = 7  # draws the mixtures
ENGINES = {  # engine: (program, voices)
    "flite": ("flite", ("kal", "kal16", "awb", "rms", "slt")),
    "festival": ("text2wave", ("ked_diphone", "kal_diphone", "cmu_us_slt_arctic_hts")),
}


def speak(engine: str, voice: str, stretch: float, word: str, path: Path) -> None:
    """Write ``word`` said by ``voice`` of ``engine``, ``stretch`` times as long as it says it, to ``path``."""
    if engine == "flite":
        command = ["flite", "-voice", voice, "--setf", f"duration_stretch={stretch}", "-t", word, "-o", str(path)]
        source = None
    else:
        command = ["text2wave", "-eval", f"(voice_{voice})", "-eval", f"(Parameter.set 'Duration_Stretch {stretch})",
                   "-o", str(path)]
        source = word + "\n"
    done = subprocess.run(command, input=source, capture_output=True, text=True)
    if done.returncode or not path.is_file() or path.stat().st_size == 0:
        raise RuntimeError(f"{engine} could not say {word!r} with the voice {voice!r}: {done.stderr.strip()[-300:]}")


def engine_dataset(engine: str, n_clips: int) -> Path:
    """The engine's test folder under outputs/other-engines/, written on the first call."""
    out = OUTPUTS_DIR / "other-engines" / f"{engine}-{n_clips}"
    if out.is_dir():
        return out
    program, voices = ENGINES[engine]
    if shutil.which(program) is None:
        raise RuntimeError(f"{engine} is not installed (no {program} on PATH); see this script's docstring")
    with tempfile.TemporaryDirectory(prefix=f"{engine}-words-") as tmp:
        for word in WORDS:
            (Path(tmp) / word).mkdir()
            for voice in voices:
                for stretch in STRETCHES:
                    speak(engine, voice, stretch, word, Path(tmp) / word / f"{voice}-x{stretch}_nohash_0.wav")
        bank = load_word_folder(tmp)
    # write_dataset needs a train side; one clip of the same voices, never used
    return write_dataset(out, train_bank=bank, test_bank=bank, n_train=1, n_test=n_clips, random_state=RANDOM_STATE)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="auto", help="the saved predictor: auto, ensemble or holdout")
    parser.add_argument("--engines", default=",".join(ENGINES), help=f"among {', '.join(ENGINES)}")
    parser.add_argument("--clips", type=int, default=2000, help="test clips per engine")
    args = parser.parse_args(argv)
    engines = args.engines.split(",")
    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        parser.error(f"unknown engines {unknown}; expected some of {', '.join(ENGINES)}")
    try:
        folders = {engine: engine_dataset(engine, args.clips) for engine in engines}
    except RuntimeError as error:
        sys.exit(f"error: {error}")

    from utils.dataset.clips import load_clips
    from utils.dataset.tables import load_test_answers
    from utils.pipeline import load_model_set, model_predictions, scores
    from utils.train.calibration import calibrated_mean

    recipe, nets, manifest = load_model_set(args.models)
    result = {"recipe": recipe.name, "models": len(nets), "calibration": manifest["calibration"]}
    print(f"{recipe.name}: {len(nets)} model(s), calibration {manifest['calibration']}")
    ways = {"": recipe}  # how 06 predicts; then, where it adapts batch norms, with the training statistics alone
    if recipe.norm_adaptation:
        ways["_unadapted"] = dataclasses.replace(recipe, norm_adaptation=0.0)
    for engine, folder in folders.items():
        ids, clips = load_clips(folder / "test")
        truth = load_test_answers(folder, ids)
        for suffix, way in ways.items():
            each = model_predictions(nets, clips, way)
            name = engine + suffix
            found = scores(truth, calibrated_mean(each, **manifest["calibration"]), prefix=name,
                           raw=calibrated_mean(each, temperature=1.0, prior_weight=0.0))
            result.update({k: round(v, 4) for k, v in found.items()})
            how = " with the training batch-norm statistics" if suffix else ""
            print(f"{engine} ({len(ENGINES[engine][1])} voices x {len(STRETCHES)} durations, {len(ids)} clips){how}: "
                  f"KLD {found[f'{name}_kld']:.4f} (before calibration {found[f'{name}_kld_raw']:.4f}), "
                  f"top-4 recall {found[f'{name}_top4_recall']:.4f}", flush=True)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
