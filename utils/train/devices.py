"""Which devices train: GPUs seen by the Keras backend, data parallelism over several, CPU threads."""
from __future__ import annotations

import contextlib
import functools
import os
import platform
import warnings

import keras


def gpu_available() -> bool:
    """Whether the Keras backend sees a GPU."""
    backend = keras.config.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if backend == "jax":
        import jax

        return jax.default_backend() == "gpu"
    if backend == "torch":
        import torch

        return torch.cuda.is_available()
    return False


def accelerator_count() -> int:
    """How many GPUs (or TPUs, on JAX) the Keras backend sees."""
    backend = keras.config.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return len(tf.config.list_physical_devices("GPU"))
    if backend == "jax":
        import jax

        return 0 if jax.default_backend() == "cpu" else jax.device_count()
    if backend == "torch":
        import torch

        return torch.cuda.device_count()
    return 0


def cpu_lines(cpuinfo: str = "/proc/cpuinfo") -> list[str]:
    """This CPU's model name and flags as Linux lists them (empty where it cannot be read)."""
    with contextlib.suppress(OSError), open(cpuinfo) as lines:
        return [line.strip() for line in lines if line.startswith(("model name", "flags"))][:2]
    return []


def cpu_name() -> str:
    """The CPU's model name."""
    return next((line.split(":", 1)[1].strip() for line in cpu_lines() if line.startswith("model name")),
                platform.processor() or platform.machine())


def input_workers() -> int:
    """Threads preparing training batches: several beside a GPU, so it never waits; 1 on a CPU, which computes."""
    return min(8, os.cpu_count() or 1) if gpu_available() else 1


def use_cpu_op_threads(threads: int) -> None:
    """Run each TensorFlow op on ``threads`` threads when training on a CPU (0: TensorFlow's default, all cores).

    With several threads, oneDNN's convolution gradients can sum in a
    different order from run to run, so two runs of the same random state differ in
    their last digits; one thread per op (independent ops still run side by
    side) makes them byte-identical. It must be set before TensorFlow runs
    its first op: a process that already runs with other settings keeps
    them, with a warning.
    """
    if not threads or keras.config.backend() != "tensorflow" or gpu_available():
        return
    import tensorflow as tf

    if tf.config.threading.get_intra_op_parallelism_threads() == threads:
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    except RuntimeError:
        warnings.warn(f"TensorFlow already runs ops on its default threads, not {threads} per op: "
                      "two runs of the same random state may differ in their last digits", stacklevel=3)


def replica_count(devices: int | None = None, batch_size: int | None = None) -> int:
    """How many devices ``train_model(devices=...)`` replicates the model over.

    ``None`` means every accelerator when there are several (with
    ``batch_size``, as many as split it evenly), else 1. Data parallelism
    needs the TensorFlow or JAX backend; on the others the default is 1 and
    an explicit count above 1 is an error.
    """
    parallel = keras.config.backend() in ("tensorflow", "jax")
    if devices is None:
        count = max(accelerator_count() if parallel else 1, 1)
        while batch_size and batch_size % count:
            count -= 1
        return count
    if devices < 1:
        raise ValueError(f"devices must be at least 1, got {devices}")
    if devices > 1 and not parallel:
        raise ValueError(f"data-parallel training (devices={devices}) needs the TensorFlow or JAX backend, "
                         f"not {keras.config.backend()}")
    return devices


@functools.cache
def _mirrored_strategy(devices: tuple[str, ...]):
    # one per device set and process: a second MirroredStrategy's all-reduce keys clash with the first's
    import tensorflow as tf

    return tf.distribute.MirroredStrategy(list(devices))


@contextlib.contextmanager
def data_parallel(devices: int):
    """Context in which models are built, compiled and trained replicated over ``devices`` devices.

    The first ``devices`` GPUs, or CPUs where the backend has no GPU. On
    TensorFlow a ``tf.distribute.MirroredStrategy`` scope, on JAX a
    ``keras.distribution.DataParallel``; the previous distribution is
    restored on exit. Yields the strategy or distribution (None for 1 device).
    """
    if devices == 1:
        yield None
        return
    backend = keras.config.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        available = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        names = [d.name for d in available]
    elif backend == "jax":
        names = keras.distribution.list_devices()
    else:
        raise ValueError(f"data-parallel training needs the TensorFlow or JAX backend, not {backend}")
    if devices > len(names):
        raise ValueError(f"devices={devices} but the {backend} backend sees only {len(names)}: {names}")
    if backend == "tensorflow":
        strategy = _mirrored_strategy(tuple(names[:devices]))
        with strategy.scope():
            yield strategy
    else:
        distribution = keras.distribution.DataParallel(devices=names[:devices])
        with distribution.scope():
            yield distribution


class MeanReplicaStatistics(keras.callbacks.Callback):
    """Before each validation, sets every replica's BatchNormalization moving statistics to their mean.

    Under ``tf.distribute.MirroredStrategy`` Keras 3 updates each replica's
    copy of these statistics from that replica's share of the batch only, so
    the copies drift apart: validation would run a slightly different model
    on each device, and the saved model would hold the first device's copy.
    (JAX's DataParallel computes them over the whole batch.)
    """

    def on_test_begin(self, logs=None):
        import tensorflow as tf

        for variable in self.model.non_trainable_variables:
            copies = getattr(variable.value, "values", None)  # the components of a MirroredVariable
            if variable.name in ("moving_mean", "moving_variance") and isinstance(copies, tuple):
                variable.assign(tf.add_n([c.read_value() for c in copies]) / len(copies))
