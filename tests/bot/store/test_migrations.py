"""bot/store/migrations.py: a fresh schema, each upgrade step once and recorded, a newer pawpost's database refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.errors import PawpostError
from bot.store import migrations
from bot.store.database import Store
from bot.store.migrations import MIGRATIONS, m001_initial, migrate

NOW = "2026-11-22T10:00:00+00:00"
NAMES = [m.__name__ for m in MIGRATIONS]


def connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)  # as the store does: migrations issue BEGIN themselves


def schema(db: sqlite3.Connection) -> dict[str, list[tuple]]:
    """Every table's columns (name, type, not null, default, primary key) and every index's columns."""
    out: dict[str, list[tuple]] = {}
    for kind, name in db.execute("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"):
        pragma = "table_info" if kind == "table" else "index_info"
        out[f"{kind} {name}"] = [tuple(r) for r in db.execute(f"PRAGMA {pragma}({name})")]
    return out


def migrated_up_to(path: Path, count: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A database as the release that shipped the first `count` migrations left it."""
    with monkeypatch.context() as patch:
        patch.setattr(migrations, "MIGRATIONS", MIGRATIONS[:count])
        db = connect(path)
        assert migrate(db) == NAMES[:count]
        db.close()


def test_a_fresh_database_gets_every_migration_in_order_without_a_backup(tmp_path: Path) -> None:
    db = connect(tmp_path / "new.db")
    backups = []
    assert migrate(db, before=lambda: backups.append(1)) == NAMES
    assert backups == []  # nothing to back up yet
    recorded = db.execute("SELECT name, applied_at FROM schema_migrations ORDER BY name").fetchall()
    assert [name for name, _ in recorded] == NAMES
    assert all(at.endswith("+00:00") and at[:2] == "20" for _, at in recorded)
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"photos", "pets", "pet_references", "embeddings", "photo_pets", "drafts", "candidates", "attempts",
            "events", "kv", "imported_posts", "schema_migrations"} <= tables
    columns = {r[1] for r in db.execute("PRAGMA table_info(drafts)")}
    assert not {"photo_id", "alt_text", "description"} & columns  # m004: on the media instead
    media = {r[1] for r in db.execute("PRAGMA table_info(draft_media)")}
    assert {"draft_id", "position", "photo_id", "crop", "alt_text", "description"} <= media  # m004
    assert "container_id" in {r[1] for r in db.execute("PRAGMA table_info(attempts)")}
    assert {"attempt_id", "position", "container_id"} <= {r[1] for r in db.execute("PRAGMA table_info(attempt_media)")}
    indexes = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"photos_status", "drafts_status", "events_at", "attempts_draft"} <= indexes  # m002


def test_opening_again_applies_nothing(tmp_path: Path) -> None:
    db = connect(tmp_path / "x.db")
    migrate(db)
    backups = []
    assert migrate(db, before=lambda: backups.append(1)) == []
    assert backups == [] and db.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(MIGRATIONS)


@pytest.mark.parametrize("shipped", range(1, len(MIGRATIONS)))
def test_each_upgrade_step_reaches_the_fresh_schema_after_one_backup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     shipped: int) -> None:
    fresh = connect(tmp_path / "fresh.db")
    migrate(fresh)
    path = tmp_path / "old.db"
    migrated_up_to(path, shipped, monkeypatch)
    db = connect(path)
    db.execute("INSERT INTO photos (sha256, status, source_name, created_at, updated_at) "
               "VALUES ('abc', 'new', 'old.jpg', ?, ?)", (NOW, NOW))
    backups = []
    assert migrate(db, before=lambda: backups.append(schema(db))) == NAMES[shipped:]
    assert len(backups) == 1 and backups[0] != schema(db)  # once, and before anything changed
    assert schema(db) == schema(fresh)
    assert db.execute("SELECT source_name FROM photos").fetchall() == [("old.jpg",)]


