"""Training step in float32 against mixed bfloat16 on this CPU, in one process.

    python benchmarks/precision.py [--steps 30] [--networks tc_resnet,wave1d_cnn] [--json-out FILE]

For each temporal network (tc_resnet at batch 128, wave1d_cnn at batch 32,
one TensorFlow thread per op as training runs on a CPU) it builds one copy
under each dtype policy and times their training steps in turn on the same
random batch, so that a host whose speed drifts slows both alike. Prints the
median step of each, their ratio and whether the kit trains in bfloat16 here
(``precision_policy``: a CPU with AMX or AVX-512 BF16), then a JSON line.
"""
from __future__ import annotations

from batch_norm import NETWORKS, interleaved_step_medians, network_args, print_json  # sets the backend and path

import keras  # noqa: E402

from utils.recipes import networks  # noqa: E402
from utils.train.devices import (  # noqa: E402
    cpu_has_bf16_instructions,
    dtype_policy,
    precision_policy,
    use_cpu_op_threads,
)

POLICIES = ("float32", "mixed_bfloat16")


def built(name: str, policy: str) -> keras.Model:
    with dtype_policy(policy):
        model = networks.build_model(name)
        model.compile(optimizer=keras.optimizers.AdamW(1e-3), loss=keras.losses.KLDivergence())
    return model


def main(argv=None) -> dict:
    args, names = network_args(__doc__.splitlines()[0], 30, argv)
    use_cpu_op_threads(1)
    result = {"backend": keras.config.backend(), "bf16_instructions": cpu_has_bf16_instructions(),
              "kit_policy": precision_policy(True), "steps": args.steps}
    print(f"bfloat16 instructions: {result['bf16_instructions']}; the kit trains in {result['kit_policy']}")
    print(f"{'network':<12} {'batch':>5} {'float32 ms':>11} {'bfloat16 ms':>12} {'ratio':>6}")
    for name in names:
        batch = NETWORKS[name]
        median = interleaved_step_medians({p: built(name, p) for p in POLICIES}, batch, args.steps)
        ratio = median["mixed_bfloat16"] / median["float32"]
        result[name] = {"batch": batch, "float32_step_s": round(median["float32"], 4),
                        "bfloat16_step_s": round(median["mixed_bfloat16"], 4), "ratio": round(ratio, 4)}
        f32, bf16 = 1e3 * median["float32"], 1e3 * median["mixed_bfloat16"]
        print(f"{name:<12} {batch:>5} {f32:>11.1f} {bf16:>12.1f} {ratio:>6.3f}")
    return print_json(result, args.json_out)


if __name__ == "__main__":
    main()
