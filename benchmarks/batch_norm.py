"""Training step with Keras's BatchNormalization against the fused TimeBatchNormalization, in one process.

    python benchmarks/batch_norm.py [--steps 60] [--networks tc_resnet,wave1d_cnn] [--json-out FILE]

For each temporal network (tc_resnet at batch 128, wave1d_cnn at batch 32,
in the precision training uses on this machine) it builds two copies, one
normalising its (batch, frames, channels) tensors with Keras's
BatchNormalization and one with TimeBatchNormalization, and times their
training steps in turn on the same random batch, so that a host whose speed
drifts slows both alike. Prints the median step of each and their ratio,
then a JSON line.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import utils  # noqa: E402,F401  (TensorFlow's settings, before it loads)

import keras  # noqa: E402

from utils.recipes import networks  # noqa: E402
from utils.store import write_bytes_atomic  # noqa: E402
from utils.train.devices import use_cpu_op_threads  # noqa: E402
from utils.train.precision import dtype_policy, interleaved_step_medians, precision_policy  # noqa: E402

NETWORKS = {"tc_resnet": 128, "wave1d_cnn": 32}  # network: batch


def built(name: str, *, fused: bool) -> keras.Model:
    norm = networks._time_norm if fused else networks._norm
    with mock.patch.object(networks, "_time_norm", norm):
        model = networks.build_model(name)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3), loss=keras.losses.KLDivergence())
    return model


def step_times(name: str, batch: int, steps: int) -> dict:
    """Median seconds per training step of the two copies of ``name`` and their ratio."""
    copies = {"keras": built(name, fused=False), "fused": built(name, fused=True)}
    median = interleaved_step_medians(copies, batch, steps)
    return {"batch": batch, "keras_step_s": median["keras"], "fused_step_s": median["fused"],
            "ratio": median["fused"] / median["keras"]}


def network_args(description: str, steps: int, argv=None) -> tuple[argparse.Namespace, list[str]]:
    """A step A/B's options (--steps, --networks, --json-out) and its networks; an unknown one is refused by name."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--steps", type=int, default=steps, help="timed steps of each copy")
    parser.add_argument("--networks", default=",".join(NETWORKS), help="comma-separated, of " + ", ".join(NETWORKS))
    parser.add_argument("--json-out", type=Path, help="also write the JSON line to this file")
    args = parser.parse_args(argv)
    names = args.networks.split(",")
    unknown = sorted(set(names) - set(NETWORKS))
    if unknown:
        parser.error(f"unknown network {', '.join(unknown)}: expected some of {', '.join(NETWORKS)}")
    return args, names


def print_json(result: dict, json_out: Path | None) -> dict:
    """Prints ``result`` as the last JSON line, also written to ``json_out`` when given."""
    line = json.dumps(result)
    if json_out:
        write_bytes_atomic(json_out, (line + "\n").encode())
    print(line)
    return result


def main(argv=None) -> dict:
    args, names = network_args(__doc__.splitlines()[0], 60, argv)
    use_cpu_op_threads(1)  # as training runs on a CPU
    policy = precision_policy(True)
    result = {"backend": keras.config.backend(), "dtype_policy": policy, "steps": args.steps}
    print(f"{'network':<12} {'batch':>5} {'Keras BN ms':>12} {'fused ms':>9} {'ratio':>6}")
    with dtype_policy(policy):
        for name in names:
            batch = NETWORKS[name]
            figures = step_times(name, batch, args.steps)
            result[name] = {k: round(v, 4) for k, v in figures.items()}
            print(f"{name:<12} {batch:>5} {1e3 * figures['keras_step_s']:>12.1f} {1e3 * figures['fused_step_s']:>9.1f} "
                  f"{figures['ratio']:>6.3f}")
    return print_json(result, args.json_out)


if __name__ == "__main__":
    main()
