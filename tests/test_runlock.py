"""One run at a time per outputs folder: the second refuses with one line, a dead run's lock is taken over."""
import json
import os
import subprocess
import sys
import time

import pytest

from utils import runlock, store
from utils.paths import PROJECT_ROOT

# Writes its output in two halves a second apart, as a notebook run writes over time.
SLOW_WRITER = ("import sys, time; f = open(sys.argv[1], 'w'); f.write('first half,'); f.flush(); "
               "time.sleep(1.5); f.write('second half'); f.close()")
CLOBBER = "import sys; open(sys.argv[1], 'w').write('clobbered')"


def python_m(*args):
    return [sys.executable, "-m", "utils.runlock", *args]


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture
def sleeper():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield child.pid
    child.kill()
    child.wait()


def wait_for(path, timeout=30):
    end = time.time() + timeout
    while not path.is_file():
        assert time.time() < end, f"{path} never appeared"
        time.sleep(0.05)


def test_two_runs_at_once_one_refuses_and_the_others_output_is_whole(tmp_path):
    outputs, result = tmp_path / "outputs", tmp_path / "outputs" / "result.txt"
    first = subprocess.Popen(python_m("run", "--outputs", str(outputs), "--", sys.executable, "-c", SLOW_WRITER,
                                      str(result)), cwd=PROJECT_ROOT, stderr=subprocess.PIPE, text=True)
    wait_for(result)
    second = subprocess.run(python_m("run", "--outputs", str(outputs), "--", sys.executable, "-c", CLOBBER, str(result)),
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert second.returncode == 3
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"a run is in progress in {outputs}: process ")
    assert "since 20" in lines[0] and "Wait for it to finish, or set KIT_WORK_DIR" in lines[0]
    assert first.wait(timeout=60) == 0 and first.stderr.read() == ""
    assert result.read_text() == "first half,second half"
    assert not (outputs / "run.lock").exists()


def test_a_lock_left_by_a_killed_run_is_taken_over(tmp_path, capsys):
    pid = dead_pid()
    runlock.acquire(tmp_path, pid=pid)  # as run_all.sh records its own pid, then is killed with -9
    token = runlock.acquire(tmp_path)
    assert f"note: taking over {tmp_path / 'run.lock'}, left by process {pid}" in capsys.readouterr().err
    assert json.loads((tmp_path / "run.lock").read_text())["pid"] == os.getpid()
    assert runlock.release(token, tmp_path) and not (tmp_path / "run.lock").exists()


def test_a_killed_holder_of_run_is_taken_over(tmp_path):
    holder = subprocess.Popen(python_m("run", "--outputs", str(tmp_path), "--", sys.executable, "-c",
                                       "import time; time.sleep(60)"), cwd=PROJECT_ROOT)
    wait_for(tmp_path / "run.lock")
    holder.kill()
    holder.wait()
    again = subprocess.run(python_m("run", "--outputs", str(tmp_path), "--", sys.executable, "-c", "pass"),
                           cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "note: taking over" in again.stderr


def test_check_lets_the_holders_children_through(tmp_path, sleeper, monkeypatch):
    token = runlock.acquire(tmp_path, pid=sleeper)
    monkeypatch.delenv(runlock.TOKEN_VARIABLE, raising=False)
    with pytest.raises(runlock.RunLocked, match=f"process {sleeper} on .* since "):
        runlock.check(tmp_path)
    monkeypatch.setenv(runlock.TOKEN_VARIABLE, token)
    runlock.check(tmp_path)
    runlock.release(token, tmp_path)
    monkeypatch.delenv(runlock.TOKEN_VARIABLE)
    runlock.check(tmp_path)


def test_writes_into_a_locked_outputs_folder_are_refused(tmp_path, sleeper, monkeypatch):
    monkeypatch.setattr(store, "OUTPUTS_DIR", tmp_path)
    monkeypatch.delenv(runlock.TOKEN_VARIABLE, raising=False)
    runlock.acquire(tmp_path, pid=sleeper)
    with pytest.raises(runlock.RunLocked, match="a run is in progress"):
        store.save_json_atomic(tmp_path / "metrics.json", {"a": 1})
    assert not (tmp_path / "metrics.json").exists()
    store.save_json_atomic(tmp_path.parent / "elsewhere.json", {"a": 1})  # outside the outputs folder


def test_run_all_refuses_at_once_while_another_run_holds_the_outputs(tmp_path, sleeper):
    runlock.acquire(tmp_path / "outputs", pid=sleeper)
    env = {**os.environ, "PYTHON": sys.executable, "KIT_WORK_DIR": str(tmp_path)}
    env.pop(runlock.TOKEN_VARIABLE, None)
    result = subprocess.run(["bash", "run_all.sh", "--profile", "smoke"], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 3 and result.stdout == ""
    assert result.stderr.strip() == result.stderr.strip().splitlines()[0]
    assert f"a run is in progress in {tmp_path / 'outputs'}: process {sleeper}" in result.stderr
    assert sorted(p.name for p in (tmp_path / "outputs").iterdir()) == [".run.lock.guard", "run.lock"]
