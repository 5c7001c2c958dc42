"""A new pawpost home: the starter config and the folders it names (`pawpost init`).

It never overwrites an existing config; folders are created only where missing.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from bot.config import Config, load_config, starter_text
from bot.errors import PawpostError


def init(directory: Path, *, force: bool = False) -> tuple[Path, list[Path]]:
    """Write `directory/pawpost.toml` and create the inbox, data and pet photo folders; returns both."""
    directory = directory.expanduser().resolve()
    config_file = directory / "pawpost.toml"
    if config_file.exists() and not force:
        raise PawpostError(f"{config_file} already exists; edit it, or pass --force to replace it")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        write_atomic(config_file, starter_text().encode("utf-8"))
        return config_file, ensure_folders(load_config(config_file))
    except OSError as exc:
        raise PawpostError(f"cannot create {exc.filename or directory}: {exc.strerror or exc}; "
                           "choose a folder you can write to") from None


def ensure_folders(config: Config) -> list[Path]:
    """Create every folder the config names (inbox, data and its parts, pet photo folders); returns the new ones."""
    wanted = [
        config.paths.inbox,
        config.paths.data,
        config.paths.library,
        config.paths.quarantine,
        config.paths.outbox,
        config.paths.models,
        *(pet.photos for pet in config.pets if pet.photos),
    ]
    created = []
    for folder in wanted:
        if not folder.exists():
            try:
                folder.mkdir(parents=True)
            except OSError as exc:
                raise PawpostError(f"cannot create the folder {folder}: {exc.strerror or exc}; "
                                   "fix the path in the config or the folder's permissions") from None
            created.append(folder)
    return created


def write_atomic(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write to a temp file in the same folder, fsync, then rename over `path`: never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
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
