"""Ingest of one video file (MP4, MOV): copied into the library while it is hashed, in chunks (never whole in
memory), its facts read from the copy (bot.video.probe), then recorded as new, duplicate (the same bytes, or a Live
Photo's motion clip) or quarantined with the reason, in the order photo intake keeps: file, row, inbox removal.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot import timeutil
from bot.config import Config
from bot.errors import BadVideo, PawpostError
from bot.ingest.filecheck import is_video
from bot.ingest.hints import share_hint
from bot.ingest.inbox import signature
from bot.ingest.livephoto import HOLD_SECONDS, motion_reason, still_of
from bot.ingest.records import (
    IngestResult,
    clear_from_inbox,
    earlier_record,
    first_with_content,
    log_photo_event,
    quarantine_path,
    result_of,
    settles,
)
from bot.store.database import Store
from bot.store.states import PhotoStatus
from bot.video.frames import is_video_path
from bot.video.probe import VideoInfo, probe

CHUNK = 1 << 20
STILL_WRITING = "it is still being written; it is taken once it is complete"
WAITING_FOR_STILL = "a Live Photo's motion clip, waiting for its still to arrive"


def is_video_file(path: Path) -> bool:
    """A regular file (never a link) named as a video, or whose first bytes start an MP4 or QuickTime movie."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode):
        return False
    if is_video_path(path):
        return True
    try:
        with open(path, "rb") as fh:
            return is_video(fh.read(64))
    except OSError:
        return False


def ingest_video(store: Store, config: Config, path: Path, name: str, *, hint: str | None = None,
                 clear: bool = True) -> IngestResult:
    """One settled inbox video -> a recorded clip (new, duplicate or quarantined), with the owner's `hint`; taken
    out of the inbox after the commit (`clear`; False for a quarantined clip taken in again, whose kept file is
    its caller's). A file that changes while it is copied stays for the next pass."""
    sig = signature(path)
    leaving = sig if clear else None  # what the inbox file must still be to be taken out
    library = config.paths.data / "library"
    tmp, sha = _copy_hashing(path, library)
    try:
        if signature(path) != sig:
            return IngestResult(name, "skipped", reason=STILL_WRITING)
        earlier = earlier_record(store, sha, name, "inbox")
        if earlier is not None and settles(earlier):
            return _done(config, path, leaving, result_of(store, earlier, name, recorded=False))
        known = first_with_content(store, sha)
        info, problem = None, None
        if known is None:
            try:
                info = probe(tmp)
            except BadVideo as exc:
                problem = exc.reason
            else:
                problem = _too_long(info, config)
        if earlier is not None and problem is not None:
            return _done(config, path, leaving, result_of(store, earlier, name, recorded=False))
        still = None if info is None or problem else still_of(store, info.content_id, name, info.taken_at)
        if info is not None and not problem and still is None and info.content_id and _younger(sig, HOLD_SECONDS):
            return IngestResult(name, "skipped", reason=WAITING_FOR_STILL)
        library_rel = None
        if info is not None and not problem:
            when = info.taken_at or (_file_time(sig[1]) if sig else timeutil.now())
            library_rel = f"library/{when:%Y}/{when:%m}/{sha}.{info.format.lower()}"
            _place(tmp, config.paths.data / library_rel)
        result = _record(store, sha=sha, name=name, hint=hint, info=info, problem=problem, still=still,
                         library_rel=library_rel, size=sig[0] if sig else 0, file_time=sig[1] if sig else None)
        return _done(config, path, leaving, result)
    finally:
        tmp.unlink(missing_ok=True)


