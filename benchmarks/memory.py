"""Peak host memory of a profile's pipeline, stage by stage, at the profile's real data sizes.

    python benchmarks/memory.py [--profile full] [--recipes wave_resnet,seed] [--data DIR] [--steps 20] [--predict 2000]

Runs the kit's own code in one process: the dataset (generated if missing),
decoding train and test clips into the int16 cache, each recipe's training
data (the seed's augmented training set included), then for each recipe a
short training run at the profile's batch size over the full-size arrays
(``--steps`` batches, one epoch, with validation and checkpoints) and a
prediction of ``--predict`` test clips. A thread samples /proc/self/status
every 50 ms. Reported per stage: peak resident memory (RSS) and its two
parts, private memory (RssAnon: what must fit in RAM) and file pages mapped
from the caches (RssFile: page cache the system can drop and re-read), and
the largest worker process's peak. Prints a table, then a JSON line.
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import utils  # noqa: E402,F401  (TensorFlow's settings, before it loads)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from utils.dataset.clips import load_clips  # noqa: E402
from utils.pipeline import predict_clips, train_on_split  # noqa: E402
from utils.training_data import prepare_training, resolve_data_dir  # noqa: E402
from utils.profiles import PROFILES, get_profile  # noqa: E402
from utils.train.splits import holdout_split  # noqa: E402

GIB = 1024**3


def memory_now() -> dict[str, int]:
    """VmRSS, RssAnon and RssFile of this process, in bytes."""
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile"):
            values[key] = int(rest.split()[0]) * 1024
    return values


class PeakMemory:
    """Samples memory_now() in a thread; ``stage(name)`` starts a new stage's peak."""

    def __init__(self, interval: float = 0.05):
        self.interval = interval
        self.stages: dict[str, dict[str, int]] = {}
        self.current = None
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _sample(self):
        now = memory_now()
        with self.lock:
            if self.current is not None:
                peak = self.stages[self.current]
                for key, value in now.items():
                    peak[key] = max(peak.get(key, 0), value)

    def _run(self):
        while self.running:
            self._sample()
            time.sleep(self.interval)

    def stage(self, name: str) -> None:
        self._sample()
        with self.lock:
            self.stages[name] = {}
            self.current = name
        self._sample()

    def stop(self) -> dict[str, dict[str, int]]:
        self._sample()
        self.running = False
        self.thread.join()
        return self.stages


def measure_recipe(recipe, *, data_dir, profile, test_clips, steps, predict, model_path, timed) -> None:
    """One recipe's stages: its training data, a short training run, a prediction. Its arrays go on return."""
    data = timed(f"{recipe}: training data", lambda: prepare_training(data_dir, profile, recipe))
    train_idx, val_idx = holdout_split(data.n, random_state=profile.random_state, groups=data.groups)
    train_idx = train_idx[: steps * profile.batch_size]
    val_idx = val_idx[: profile.batch_size]
    timed(f"{recipe}: train {len(train_idx)} clips, batch {profile.batch_size}", lambda: train_on_split(
        data, profile, train_idx=train_idx, val_idx=val_idx, epochs=1,
        model_path=model_path, random_state=profile.random_state))
    net = keras.models.load_model(model_path, compile=False)
    rows = np.arange(min(predict, len(test_clips)))
    timed(f"{recipe}: predict {len(rows)} clips", lambda: predict_clips([net], test_clips, data.recipe, rows=rows))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="full", choices=list(PROFILES))
    parser.add_argument("--recipes", default="wave_resnet,seed")
    parser.add_argument("--data", default="", help="a DACON-layout folder (default: the profile's embedded dataset)")
    parser.add_argument("--steps", type=int, default=20, help="training batches per recipe")
    parser.add_argument("--predict", type=int, default=2000, help="test clips predicted per recipe")
    args = parser.parse_args(argv)
    profile = get_profile(args.profile)
    peak = PeakMemory()
    timings = {}

    def timed(name, work):
        peak.stage(name)
        start = time.perf_counter()
        result = work()
        timings[name] = time.perf_counter() - start
        print(f"{name}: {timings[name]:.0f} s", flush=True)
        return result

    data_dir = timed("dataset", lambda: resolve_data_dir(args.data, profile))
    _, test_clips = timed("decode test", lambda: load_clips(data_dir / "test"))
    with tempfile.TemporaryDirectory(prefix="memory-") as tmp:
        for recipe in args.recipes.split(","):
            measure_recipe(recipe, data_dir=data_dir, profile=profile, test_clips=test_clips, steps=args.steps,
                           predict=args.predict, model_path=Path(tmp) / f"{recipe}.keras", timed=timed)
    stages = peak.stop()
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    result = {
        "profile": profile.name, "backend": keras.config.backend(), "data": str(data_dir),
        "peak_rss_gib": round(max(s.get("VmRSS", 0) for s in stages.values()) / GIB, 2),
        "peak_private_gib": round(max(s.get("RssAnon", 0) for s in stages.values()) / GIB, 2),
        "peak_worker_rss_gib": round(children / GIB, 2),
        "stages": {name: {"seconds": round(timings[name], 1), **{k: round(v / GIB, 2) for k, v in s.items()}}
                   for name, s in stages.items()},
    }
    print(f"{'stage':<44} {'s':>6} {'RSS GiB':>8} {'private':>8} {'files':>8}")
    for name, s in result["stages"].items():
        print(f"{name:<44} {s['seconds']:>6.0f} {s.get('VmRSS', 0):>8.2f} {s.get('RssAnon', 0):>8.2f} "
              f"{s.get('RssFile', 0):>8.2f}")
    print(f"peak RSS {result['peak_rss_gib']} GiB (private {result['peak_private_gib']} GiB); "
          f"largest worker process {result['peak_worker_rss_gib']} GiB")
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main()
