"""What ingest set aside: the quarantined photos with their kept files (data/quarantine/), and the owner's two
answers to one: retry (intake again on the kept file, after a limit was raised or a decoder installed) and
dismiss (the kept file deleted, the record gone from the counts; its events stay as history).

A quarantined record whose kept file was deleted by hand is not shown: `kept` leaves it out, and `status` does
not count it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.config import Config
from bot.errors import NotFound, PawpostError
from bot.ingest.intake import IngestResult, add_to_library
from bot.ingest.video_intake import ingest_video, is_video_file
from bot.store.database import Store
from bot.store.states import PhotoStatus

__all__ = ["Kept", "dismiss", "kept", "retry"]


@dataclass
class Kept:
    """One quarantined photo: its id, the name it arrived with, why it was set aside, the kept file (`on_disk`:
    still there; `gone`: it was, and the owner deleted it). A link set aside is kept as the link, never followed."""

    id: int
    source_name: str
    reason: str | None
    path: Path | None
    on_disk: bool
    created_at: str
    origin: str
    gone: bool = False

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "path": str(self.path) if self.path else None}


_SQL = ("SELECT id, source_name, reason, path, created_at, origin FROM photos WHERE status = ?")


def _kept(store: Store, row: Any) -> Kept:
    path = store.abspath(row["path"])
    there = path is not None and os.path.lexists(path)
    return Kept(row["id"], row["source_name"], row["reason"], path, there, row["created_at"], row["origin"],
                gone=path is not None and not there)


def kept(store: Store, *, missing: bool = False) -> list[Kept]:
    """The quarantined photos, newest first, but those whose kept file the owner deleted (`missing`: those too)."""
    found = [_kept(store, r) for r in store.all(_SQL + " ORDER BY id DESC", (PhotoStatus.QUARANTINED,))]
    return found if missing else [k for k in found if not k.gone]


def _one(store: Store, photo_id: int) -> Kept:
    row = store.one(_SQL + " AND id = ?", (PhotoStatus.QUARANTINED, photo_id))
    if row is None:
        if store.one("SELECT id FROM photos WHERE id = ?", (photo_id,)) is None:
            raise NotFound(f"there is no photo {photo_id}")
        raise PawpostError(f"photo {photo_id} is not quarantined; 'pawpost quarantine list' shows those that are")
    return _kept(store, row)


def _forget(store: Store, item: Kept) -> None:
    """The record gone (inside the caller's transaction); what points at it (an imported post) points nowhere."""
    store.db.execute("UPDATE imported_posts SET photo_id = NULL WHERE photo_id = ?", (item.id,))
    store.db.execute("DELETE FROM photos WHERE id = ? AND status = ?", (item.id, PhotoStatus.QUARANTINED))


def _shared(store: Store, item: Kept) -> bool:
    """Whether another quarantined record keeps the same file (the same bytes under the same name)."""
    rel = store.relpath(item.path) if item.path else None
    return rel is not None and store.value("SELECT count(*) FROM photos WHERE path = ? AND id != ? AND status = ?",
                                           (rel, item.id, PhotoStatus.QUARANTINED)) > 0


def dismiss(store: Store, photo_id: int) -> Kept:
    """Delete a quarantined photo's kept file and its record; an event says so."""
    item = _one(store, photo_id)
    with store.tx():
        shared = _shared(store, item)
        _forget(store, item)
        store.event("photo.dismissed", f"quarantined {item.source_name} dismissed by the owner"
                    + ("" if item.on_disk else " (its kept file was already gone)"), photo_id=photo_id)
    if item.on_disk and item.path is not None and not shared:
        item.path.unlink(missing_ok=True)
    return item


def retry(store: Store, config: Config, photo_id: int) -> IngestResult:
    """Intake again on a quarantined photo's kept file, under the name it arrived with: the old record is replaced
    by the new one (new, duplicate, or quarantined again with today's reason) in one transaction. The kept file
    goes once the photo is in the library."""
    item = _one(store, photo_id)
    if not item.on_disk or item.path is None:
        raise PawpostError(f"the kept file of photo {photo_id} is gone ({item.path}); nothing to retry, "
                           f"'pawpost quarantine dismiss {photo_id}' forgets it")
    if item.path.is_symlink() or not item.path.is_file():
        raise PawpostError(f"photo {photo_id} was set aside as a link or folder ({item.path}), and pawpost never "
                           f"follows links; copy the photo itself into the inbox, and 'pawpost quarantine dismiss "
                           f"{photo_id}'")
    with store.tx():
        _forget(store, item)
        if is_video_file(item.path):  # copied and hashed in chunks, never read whole; the kept file left in place
            result = ingest_video(store, config, item.path, item.source_name, clear=False)
        else:
            result = add_to_library(store, config, item.path.read_bytes(), item.source_name, origin=item.origin)
        store.event("photo.retried", f"quarantined {item.source_name} (photo {photo_id}) taken in again: "
                    f"{result.status}", photo_id=result.photo_id)
    if result.status != PhotoStatus.QUARANTINED and not _shared(store, item):
        item.path.unlink(missing_ok=True)
    return result
