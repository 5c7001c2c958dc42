"""m004_draft_media on a database the release before it wrote: nothing lost, and a kill mid-way leaves it usable.

The home (tests/bot/store/old_release.py) holds every kind of draft with candidates, attempts, events and the
unsettled draft's record; old_release.json is what that release's CLI said about it.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.bot.store.old_release import DATA, OLD_MIGRATIONS, RECORDED, build, outputs

# Rows that refer to drafts (by id) or that the migration must not touch, compared before and after.
KEPT = {
    "candidates": "SELECT * FROM candidates ORDER BY id",
    "attempts": "SELECT * FROM attempts ORDER BY id",
    "events": "SELECT * FROM events ORDER BY id",
    "photo_pets": "SELECT * FROM photo_pets ORDER BY photo_id, pet_id",
    "imported_posts": "SELECT * FROM imported_posts ORDER BY media_id",
    "kv": "SELECT key, value FROM kv WHERE key IN ('unsettled:4', 'last_publish_error', 'cooldown_until') "
          "ORDER BY key",
}
MOVED = ("photo_id", "alt_text", "description")  # the drafts columns that move to draft_media
NEW = ("publish_state",)  # drafts columns a later migration adds (m005_publishing_state)
# photos columns later migrations add (m006_shoots, m007_videos): new facts about a medium, none of the old ones
# changed.
NEW_PHOTO = ("shoot_id", "taken_at_source", "near_duplicate_of", "shot_score", "score_parts", "kind", "duration_s",
             "cover_at", "video", "content_id")


def rows(path: Path) -> dict[str, list[tuple]]:
    db = sqlite3.connect(path)
    try:
        out = {name: [tuple(r) for r in db.execute(sql)] for name, sql in KEPT.items()}
        columns = [r[1] for r in db.execute("PRAGMA table_info(drafts)")]
        kept = [c for c in columns if c not in MOVED + NEW]
        out["drafts"] = [tuple(r) for r in db.execute(f"SELECT {', '.join(kept)} FROM drafts ORDER BY id")]
        photo_columns = [r[1] for r in db.execute("PRAGMA table_info(photos)") if r[1] not in NEW_PHOTO]
        out["photos"] = [tuple(r) for r in db.execute(f"SELECT {', '.join(photo_columns)} FROM photos ORDER BY id")]
        if "photo_id" in columns:  # the old schema: each draft's one photo and its alt text
            sql = "SELECT id, 0, photo_id, alt_text, description FROM drafts ORDER BY id"
        else:
            sql = "SELECT draft_id, position, photo_id, alt_text, description FROM draft_media ORDER BY draft_id"
        out["media"] = [tuple(r) for r in db.execute(sql)]
        return out
    finally:
        db.close()


def applied(path: Path) -> list[str]:
    db = sqlite3.connect(path)
    try:
        return [r[0] for r in db.execute("SELECT name FROM schema_migrations ORDER BY name")]
    finally:
        db.close()


def says_the_same(recorded: Any, said: Any, where: str = "") -> list[str]:
    """Where `said` differs from `recorded`, new fields aside (keys `recorded` lacks, such as `media`)."""
    if isinstance(recorded, dict) and isinstance(said, dict):
        return [d for k, v in recorded.items()
                for d in (says_the_same(v, said[k], f"{where}.{k}") if k in said else [f"{where}.{k} missing"])]
    if isinstance(recorded, list) and isinstance(said, list) and len(recorded) == len(said):
        return [d for i, (a, b) in enumerate(zip(recorded, said, strict=True))
                for d in says_the_same(a, b, f"{where}[{i}]")]
    return [] if recorded == said else [f"{where}: {recorded!r} became {said!r}"]


def test_the_comparison_sees_a_change_and_allows_a_new_field() -> None:
    assert says_the_same({"a": [1, {"b": 2}]}, {"a": [1, {"b": 2, "media": []}], "new": 1}) == []
    assert says_the_same({"a": [1, {"b": 2}]}, {"a": [1, {"b": 3}]}) == [".a[1].b: 2 became 3"]
    assert says_the_same({"a": [1]}, {"a": [1, 2]}) == [".a: [1] became [1, 2]"]
    assert says_the_same({"a": 1}, {}) == [".a missing"]


@pytest.fixture
def old_home(tmp_path: Path) -> Path:
    build(tmp_path / "home")
    return tmp_path / "home"


def test_every_draft_of_the_release_before_migrates_with_nothing_lost(old_home: Path) -> None:
    database = old_home / "data" / "pawpost.db"
    before = rows(database)
    assert applied(database) == sorted(OLD_MIGRATIONS)

    said = outputs(old_home / "pawpost.toml")  # the first command migrates

    assert "m004_draft_media" in applied(database)
    assert list((old_home / "data" / "backups").glob("*migration*"))  # the backup taken before it
    assert rows(database) == before  # every draft, candidate, attempt, event and fact kept, ids included
    db = sqlite3.connect(database)
    try:  # the unsettled draft's sub-state, read from its kv record into the column
        assert dict(db.execute("SELECT id, publish_state FROM drafts WHERE publish_state IS NOT NULL")) == {
            4: "unknown"}
    finally:
        db.close()
    recorded = json.loads(RECORDED.read_text())
    assert says_the_same(recorded, said) == []
    # The new field: each draft a post of one photo, as the old `photo` said, with the owner's alt text.
    for item in said["list"]:
        assert item["media"] == [{"photo_id": item["photo_id"], "path": item["photo"], "kind": "photo",
                                  "file_name": f"IMG_040{item['photo_id']}.{'HEIC' if item['id'] == 1 else 'jpg'}",
                                  "alt_text": "Lola, a fawn chihuahua, asleep in the snow." if item["id"] == 2
                                  else None, "duration_s": None, "cover_at": None}]
    for shown in said["show"].values():  # `drafts show` fills in the alt text each photo is posted with
        assert [m["alt_text"] for m in shown["media"]] == [shown["alt_text"]]
    assert said["show"]["3"]["alt_text"] == "Photo of Lola (a dog). A dog wearing a yellow raincoat."
    assert said["list"][0]["photo"].startswith(DATA + "/library/")


# A child that runs m004 on `argv[1]` and stops for good after its `argv[2]`th statement, inside the transaction.
PAUSING_CHILD = """
import sys, time
import bot.store.migrations as migrations
from bot.store.database import Store

