"""Data-parallel training over two virtual CPU devices, one subprocess per engine.

Devices must be configured before the engine starts, so each case runs in a
fresh interpreter and reports what it saw as a JSON line.
"""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

from utils.train import devices
from utils.train.batches import FeatureBatches

ROOT = Path(__file__).resolve().parents[1]

SETUP = {
    "tensorflow": """
        import tensorflow as tf
        tf.config.set_logical_device_configuration(
            tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2)
    """,
    "jax": "",
}

CASE = """
    import dataclasses, json, sys
    import keras
    import numpy as np
    from utils.train import devices, loop

    seen = {"replicas": [], "loss": [], "val_loss": []}
    stop_after = [0]  # the first run is interrupted after epoch 0, like a crash


    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen["loss"].append(logs["loss"])
            seen["val_loss"].append(logs["val_loss"])
            if stop_after and epoch == stop_after.pop():
                raise KeyboardInterrupt


    original_fit = keras.Model.fit

    def recording_fit(self, *args, callbacks=(), **kwargs):
        if keras.config.backend() == "tensorflow":
            seen["replicas"].append(self.distribute_strategy.num_replicas_in_sync)
        else:
            seen["replicas"].append(keras.distribution.distribution().device_mesh.devices.size)
            seen["kernel_devices"] = len(self.weights[0].value.sharding.device_set)
        return original_fit(self, *args, callbacks=[*callbacks, Record()], **kwargs)

    keras.Model.fit = recording_fit
    rng = np.random.default_rng(0)
    x = rng.normal(size=(14, 98, 221)).astype(np.float16)
    y = rng.dirichlet(np.ones(30), size=14).astype(np.float32)
    # 9 training rows: the last batch of 1 cannot be split; 5 validation rows: the last batch is padded
    settings = loop.TrainSettings(epochs=3, batch_size=4, patience=5, random_state=0, verbose=0, devices=2)
    args = dict(train_rows=np.arange(9), val_rows=np.arange(9, 14), model_path=sys.argv[1], settings=settings)
    try:
        loop.train_model("seed_cnn", x, y, **args)
    except KeyboardInterrupt:
        pass
    model, history = loop.train_model("seed_cnn", x, y, **args)
    p = model.predict(x[9:, :, :, None], verbose=0).astype(np.float64)
    val_loss = model.evaluate(x[9:], y[9:], batch_size=5, verbose=0)  # on one device
    # a second, different network in the same process, as k-fold training does
    with devices.data_parallel(2):
        other = keras.Sequential([keras.Input((5,)), keras.layers.Dense(7),
                                  keras.layers.Dense(30, activation="softmax")])
        other.compile(optimizer="adam", loss="kl_divergence")
        other.fit(np.ones((8, 5)), y[:8], batch_size=4, validation_data=(np.ones((4, 5)), y[:4]), verbose=0)
    try:
        loop.train_model("seed_cnn", x, y, **{**args, "settings": dataclasses.replace(settings, batch_size=3)})
        error = ""
    except ValueError as e:
        error = str(e)
    print(json.dumps({
        **seen, "epochs": history.epoch, "val_loss_one_device": val_loss, "row_sums": p.sum(axis=1).tolist(),
        "error": error, "after": str(keras.distribution.distribution()) if keras.config.backend() == "jax" else "",
    }))
"""


def run_case(backend: str, tmp_path: Path) -> dict:
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))  # keeps a jax found there
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": path, "TF_CPP_MIN_LOG_LEVEL": "3"}
    if backend == "jax":
        env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    code = textwrap.dedent(SETUP[backend]) + textwrap.dedent(CASE)
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "m.keras")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_training_runs_replicated_over_two_devices(backend, tmp_path):
    if backend == "jax":
        pytest.importorskip("jax")
    result = run_case(backend, tmp_path)
    assert result["replicas"] == [2, 2, 2]  # the interrupted run, its resumption and the second network
    if backend == "jax":
        assert result["kernel_devices"] == 2  # the weights live on both devices
        assert result["after"] == "None"  # the distribution does not outlive training
    assert result["epochs"] == [1, 2]  # resumed after the interrupted epoch 0
    assert np.isfinite(result["loss"] + result["val_loss"]).all()
    # the saved model is the best epoch's, and val_loss is the plain mean over all 5 validation rows
    assert (tmp_path / "m.keras").is_file() and not list(tmp_path.glob(".*"))
    np.testing.assert_allclose(min(result["val_loss"][:3]), result["val_loss_one_device"], rtol=1e-4)
    np.testing.assert_allclose(result["row_sums"], 1, rtol=1e-5)
    assert "batch_size 3" in result["error"] and "2 devices" in result["error"]


@pytest.mark.parametrize("gpus, replicas", [(0, 1), (1, 1), (2, 2), (4, 4)])
def test_default_uses_every_gpu_when_there_are_several(gpus, replicas, monkeypatch):
    if keras.config.backend() not in ("tensorflow", "jax"):
        pytest.skip("data parallelism is for the TensorFlow and JAX backends")
    monkeypatch.setattr(devices, "accelerator_count", lambda: gpus)
    assert devices.replica_count() == replicas
    assert devices.replica_count(None, 32) == replicas
    assert devices.replica_count(1) == 1
    with pytest.raises(ValueError, match="at least 1"):
        devices.replica_count(0)


def test_default_uses_as_many_gpus_as_split_the_batch(monkeypatch):
    if keras.config.backend() not in ("tensorflow", "jax"):
        pytest.skip("data parallelism is for the TensorFlow and JAX backends")
    monkeypatch.setattr(devices, "accelerator_count", lambda: 3)
    assert devices.replica_count(None, 32) == 2 and devices.replica_count(None, 33) == 3
    assert devices.replica_count(None, 31) == 1


def test_batches_split_evenly_dropping_training_and_padding_validation_remainders():
    x = np.arange(11 * 4, dtype=np.float32).reshape(11, 4)
    y = np.eye(11, 30, dtype=np.float32)
    train = FeatureBatches(x, np.arange(11), targets=y, batch_size=4, shuffle=True, multiple_of=2)
    sizes = [len(train[i][0]) for i in range(len(train))]
    assert sizes == [4, 4, 2]  # one row left out of this epoch
    val = FeatureBatches(x, np.arange(11), targets=y, batch_size=4, multiple_of=2, remainder="pad")
    batches = [val[i] for i in range(len(val))]
    assert [len(b[0]) for b in batches] == [4, 4, 4]
    weights = np.concatenate([b[2] for b in batches])
    np.testing.assert_allclose(weights[:11], 12 / 11)
    assert weights[11] == 0
    # Keras' mean of weighted per-row losses over the 12 served rows is the mean over the 11 real rows
    losses = np.arange(11.0)
    np.testing.assert_allclose(np.sum(weights[:11] * losses) / 12, losses.mean())
    with pytest.raises(ValueError, match="multiple of 2"):
        FeatureBatches(x, np.arange(11), targets=y, batch_size=3, multiple_of=2)
