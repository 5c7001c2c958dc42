"""The video columns (m007): every existing medium reads as a photo; a kind other than photo or video is refused."""

from __future__ import annotations

import sqlite3

import pytest

from bot.store.database import Store


def test_existing_photos_read_as_photos_and_kind_is_checked(tmp_path):
    store = Store(tmp_path / "state.db")
    db = store.db
    now = "2026-12-06T00:00:00+00:00"
    db.execute("INSERT INTO photos (sha256, status, source_name, created_at, updated_at) "
               "VALUES ('a', 'new', 'a.jpg', ?, ?)", (now, now))
    assert tuple(db.execute("SELECT kind, duration_s, cover_at, video, content_id FROM photos").fetchone()) == (
        "photo", None, None, None, None)
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO photos (sha256, status, source_name, kind, created_at, updated_at) "
                   "VALUES ('b', 'new', 'b.mp4', 'gif', ?, ?)", (now, now))
    store.close()
