"""A database damaged on disk (random bytes over a few pages) is noticed: `run` refuses to start on it, `status`
says so in one line, and the daily backup is not taken of it."""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
from pathlib import Path

from bot.store import backup
from bot.store.database import Store
from tests.conftest import run_cli, write_config


def _damaged_copy(tmp_path: Path) -> Path:
    """A home whose database is a copy of a healthy one with random bytes over three of its pages."""
    source = write_config(tmp_path / "good")
    from bot.config import load_config

    config = load_config(source)
    # The damage lands in the event log's pages, which `status` never reads: only a check of every page sees it.
    with Store.for_config(config) as store, store.tx() as db:
        db.execute("INSERT INTO photos (sha256, status, source_name, created_at, updated_at) "
                   "VALUES (?, 'new', 'IMG_0001.jpg', 't', 't')", ("0" * 64,))
        for n in range(400):
            db.execute("INSERT INTO events (at, level, kind, message) VALUES ('t', 'info', 'test', ?)",
                       (f"event {n} " + "x" * 300,))
    root = tmp_path / "copy"
    target = write_config(root)
    (root / "data").mkdir(exist_ok=True)
    shutil.copy(config.paths.database, root / "data" / "pawpost.db")
    path = root / "data" / "pawpost.db"
    with sqlite3.connect(path) as db:
        page = db.execute("PRAGMA page_size").fetchone()[0]
        events = [r[0] for r in db.execute("SELECT pageno FROM dbstat WHERE name = 'events' ORDER BY pageno")]
    assert len(events) > 10
    rng = random.Random(7)
    with open(path, "r+b") as fh:
        for n in events[len(events) // 2: len(events) // 2 + 3]:  # SQLite numbers pages from 1
            fh.seek((n - 1) * page)
            fh.write(rng.randbytes(page))
    return target


def test_status_and_run_say_the_database_is_damaged(tmp_path: Path) -> None:
    config = _damaged_copy(tmp_path)

    status = run_cli("status", config=config)
    as_json = run_cli("status", "--json", config=config)
    run = run_cli("run", config=config, timeout=60)

    assert status.returncode == 0, status.stderr
    [line] = [x for x in status.stdout.splitlines() if "damaged" in x]
    assert "database damaged:" in line and "pawpost restore" in line
    assert "quick_check" in json.loads(as_json.stdout)["database_damage"]
    assert run.returncode == 1
    assert "is damaged (quick_check:" in run.stderr and "pawpost restore" in run.stderr
    assert "Traceback" not in run.stderr


def test_the_daily_backup_is_not_taken_of_a_damaged_database(tmp_path: Path, monkeypatch, caplog) -> None:
    config = _damaged_copy(tmp_path)
    data = config.parent / "data"
    monkeypatch.setenv("PAWPOST_FAKE_NOW", "2026-11-02T08:00:00+00:00")
    with caplog.at_level("WARNING"), Store(data / "pawpost.db"):
        pass

    assert [b for b in backup.backups(data) if b.kind == "daily"] == []
    [said] = [r.getMessage() for r in caplog.records if "daily backup" in r.getMessage()]
    assert "is damaged (quick_check:" in said
    assert os.path.exists(data / "pawpost.db")
