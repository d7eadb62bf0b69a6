import sys

import pytest

from utils import environment
from utils.environment import find_dacon_folder, install_missing, wheel_folders


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
