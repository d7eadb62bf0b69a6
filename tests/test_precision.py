"""Which precision the kit trains in: from the CPU's flags, and where they do not settle it, from a timing kept on disk."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from utils.train import precision

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def fresh_process():
    """Each test starts, and leaves, as a new process would: nothing remembered in memory."""
    precision.bfloat16_is_faster.cache_clear()
    yield
    precision.bfloat16_is_faster.cache_clear()


@pytest.fixture
def cpu(monkeypatch):
    """A CPU under TensorFlow with no GPU, whose bf16 flags and timing the test sets; returns the timings taken."""
    monkeypatch.delenv("KIT_PRECISION", raising=False)
    monkeypatch.setattr(precision.keras.config, "backend", lambda: "tensorflow")
    monkeypatch.setattr(precision, "gpu_available", lambda: False)
    timings = []

    def set_cpu(flags=(), faster=False):
        def timed():
            timings.append(flags)
            return faster
        monkeypatch.setattr(precision, "cpu_bf16_flags", lambda: frozenset(flags))
        monkeypatch.setattr(precision, "bfloat16_is_faster", timed)
        return timings
    return set_cpu


def test_mixed_precision_is_bfloat16_with_amx_and_with_avx512_bf16_only_where_it_was_timed_faster(cpu):
    expected = {((), True): "float32", (("amx_bf16", "avx512_bf16"), False): "mixed_bfloat16",
                (("avx512_bf16",), True): "mixed_bfloat16", (("avx512_bf16",), False): "float32"}
    for (flags, faster), policy in expected.items():
        timings = cpu(flags, faster)
        assert precision.precision_policy(True) == policy
        assert precision.precision_policy(False) == "float32"
    assert timings == [("avx512_bf16",)] * 2  # only AVX-512 BF16 without AMX is timed, only for mixed precision


def test_other_backends_train_in_float32_without_timing(cpu, monkeypatch):
    timings = cpu(("avx512_bf16",), True)
    monkeypatch.setattr(precision.keras.config, "backend", lambda: "jax")
    assert precision.precision_policy(True) == "float32" and timings == []


def test_float32_when_asked_and_float16_on_a_gpu(cpu, monkeypatch):
    cpu(("amx_bf16",))
    monkeypatch.setenv("KIT_PRECISION", "float32")
    assert precision.precision_policy(True) == "float32"
    monkeypatch.setattr(precision, "gpu_available", lambda: True)
    monkeypatch.delenv("KIT_PRECISION")
    assert precision.precision_policy(True) == "mixed_float16"


def test_asking_for_an_unknown_precision_is_refused(monkeypatch):
    monkeypatch.setenv("KIT_PRECISION", "fp32")
    with pytest.raises(ValueError, match="KIT_PRECISION='fp32': expected 'float32' or 'auto'"):
        precision.precision_policy(True)


def test_bf16_flags_are_read_whole_from_the_cpu_flags(tmp_path):
    flags = {"intel_amx": "fpu avx512f amx_bf16 amx_tile avx512_bf16", "amd_zen4": "fpu avx512f avx512_bf16",
             "older": "fpu avx2 avx512f avx512_vnni", "lookalike": "fpu xamx_bf16x"}
    found = {}
    for name, line in flags.items():
        (tmp_path / name).write_text(f"processor\t: 0\nflags\t\t: {line}\n\nprocessor\t: 1\nflags\t\t: {line}\n")
        found[name] = precision.cpu_bf16_flags(str(tmp_path / name))
    assert found == {"intel_amx": {"amx_bf16", "avx512_bf16"}, "amd_zen4": {"avx512_bf16"}, "older": set(),
                     "lookalike": set()}
    assert precision.cpu_bf16_flags(str(tmp_path / "missing")) == frozenset()


def _timed(monkeypatch, outcome):
    """Makes the timing subprocess print ``outcome`` (a JSON-able dict or a line) or raise it; returns its calls."""
    calls = []

    def run(command, **kwargs):
        calls.append((command, kwargs))
        if isinstance(outcome, Exception):
            raise outcome
        line = outcome if isinstance(outcome, str) else json.dumps(outcome)
        return subprocess.CompletedProcess(command, 0, stdout="a log line\n" + line + "\n", stderr="")
    monkeypatch.setattr(precision.subprocess, "run", run)
    return calls


@pytest.mark.parametrize("bf16_step, chosen", [(0.07, True), (0.095, False), (0.14, False)])
def test_the_timing_is_taken_once_and_bfloat16_chosen_only_when_clearly_faster(tmp_path, monkeypatch, bf16_step, chosen):
    calls = _timed(monkeypatch, {"float32_step_s": 0.1, "mixed_bfloat16_step_s": bf16_step})
    for _ in range(2):
        precision.bfloat16_is_faster.cache_clear()  # a new process: it reads the timing from disk
        assert precision.bfloat16_is_faster(tmp_path) is chosen
    ((command, options),) = calls
    assert command[1:] == ["-m", "utils.train.precision"] and options["cwd"] == precision.PROJECT_ROOT
    assert options["env"]["KERAS_BACKEND"] == "tensorflow" and options["timeout"] == precision.TIMEOUT
    (kept,) = tmp_path.glob("precision-*.json")
    assert json.loads(kept.read_text())["mixed_bfloat16_step_s"] == bf16_step
    assert [p.name for p in tmp_path.iterdir()] == [kept.name]  # no temporary file left


@pytest.mark.parametrize("outcome, why", [
    (subprocess.CalledProcessError(1, "python", stderr="ImportError: no tensorflow"), "ImportError: no tensorflow"),
    (subprocess.TimeoutExpired("python", 300, stderr=b"still tracing"), "still tracing"),
    ("Segmentation fault", "Expecting value"),
    ({"float32_step_s": 0.1}, "mixed_bfloat16_step_s"),
])
def test_a_timing_that_fails_leaves_float32_with_a_warning_and_is_not_retried(tmp_path, monkeypatch, outcome, why):
    calls = _timed(monkeypatch, outcome)
    with pytest.warns(UserWarning, match=f"stays in float32: .*{why}"):
        assert precision.bfloat16_is_faster(tmp_path) is False
    precision.bfloat16_is_faster.cache_clear()
    assert precision.bfloat16_is_faster(tmp_path) is False and len(calls) == 1
    (kept,) = tmp_path.glob("precision-*.json")
    assert why in json.loads(kept.read_text())["failed"]


def test_a_damaged_timing_file_is_timed_again(tmp_path, monkeypatch):
    calls = _timed(monkeypatch, {"float32_step_s": 0.2, "mixed_bfloat16_step_s": 0.1})
    assert precision.bfloat16_is_faster(tmp_path) is True
    (kept,) = tmp_path.glob("precision-*.json")
    kept.write_text('{"float32_st')  # a disk that filled up, a hand edit
    precision.bfloat16_is_faster.cache_clear()
    assert precision.bfloat16_is_faster(tmp_path) is True and len(calls) == 2
    assert json.loads(kept.read_text())["float32_step_s"] == 0.2


def test_a_change_to_the_networks_times_the_precisions_again(tmp_path, monkeypatch):
    from utils.recipes import networks

    calls = _timed(monkeypatch, {"float32_step_s": 0.2, "mixed_bfloat16_step_s": 0.1})
    machine = tmp_path / "machine"
    assert precision.bfloat16_is_faster(machine) is True
    edited = tmp_path / "networks.py"
    edited.write_bytes(Path(networks.__file__).read_bytes() + b"\n# a wider tc_resnet\n")
    monkeypatch.setattr(networks, "__file__", str(edited))
    precision.bfloat16_is_faster.cache_clear()
    assert precision.bfloat16_is_faster(machine) is True
    assert len(calls) == 2 and len(list(machine.glob("precision-*.json"))) == 2


def test_a_timing_that_cannot_be_kept_still_decides_with_a_warning(tmp_path, monkeypatch):
    _timed(monkeypatch, {"float32_step_s": 0.2, "mixed_bfloat16_step_s": 0.1})
    (tmp_path / "file").write_text("")
    with pytest.warns(UserWarning, match="could not keep the precision timing"):
        assert precision.bfloat16_is_faster(tmp_path / "file" / "cache") is True


@pytest.mark.slow
def test_the_timing_module_prints_a_step_time_for_each_precision():
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    run = subprocess.run([sys.executable, "-m", "utils.train.precision"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    steps = json.loads(run.stdout.strip().splitlines()[-1])
    assert set(steps) == {"float32_step_s", "mixed_bfloat16_step_s"} and min(steps.values()) > 0
