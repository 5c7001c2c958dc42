"""`pawpost restore`: the database back after a loss, from the newest good backup and what library/ and outbox/ prove.

Nothing the rebuilt database cannot prove unposted is left postable: such photos and drafts wait for the owner.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bot import timeutil
from bot.config import Config
from bot.drafts.media import add_draft, draft_of_photo, first_photo, photos_in_drafts_sql
from bot.errors import PawpostError
from bot.ingest.filecheck import BadImage, hash_distance, inspect
from bot.store import backup
from bot.store.database import Store

log = logging.getLogger(__name__)

# Bits a posted copy's perceptual hash may differ from its library photo's (re-encoded, resized, maybe cropped).
POSTED_COPY_DISTANCE = 10
REBUILT_NOTE = ("recorded again by 'pawpost restore' after the database was lost: pawpost cannot tell whether this "
                "photo was posted; check the account, then reject it, or write captions with 'pawpost drafts "
                "regenerate ID' (or approve it with --caption)")
HELD_NOTE = ("held back by 'pawpost restore': it was waiting or approved in the backup and may have been posted "
             "after it; check the account, then reject it, or approve it (again) if it was not posted")
RECOVERED_NOTE = "recorded as posted by 'pawpost restore' from the outbox"


@dataclass
class RestoreReport:
    """What `restore` did, for the owner."""

    database: str
    state: str                              # what the database was: missing, empty, damaged, ok
    backup: str | None = None               # the backup it was restored from
    backup_taken_at: str | None = None
    fresh: bool = False                     # started over on purpose
    set_aside: str | None = None            # where the files it replaced were moved
    posts_recovered: list[int] = field(default_factory=list)   # drafts recorded as posted from the outbox
    photos_rebuilt: list[int] = field(default_factory=list)    # library files recorded again, waiting as drafts
    held: list[int] = field(default_factory=list)              # drafts held back: approved or waiting in the backup
    unreadable: list[str] = field(default_factory=list)        # library or outbox files that could not be read

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def database_state(path: Path) -> str:
    """missing, empty, damaged (not a whole SQLite database with pawpost's schema) or ok."""
    if not path.exists():
        return "missing"
    if path.stat().st_size == 0:
        return "empty"
    return "ok" if backup.is_good(path) else "damaged"


def restore(config: Config, *, fresh: bool = False, force: bool = False) -> RestoreReport:
    """Replace a missing, empty or damaged database: newest good backup (else an empty one), then rebuild.

    The files replaced are moved aside, never deleted. With `fresh`, the new database stays empty on purpose.
    Stop the daemon first: the database is swapped under it otherwise.
    """
    from bot.daemon.runlock import AlreadyRunning, RunLock

    db_path = config.paths.database
    data = config.paths.data
    # The daemon's lock: a restore never swaps the database under a running `pawpost run`.
    lock = RunLock(data)
    try:
        lock.acquire()
    except AlreadyRunning as exc:
        raise PawpostError(f"{exc}; 'pawpost restore' needs it stopped") from None
    try:
        return _restore(config, db_path, data, fresh=fresh, force=force)
    finally:
        lock.release()


def _restore(config: Config, db_path: Path, data: Path, *, fresh: bool, force: bool) -> RestoreReport:
    state = database_state(db_path)
    report = RestoreReport(database=str(db_path), state=state, fresh=fresh)
    if state == "ok" and not force:
        raise PawpostError(f"the database {db_path} is whole; nothing to restore (add --force to replace it "
                           "anyway: it is kept aside in the backups folder)")
    chosen = None if fresh else next((b for b in backup.backups(data) if backup.is_good(b.path)), None)
    report.set_aside = _set_aside(db_path, data)
    if chosen is not None:
        _copy_database(chosen.path, db_path)
        report.backup, report.backup_taken_at = str(chosen.path), timeutil.iso(chosen.taken_at)
    with Store(db_path, data_dir=data, guard=False) as store:
        if not fresh:
            _rebuild(store, config, report, from_backup=chosen is not None)
        store.event("database.restored", _summary(report), level="warning")
        try:
            backup.take(store.db, data, "restore")
        except (OSError, sqlite3.Error) as exc:
            log.warning("the backup after the restore could not be taken: %s", exc)
    return report


def _summary(report: RestoreReport) -> str:
    if report.fresh:
        return "started over with an empty database on purpose ('pawpost restore --fresh')"
    source = f"the backup {Path(report.backup).name}" if report.backup else "no backup (rebuilt)"
    return (f"database restored from {source}: {len(report.posts_recovered)} post(s) recovered from the outbox, "
            f"{len(report.photos_rebuilt)} photo(s) recorded again, {len(report.held)} draft(s) held back")


def _set_aside(db_path: Path, data: Path) -> str | None:
    """Move the database and its -wal/-shm out of the way (a stale -wal must never meet a new database)."""
    files = [p for p in (db_path, *(db_path.with_name(db_path.name + s) for s in ("-wal", "-shm")))
             if os.path.lexists(p)]
    if not files:
        return None
    folder = backup.folder_for(data) / f"replaced-{timeutil.now():%Y%m%dT%H%M%S%f}"
    folder.mkdir(parents=True, mode=0o700)
    for path in files:
        os.replace(path, folder / path.name)
    return str(folder)


def _copy_database(source: Path, target: Path) -> None:
    """A consistent copy through SQLite's backup API, written beside the target and renamed into place."""
    tmp = target.with_name(f".{target.name}.restore.tmp")
    tmp.unlink(missing_ok=True)
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, target)


