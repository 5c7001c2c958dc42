"""Online backups of pawpost.db with SQLite's backup API, kept in data/backups/, and the guard against a lost database.

A backup is taken daily and before each migration (a few of each kept); `bot.store.restore` brings the newest
good one back.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot import timeutil
from bot.errors import PawpostError

log = logging.getLogger(__name__)

FOLDER = "backups"
# How many of each kind are kept: a week of dailies, and the state before the last few schema changes.
KEEP = {"daily": 7, "migration": 3, "restore": 3}
DAILY = timedelta(hours=24)
_NAME = re.compile(r"pawpost-(\d{8}T\d{6}\d{6})Z-(daily|migration|restore)\.db")


class DatabaseLost(PawpostError):
    """The database is missing or empty while the library holds photos: starting would forget every post."""


class DatabaseDamaged(PawpostError):
    """SQLite's quick_check found damage: the owner should restore, and no backup is taken of it."""


def damage(db: sqlite3.Connection) -> str | None:
    """SQLite's quick_check (every page and b-tree, no index-to-table cross-check) as one line: None when the
    database is whole, else the first problems it names."""
    try:
        found = [str(r[0]) for r in db.execute("PRAGMA quick_check(3)")]
    except sqlite3.DatabaseError as exc:
        return str(exc)
    if found == ["ok"]:
        return None
    lines = [line.strip() for text in found for line in text.splitlines()]
    return "; ".join(line for line in lines if line and not line.startswith("***"))


def damaged_sentence(path: Path, problem: str) -> str:
    return (f"the database {path} is damaged (quick_check: {problem}); stop pawpost and run 'pawpost restore' to "
            "bring back the newest good backup (the damaged file is kept aside)")


@dataclass(frozen=True)
class Backup:
    path: Path
    taken_at: datetime
    kind: str


def folder_for(data_dir: Path) -> Path:
    return Path(data_dir) / FOLDER


def backups(data_dir: Path) -> list[Backup]:
    """Every backup in data/backups/, newest first."""
    found = []
    folder = folder_for(data_dir)
    for path in folder.iterdir() if folder.is_dir() else []:
        match = _NAME.fullmatch(path.name)
        if match:
            when = datetime.strptime(match[1], "%Y%m%dT%H%M%S%f").replace(tzinfo=UTC)
            found.append(Backup(path, when, match[2]))
    return sorted(found, key=lambda b: b.taken_at, reverse=True)


def take(db: sqlite3.Connection, data_dir: Path, kind: str) -> Path:
    """Copy the open database, consistently and while others keep using it, into a new backup; prune old ones."""
    if kind not in KEEP:
        raise ValueError(f"unknown backup kind {kind!r}")
    folder = folder_for(data_dir)
    folder.mkdir(mode=0o700, exist_ok=True)
    when = timeutil.now().astimezone(UTC)
    target = folder / f"pawpost-{when:%Y%m%dT%H%M%S%f}Z-{kind}.db"
    tmp = folder / f".{target.name}.{os.getpid()}.tmp"
    try:
        copy = sqlite3.connect(tmp)
        try:
            db.backup(copy)
            copy.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, no -wal beside it
        finally:
            copy.close()
        os.chmod(tmp, 0o600)  # it holds what the database holds (the session state is not in it, but captions are)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(folder)
    prune(data_dir, kind)
    return target


def prune(data_dir: Path, kind: str) -> None:
    for old in [b for b in backups(data_dir) if b.kind == kind][KEEP[kind]:]:
        old.path.unlink(missing_ok=True)


def take_if_due(db: sqlite3.Connection, data_dir: Path) -> Path | None:
    """The daily backup, when the newest one is a day old; nothing for a database that holds nothing yet."""
    newest = next((b for b in backups(data_dir) if b.kind == "daily"), None)
    if newest is not None and timeutil.now() - newest.taken_at < DAILY:
        return None
    # A damaged copy would push a good daily backup out of the seven kept.
    problem = damage(db)
    if problem:
        raise DatabaseDamaged(damaged_sentence(Path(data_dir) / "pawpost.db", problem))
    if not db.execute("SELECT EXISTS (SELECT 1 FROM photos) OR EXISTS (SELECT 1 FROM pet_references)").fetchone()[0]:
        return None
    return take(db, data_dir, "daily")


def is_good(path: Path) -> bool:
    """Whether a file is a whole, readable pawpost database (SQLite's integrity check passes, the schema is there)."""
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        ok = db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return ok and db.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] > 0
    except sqlite3.Error:
        return False
    finally:
        db.close()


def check_not_lost(database: Path, data_dir: Path) -> None:
    """Refuse to start when the database is missing or empty while library/ still holds photos.

    A new, empty database would forget every post, and a posted photo dropped in again would be posted again.
    """
    state = "missing" if not database.exists() else "empty" if database.stat().st_size == 0 else None
    if state is None:
        return
    library = Path(data_dir) / "library"
    files = sum(1 for p in library.rglob("*") if p.is_file()) if library.is_dir() else 0
    if not files:
        return
    raise DatabaseLost(
        f"the database {database} is {state} but {library} holds {files} photo file(s), so pawpost would forget "
        "every post and could post them again; run 'pawpost restore' to bring it back from the newest backup (or "
        "rebuild it from the library and the outbox), or 'pawpost restore --fresh' to start over on purpose"
    )


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