def test_migrations_on_an_old_database(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    # A database as the first release left it: only the first migration applied, with data in it.
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    db.execute("BEGIN")
    m001_initial(db)
    db.execute("INSERT INTO schema_migrations VALUES ('m001_initial', ?)", (NOW,))
    db.execute("INSERT INTO photos (sha256, status, source_name, created_at, updated_at) "
               "VALUES ('abc', 'new', 'old.jpg', ?, ?)", (NOW, NOW))
    db.execute("COMMIT")
    db.close()

    store = Store(path)
    applied = [r[0] for r in store.all("SELECT name FROM schema_migrations ORDER BY name")]
    assert applied == sorted(m.__name__ for m in MIGRATIONS)
    assert store.value("SELECT source_name FROM photos") == "old.jpg"
    indexes = {r[0] for r in store.all("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "drafts_status" in indexes
    store.close()
    # Opening again applies nothing twice.
    again = Store(path)
    assert again.value("SELECT count(*) FROM schema_migrations") == len(MIGRATIONS)
    again.close()


def test_a_step_another_process_applied_meanwhile_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "race.db"
    migrated_up_to(path, 1, monkeypatch)
    db = connect(path)

    def other_process_migrates_first() -> None:
        # Runs after this process read what is applied and before it takes the write lock.
        with monkeypatch.context() as patch:
            patch.setattr(migrations, "MIGRATIONS", MIGRATIONS[:2])
            other = connect(path)
            assert migrate(other) == NAMES[1:2]
            other.close()

    assert migrate(db, before=other_process_migrates_first) == NAMES[2:]
    assert [r[0] for r in db.execute("SELECT name FROM schema_migrations ORDER BY name")] == NAMES


def test_failed_migration_rolls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def m999_broken(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("boom")

    monkeypatch.setattr(migrations, "MIGRATIONS", [*MIGRATIONS, m999_broken])
    with pytest.raises(RuntimeError):
        Store(tmp_path / "x.db")
    db = sqlite3.connect(tmp_path / "x.db")
    assert db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'half_done'").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(MIGRATIONS)


def test_a_database_from_a_newer_pawpost_is_refused_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "data" / "pawpost.db"
    path.parent.mkdir()

    def m999_future(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE stories (id INTEGER PRIMARY KEY)")

    with monkeypatch.context() as patch:  # the newer release
        patch.setattr(migrations, "MIGRATIONS", [*MIGRATIONS, m999_future])
        Store(path).close()
    before = path.read_bytes()
    backups = []
    db = connect(path)
    with pytest.raises(PawpostError, match=rf"^the database {path} was upgraded by a newer version of pawpost "
                                           r"\(it has migration m999_future, unknown to this one\); run that newer"):
        migrate(db, before=lambda: backups.append(1))
    db.close()
    assert backups == [] and path.read_bytes() == before
    with pytest.raises(PawpostError, match="newer version of pawpost"):
        Store(path)


def test_publishing_sub_states_move_from_the_kv_records_to_a_column(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    path = tmp_path / "old.db"
    shipped = NAMES.index("m005_publishing_state")
    migrated_up_to(path, shipped, monkeypatch)
    db = connect(path)
    # The records as the poster wrote them before the column: started, sent, unknown, with the owner, none.
    records = {
        1: {"nonce": "n1"},
        2: {"nonce": "n2", "sent_at": NOW},
        3: {"nonce": "n3", "sent_at": NOW, "reason": "ReadTimeout", "error_class": "ReadTimeout", "unknown_at": NOW,
            "looks": 2, "next_look": NOW, "last_look": {"at": NOW, "items": 5}},
        4: {"nonce": "n4", "sent_at": NOW, "reason": "sent to you to post by hand", "error_class": "WithOwner",
            "unknown_at": NOW, "looks": 0, "next_look": None, "with_owner": True},
        5: None,  # left publishing by a pawpost from before the records
        6: {"nonce": "n6", "sent_at": NOW},  # a stale record of a draft that is posted since
    }
    for draft_id, record in records.items():
        db.execute("INSERT INTO photos (sha256, status, source_name, created_at, updated_at) "
                   "VALUES (?, 'drafted', 'a.jpg', ?, ?)", (f"sha{draft_id}", NOW, NOW))
        db.execute("INSERT INTO drafts (id, status, created_at, updated_at) VALUES (?, ?, ?, ?)",
                   (draft_id, "posted" if draft_id == 6 else "publishing", NOW, NOW))
        db.execute("INSERT INTO draft_media (draft_id, position, photo_id) VALUES (?, 0, ?)", (draft_id, draft_id))
        if record is not None:
            db.execute("INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?)",
                       (f"unsettled:{draft_id}", json.dumps(record), NOW))

    assert migrate(db) == NAMES[shipped:]

    states = dict(db.execute("SELECT id, publish_state FROM drafts"))
    assert states == {1: "started", 2: "sent", 3: "unknown", 4: "with_owner", 5: "unknown", 6: None}
    kept = {int(k.partition(":")[2]): json.loads(v) for k, v in db.execute("SELECT key, value FROM kv")}
    # The facts with no column stay (why, the looks); the flag the column replaced goes.
    assert kept[3] == records[3] and kept[6] == records[6]
    assert kept[4] == {k: v for k, v in records[4].items() if k != "with_owner"}
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("UPDATE drafts SET publish_state = 'lost' WHERE id = 1")
