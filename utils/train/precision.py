"""Which precision trains here: float16 on a GPU, bfloat16 on a CPU where it is faster, else float32.

On a CPU with AMX, oneDNN trains in bfloat16 1.4 to 1.7 times as fast as in
float32. With AVX-512 BF16 but no AMX it depends on the CPU: faster on an AMD
EPYC, slower on an Intel Xeon whose AMX is hidden. There the kit times a few
training steps of mel_tcn's network in each once (``time_precisions``, in a
fresh process; every recipe follows the answer) and keeps the times in
``MACHINE_CACHE_DIR``, keyed by the CPU, the TensorFlow and Keras versions and the networks' code.

    python -m utils.train.precision   # times them here and prints a JSON line
"""
from __future__ import annotations

import contextlib
import functools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import keras
import numpy as np

from utils.keys import key
from utils.paths import MACHINE_CACHE_DIR, PROJECT_ROOT
from utils.train.devices import cpu_lines, cpu_name, gpu_available, use_cpu_op_threads

BF16_FLAGS = ("amx_bf16", "avx512_bf16")  # Intel AMX; AVX-512 BF16 (AMD Zen 4 on, Intel Cooper Lake on)
POLICIES = ("float32", "mixed_bfloat16")
PROBE_NETWORK, PROBE_BATCH, PROBE_STEPS = "tc_resnet", 64, 6  # what time_precisions times
FASTER = 0.9  # bfloat16 is chosen where its step takes at most this share of float32's
WARMUP = 3  # steps left out of a median (tracing, first allocations)
TIMEOUT = 300  # seconds the timing may take


@functools.cache
def cpu_bf16_flags(cpuinfo: str = "/proc/cpuinfo") -> frozenset[str]:
    """Which of ``BF16_FLAGS`` Linux lists among this CPU's flags (none where it cannot be read)."""
    flags = next((line.split(":", 1)[-1].split() for line in cpu_lines(cpuinfo) if line.startswith("flags")), [])
    return frozenset(BF16_FLAGS) & set(flags)


def precision_policy(mixed_precision: bool) -> str:
    """The Keras dtype policy a recipe trains and predicts under.

    With ``mixed_precision``: float16 on a GPU; under TensorFlow on a CPU,
    bfloat16 with AMX, and with AVX-512 BF16 alone where ``bfloat16_is_faster``;
    float32 elsewhere. ``KIT_PRECISION=float32`` in the environment keeps
    float32 everywhere.
    """
    asked = os.environ.get("KIT_PRECISION", "auto")
    if asked not in ("auto", "float32"):
        raise ValueError(f"KIT_PRECISION={asked!r}: expected 'float32' or 'auto' (the default)")
    if not mixed_precision or asked == "float32":
        return "float32"
    if gpu_available():
        return "mixed_float16"
    flags = cpu_bf16_flags()
    if keras.config.backend() == "tensorflow" and ("amx_bf16" in flags or (flags and bfloat16_is_faster())):
        return "mixed_bfloat16"
    return "float32"


@functools.cache
def bfloat16_is_faster(cache_dir: str | Path = MACHINE_CACHE_DIR) -> bool:
    """Whether this CPU trains in bfloat16 faster than in float32: timed once, then read from ``cache_dir``.

    The file keeps the two step times (or why timing failed: float32 then, until
    the file is deleted); one that cannot be read is timed again.
    """
    path = Path(cache_dir) / f"precision-{machine_key()[:16]}.json"
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        return _faster(json.loads(path.read_text()))
    print(f"Timing training steps in bfloat16 and float32 on this CPU, once (kept in {path}) ...", flush=True)
    timing = _time_in_a_new_process()
    timing["cpu"] = cpu_name()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", delete=False) as handle:
            json.dump(timing, handle, indent=1)
        os.replace(handle.name, path)
    except OSError as error:
        warnings.warn(f"could not keep the precision timing in {path}: {error}", stacklevel=2)
    return _faster(timing)


def _faster(timing: dict) -> bool:
    if "failed" in timing:
        return False
    return float(timing["mixed_bfloat16_step_s"]) <= FASTER * float(timing["float32_step_s"])


def _time_in_a_new_process() -> dict:
    """``time_precisions`` in a fresh interpreter (its own thread settings), or ``{"failed": why}`` with a warning."""
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    try:
        done = subprocess.run([sys.executable, "-m", "utils.train.precision"], cwd=PROJECT_ROOT, env=env,
                              capture_output=True, text=True, timeout=TIMEOUT, check=True)
        timing = json.loads(done.stdout.strip().splitlines()[-1])
        if min(float(timing[f"{p}_step_s"]) for p in POLICIES) > 0:
            return timing
        raise ValueError(f"step times must be positive, got {timing}")
    except (subprocess.SubprocessError, OSError, ValueError, IndexError, KeyError, TypeError) as error:
        detail = getattr(error, "stderr", None) or error
        detail = (detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail))[-800:]
        warnings.warn(f"could not time bfloat16 against float32 here, so training stays in float32: {detail}",
                      stacklevel=3)
        return {"failed": detail}


def machine_key() -> str:
    """The CPU (model and flags), the TensorFlow and Keras versions, the timing's settings and the networks' code."""
    import tensorflow as tf

    from utils.recipes import networks

    return key(platform.machine(), cpu_lines(), tf.__version__, keras.version(), PROBE_NETWORK, PROBE_BATCH,
               PROBE_STEPS, Path(networks.__file__).read_bytes())


@contextlib.contextmanager
def dtype_policy(name: str):
    """Keras's global dtype policy is ``name`` inside the block and the caller's again after it."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def interleaved_step_medians(models: dict[str, keras.Model], batch: int, steps: int) -> dict[str, float]:
    """Median seconds per training step of each compiled model, their steps taken in turn on one random batch.

    Taking them in turn makes a host whose speed drifts slow them alike.
    """
    first = next(iter(models.values()))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, *first.input_shape[1:])).astype(np.float32)
    y = np.full((batch, first.output_shape[-1]), 1 / first.output_shape[-1], dtype=np.float32)
    times = {k: [] for k in models}
    for _ in range(WARMUP + steps):
        for k, model in models.items():
            start = time.perf_counter()
            model.train_on_batch(x, y)
            times[k].append(time.perf_counter() - start)
    return {k: float(np.median(v[WARMUP:])) for k, v in times.items()}


def compiled(name: str, policy: str) -> keras.Model:
    """Network ``name`` built under dtype policy ``policy``, compiled as training compiles it."""
    from utils.recipes.networks import build_model

    with dtype_policy(policy):
        model = build_model(name)
        model.compile(optimizer=keras.optimizers.AdamW(1e-3), loss=keras.losses.KLDivergence())
    return model


def time_precisions(name: str = PROBE_NETWORK, batch: int = PROBE_BATCH, steps: int = PROBE_STEPS) -> dict[str, float]:
    """Median seconds of a training step of network ``name`` in each of ``POLICIES``, one TensorFlow thread per op."""
    use_cpu_op_threads(1)  # as training runs on a CPU
    medians = interleaved_step_medians({p: compiled(name, p) for p in POLICIES}, batch, steps)
    return {f"{p}_step_s": round(s, 5) for p, s in medians.items()}


if __name__ == "__main__":
    print(json.dumps(time_precisions()))
