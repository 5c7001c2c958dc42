"""The video schema (migration m007): a video is a medium like a photo, in the same `photos` table.

Kept beside bot.store.migrations, which lists it in order; applied once like every migration there.
"""

from __future__ import annotations

import sqlite3

from bot.store.sqlscript import run_script


def m007_videos(db: sqlite3.Connection) -> None:
    # Per medium: its kind (a photo or a video clip), and for a video its length in seconds, where its cover frame
    # lies (seconds into the clip: chosen by the best-shot score, changed by the owner) and the facts read from the
    # file (JSON: codec, frame rate, rotation, sound, the times of the frames sampled and what was seen in each).
    # `content_id`: Apple's content identifier, shared by a Live Photo's still and its motion clip, so the two are
    # paired whichever arrives first.
    run_script(db, _SQL)


_SQL = """
        ALTER TABLE photos ADD COLUMN kind TEXT NOT NULL DEFAULT 'photo' CHECK (kind IN ('photo','video'));
        ALTER TABLE photos ADD COLUMN duration_s REAL;
        ALTER TABLE photos ADD COLUMN cover_at REAL;
        ALTER TABLE photos ADD COLUMN video TEXT;
        ALTER TABLE photos ADD COLUMN content_id TEXT;
        CREATE INDEX photos_content_id ON photos(content_id) WHERE content_id IS NOT NULL;
"""
