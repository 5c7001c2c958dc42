"""Ingest: an inbox file, or downloaded bytes, becomes one recorded photo - new, duplicate or quarantined.

The order makes it crash-safe: library copy written atomically, then the row committed, then the inbox file removed.
A restart that finds a file whose content and name are already recorded only finishes removing it.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot import timeutil
from bot.config import Config
from bot.errors import PawpostError
from bot.ingest.filecheck import BadImage, ImageFacts, inspect
from bot.ingest.hints import attach_late_hint, hint_for, is_hint, read_hint, share_hint, stored_hint
from bot.ingest.inbox import (
    GONE,
    InboxFile,
    NotAFile,
    candidates,
    is_ignored,
    read_file,
    settled,
    signature,
    source_name,
    unlink_if_same,
)
from bot.ingest.nearduplicates import burst_window, capture_time_and_source, nearest
from bot.ingest.records import (
    IngestResult,
    clear_from_inbox,
    earlier_record,
    first_with_content,
    log_photo_event,
    quarantine_path,
    result_of,
    settles,
    write_library_file,
)
from bot.ingest.video_intake import ingest_video, is_video_file
from bot.store.database import Store
from bot.store.states import PhotoStatus
from bot.video.frames import is_video_path

log = logging.getLogger(__name__)

ORIGINS = ("inbox", "imported")
@dataclass
class IngestSummary:
    """Everything one pass over the inbox did."""

    results: list[IngestResult] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)   # still being written; taken on the next pass
    errors: list[str] = field(default_factory=list)    # could not be processed now (disk full, ...); left in place

    def of(self, status: str) -> list[IngestResult]:
        return [r for r in self.results if r.status == status]

    @property
    def accepted(self) -> int:
        return len(self.of("new"))

    @property
    def duplicates(self) -> int:
        return len(self.of("duplicate"))

    @property
    def quarantined(self) -> int:
        return len(self.of("quarantined"))

    @property
    def hints(self) -> int:
        return len(self.of("hint"))

    def to_json(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "hints": self.hints,
            "skipped": len(self.of("skipped")),
            "waiting": self.waiting,
            "errors": self.errors,
            "files": [r.to_json() for r in self.results],
        }


# -- the inbox ---------------------------------------------------------------------------------


def ingest_inbox(store: Store, config: Config) -> IngestSummary:
    """Ingest every settled file in the inbox now (`pawpost ingest`, daemon start-up); one bad file never stops it."""
    inbox = config.paths.inbox
    if not inbox.is_dir():
        raise PawpostError(f"the inbox folder {inbox} does not exist; create it, or fix paths.inbox in the config")
    ready, waiting = settled(candidates(inbox), config.ingest.stable_seconds)
    summary = IngestSummary(waiting=sorted(source_name(p, inbox) for p in waiting))
    # Photos before videos, so a Live Photo's motion clip finds its still; hints last, so a hint finds its photo
    # and leaves with it.
    for path in sorted(ready, key=lambda p: (is_hint(p), is_video_path(p), str(p))):
        try:
            result = ingest_file(store, config, path)
        except (PawpostError, OSError, sqlite3.Error) as exc:
            log.warning("could not ingest %s: %s", source_name(path, inbox), exc)
            summary.errors.append(f"{source_name(path, inbox)}: {exc}")
            continue
        except Exception as exc:  # a bug met by one file must not keep every other file out, run after run
            log.exception("could not ingest %s", source_name(path, inbox))
            summary.errors.append(f"{source_name(path, inbox)}: {type(exc).__name__}: {exc}")
            continue
        if result.reason != GONE:  # e.g. a hint that left with its photo a moment ago
            summary.results.append(result)
    return summary


def ingest_file(store: Store, config: Config, path: Path) -> IngestResult:
    """One settled inbox file -> a photo that is new, duplicate or quarantined; removed from the inbox after the commit.

    A `.txt` beside a photo is the owner's hint and joins that photo. Raises PawpostError only for trouble that is not
    the file's fault (the library cannot be written); the file then stays in the inbox for the next pass.
    """
    path = Path(path)
    if not _in_inbox(path, config.paths.inbox):
        raise ValueError(f"{path} is not in the inbox {config.paths.inbox}")  # it would be removed after ingest
    name = source_name(path, config.paths.inbox)
    if is_ignored(name):
        return IngestResult(name, "skipped", reason="a hidden, temporary or system file")
    owner = config.owns(path)
    if owner is not None:  # the config refuses such an inbox; this guards a file linked or moved in anyway
        return IngestResult(name, "skipped", reason=f"it is pawpost's own ({owner}); it is never ingested")
    if is_hint(path) and not path.is_symlink():
        photo_id, why = attach_late_hint(store, path, name)
        if why is None:
            return IngestResult(name, "hint", photo_id=photo_id)
        return IngestResult(name, "skipped", photo_id=photo_id, reason=why)
    video = is_video_file(path)  # copied and hashed in chunks by video intake, never read whole
    src = None
    if not video:
        try:
            src = read_file(path, config.paths.inbox, _limit_bytes(config))
        except (FileNotFoundError, NotADirectoryError):
            return IngestResult(name, "skipped", reason=GONE)
        except NotAFile:
            return IngestResult(name, "skipped", reason="not a regular file (a device, pipe or socket)")

    hint_path = None if src is not None and src.link_target is not None else hint_for(path)
    hint = hint_sig = None
    if hint_path is not None and _settled_for(hint_path, config.ingest.stable_seconds):
        hint_sig = signature(hint_path)
        hint = read_hint(hint_path)

    if src is None:
        result = ingest_video(store, config, path, name, hint=hint)
    else:
        result = _admit(store, config, sha=src.sha256, name=name, origin="inbox", data=src.data,
                        problem=_problem(src, config), hint=hint, taken_at=None, fallback_time=src.mtime,
                        keep_quarantined_bytes=False, file_time=src.mtime)
        clear_from_inbox(config, path, src.sig, result)
    if hint_path is not None and hint_sig is not None and result.status != "skipped":
        # The hint leaves the inbox with its photo once it is stored (an empty hint has nothing to store).
        stored = hint if result.recorded else stored_hint(store, result.photo_id)
        if not hint or stored == hint:
            unlink_if_same(hint_path, hint_sig)
    return result


# -- bytes from elsewhere -----------------------------------------------------------------------


def add_to_library(
    store: Store,
    config: Config,
    data: bytes,
    source_name: str,
    *,
    origin: str = "inbox",
    taken_at: datetime | str | None = None,
    hint: str | None = None,
) -> IngestResult:
    """Judge and record image bytes that are not an inbox file (history import: origin "imported").

    Same rules as the inbox: exact and near duplicates recorded as such, bad bytes kept in quarantine with a reason.
    Calling it again with the same bytes and source name returns the first result (recorded=False).
    """
    if origin not in ORIGINS:
        raise ValueError(f"origin must be one of {ORIGINS}, not {origin!r}")
    when = timeutil.parse(taken_at) if isinstance(taken_at, str) else taken_at
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    problem = None
    limit = _limit_bytes(config)
    if len(data) > limit:
        problem = _too_large(len(data), config)
    return _admit(store, config, sha=hashlib.sha256(data).hexdigest(), name=source_name, origin=origin, data=data,
                  problem=problem, hint=hint, taken_at=when, fallback_time=timeutil.now(),
                  keep_quarantined_bytes=True)


# -- the decision ---------------------------------------------------------------------------------


def _admit(
    store: Store, config: Config, *, sha: str, name: str, origin: str, data: bytes | None, problem: str | None,
    hint: str | None, taken_at: datetime | None, fallback_time: datetime, keep_quarantined_bytes: bool,
    file_time: datetime | None = None,
) -> IngestResult:
    """Record one content under one name, exactly once; `problem` is a reason known before decoding. `file_time`:
    the inbox file's own time, its capture time when EXIF has none."""
    prior = earlier_record(store, sha, name, origin)
    if prior is not None and settles(prior):
        return result_of(store, prior, name, recorded=False)
    known = first_with_content(store, sha)
    facts: ImageFacts | None = None
    if problem is None and known is None:
        assert data is not None
        try:
            facts = inspect(data, max_megapixels=config.ingest.max_megapixels, zone=config.schedule.zone)
        except BadImage as exc:
            problem = str(exc)
    if prior is not None and problem is not None:
        return result_of(store, prior, name, recorded=False)  # still over a limit: the earlier record stands

    data_dir = config.paths.data
    library_rel = None
    if facts is not None and data is not None:
        when = taken_at or facts.taken_at or fallback_time
        library_rel = f"library/{when:%Y}/{when:%m}/{sha}.{facts.ext}"
        # Written before the row, so a committed row always has its file; content-addressed, so a rerun rewrites
        # the same name with the same bytes.
        write_library_file(data_dir / library_rel, data)
    quarantine_rel = quarantine_path(sha, name)
    if keep_quarantined_bytes and data is not None and (problem or (known and known["status"] == "quarantined")):
        write_library_file(data_dir / quarantine_rel, data)

    now = timeutil.iso(timeutil.now())
    row: dict[str, Any] = {"sha256": sha, "origin": origin, "source_name": name, "hint": hint or None,
                           "created_at": now, "updated_at": now}
    near = False
    with store.tx():
        # Another process (the daemon and `pawpost ingest`) may have recorded this very file meanwhile.
        prior = earlier_record(store, sha, name, origin)
        if prior is not None and (settles(prior) or problem is not None):
            return result_of(store, prior, name, recorded=False)
        known = first_with_content(store, sha)
        if known is not None and known["status"] == PhotoStatus.QUARANTINED:
            # The same bad bytes again: set aside for the same reason, not decoded and judged again.
            row.update(status="quarantined", path=quarantine_rel, reason=known["reason"],
                       size_bytes=known["size_bytes"])
        elif known is not None:
            root = known["duplicate_of"] or known["id"]
            row.update(status="duplicate", duplicate_of=root, path=known["path"],
                       **{k: known[k] for k in ("format", "width", "height", "size_bytes", "taken_at",
                                                "taken_at_source", "phash", "has_gps")})
        elif problem is not None or facts is None:
            row.update(status="quarantined", path=quarantine_rel, reason=problem or "it could not be read",
                       size_bytes=len(data) if data is not None else None)
        else:
            when, source = capture_time_and_source(facts, taken_at, file_time)
            twin = nearest(store, facts.phash, config.ingest.near_duplicate_distance,
                            burst=burst_window(facts, config.ingest.shoot_gap_seconds))
            near = twin is not None
            row.update(status="duplicate" if near else "new", duplicate_of=twin, path=library_rel,
                       format=facts.format, width=facts.width, height=facts.height, size_bytes=len(data or b""),
                       taken_at=timeutil.iso_precise(when), taken_at_source=source, phash=facts.phash,
                       has_gps=facts.has_gps, content_id=facts.content_id)
        photo_id = store.insert("photos", **row)
        if row["status"] == "duplicate" and hint:
            share_hint(store, row["duplicate_of"], hint)
        log_photo_event(store, photo_id, row)
    return IngestResult(name, row["status"], photo_id=photo_id, path=row["path"], reason=row.get("reason"),
                        duplicate_of=row.get("duplicate_of"), near=near)


