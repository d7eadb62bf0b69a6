import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from utils import environment
from utils.environment import X86_MACHINES, find_dacon_folder, install_missing, wheel_folders

ROOT = Path(__file__).resolve().parent.parent


def test_finds_a_dacon_folder_a_few_levels_down(tmp_path, dacon_folder):
    root = tmp_path
    assert find_dacon_folder([root]) == dacon_folder
    assert find_dacon_folder([root / "data" / "train"]) is None


def test_nothing_is_installed_when_everything_is_there():
    assert install_missing({"numpy": "numpy"}) == []


def test_missing_package_installs_from_attached_wheels(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(environment.subprocess, "run", lambda cmd: calls.append(cmd) or type("R", (), {"returncode": 0}))
    monkeypatch.setenv("KIT_WHEELS", str(tmp_path))
    assert install_missing({"no_such_module_xyz": "no-such-package"}) == ["no-such-package"]
    assert calls[0][:3] == [sys.executable, "-m", "pip"]
    assert "--no-index" in calls[0] and f"--find-links={tmp_path}" in calls[0]
    assert "numpy" not in " ".join(calls[0]) and "tensorflow" not in " ".join(calls[0])


def test_failed_install_says_what_to_do(monkeypatch):
    monkeypatch.setattr(environment.subprocess, "run", lambda cmd: type("R", (), {"returncode": 1}))
    monkeypatch.delenv("KIT_WHEELS", raising=False)
    with pytest.raises(RuntimeError, match="KIT_WHEELS"):
        install_missing({"no_such_module_xyz": "no-such-package"})


def test_wheel_folders_are_found_one_or_two_levels_down(tmp_path):
    (tmp_path / "wheels" / "sub").mkdir(parents=True)
    (tmp_path / "wheels" / "a-1.0-py3-none-any.whl").write_bytes(b"")
    (tmp_path / "wheels" / "sub" / "b-1.0-py3-none-any.whl").write_bytes(b"")
    assert wheel_folders(tmp_path) == [tmp_path / "wheels", tmp_path / "wheels" / "sub"]


def test_hosting_is_told_by_the_environment(monkeypatch, tmp_path):
    monkeypatch.setattr(environment, "KAGGLE_INPUT", tmp_path / "absent")
    for name in ("KAGGLE_KERNEL_RUN_TYPE", "COLAB_RELEASE_TAG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert environment.hosting() == "local"
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release")
    assert environment.hosting() == "colab"
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Interactive")
    assert environment.hosting() == "kaggle"


ONEDNN_CHECK = ("import utils, tensorflow; from tensorflow.python.util import _pywrap_util_port as port; "
                "print(port.IsMklEnabled())")


@pytest.mark.skipif(platform.machine().lower() not in X86_MACHINES, reason="oneDNN's switch is for x86 CPUs")
@pytest.mark.parametrize("setting, enabled", [(None, "True"), ("0", "False")])
def test_tensorflow_trains_with_onednn_on_x86_unless_the_environment_says_no(setting, enabled):
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    env |= {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)} | ({"TF_ENABLE_ONEDNN_OPTS": setting} if setting else {})
    done = subprocess.run([sys.executable, "-c", ONEDNN_CHECK], env=env, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip().splitlines()[-1] == enabled, done.stderr[-800:]


@pytest.mark.parametrize("installed, expected", [
    ({"tensorflow", "jax"}, "tensorflow"), ({"jax"}, "jax"), (set(), "tensorflow"),
])
def test_keras_runs_on_tensorflow_where_installed_else_on_jax(installed, expected, monkeypatch):
    monkeypatch.setattr(environment.importlib.util, "find_spec", lambda name: object() if name in installed else None)
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    environment.backend_defaults()
    assert os.environ["KERAS_BACKEND"] == expected


def test_a_backend_the_environment_names_is_kept(monkeypatch):
    monkeypatch.setattr(environment.importlib.util, "find_spec", lambda name: object())
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    environment.backend_defaults()
    assert os.environ["KERAS_BACKEND"] == "jax"


def test_a_failed_install_on_a_hosted_notebook_is_a_message_not_a_traceback(monkeypatch, capsys):
    monkeypatch.setattr(environment, "hosting", lambda: "kaggle")
    monkeypatch.setattr(environment, "install_missing", lambda: (_ for _ in ()).throw(RuntimeError("no wheels")))
    assert environment.check_runner_modules() == 2
    assert "run_all.sh: no wheels" in capsys.readouterr().err


def test_a_missing_package_is_named_with_the_command_that_installs_it(monkeypatch, capsys):
    monkeypatch.setattr(environment, "RUNNER_MODULES", ("numpy", "no_such_module_xyz"))
    monkeypatch.setattr(environment, "hosting", lambda: "local")
    assert environment.missing_modules() == ["no_such_module_xyz"]
    assert environment.check_runner_modules() == 2
    assert "no_such_module_xyz cannot be imported" in capsys.readouterr().err


def test_run_all_in_a_python_without_the_requirements_says_how_to_install_them(tmp_path):
    if environment.hosting() != "local":
        pytest.skip("on Colab or Kaggle run_all.sh installs what is missing")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "bare")], check=True)
    bare = tmp_path / "bare" / "bin" / "python"
    done = subprocess.run([str(ROOT / "run_all.sh"), "--help"], env={**os.environ, "PYTHON": str(bare)},
                          capture_output=True, text=True, timeout=60)
    if done.returncode == 0:
        pytest.skip("this machine's base Python has every requirement installed")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "cannot be imported" in done.stderr and f"pip install -r {ROOT / 'requirements.txt'}" in done.stderr
