"""Training step in float32 against mixed bfloat16 on this CPU, in one process.

    python benchmarks/precision.py [--steps 30] [--networks tc_resnet,wave1d_cnn] [--json-out FILE]

For each temporal network (tc_resnet at batch 128, wave1d_cnn at batch 32,
one TensorFlow thread per op as training runs on a CPU) it builds one copy
under each dtype policy and times their training steps in turn on the same
random batch, so that a host whose speed drifts slows both alike. Prints the
median step of each, their ratio, this CPU's bfloat16 flags and the precision
the kit trains in here (``precision_policy``: with AVX-512 BF16 but no AMX it
times both once itself), then a JSON line.
"""
from __future__ import annotations

from batch_norm import NETWORKS, network_args, print_json  # sets the backend and path

import keras  # noqa: E402

from utils.train.devices import use_cpu_op_threads  # noqa: E402
from utils.train.precision import (  # noqa: E402
    POLICIES,
    compiled,
    cpu_bf16_flags,
    interleaved_step_medians,
    precision_policy,
)


def main(argv=None) -> dict:
    args, names = network_args(__doc__.splitlines()[0], 30, argv)
    use_cpu_op_threads(1)
    result = {"backend": keras.config.backend(), "bf16_flags": sorted(cpu_bf16_flags()), "steps": args.steps}
    result["kit_policy"] = precision_policy(True)
    print(f"bfloat16 flags: {', '.join(result['bf16_flags']) or 'none'}; the kit trains in {result['kit_policy']}")
    print(f"{'network':<12} {'batch':>5} {'float32 ms':>11} {'bfloat16 ms':>12} {'ratio':>6}")
    for name in names:
        batch = NETWORKS[name]
        median = interleaved_step_medians({p: compiled(name, p) for p in POLICIES}, batch, args.steps)
        ratio = median["mixed_bfloat16"] / median["float32"]
        result[name] = {"batch": batch, "float32_step_s": round(median["float32"], 4),
                        "bfloat16_step_s": round(median["mixed_bfloat16"], 4), "ratio": round(ratio, 4)}
        f32, bf16 = 1e3 * median["float32"], 1e3 * median["mixed_bfloat16"]
        print(f"{name:<12} {batch:>5} {f32:>11.1f} {bf16:>12.1f} {ratio:>6.3f}")
    return print_json(result, args.json_out)


if __name__ == "__main__":
    main()
