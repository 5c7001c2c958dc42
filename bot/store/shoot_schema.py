"""The shoots schema (migration m006): bursts of frames, and each photo's shoot, capture-time source and score.

Kept beside bot.store.migrations, which lists it in order; applied once like every migration there.
"""

from __future__ import annotations

import sqlite3

from bot.store.sqlscript import run_script


def m006_shoots(db: sqlite3.Connection) -> None:
    # A shoot is a burst of frames taken close together of the same pets; it leads to one draft. It stays `open`
    # while frames may still be copying in and is `closed` once none arrived for a while; only then is its leader
    # drafted, so a burst is never split. Per photo: the shoot it belongs to, where its capture time came from
    # (EXIF or, failing that, the file's time), the better frame it nearly repeats (the best of its group of
    # near-identical frames), and its best-shot score with the parts that explain it (JSON). `offers`: whether the
    # shoot's other shots are offered beside its draft (drafts.carousel was not "never" when it was drafted).
    run_script(db, _SQL)


_SQL = """
        CREATE TABLE shoots (
            id              INTEGER PRIMARY KEY,
            state           TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open','closed')),
            first_taken_at  TEXT NOT NULL,        -- the earliest member's capture time, UTC ISO 8601
            last_taken_at   TEXT NOT NULL,        -- the latest member's capture time
            last_arrival_at TEXT NOT NULL,        -- when its latest frame was ingested (the settle clock)
            leader_photo_id INTEGER REFERENCES photos(id),
            offers          INTEGER NOT NULL DEFAULT 1,
            closed_at       TEXT,
            created_at      TEXT NOT NULL,
            updated_at      TEXT NOT NULL
        );
        CREATE INDEX shoots_state ON shoots(state, id);
        ALTER TABLE photos ADD COLUMN shoot_id INTEGER REFERENCES shoots(id);
        ALTER TABLE photos ADD COLUMN taken_at_source TEXT CHECK (taken_at_source IN ('exif','file'));
        ALTER TABLE photos ADD COLUMN near_duplicate_of INTEGER REFERENCES photos(id);
        ALTER TABLE photos ADD COLUMN shot_score REAL;
        ALTER TABLE photos ADD COLUMN score_parts TEXT;
        CREATE INDEX photos_shoot ON photos(shoot_id);
        UPDATE photos SET taken_at_source = 'exif' WHERE taken_at IS NOT NULL;
"""
