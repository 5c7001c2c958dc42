"""`restore`: which backup it takes, what it sets aside, and what it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import PawpostError
from bot.store import backup
from bot.store.database import Store
from bot.store.restore import restore


def test_restore_takes_the_newest_good_backup_and_keeps_what_it_replaced(config, monkeypatch) -> None:
    data = config.paths.data
    monkeypatch.setenv("PAWPOST_FAKE_NOW", "2026-11-01T08:00:00+00:00")
    with Store.for_config(config) as store:
        store.insert("photos", sha256="a" * 64, status="new", source_name="x.jpg", created_at="t", updated_at="t")
        good = backup.take(store.db, data, "daily")
    damaged = backup.folder_for(data) / "pawpost-20261102T080000000000Z-daily.db"
    damaged.write_bytes(b"SQLite format 3\x00" + b"\x01" * 5000)
    config.paths.database.write_bytes(b"garbage" * 100)

    report = restore(config)

    assert report.state == "damaged" and report.backup == str(good)
    assert (Path(report.set_aside) / "pawpost.db").read_bytes().startswith(b"garbage")
    with Store.for_config(config) as store:
        assert store.value("SELECT source_name FROM photos") == "x.jpg"
        # the photo was waiting in the backup: it may have been drafted and posted since, so it waits for the owner
        assert store.value("SELECT status FROM drafts") == "pending"
    assert [b.kind for b in backup.backups(data)].count("restore") == 1


def test_restore_refuses_a_whole_database_unless_forced(config) -> None:
    Store.for_config(config).close()
    with pytest.raises(PawpostError, match="is whole; nothing to restore"):
        restore(config)
    assert restore(config, force=True).set_aside is not None