# -- files -----------------------------------------------------------------------------------------


def _in_inbox(path: Path, inbox: Path) -> bool:
    return path.absolute().parent.resolve().is_relative_to(inbox.resolve())


def _problem(src: InboxFile, config: Config) -> str | None:
    """Why an inbox file cannot be a photo, when that is known before decoding it."""
    if src.link_target is not None:
        where = "a file inside the inbox" if src.link_inside else f"{src.link_target}, outside the inbox"
        return f"it is a symbolic link to {where}; pawpost never follows links (copy the photo itself into the inbox)"
    if src.unreadable is not None:
        return f"the file cannot be read ({src.unreadable})"
    if src.oversize is not None:
        return _too_large(src.oversize, config)
    return None


def _limit_bytes(config: Config) -> int:
    return int(config.ingest.max_file_mb * 1024 * 1024)


def _too_large(size: int, config: Config) -> str:
    return (f"the file is {size / 1024 / 1024:.1f} MB, over ingest.max_file_mb = {config.ingest.max_file_mb:g} "
            "(raise the limit in the config if this really is a photo)")


def _settled_for(path: Path, seconds: float) -> bool:
    sig = signature(path)
    # The wall clock, not timeutil.now(): file times are real even when a test pins pawpost's clock.
    return sig is not None and time.time() - sig[1] / 1e9 >= seconds
