"""Outputs are whole or absent, and caches are rebuilt exactly when what they came from changes."""
import os
import time

import numpy as np
import pytest

from utils.keys import file_identity, key
from utils.store import atomic_file, cached_array, save_npy_atomic


def test_an_interrupted_write_leaves_no_file_and_keeps_the_old_one(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_file(path) as handle:
            handle.write(b"half")
            raise RuntimeError("interrupted")
    assert path.read_bytes() == b"old"
    assert sorted(tmp_path.iterdir()) == [path]
    with atomic_file(path) as handle:
        handle.write(b"new")
    assert path.read_bytes() == b"new"


def test_a_write_onto_a_folder_fails_and_leaves_nothing_beside_it(tmp_path):
    (tmp_path / "out.csv").mkdir()
    with pytest.raises(OSError):
        with atomic_file(tmp_path / "out.csv") as handle:
            handle.write(b"id\n")
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_a_cached_array_is_built_once_per_key(tmp_path):
    built = []

    def build(path):
        built.append(path)
        save_npy_atomic(path, np.arange(3) + len(built))

    path = tmp_path / "cache.npy"
    first = cached_array(path, "a", build)
    again = cached_array(path, "a", build)
    assert len(built) == 1 and np.array_equal(first, again)
    changed = cached_array(path, "b", build)
    assert len(built) == 2 and not np.array_equal(first, changed)


def test_keys_tell_apart_what_plain_joining_would_not(tmp_path):
    assert key("ab", "c") != key("a", "bc")
    assert key(np.zeros(4, np.int32)) != key(np.zeros((2, 2), np.int32)) != key(np.zeros(4, np.float32))
    assert key(1, np.arange(3)) == key(1, np.arange(3))
    path = tmp_path / "f.txt"
    path.write_text("x")
    before = file_identity(path)
    path.write_text("xy")
    assert file_identity(path) != before
    before, mtime = file_identity(path), path.stat().st_mtime_ns
    time.sleep(0.05)  # past the file system's clock tick
    path.write_text("yz")  # same size, its modification time then set back
    os.utime(path, ns=(mtime, mtime))
    assert file_identity(path) != before
