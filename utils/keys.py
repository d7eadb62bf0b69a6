"""One answer to "is this stale?": a key of everything a result was made from.

Every cache and saved result of the kit (decoded clips, cached features, an
offline training set, a fold's predictions, a training run to resume, a
notebook step of run_all.sh) records the key of what it came from and is
remade when the key differs. Standard library only.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

KIT_ROOT = Path(__file__).resolve().parent.parent


def key(*parts) -> str:
    """A hex digest of ``parts`` in order: text, numbers, bytes or arrays (their shape, type and bytes)."""
    digest = hashlib.sha1()
    for part in parts:
        if isinstance(part, bytes):
            data = part
        elif hasattr(part, "tobytes"):  # a numpy array
            if part.dtype.hasobject:
                raise TypeError("object arrays have no stable bytes to key on; convert them to str or numbers")
            data = f"{part.shape}{part.dtype}".encode() + part.tobytes()  # C order, whatever the layout
        else:
            data = str(part).encode("utf-8", "surrogateescape")  # file names need not be UTF-8
        digest.update(len(data).to_bytes(8, "little") + data)
    return digest.hexdigest()


def file_identity(path: str | Path) -> str:
    """A file as it is now: its full path, size, modification time and inode change time.

    The change time moves whenever the file is written, even where the
    modification time was set back (``cp -p``, ``touch -r``, an unzip).
    """
    path = Path(path).resolve()
    stat = path.stat()
    return f"{path}|{stat.st_size}|{stat.st_mtime_ns}|{stat.st_ctime_ns}"


def code_fingerprint() -> str:
    """Changes whenever a module of the kit or its requirements change."""
    files = sorted((KIT_ROOT / "utils").rglob("*.py")) + [KIT_ROOT / "requirements.txt"]
    return key(*(f.read_bytes() for f in files if f.is_file()))
