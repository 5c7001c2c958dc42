"""Files written whole or not at all: a temp file in the same folder, fsync, then `os.replace`.

Used for every config, session, image and model file pawpost writes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def write_atomic(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write to a temp file in the same folder, fsync, then rename over `path`: never a half-written file."""
    _write(path, lambda fh: fh.write(data), mode)


def copy_atomic(source: Path, path: Path, mode: int | None = None) -> None:
    """`write_atomic` of a file's bytes, copied in chunks: a video is never read whole into memory."""
    with open(source, "rb") as src:
        _write(path, lambda fh: shutil.copyfileobj(src, fh, 1 << 20), mode)


def _write(path: Path, fill: Callable[[BinaryIO], object], mode: int | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fill(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
