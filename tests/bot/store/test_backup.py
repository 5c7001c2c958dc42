"""Database backups: daily and before each migration, a few of each kept, each a whole database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.store import backup, migrations
from bot.store.database import Store


def _photo(store: Store, sha: str = "a" * 64) -> None:
    store.insert("photos", sha256=sha, status="new", source_name="x.jpg", created_at="t", updated_at="t")


def test_the_first_open_that_finds_photos_takes_a_daily_backup_and_the_next_day_another(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    monkeypatch.setenv("PAWPOST_FAKE_NOW", "2026-11-01T08:00:00+00:00")
    with Store(data / "pawpost.db") as store:
        _photo(store)
    assert backup.backups(data) == []  # an empty database: nothing worth keeping yet

    with Store(data / "pawpost.db"):
        pass
    with Store(data / "pawpost.db"):
        pass
    [first] = backup.backups(data)
    assert first.kind == "daily" and backup.is_good(first.path)
    with sqlite3.connect(first.path) as copy:
        assert copy.execute("SELECT source_name FROM photos").fetchall() == [("x.jpg",)]
    assert oct(first.path.stat().st_mode & 0o777) == "0o600"

    for day in range(2, 12):
        monkeypatch.setenv("PAWPOST_FAKE_NOW", f"2026-11-{day:02d}T08:00:00+00:00")
        with Store(data / "pawpost.db") as store:
            store.backup_if_due()  # what the daemon does now and then
    kept = backup.backups(data)
    assert len(kept) == backup.KEEP["daily"]
    assert kept[0].taken_at.day == 11 and kept[-1].taken_at.day == 5


def test_a_migration_is_preceded_by_a_backup_of_the_database_as_it_was(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    with Store(data / "pawpost.db") as store:
        _photo(store)
        before = store.value("SELECT count(*) FROM schema_migrations")

    def m999_new_table(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE later (x)")

    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, m999_new_table])
    monkeypatch.setattr("bot.store.database.MIGRATIONS", migrations.MIGRATIONS)
    with Store(data / "pawpost.db") as store:
        assert store.value("SELECT count(*) FROM schema_migrations") == before + 1
    [taken] = [b for b in backup.backups(data) if b.kind == "migration"]
    with sqlite3.connect(taken.path) as copy:
        assert copy.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == before
        assert copy.execute("SELECT count(*) FROM photos").fetchone()[0] == 1

    with Store(data / "pawpost.db"):  # nothing left to migrate: no further backup
        pass
    assert len([b for b in backup.backups(data) if b.kind == "migration"]) == 1


def test_a_new_database_needs_no_backup_before_its_first_migrations(tmp_path: Path) -> None:
    with Store(tmp_path / "data" / "pawpost.db"):
        pass
    assert not (tmp_path / "data" / "backups").exists()


def test_a_damaged_backup_is_not_good(tmp_path: Path) -> None:
    bad = tmp_path / "pawpost-20260101T000000000000Z-daily.db"
    bad.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    assert not backup.is_good(bad)
    assert not backup.is_good(tmp_path / "missing.db")


def test_a_daily_backup_failing_on_a_full_disk_is_said_once_then_at_a_back_off(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    import errno
    import os

    import bot.store.database as database

    data = tmp_path / "data"
    with Store(data / "pawpost.db") as store:
        _photo(store)
    clock = [1000.0]
    monkeypatch.setattr(database.time, "monotonic", lambda: clock[0])

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(backup, "take", full)
    with caplog.at_level("WARNING", logger="bot.store.database"), Store(data / "pawpost.db") as store:
        for _ in range(60):  # ten minutes of the daemon's checks, every ~10 s
            store.backup_if_due()
            clock[0] += 10
        said = [r for r in caplog.records if "daily backup" in r.getMessage()]
        assert len(said) == 1 and "No space left on device" in said[0].getMessage()
        clock[0] += database.BACKUP_RETRY_FIRST
        store.backup_if_due()
        assert len([r for r in caplog.records if "daily backup" in r.getMessage()]) == 2
