"""Outputs written so that an interrupted run leaves no half file."""
from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import numpy as np

from utils import runlock
from utils.paths import OUTPUTS_DIR


def temporary_path(path: Path) -> Path:
    """A hidden sibling to write into before renaming onto ``path``."""
    return path.with_name(f".{path.name}.tmp")


@contextmanager
def atomic_file(path: str | Path):
    """Open a temporary sibling for binary writing; rename it onto ``path`` only if the block completes.

    A block or rename that fails removes the temporary file (a killed process leaves it hidden, never ``path``).

    Inside the kit's outputs folder it first refuses while another run holds it (utils/runlock.py).
    """
    path = Path(path)
    if OUTPUTS_DIR in path.resolve().parents:  # another run may be writing there
        runlock.check(OUTPUTS_DIR)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    try:
        with open(tmp, "wb") as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    with atomic_file(path) as handle:
        handle.write(data)


def save_npy_atomic(path: str | Path, array: np.ndarray) -> None:
    with atomic_file(path) as handle:
        np.save(handle, array)


def save_npz_atomic(path: str | Path, **arrays: np.ndarray) -> None:
    with atomic_file(path) as handle:
        np.savez(handle, **arrays)


def save_json_atomic(path: str | Path, data: dict) -> None:
    write_bytes_atomic(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())


def update_json(path: str | Path, section: str, values: dict) -> dict:
    """Replace one top-level section of a JSON file, keeping the others."""
    path = Path(path)
    data = json.loads(path.read_text()) if path.is_file() else {}
    data[section] = values
    save_json_atomic(path, data)
    return data


def drop_json_section(path: str | Path, section: str) -> None:
    """Remove one top-level section of a JSON file, if the file has it."""
    path = Path(path)
    data = json.loads(path.read_text()) if path.is_file() else {}
    if data.pop(section, None) is not None:
        save_json_atomic(path, data)


def cached_array(path: str | Path, key: str, build: Callable[[Path], np.ndarray]) -> np.ndarray:
    """Memory-map ``path`` if it was built for ``key``, else call ``build(path)`` first.

    ``build`` must write ``path`` atomically; the key is recorded beside it.
    """
    path = Path(path)
    key_file = path.with_name(path.name + ".key")
    if not (path.is_file() and key_file.is_file() and key_file.read_text() == key):
        build(path)
        write_bytes_atomic(key_file, key.encode())
    return np.load(path, mmap_mode="r")