# -- the rebuild ----------------------------------------------------------------------------------


def _rebuild(store: Store, config: Config, report: RestoreReport, *, from_backup: bool) -> None:
    now = timeutil.iso(timeutil.now())
    if from_backup:
        # Approved then, perhaps posted since: only the owner can say; never sent again on the backup's word.
        for row in store.all("SELECT id FROM drafts WHERE status = 'approved' ORDER BY id"):
            store.update("drafts", row["id"], status="pending", note=HELD_NOTE, updated_at=now)
            store.event("draft.held", f"draft {row['id']}: approved in the backup, held back", level="warning",
                        draft_id=row["id"])
            report.held.append(row["id"])
        # Photos still on their way to a draft in the backup may have been drafted and posted since, too.
        for row in store.all("SELECT id FROM photos WHERE status IN ('new', 'analyzed') AND origin = 'inbox' "
                             f"AND id NOT IN ({photos_in_drafts_sql()}) ORDER BY id"):
            store.update("photos", row["id"], status="drafted", updated_at=now)
            draft_id = add_draft(store, [row["id"]], status="pending", note=HELD_NOTE, created_at=now,
                                 updated_at=now)
            store.event("draft.held", f"draft {draft_id}: photo {row['id']} was waiting in the backup, held back",
                        level="warning", draft_id=draft_id, photo_id=row["id"])
            report.held.append(draft_id)
    rebuilt = _record_library(store, config, report)
    matcher = _Matcher(store, config)
    for image, record in _outbox_posts(config.paths.outbox):
        if store.value("SELECT 1 FROM drafts WHERE media_id = ?", (record["media_id"],)):
            continue  # the database knows this post
        try:
            data = image.read_bytes()
            facts = inspect(data, max_megapixels=config.ingest.max_megapixels, zone=config.schedule.zone)
        except (OSError, BadImage) as exc:
            report.unreadable.append(f"{image}: {exc}")
            continue
        photo_id = matcher.photo_for(record, data, facts.phash, facts.width / facts.height)
        if photo_id is None:
            photo_id = _insert_photo(store, data, facts, origin="imported", name=f"outbox/{image.name}",
                                     rel=store.relpath(image))
        report.posts_recovered.append(_mark_posted(store, photo_id, record, image))
        matcher.taken.add(photo_id)
    report.held = [d for d in report.held if d not in report.posts_recovered]  # the outbox settled those
    for photo_id in rebuilt:
        if draft_of_photo(store, photo_id) is not None:
            continue
        draft_id = add_draft(store, [photo_id], status="pending", note=REBUILT_NOTE, created_at=now, updated_at=now)
        store.event("draft.pending", f"draft {draft_id}: photo {photo_id} recorded again, waiting for the owner",
                    level="warning", draft_id=draft_id, photo_id=photo_id)
        report.photos_rebuilt.append(photo_id)


def _record_library(store: Store, config: Config, report: RestoreReport) -> list[int]:
    """Every library file the database does not know becomes a photo row again (drafted: the owner decides)."""
    library = config.paths.library
    known = {r["sha256"] for r in store.all("SELECT sha256 FROM photos")}
    rebuilt = []
    for path in sorted(library.rglob("*")) if library.is_dir() else []:
        if not path.is_file() or path.name.startswith("."):
            continue
        try:
            data = path.read_bytes()
        except OSError as exc:
            report.unreadable.append(f"{path}: {exc.strerror or exc}")
            continue
        sha = hashlib.sha256(data).hexdigest()
        if sha in known:
            continue
        try:
            facts = inspect(data, max_megapixels=config.ingest.max_megapixels, zone=config.schedule.zone)
        except BadImage as exc:
            report.unreadable.append(f"{path}: {exc}")
            continue
        rebuilt.append(_insert_photo(store, data, facts, origin="inbox", name=path.name, rel=store.relpath(path)))
        known.add(sha)
    return rebuilt


def _insert_photo(store: Store, data: bytes, facts: Any, *, origin: str, name: str, rel: str) -> int:
    now = timeutil.iso(timeutil.now())
    photo_id = store.insert(
        "photos", sha256=hashlib.sha256(data).hexdigest(), status="drafted", origin=origin, source_name=name,
        path=rel, format=facts.format, width=facts.width, height=facts.height, size_bytes=len(data),
        taken_at=timeutil.iso(facts.taken_at), phash=facts.phash, has_gps=facts.has_gps, created_at=now,
        updated_at=now)
    store.event("photo.restored", f"{rel} recorded again as photo {photo_id}", photo_id=photo_id)
    return photo_id


