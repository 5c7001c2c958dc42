"""How one ingested file is recorded and reported: the result, the records an earlier run left (by content and name),
and the file's way out of the inbox. Shared by photo and video intake.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from bot.config import Config
from bot.errors import PawpostError
from bot.files import write_atomic
from bot.ingest.inbox import Signature, move_if_same, unlink_if_same
from bot.store.database import Store
from bot.store.states import PhotoStatus

log = logging.getLogger(__name__)

# Keeps `<sha16>-<name>` in quarantine/ under the usual 255-byte file name limit.
QUARANTINE_NAME_BYTES = 180
# Every reason naming a configurable limit contains this; such content is judged again when it comes back.
LIMIT_KEY = "ingest.max_"


@dataclass
class IngestResult:
    """What became of one file."""

    source_name: str
    status: str                      # new | duplicate | quarantined | hint | skipped
    photo_id: int | None = None
    path: str | None = None          # relative to the data folder: library/... or quarantine/...
    reason: str | None = None        # quarantined: why; skipped: why the file was left where it is
    duplicate_of: int | None = None
    near: bool = False               # a near-duplicate (same picture to the eye), not the same bytes
    recorded: bool = True            # False: an earlier run had recorded this file already (after a crash)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def earlier_record(store: Store, sha: str, name: str, origin: str) -> sqlite3.Row | None:
    """The latest record of this content under this name: an earlier run (perhaps killed) got this far."""
    return store.one("SELECT * FROM photos WHERE sha256 = ? AND source_name = ? AND origin = ? ORDER BY id DESC "
                     "LIMIT 1", (sha, name, origin))


def settles(row: sqlite3.Row) -> bool:
    """Whether a record settles its content for good: all do but a quarantine for a limit the owner may have raised."""
    return not (row["status"] == PhotoStatus.QUARANTINED and LIMIT_KEY in (row["reason"] or ""))


def first_with_content(store: Store, sha: str) -> sqlite3.Row | None:
    """The first photo with these exact bytes, preferring one that was accepted over one set aside."""
    rows = [r for r in store.all("SELECT * FROM photos WHERE sha256 = ? ORDER BY id", (sha,)) if settles(r)]
    return next((r for r in rows if r["status"] != PhotoStatus.QUARANTINED), rows[0] if rows else None)


def result_of(store: Store, row: sqlite3.Row, name: str, *, recorded: bool) -> IngestResult:
    near = False
    if row["duplicate_of"] is not None:
        # A near-duplicate has other bytes than the photo it repeats; an exact one the same.
        near = store.value("SELECT sha256 FROM photos WHERE id = ?", (row["duplicate_of"],)) != row["sha256"]
    return IngestResult(name, row["status"] if row["status"] in ("quarantined", "duplicate") else "new",
                        photo_id=row["id"], path=row["path"], reason=row["reason"], duplicate_of=row["duplicate_of"],
                        near=near, recorded=recorded)


def log_photo_event(store: Store, photo_id: int, row: dict[str, Any]) -> None:
    status, name = row["status"], row["source_name"]
    if status == "quarantined":
        store.event("photo.quarantined", f"{name} set aside in {row['path']}: {row['reason']}",
                    level="warning", photo_id=photo_id)
    elif status == "duplicate":
        store.event("photo.duplicate", f"{name} repeats photo {row['duplicate_of']}", photo_id=photo_id)
    else:
        store.event("photo.new", f"{name} added to the library as photo {photo_id}", photo_id=photo_id)


def quarantine_path(sha: str, name: str) -> str:
    base = PurePosixPath(name).name or "file"
    encoded = base.encode("utf-8", errors="surrogateescape")
    if len(encoded) > QUARANTINE_NAME_BYTES:
        suffix = PurePosixPath(base).suffix.encode("utf-8", errors="surrogateescape")[:16]
        stem = encoded[: QUARANTINE_NAME_BYTES - len(suffix)].decode("utf-8", errors="ignore")
        base = stem + suffix.decode("utf-8", errors="ignore")
    return f"quarantine/{sha[:16]}-{base}"


def write_library_file(target: Path, data: bytes) -> None:
    if target.is_file() and target.stat().st_size == len(data):
        return  # written atomically by an earlier run: complete, and named by its content
    try:
        write_atomic(target, data)
    except OSError as exc:
        raise PawpostError(f"cannot write {target}: {exc.strerror or exc}; check the free space and permissions "
                           "of the data folder (the photo stays in the inbox)") from None


def clear_from_inbox(config: Config, path: Path, sig: Signature, result: IngestResult) -> None:
    """After the commit: a quarantined file moves to quarantine/, any other is removed. Failure leaves it there."""
    try:
        if result.status == "quarantined" and result.path:
            move_if_same(path, config.paths.data / result.path, sig)
        else:
            unlink_if_same(path, sig)
    except OSError as exc:
        # The record is safe; a rerun finds it by content and name and tries the removal again.
        log.error("%s is recorded but could not be taken out of the inbox: %s", path, exc)
