"""One run at a time per outputs folder: a lock file outputs/run.lock naming its holder.

run_all.sh takes the lock for its own process and hands its token to its
children in KIT_RUN_LOCK; a notebook or any other process writing into the
outputs folder checks it and refuses while another live process holds it.
A lock whose process is gone (kill -9) is taken over with a note.

Standard library only::

    python -m utils.runlock acquire --pid PID     # prints the token; exit 3 with one line when held
    python -m utils.runlock release --token TOKEN
    python -m utils.runlock run -- COMMAND ...    # holds the lock while COMMAND runs
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

from utils.paths import OUTPUTS_DIR

LOCK_NAME = "run.lock"
TOKEN_VARIABLE = "KIT_RUN_LOCK"
LOCKED_EXIT = 3


class RunLocked(RuntimeError):
    """Another live process holds the outputs folder."""


def lock_path(outputs_dir: str | Path = OUTPUTS_DIR) -> Path:
    return Path(outputs_dir) / LOCK_NAME


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _process_start(pid: int) -> str:
    """The process's start time in clock ticks (Linux), so a reused pid is not taken for the holder."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def holder_alive(info: dict) -> bool:
    """Whether the lock's process still runs (a lock from another host counts as alive)."""
    if info.get("host") != socket.gethostname():
        return True
    pid = int(info.get("pid", 0))
    if pid <= 0 or not process_alive(pid):
        return False
    start = _process_start(pid)
    return not (start and info.get("pid_start") and start != info["pid_start"])


def refusal(info: dict, path: Path) -> str:
    """The one line a refused run prints."""
    return (f"a run is in progress in {path.parent}: process {info.get('pid')} on {info.get('host')} "
            f"since {info.get('started')} ({path}). Wait for it to finish, or set KIT_WORK_DIR "
            "to another folder to run beside it.")


@contextlib.contextmanager
def _guard(path: Path):
    """Serialise check-and-take between processes (flock on a sibling file, where the file system has it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.guard"), "a") as handle:
        try:
            import fcntl
            fcntl.flock(handle, fcntl.LOCK_EX)
        except (ImportError, OSError):
            pass
        yield  # closing the file releases the flock


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # unreadable: treated as left by a dead run


def acquire(outputs_dir: str | Path = OUTPUTS_DIR, *, pid: int | None = None) -> str:
    """Take the lock for ``pid`` (default: this process); returns its token.

    Raises RunLocked with the refusal line when a live process holds it.
    """
    path = lock_path(outputs_dir)
    pid = pid or os.getpid()
    with _guard(path):
        info = _read(path)
        if info is not None:
            if info and holder_alive(info):
                raise RunLocked(refusal(info, path))
            print(f"note: taking over {path}, left by process {info.get('pid', '?')} "
                  f"(started {info.get('started', '?')}), which is no longer running", file=sys.stderr)
            path.unlink()
        token = secrets.token_hex(8)
        mine = {"pid": pid, "pid_start": _process_start(pid), "host": socket.gethostname(),
                "started": time.strftime("%Y-%m-%d %H:%M:%S"), "token": token}
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        with os.fdopen(fd, "w") as handle:
            json.dump(mine, handle)
    return token


def release(token: str, outputs_dir: str | Path = OUTPUTS_DIR) -> bool:
    """Remove the lock if ``token`` holds it; returns whether it did."""
    path = lock_path(outputs_dir)
    with _guard(path):
        info = _read(path)
        if info and info.get("token") == token:
            path.unlink()
            return True
    return False


def check(outputs_dir: str | Path = OUTPUTS_DIR) -> None:
    """Raise RunLocked unless the folder is free, held by a dead process, or held by this run (KIT_RUN_LOCK)."""
    path = lock_path(outputs_dir)
    if not path.is_file():
        return
    with _guard(path):
        info = _read(path)
    ours = info and (info.get("token") == os.environ.get(TOKEN_VARIABLE) or info.get("pid") == os.getpid())
    if info and not ours and holder_alive(info):
        raise RunLocked(refusal(info, path))


def run_locked(command: list[str], outputs_dir: str | Path = OUTPUTS_DIR) -> int:
    """Run ``command`` holding the lock, its token in KIT_RUN_LOCK; returns its exit status."""
    token = acquire(outputs_dir)
    try:
        return subprocess.run(command, env={**os.environ, TOKEN_VARIABLE: token}).returncode
    finally:
        release(token, outputs_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m utils.runlock", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["acquire", "release", "run"])
    parser.add_argument("--outputs", type=Path, default=OUTPUTS_DIR, help="the outputs folder (default: the kit's)")
    parser.add_argument("--pid", type=int, help="acquire: the process that holds it (default: this one)")
    parser.add_argument("--token", help="release: the token acquire printed")
    argv = sys.argv[1:] if argv is None else argv
    split = argv.index("--") if "--" in argv else len(argv)
    args, command = parser.parse_args(argv[:split]), argv[split + 1:]  # run: the command to hold the lock for
    try:
        if args.action == "acquire":
            print(acquire(args.outputs, pid=args.pid))
        elif args.action == "release":
            release(args.token or "", args.outputs)
        else:
            return run_locked(command, args.outputs)
    except RunLocked as error:
        print(error, file=sys.stderr)
        return LOCKED_EXIT
    return 0


if __name__ == "__main__":
    sys.exit(main())