def _mark_posted(store: Store, photo_id: int, record: dict[str, Any], image: Path) -> int:
    """The photo's draft becomes posted with the outbox record's facts (a repair: no state-machine move applies)."""
    now = timeutil.iso(timeutil.now())
    fields = dict(status="posted", caption=record.get("caption") or "", posted_at=record.get("posted_at") or now,
                  media_id=record["media_id"], media_code=record.get("media_code"), media_url=image.resolve().as_uri(),
                  note=RECOVERED_NOTE, updated_at=now)
    with store.tx():
        store.update("photos", photo_id, status="drafted", updated_at=now)
        draft_id = draft_of_photo(store, photo_id)
        if draft_id is None:
            draft_id = add_draft(store, [photo_id], created_at=now, **fields)
        else:
            store.update("drafts", draft_id, **fields)
        store.event("draft.posted", f"draft {draft_id}: found posted in the outbox ({record.get('media_code')})",
                    draft_id=draft_id, photo_id=photo_id)
    return int(draft_id)


def _outbox_posts(outbox: Path) -> list[tuple[Path, dict[str, Any]]]:
    """The dry-run publisher's records with their images, oldest first."""
    posts = []
    for path in sorted(outbox.glob("*.json")) if outbox.is_dir() else []:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and record.get("media_id") and record.get("image"):
            image = outbox / str(record["image"])
            if image.is_file():
                posts.append((image, record))
    return sorted(posts, key=lambda p: (str(p[1].get("posted_at") or ""), p[0].name))


class _Matcher:
    """Which photo an outbox post shows: its draft's (when the backup knows the draft), the same bytes, or the
    library photo that looks the same once cut to the posted copy's shape."""

    def __init__(self, store: Store, config: Config) -> None:
        self.store = store
        self.data = config.paths.data
        self.taken: set[int] = set()
        self._thumbs: dict[int, Any] = {}

    def photo_for(self, record: dict[str, Any], data: bytes, phash: str, ratio: float) -> int | None:
        draft_id = record.get("draft_id")
        known = isinstance(draft_id, int) and self.store.value(
            "SELECT 1 FROM drafts WHERE id = ? AND status != 'posted'", (draft_id,))
        if known:
            photo_id = first_photo(self.store, draft_id)
            if self._distance(photo_id, phash, ratio) <= POSTED_COPY_DISTANCE:
                return photo_id
        same = self.store.value("SELECT id FROM photos WHERE sha256 = ? AND duplicate_of IS NULL",
                                (hashlib.sha256(data).hexdigest(),))
        if same is not None:
            return int(same)
        best: tuple[int, int] | None = None
        for row in self.store.all(
            "SELECT p.id FROM photos p LEFT JOIN draft_media m ON m.photo_id = p.id LEFT JOIN drafts d ON d.id = "
            "m.draft_id WHERE p.status IN "
            "('new', 'analyzed', 'drafted') AND p.duplicate_of IS NULL AND (d.status IS NULL OR d.status != 'posted')"
        ):
            if row["id"] in self.taken:
                continue
            distance = self._distance(row["id"], phash, ratio)
            if distance <= POSTED_COPY_DISTANCE and (best is None or distance < best[0]):
                best = (distance, row["id"])
        return best[1] if best else None

    def _distance(self, photo_id: int, phash: str, ratio: float) -> int:
        from bot.ingest.filecheck import perceptual_hash

        thumb = self._thumb(photo_id)
        if thumb is None:
            return 64
        # The posted copy may be cut to Instagram's shapes: compare the middle of the photo at the copy's shape.
        w, h = thumb.size
        if w / h > ratio:
            cw = max(1, round(h * ratio))
            box = ((w - cw) // 2, 0, (w - cw) // 2 + cw, h)
        else:
            ch = max(1, round(w / ratio))
            box = (0, (h - ch) // 2, w, (h - ch) // 2 + ch)
        return min(hash_distance(phash, perceptual_hash(thumb)), hash_distance(phash, perceptual_hash(thumb.crop(box))))

    def _thumb(self, photo_id: int) -> Any:
        if photo_id not in self._thumbs:
            from PIL import Image, ImageOps

            path = self.store.abspath(self.store.value("SELECT path FROM photos WHERE id = ?", (photo_id,)))
            try:
                with Image.open(path) as im:
                    self._thumbs[photo_id] = ImageOps.exif_transpose(im).convert("L").reduce(
                        max(1, min(im.size) // 256))
            except (OSError, ValueError, TypeError):
                self._thumbs[photo_id] = None
        return self._thumbs[photo_id]
