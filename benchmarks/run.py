"""Speed benchmark: the seed's per-clip featurise+augment against wave_resnet's batched one, decoding, and both networks.

    python benchmarks/run.py [--quick] [--clips N] [--data DIR] [--json-out FILE]

On the same clips, in one run:

(a) seed: for each clip, librosa.load of the WAV file (22,050 Hz), the four
    versions (original, noise, shift, pitch shift) and their four log
    spectrograms, one clip at a time in one process (as the seed solution did);
(b) wave_resnet: int16 clips read from the decoded cache, featurize and WaveAugment
    per batch, then the in-model LogMel layer on the batch;
(c) decoding the WAV files into int16 (utils.dataset.clips.decode_clips);
(d) training and inference steps of each recipe's network on random data;
(e) the default recipe's training as notebook 04 runs it (cached features,
    augmentation and fresh mixtures on the host, the network's steps), in
    clips per second over one epoch as long as the standard profile's
    (32,000 clips; 2,560 with --quick), validation on a fifth of the
    clips and the epoch's checkpoint included, timed from the end of its
    first step (tracing); where the machine trains it in bfloat16 (a CPU
    with AMX), also in float32; and its host side alone (augmentation and
    fresh mixtures of every clip, one thread).

Clips come from the train/ side of ``--data`` or, by default, from a small
embedded dataset generated into a temporary folder. Prints a table, then a
JSON object of all figures as the last line.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import utils  # noqa: E402,F401  (TensorFlow's settings, before it loads)

import keras  # noqa: E402
import librosa  # noqa: E402
import numpy as np  # noqa: E402

from utils.dataset.clips import decode_clips, list_clips  # noqa: E402
from utils.dataset.words import CLIP_SAMPLES, N_WORDS, WORDS_PER_CLIP  # noqa: E402
from utils.profiles import get_profile  # noqa: E402
from utils.recipes import DEFAULT_RECIPE, get_recipe  # noqa: E402
from utils.recipes.layers import LogMel  # noqa: E402
from utils.recipes.networks import build_model  # noqa: E402
from utils.recipes.seed_augment import add_noise, pitch_shift, time_shift  # noqa: E402
from utils.recipes.seed_features import SEED_FEATURE_SHAPE, seed_features  # noqa: E402
from utils.store import save_npy_atomic  # noqa: E402
from utils.train.devices import cpu_name, gpu_available  # noqa: E402
from utils.train.precision import dtype_policy, precision_policy  # noqa: E402
from utils.train.loop import TrainSettings, train_model  # noqa: E402

REPEATS = 3  # repeats of the cheap measurements (b), (c) and (e)'s host augmentation; their median is reported
QUICK_EPOCH_CLIPS = 2_560  # (e)'s epoch with --quick; else the standard profile's


class AfterFirstStep(keras.callbacks.Callback):
    """Seconds from the end of a one-epoch run's first step (tracing done) to the end of the epoch."""

    def on_train_batch_end(self, batch, logs=None):
        if batch == 0:
            self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.start


def random_targets(n: int, rng: np.random.Generator) -> np.ndarray:
    """n truths with four words at 0.25 each, like the answers."""
    targets = np.zeros((n, N_WORDS), dtype=np.float32)
    for row in targets:
        row[rng.choice(N_WORDS, size=WORDS_PER_CLIP, replace=False)] = 1 / WORDS_PER_CLIP
    return targets


def device_name() -> str:
    """The accelerator the backend computes on, or the CPU."""
    backend = keras.config.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            return "GPU: " + tf.config.experimental.get_device_details(gpus[0]).get("device_name", gpus[0].name)
    elif backend == "jax":
        import jax

        device = jax.devices()[0]
        if device.platform != "cpu":
            return f"{device.platform.upper()}: {device.device_kind}"
    elif backend == "torch":
        import torch

        if torch.cuda.is_available():
            return "GPU: " + torch.cuda.get_device_name(0)
    return f"CPU: {cpu_name()} ({os.cpu_count()} cores)"