real = migrations.m004_draft_media
stop_after = int(sys.argv[2])

class Pausing:
    def __init__(self, db):
        self.db, self.count = db, 0

    def execute(self, *args):
        cursor = self.db.execute(*args)
        self.count += 1
        if self.count == stop_after:
            print("paused", flush=True)
            time.sleep(600)
        return cursor

def m004_draft_media(db):
    real(Pausing(db))

m004_draft_media.rebuilds_tables = real.rebuilds_tables
migrations.MIGRATIONS[migrations.MIGRATIONS.index(real)] = m004_draft_media
Store(sys.argv[1], data_dir=sys.argv[3]).close()
print("finished", flush=True)
"""


@pytest.mark.parametrize("stop_after", [1, 5, 8])  # media table made, old drafts dropped, every statement run
def test_a_migration_killed_mid_way_leaves_the_old_database_usable(old_home: Path, stop_after: int) -> None:
    database = old_home / "data" / "pawpost.db"
    before = rows(database)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAWPOST_")}
    child = subprocess.Popen([sys.executable, "-c", PAUSING_CHILD, str(database), str(stop_after),
                              str(old_home / "data")], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout.readline().strip() == "paused"  # positive control: it is inside the migration
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
        child.stdout.close()

    # The old database, as the release before would open it: whole, unmigrated, every row where it was.
    db = sqlite3.connect(database)
    try:
        db.execute("PRAGMA foreign_keys = ON")
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "draft_media" not in tables and "drafts_rebuilt" not in tables
        assert "photo_id" in {r[1] for r in db.execute("PRAGMA table_info(drafts)")}
    finally:
        db.close()
    assert applied(database) == sorted(OLD_MIGRATIONS)
    assert rows(database) == before

    # A later run migrates it, and the CLI says what the release before said.
    said = outputs(old_home / "pawpost.toml")
    assert "m004_draft_media" in applied(database)
    assert rows(database) == before
    assert says_the_same(json.loads(RECORDED.read_text()), said) == []