def _record(store: Store, *, sha: str, name: str, hint: str | None, info: VideoInfo | None, problem: str | None,
            still: int | None, library_rel: str | None, size: int, file_time: int | None) -> IngestResult:
    now = timeutil.iso(timeutil.now())
    row: dict[str, Any] = {"sha256": sha, "origin": "inbox", "source_name": name, "hint": hint or None,
                           "created_at": now, "updated_at": now, "kind": "video"}
    with store.tx():
        earlier = earlier_record(store, sha, name, "inbox")
        if earlier is not None and (settles(earlier) or problem is not None):
            return result_of(store, earlier, name, recorded=False)
        known = first_with_content(store, sha)
        if known is not None and known["status"] == PhotoStatus.QUARANTINED:
            row.update(status="quarantined", path=quarantine_path(sha, name), reason=known["reason"],
                       size_bytes=known["size_bytes"])
        elif known is not None:
            row.update(status="duplicate", duplicate_of=known["duplicate_of"] or known["id"], path=known["path"],
                       **{k: known[k] for k in ("kind", "format", "width", "height", "size_bytes", "taken_at",
                                                "taken_at_source", "duration_s", "video", "cover_at")})
        elif problem is not None or info is None:
            row.update(status="quarantined", path=quarantine_path(sha, name), reason=problem or "it could not be read",
                       size_bytes=size)
        else:
            when = info.taken_at
            source = "exif" if when is not None else "file"  # the camera's own record of when, as for a photo
            if when is None and file_time is not None:
                when = _file_time(file_time)
            row.update(status="duplicate" if still else "new", duplicate_of=still,
                       reason=motion_reason(still) if still else None, path=library_rel, format=info.format,
                       width=info.width, height=info.height, size_bytes=size, taken_at=timeutil.iso_precise(when),
                       taken_at_source=source, duration_s=round(info.duration_s, 3), cover_at=None,
                       video=json.dumps(info.facts()), content_id=info.content_id)
        photo_id = store.insert("photos", **row)
        if row["status"] == "duplicate" and hint:
            share_hint(store, row["duplicate_of"], hint)
        if row.get("reason") and row["status"] == "duplicate":
            store.event("photo.duplicate", f"{name} is the {row['reason']}", photo_id=photo_id)
        else:
            log_photo_event(store, photo_id, row)
    return IngestResult(name, row["status"], photo_id=photo_id, path=row["path"], reason=row.get("reason"),
                        duplicate_of=row.get("duplicate_of"))


def _copy_hashing(path: Path, library: Path) -> tuple[Path, str]:
    """Copy the file into a temporary file in the library folder (same filesystem as its final place), hashing it
    on the way; one chunk in memory at a time."""
    library.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, name = tempfile.mkstemp(prefix=".incoming-", suffix=".part", dir=library)
    tmp = Path(name)
    try:
        with open(path, "rb", opener=_no_follow) as src, os.fdopen(fd, "wb") as out:
            while chunk := src.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise PawpostError(f"cannot copy {path.name} into the library: {exc.strerror or exc}; check the free space "
                           "and permissions of the data folder (the video stays in the inbox)") from None
    return tmp, digest.hexdigest()


def _no_follow(file: str, flags: int) -> int:
    return os.open(file, flags | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))


def _place(tmp: Path, target: Path) -> None:
    """The checked copy at its content-addressed place (an earlier run's complete copy is kept)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_file() and target.stat().st_size == tmp.stat().st_size:
        return
    os.replace(tmp, target)


def _too_long(info: VideoInfo, config: Config) -> str | None:
    limit = config.ingest.max_video_seconds
    if info.duration_s <= limit:
        return None
    return (f"the video is {_length(info.duration_s)} long, over ingest.max_video_seconds = {limit:g} (raise the "
            "limit in the config to take it)")


def _length(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{seconds:.1f} s"


def _file_time(mtime_ns: int) -> datetime:
    return datetime.fromtimestamp(mtime_ns / 1e9, UTC)


def _younger(sig: tuple[int, int, int] | None, seconds: float) -> bool:
    # The wall clock, not timeutil.now(): file times are real even when a test pins pawpost's clock.
    return sig is not None and time.time() - sig[1] / 1e9 < seconds


def _done(config: Config, path: Path, sig: Any, result: IngestResult) -> IngestResult:
    if sig is not None:
        clear_from_inbox(config, path, sig, result)
    return result
