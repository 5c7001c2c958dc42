"""Staged photos and Reels for the official API, which fetches each file from a public HTTPS URL:
data/staged/<token>.jpg (or .mp4 for a Reel, and a Reel's cover .jpg), reachable as `[graph] public_base_url`/<name>
for the minutes a media container needs, then removed.

The token is 256 random bits, so a URL cannot be guessed, and each one serves one publish only. Two ways to expose
the folder (README, "Which publisher?"): pawpost's web server mounts `resolve` under MOUNT behind the owner's reverse
proxy or tunnel, or any static web server (or a host the folder is synced to) serves data/staged/ as plain files.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.files import copy_atomic, write_atomic

FOLDER = "staged"
# Where pawpost's own web server serves the folder: public_base_url is then https://<host>/staged.
MOUNT = "/staged"
CONTENT_TYPE = "image/jpeg"
# What each staged kind of file is sent as: a photo (or a Reel's cover) and a Reel.
CONTENT_TYPES = {".jpg": CONTENT_TYPE, ".mp4": "video/mp4"}
# A container fetches its photo within seconds; the rest is margin for a slow fetch or a retrying Instagram.
STAGE_MINUTES = 30
_NAME = re.compile(r"[A-Za-z0-9_-]{43}\.(jpg|mp4)")


@dataclass(frozen=True)
class Staged:
    """One staged photo: the file and the public URL Instagram fetches it from."""

    path: Path
    url: str


def staging_dir(config: Any) -> Path:
    return Path(config.paths.data) / FOLDER


def stage(config: Any, photo: Path) -> Staged:
    """Copy the prepared photo (or Reel: an .mp4) under a fresh unguessable name; returns where Instagram will fetch
    it."""
    folder = staging_dir(config)
    sweep(config)
    suffix = ".mp4" if Path(photo).suffix.lower() == ".mp4" else ".jpg"
    name = f"{secrets.token_urlsafe(32)}{suffix}"
    # World-readable like any web root: a static server running as another user must be able to send it.
    if suffix == ".mp4":
        copy_atomic(Path(photo), folder / name, mode=0o644)  # a Reel is copied in pieces, never read whole
    else:
        write_atomic(folder / name, Path(photo).read_bytes(), mode=0o644)
    return Staged(folder / name, f"{config.graph.public_base_url.rstrip('/')}/{name}")


def content_type(path: Path) -> str:
    """The Content-Type a staged file is sent with."""
    return CONTENT_TYPES.get(Path(path).suffix.lower(), CONTENT_TYPE)


def unstage(staged: Staged) -> None:
    staged.path.unlink(missing_ok=True)


def sweep(config: Any, now: float | None = None) -> int:
    """Remove staged photos (and half-written temp files) older than STAGE_MINUTES; returns how many."""
    folder = staging_dir(config)
    if not folder.is_dir():
        return 0
    limit = (now if now is not None else time.time()) - STAGE_MINUTES * 60
    removed = 0
    for path in folder.iterdir():
        try:
            if path.is_file() and path.stat().st_mtime < limit:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue  # removed meanwhile by the publish that staged it
    return removed


def resolve(config: Any, request_path: str, now: float | None = None) -> Path | None:
    """The file to send for a request below MOUNT (e.g. '/<token>.jpg'), or None for a 404.

    Only exact staged names within their minutes are served: no listing, no other file of the data folder, no
    path tricks. Send it with its `content_type` and no redirect (Instagram does not follow one reliably).
    """
    name = request_path.split("?", 1)[0].lstrip("/")
    if not _NAME.fullmatch(name):
        return None
    path = staging_dir(config) / name
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    if mtime < (now if now is not None else time.time()) - STAGE_MINUTES * 60:
        return None
    return path