def seed_augment(paths: list[Path]) -> float:
    """(a) Seconds to load, augment 4x and featurise each clip in a plain loop."""
    rng = np.random.default_rng(0)

    def one(path):
        audio, _ = librosa.load(path)
        versions = [audio, add_noise(audio, rng), time_shift(audio), pitch_shift(audio, rng)]
        return [seed_features(v) for v in versions]

    one(paths[0])  # warm-up: librosa's first calls compile and load
    start = time.perf_counter()
    for path in paths:
        one(path)
    return time.perf_counter() - start


def wave_resnet_augment(clips: np.ndarray, batch: int) -> tuple[float, float, float]:
    """(b) Median seconds over repeats for all clips: (total, featurize+augment, LogMel)."""
    recipe = get_recipe("wave_resnet")
    logmel = LogMel()
    targets = random_targets(len(clips), np.random.default_rng(0))

    def one_pass(rng, rows):
        numpy_s = layer_s = 0.0
        for start in range(0, rows, batch):
            t0 = time.perf_counter()
            waves = recipe.featurize(np.asarray(clips[start:start + batch]))
            waves, _ = recipe.augment(waves, targets[start:start + batch], rng)
            t1 = time.perf_counter()
            keras.ops.convert_to_numpy(logmel(waves))
            t2 = time.perf_counter()
            numpy_s += t1 - t0
            layer_s += t2 - t1
        return numpy_s + layer_s, numpy_s, layer_s

    one_pass(np.random.default_rng(99), min(batch, len(clips)))  # warm-up: the backend's first ops
    runs = np.array([one_pass(np.random.default_rng(r), len(clips)) for r in range(REPEATS)])
    return tuple(float(v) for v in np.median(runs, axis=0))


def decode(paths: list[Path]) -> float:
    """(c) Median seconds to decode the WAV files into int16."""
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        decode_clips(paths)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def network_speed(recipe_name: str, batch: int, steps: int) -> dict:
    """(d) Training and inference clips/s of a recipe's network on random data (median step time)."""
    recipe = get_recipe(recipe_name)
    shape = (*SEED_FEATURE_SHAPE, 1) if recipe.model == "seed_cnn" else (CLIP_SAMPLES,)
    rng = np.random.default_rng(0)
    x = rng.uniform(-0.5, 0.5, size=(batch, *shape)).astype(np.float32)
    y = random_targets(batch, rng)
    policy = precision_policy(recipe.mixed_precision)
    with dtype_policy(policy):  # as utils.train.loop.train_model trains
        keras.utils.set_random_seed(0)
        model = build_model(recipe.model)
        model.compile(optimizer=keras.optimizers.Adam(), loss=keras.losses.KLDivergence())

        def step_times(step):
            step()  # warm-up: tracing and compilation
            times = []
            for _ in range(steps):
                start = time.perf_counter()
                step()
                times.append(time.perf_counter() - start)
            return float(np.median(times))

        train_s = step_times(lambda: float(model.train_on_batch(x, y)))  # float(): wait for the result
        infer_s = step_times(lambda: np.asarray(model.predict_on_batch(x)))
    return {"model": recipe.model, "parameters": int(model.count_params()), "dtype_policy": policy,
            "train_clips_per_s": batch / train_s, "infer_clips_per_s": batch / infer_s}


def default_training(data_dir: Path, clips: np.ndarray, work: Path, epoch_clips: int) -> dict:
    """(e) Clips per second of the default recipe's training, host work included, over an epoch of ``epoch_clips``.

    Where the machine trains it in reduced precision, also in float32 (``KIT_PRECISION=float32``).
    """
    result = train_default(data_dir, clips, work, epoch_clips)
    if result["dtype_policy"] != "float32":
        asked = os.environ.get("KIT_PRECISION")
        os.environ["KIT_PRECISION"] = "float32"
        try:
            result["float32_clips_per_s"] = train_default(data_dir, clips, work, epoch_clips)["train_clips_per_s"]
        finally:
            if asked is None:
                del os.environ["KIT_PRECISION"]
            else:
                os.environ["KIT_PRECISION"] = asked
    return result


