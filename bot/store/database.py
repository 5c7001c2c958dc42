"""The SQLite store: one database file that every stage and command shares, the source of truth.

WAL, a long busy timeout and `BEGIN IMMEDIATE` writes let the daemon and any number of CLI calls work at once.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bot import timeutil
from bot.errors import IllegalTransition, NoSuchDraft, NotFound, PawpostError
from bot.store import backup
from bot.store.migrations import MIGRATIONS, migrate
from bot.store.states import DraftStatus, PhotoStatus, PublishState, check_draft, check_photo

log = logging.getLogger(__name__)

_last_opened: Path | None = None  # the database this process opened last, named in errors met later

BUSY_TIMEOUT_MS = 60_000
# The largest id SQLite can hold (a 64-bit signed integer): a larger one names no row, and cannot even be asked for.
MAX_ROWID = 2**63 - 1

# A failing daily backup is tried (and said) again after this pause, doubling each time up to the maximum.
BACKUP_RETRY_FIRST = 10 * 60.0
BACKUP_RETRY_MAX = 6 * 3600.0
_backup_failing: dict[str, tuple[float, float]] = {}  # database path -> (monotonic time of the next try, pause)

PHOTO_STATES = [s.value for s in PhotoStatus]
DRAFT_STATES = [s.value for s in DraftStatus]


class Store:
    """A connection to pawpost.db. One per thread: sqlite3 connections are not shared across threads."""

    def __init__(self, path: str | Path, *, data_dir: str | Path | None = None, guard: bool = True) -> None:
        """Open (creating and migrating) the database. `guard=False` only for `pawpost restore`, which may open a
        new database beside a library on purpose."""
        self.path = Path(path)
        self.data_dir = Path(data_dir) if data_dir else self.path.parent
        self.read_only = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PawpostError(f"cannot create the data folder {self.path.parent}: {exc.strerror or exc}; "
                               "fix paths.data in the config") from None
        if guard:
            backup.check_not_lost(self.path, self.data_dir)
        global _last_opened
        _last_opened = self.path
        self._depth = 0
        try:
            self.db = self._open()
        except sqlite3.Error as exc:
            raise PawpostError(describe_error(exc, self.path)) from None
        if guard:
            self.backup_if_due()

    def backup_if_due(self) -> None:
        """The daily backup (every process checks on opening; the daemon also now and then while it runs).

        One that fails (a full disk) is said once, then tried and said again only after a pause that doubles up to
        BACKUP_RETRY_MAX, not on every check of the daemon."""
        if self.read_only:
            return
        key = str(self.path)
        retry_at, pause = _backup_failing.get(key, (0.0, 0.0))
        if time.monotonic() < retry_at:
            return
        try:
            backup.take_if_due(self.db, self.data_dir)
        except (OSError, sqlite3.Error, backup.DatabaseDamaged) as exc:  # never stops the work; doctor shows its age
            pause = min(BACKUP_RETRY_MAX, pause * 2) if pause else BACKUP_RETRY_FIRST
            _backup_failing[key] = (time.monotonic() + pause, pause)
            log.warning("the daily backup of %s could not be taken: %s (tried again in %d minutes)", self.path, exc,
                        round(pause / 60))
        else:
            _backup_failing.pop(key, None)

    def _open(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN ourselves, so every write transaction is IMMEDIATE
        # (a deferred one that later upgrades to a write lock can fail with "database is locked").
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        try:
            db.row_factory = sqlite3.Row
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            db.execute("PRAGMA journal_mode = WAL")
            # FULL: a publish attempt recorded before the upload must survive a power cut, not only a crash.
            db.execute("PRAGMA synchronous = FULL")
            db.execute("PRAGMA foreign_keys = ON")
            migrate(db, before=lambda: backup.take(db, self.data_dir, "migration"))
            return db
        except sqlite3.OperationalError as exc:
            db.close()
            cannot_write = _read_only_fs(self.path) or _disk_full(self.path)
            if not exc.sqlite_errorname.startswith(("SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_IOERR",
                                                    "SQLITE_FULL")) or not cannot_write:
                raise
        except BaseException:
            db.close()
            raise
        return self._open_read_only()

    def _open_read_only(self) -> sqlite3.Connection:
        """A read-only mount or a full disk: reads still answer (status, listings); a write fails in one line."""
        wal = self.path.with_name(self.path.name + "-wal")
        if wal.exists() and wal.stat().st_size:
            # Changes not yet copied into the file: reading without them would show an older state as current.
            db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
        else:
            # Nothing can change the file on a read-only mount, so SQLite may skip its locks (and the -shm it needs).
            db = sqlite3.connect(f"{self.path.resolve().as_uri()}?immutable=1", uri=True, isolation_level=None)
        try:
            db.row_factory = sqlite3.Row
            applied = {r[0] for r in db.execute("SELECT name FROM schema_migrations")}
        except sqlite3.Error:
            db.close()
            raise
        if {m.__name__ for m in MIGRATIONS} - applied:
            db.close()
            raise PawpostError(f"the database {self.path} needs an upgrade but its folder is read-only; "
                               "remount it read-write and start pawpost again")
        self.read_only = True
        log.debug("%s opened read-only: its file system is read-only or full", self.path)
        return db

    @classmethod
    def for_config(cls, config: Any) -> Store:
        return cls(config.paths.database, data_dir=config.paths.data)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions and queries -------------------------------------------------------------

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; nested calls join the outer one. Commits on success, rolls back on error."""
        if self._depth:
            self._depth += 1
            try:
                yield self.db
            finally:
                self._depth -= 1
            return
        self.db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield self.db
        except BaseException:
            self._depth = 0
            self.db.execute("ROLLBACK")
            raise
        self._depth = 0
        self.db.execute("COMMIT")

    def all(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        return self.db.execute(sql, params).fetchall()

    def one(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Row | None:
        return self.db.execute(sql, params).fetchone()

    def value(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        row = self.db.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def insert(self, table: str, **fields: Any) -> int:
        cols = ", ".join(fields)
        marks = ", ".join("?" for _ in fields)
        with self.tx() as db:
            cur = db.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", [_sql(v) for v in fields.values()])
            return int(cur.lastrowid)

    def update(self, table: str, row_id: int, **fields: Any) -> None:
        if not fields:
            return
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self.tx() as db:
            db.execute(f"UPDATE {table} SET {sets} WHERE id = ?", [*(_sql(v) for v in fields.values()), row_id])

    # -- state changes ------------------------------------------------------------------------

    def set_photo_status(
        self, photo_id: int, status: PhotoStatus | str, *, expect: PhotoStatus | str | None = None, **fields: Any
    ) -> None:
        """Move a photo to `status` (refusing illegal moves) and set `fields`, atomically."""
        self._transition("photos", photo_id, str(status), expect, check_photo, fields, "photo_id")

    def set_draft_status(
        self, draft_id: int, status: DraftStatus | str, *, expect: DraftStatus | str | None = None, **fields: Any
    ) -> None:
        """Move a draft to `status` (refusing illegal moves) and set `fields`, atomically. A draft moving to
        `publishing` starts at PublishState.STARTED; leaving it clears its publish_state."""
        if str(status) == DraftStatus.PUBLISHING:
            fields = {"publish_state": PublishState.STARTED, **fields}
        elif fields.get("publish_state") is not None:
            raise IllegalTransition(f"a draft that is {status} has no publishing state")
        else:
            fields = {**fields, "publish_state": None}
        self._transition("drafts", draft_id, str(status), expect, check_draft, fields, "draft_id")

    def set_publish_state(self, draft_id: int, state: PublishState) -> None:
        """Where a `publishing` draft stands now; refused for a draft in any other state."""
        with self.tx() as db:
            cur = db.execute("UPDATE drafts SET publish_state = ?, updated_at = ? WHERE id = ? AND status = ?",
                             (str(state), timeutil.iso(timeutil.now()), draft_id, str(DraftStatus.PUBLISHING)))
            if cur.rowcount == 0:
                self.draft(draft_id)  # NotFound for a draft that does not exist
                raise IllegalTransition(f"draft {draft_id} is not publishing, so it has no publishing state")

    def _transition(
        self, table: str, row_id: int, target: str, expect: str | None, check: Any, fields: dict[str, Any], key: str
    ) -> None:
        what = table[:-1]
        with self.tx() as db:
            row = db.execute(f"SELECT status FROM {table} WHERE id = ?", (row_id,)).fetchone()
            if row is None:
                raise NotFound(f"there is no {what} {row_id}")
            current = row["status"]
            if expect is not None and current != str(expect):
                raise PawpostError(f"{what} {row_id} is {current}, not {expect}")
            check(current, target)
            fields = {**fields, "status": target, "updated_at": timeutil.iso(timeutil.now())}
            sets = ", ".join(f"{k} = ?" for k in fields)
            db.execute(
                f"UPDATE {table} SET {sets} WHERE id = ? AND status = ?",
                [*(_sql(v) for v in fields.values()), row_id, current],
            )
            if current != target:
                self.event(f"{what}.{target}", f"{what} {row_id}: {current} -> {target}", **{key: row_id})

    # -- events and small facts ---------------------------------------------------------------

    def event(
        self,
        kind: str,
        message: str,
        *,
        level: str = "info",
        photo_id: int | None = None,
        draft_id: int | None = None,
    ) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT INTO events (at, level, kind, photo_id, draft_id, message) VALUES (?, ?, ?, ?, ?, ?)",
                (timeutil.iso(timeutil.now()), level, kind, photo_id, draft_id, message),
            )

    def get(self, key: str, default: Any = None) -> Any:
        """A persisted fact (JSON-decoded), or `default`."""
        raw = self.value("SELECT value FROM kv WHERE key = ?", (key,))
        return default if raw is None else json.loads(raw)

    def put(self, key: str, value: Any) -> None:
        """Persist a fact; `None` deletes it."""
        with self.tx() as db:
            if value is None:
                db.execute("DELETE FROM kv WHERE key = ?", (key,))
            else:
                db.execute(
                    "INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                    (key, json.dumps(value), timeutil.iso(timeutil.now())),
                )

    def damage(self) -> str | None:
        """One line for the owner when SQLite's quick_check finds the database damaged (with what to do), else
        None: `run` refuses to start on it, `status` says it, the daily backup is not taken of it."""
        problem = backup.damage(self.db)
        return backup.damaged_sentence(self.path, problem) if problem else None

    def checkpoint(self) -> None:
        """Copy the write-ahead log into the database file now: what was just committed then survives the loss of
        the -wal file alone (a crash, then a careless clean-up). Used around posting, where losing a commit could
        make a post postable again; a failure is logged, never raised (the commit itself stands)."""
        if self.read_only:
            return
        try:
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            log.warning("could not checkpoint %s: %s", self.path, exc)

    # -- common reads -------------------------------------------------------------------------

    def photo(self, photo_id: int) -> sqlite3.Row:
        row = self.one("SELECT * FROM photos WHERE id = ?", (photo_id,))
        if row is None:
            raise NotFound(f"there is no photo {photo_id}")
        return row

    def draft(self, draft_id: int) -> sqlite3.Row:
        row = self.one("SELECT * FROM drafts WHERE id = ?", (draft_id,))
        if row is None:
            raise NoSuchDraft(draft_id)
        return row

    def counts(self) -> dict[str, dict[str, int]]:
        """Photos and drafts counted by state, every state present (zero when empty)."""
        photos = dict.fromkeys(PHOTO_STATES, 0)
        photos.update({r[0]: r[1] for r in self.all("SELECT status, count(*) FROM photos GROUP BY status")})
        drafts = dict.fromkeys(DRAFT_STATES, 0)
        drafts.update({r[0]: r[1] for r in self.all("SELECT status, count(*) FROM drafts GROUP BY status")})
        return {"photos": photos, "drafts": drafts}

    def abspath(self, relative: str | None) -> Path | None:
        """A stored data-relative path as an absolute one."""
        return None if relative is None else self.data_dir / relative

    def relpath(self, path: Path) -> str:
        return path.resolve().relative_to(self.data_dir.resolve()).as_posix()


def describe_error(exc: sqlite3.Error, path: Path | None = None) -> str:
    """One sentence for the owner about a database error: what happened and what to do."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    path = path or _last_opened
    where = f" {path}" if path else ""
    if name in ("SQLITE_CORRUPT", "SQLITE_NOTADB") or "malformed" in str(exc) or "not a database" in str(exc):
        return (f"the database{where} is damaged ({exc}); run 'pawpost restore' to bring back the newest good "
                "backup (the damaged file is kept aside)")
    if name == "SQLITE_FULL" or "disk is full" in str(exc) or (path is not None and _disk_full(path)):
        return f"the disk holding the database{where} is full; free some space and try again"
    if path is not None and _read_only_fs(path):
        return (f"the database{where} cannot be written: its file system is mounted read-only ({exc}); "
                "remount it read-write (commands that only read still work)")
    if name.startswith("SQLITE_READONLY"):
        return (f"the database{where} cannot be written ({exc}); make the data folder and its files writable by "
                "the user pawpost runs as")
    if name.startswith(("SQLITE_IOERR", "SQLITE_CANTOPEN")):
        return f"the database{where} cannot be read or written ({exc}); check the disk and the data folder"
    return f"database error ({exc})"


def _disk_full(path: Path) -> bool:
    """Whether the file system holding `path` has (next to) no room left for this user."""
    try:
        st = os.statvfs(path.parent)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < 256 * 1024


def _read_only_fs(path: Path) -> bool:
    """Whether `path` (or its folder) is on a file system mounted read-only."""
    for candidate in (path, path.parent):
        try:
            return bool(os.statvfs(candidate).f_flag & os.ST_RDONLY)
        except OSError:
            continue
    return False


def _sql(value: Any) -> Any:
    """Python values as SQLite stores them: JSON for containers, text for enums and paths."""
    if isinstance(value, dict | list | tuple):
        return json.dumps(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, PhotoStatus | DraftStatus):
        return value.value
    return value
