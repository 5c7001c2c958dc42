"""Near-duplicates at ingest: the accepted photo a new one repeats to the eye (perceptual hash), and the capture
time a photo is known by (EXIF, or the file's own time, and which).

Frames of one burst are alike by nature: they are judged by their shoot (bot.ingest.shoot_grouping), not here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot import timeutil
from bot.ingest.filecheck import ImageFacts, hash_distance
from bot.store.database import Store
from bot.store.states import PhotoStatus

ACCEPTED = (PhotoStatus.NEW.value, PhotoStatus.ANALYZED.value, PhotoStatus.DRAFTED.value)


def capture_time_and_source(facts: ImageFacts, given: datetime | None,
                            file_time: datetime | None) -> tuple[datetime | None, str | None]:
    """When the photo was taken and where that came from: EXIF, else (an inbox file) the file's own time."""
    if given is not None:
        return given, None  # the caller's (an imported post's time): neither EXIF nor a file
    if facts.taken_at is not None:
        return facts.taken_at, "exif"
    return (file_time, "file") if file_time is not None else (None, None)


def burst_window(facts: ImageFacts, gap_seconds: float) -> tuple[str, str] | None:
    """The EXIF capture-time window of this photo's shoot: frames taken in it are near-identical by nature and
    are judged by their shoot (the best one leads), not set aside here as duplicates of whichever came first."""
    if facts.taken_at is None:
        return None
    gap = timedelta(seconds=gap_seconds)
    return timeutil.iso_precise(facts.taken_at - gap) or "", timeutil.iso_precise(facts.taken_at + gap) or ""


def nearest(store: Store, phash: str, max_distance: int, burst: tuple[str, str] | None = None) -> int | None:
    """The accepted, original photo whose perceptual hash is closest to `phash`, if within `max_distance`; a
    photo taken (by EXIF) within `burst` is a frame of the same shoot and never counts."""
    best: tuple[int, int] | None = None
    marks = ", ".join("?" for _ in ACCEPTED)
    sql = f"SELECT id, phash FROM photos WHERE phash IS NOT NULL AND duplicate_of IS NULL AND status IN ({marks})"
    params: list[Any] = list(ACCEPTED)
    if burst is not None:
        sql += (" AND NOT (taken_at_source = 'exif' AND julianday(taken_at) BETWEEN julianday(?) "
                "AND julianday(?))")
        params += burst
    for photo_id, other in store.db.execute(sql, params):
        distance = hash_distance(phash, other)
        if distance <= max_distance and (best is None or distance < best[0]):
            best = (distance, photo_id)
    return best[1] if best else None