def train_default(data_dir: Path, clips: np.ndarray, work: Path, epoch_clips: int) -> dict:
    """One measurement of ``default_training``."""
    recipe = get_recipe(DEFAULT_RECIPE)
    features = recipe.source(clips)
    augment = recipe.augment
    words = recipe.load_words(data_dir, cache_dir=work)
    if words is not None:
        augment = dataclasses.replace(augment, words=words)
    batch = max(recipe.batch_size, 256 if gpu_available() else 0)
    rows = np.resize(np.arange(len(clips)), max(2, math.ceil(epoch_clips / batch)) * batch)
    targets = random_targets(len(clips), np.random.default_rng(0))
    augment_s = host_augment(features, targets, augment, recipe.train_transform, batch)
    timer = AfterFirstStep()
    settings = TrainSettings(epochs=1, batch_size=batch, patience=10, random_state=0, optimizer=recipe.optimizer,
                             transform=recipe.train_transform, augment=augment,
                             mixed_precision=recipe.mixed_precision, verbose=0)
    policy = precision_policy(recipe.mixed_precision)
    val_rows = np.arange(max(1, len(clips) // 5))
    train_model(recipe.model, features, targets, train_rows=rows, val_rows=val_rows,
                model_path=work / f"default-{policy}.keras", settings=settings, callbacks=(timer,))
    timed = len(rows) - batch  # all but the first step
    return {"recipe": recipe.name, "model": recipe.model, "batch": batch, "fresh_mixtures": words is not None,
            "dtype_policy": policy,
            "clips": timed, "seconds": timer.seconds, "train_clips_per_s": timed / timer.seconds,
            "augment_clips": len(features), "augment_seconds": augment_s}


def host_augment(features: np.ndarray, targets: np.ndarray, augment, transform, batch: int) -> float:
    """Median seconds over REPEATS to turn every row of ``features`` into an augmented training batch, on the host."""
    def one_pass(rng):
        start = time.perf_counter()
        for row in range(0, len(features), batch):
            rows = slice(row, row + batch)
            augment(transform(np.asarray(features[rows])), targets[rows], rng)
        return time.perf_counter() - start

    one_pass(np.random.default_rng(99))  # warm-up: cached tables, first allocations
    return float(np.median([one_pass(np.random.default_rng(r)) for r in range(REPEATS)]))


def table_row(stage: str, clips: int, seconds: float) -> str:
    return f"{stage:<48} {clips:>7} {clips / seconds:>12.1f} {1e3 * seconds / clips:>10.3f}"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: under 3 minutes on 2 CPU cores")
    parser.add_argument("--clips", type=int, default=0, help="clips for (b) and (c); (a) takes at most 32 (quick) or 256 of them")
    parser.add_argument("--data", default="", help="a DACON-layout folder whose train/ clips are used")
    parser.add_argument("--json-out", default="", help="also write the JSON figures to this file")
    parser.add_argument("--augment-batch", type=int, default=256, help="batch size of (b)")
    parser.add_argument("--batch-size", type=int, default=0, help="batch size of (d) (default: 16 quick, 256 GPU, 64 CPU)")
    parser.add_argument("--steps", type=int, default=0, help="timed steps of (d) (default: 3 quick, else 5)")
    args = parser.parse_args(argv)
    n_clips = args.clips or (1024 if args.quick else 4096)
    n_seed = min(n_clips, 32 if args.quick else 256)
    batch = args.batch_size or (16 if args.quick else 256 if gpu_available() else 64)
    steps = args.steps or (3 if args.quick else 5)

    with tempfile.TemporaryDirectory(prefix="benchmark-") as tmp:
        if args.data:
            data_dir = Path(args.data).expanduser().resolve()
            source = str(data_dir)
        else:
            from utils.datagen.writer import make_embedded_dataset

            print(f"Generating {n_clips} embedded clips ...", flush=True)
            data_dir = make_embedded_dataset(Path(tmp) / "data", n_train=n_clips, n_test=1, random_state=0)
            source = "embedded (generated, random state 0)"
        paths = list_clips(data_dir / "train")[1][:n_clips]
        n_clips, n_seed = len(paths), min(n_seed, len(paths))

        print("(c) decoding ...", flush=True)
        decode_s = decode(paths)
        cache = Path(tmp) / "clips.npy"
        save_npy_atomic(cache, decode_clips(paths))
        clips = np.load(cache, mmap_mode="r")
        print("(a) seed featurise+augment ...", flush=True)
        seed_s = seed_augment(paths[:n_seed])
        print("(b) wave_resnet featurise+augment ...", flush=True)
        wave_s, wave_numpy_s, wave_logmel_s = wave_resnet_augment(clips, args.augment_batch)
        print(f"(e) {DEFAULT_RECIPE} training ...", flush=True)
        standard = get_profile("standard").training[get_recipe(DEFAULT_RECIPE).family].epoch_clips
        default = default_training(data_dir, clips, Path(tmp), QUICK_EPOCH_CLIPS if args.quick else standard)
        del clips

    print("(d) networks ...", flush=True)
    networks = {name: network_speed(name, batch, steps) for name in ("seed", "wave_resnet")}

    seed_rate, wave_rate = n_seed / seed_s, n_clips / wave_s
    result = {
        "backend": keras.config.backend(), "device": device_name(), "keras": keras.__version__,
        "data": source, "clips_seed": n_seed, "clips_wave_resnet": n_clips, "clips_decode": n_clips,
        "augment_batch": min(args.augment_batch, n_clips), "repeats": REPEATS,
        "augment_seed_clips_per_s": seed_rate, "augment_wave_resnet_clips_per_s": wave_rate,
        "augment_speedup_vs_seed": wave_rate / seed_rate,
        "augment_wave_resnet_numpy_clips_per_s": n_clips / wave_numpy_s,
        "augment_wave_resnet_logmel_clips_per_s": n_clips / wave_logmel_s,
        "augment_host_speedup_vs_seed": n_clips / wave_numpy_s / seed_rate,
        "decode_clips_per_s": n_clips / decode_s, "network_batch": batch, "network_steps": steps,
    }
    for name, figures in networks.items():
        result.update({f"train_{name}_clips_per_s": figures["train_clips_per_s"],
                       f"infer_{name}_clips_per_s": figures["infer_clips_per_s"], f"model_{name}": figures["model"],
                       f"parameters_{name}": figures["parameters"], f"dtype_policy_{name}": figures["dtype_policy"]})
    result.update({"default_recipe": default["recipe"], "default_model": default["model"],
                   "default_train_batch": default["batch"], "default_train_fresh_mixtures": default["fresh_mixtures"],
                   "default_train_dtype_policy": default["dtype_policy"],
                   "default_train_clips_per_s": default["train_clips_per_s"],
                   "default_augment_clips_per_s": default["augment_clips"] / default["augment_seconds"]})
    if "float32_clips_per_s" in default:
        result["default_train_float32_clips_per_s"] = default["float32_clips_per_s"]
    result = {k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()}

    lines = [
        f"backend {result['backend']} (keras {result['keras']}), device {result['device']}; data: {source}",
        f"{'stage':<48} {'clips':>7} {'clips/s':>12} {'ms/clip':>10}",
        table_row("(a) seed: load 22.05k, 4 copies, 4 spectrograms", n_seed, seed_s),
        table_row(f"(b) wave_resnet: cache, featurize+augment+LogMel, b={result['augment_batch']}", n_clips, wave_s),
        table_row("    of which featurize + WaveAugment (numpy)", n_clips, wave_numpy_s),
        table_row("    of which LogMel (keras ops)", n_clips, wave_logmel_s),
        table_row("(c) decode WAV -> int16 (decode_clips)", n_clips, decode_s),
    ]
    for name, figures in networks.items():
        for mode in ("train", "infer"):
            rate = figures[f"{mode}_clips_per_s"]
            label = f"(d) {name}: {figures['model']} {mode}, batch {batch}, {figures['dtype_policy']}"
            lines.append(table_row(label, batch * steps, batch * steps / rate))
    lines.append(table_row(f"(e) {default['recipe']}: {default['model']} training as in 04, batch {default['batch']}, "
                           f"{default['dtype_policy']}", default["clips"], default["seconds"]))
    lines.append(table_row(f"    its host side alone: augmentation and fresh mixtures, batch {default['batch']}",
                           default["augment_clips"], default["augment_seconds"]))
    if "float32_clips_per_s" in default:
        lines.append(table_row("    the same in float32 (KIT_PRECISION=float32)", default["clips"],
                               default["clips"] / default["float32_clips_per_s"]))
    lines.append(f"augment speedup, wave_resnet vs seed (clips/s): {result['augment_speedup_vs_seed']:.1f}x; "
                 f"host side only (the log-mel left to the model's device): {result['augment_host_speedup_vs_seed']:.1f}x")
    print("\n".join(lines))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main()
