"""Live Photos: an iPhone still and its short motion clip (a .MOV) are one photo. The clip is recorded as a duplicate
of the still (never a video of its own) when both carry the same Apple content identifier, or, failing that, share
a file name stem and were taken within PAIR_SECONDS of each other.

The still's identifier is in its Apple maker note (EXIF tag 0x927C, Apple's tag 0x0011); the clip's in its
QuickTime metadata (bot.video.probe.CONTENT_ID_KEY). A clip with an identifier whose still is not recorded yet
waits in the inbox for up to HOLD_SECONDS after it was written, so the pair is found whichever arrives first.
"""

from __future__ import annotations

import struct
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from bot import timeutil
from bot.store.database import Store
from bot.store.states import PhotoStatus

EXIF_IFD = 0x8769
MAKER_NOTE = 0x927C
APPLE_CONTENT_ID = 0x0011  # "ContentIdentifier" (MediaGroupUUID) in Apple's maker note
APPLE_HEADER = b"Apple iOS\x00"
PAIR_SECONDS = 1.0
HOLD_SECONDS = 120.0
# A still that stands for its Live Photo: accepted, or an exact repeat (then its original is the one).
STILL_STATES = (PhotoStatus.NEW.value, PhotoStatus.ANALYZED.value, PhotoStatus.DRAFTED.value,
                PhotoStatus.DUPLICATE.value)


def still_content_id(exif: Any) -> str | None:
    """The content identifier in a still's Apple maker note (Pillow EXIF), or None."""
    try:
        note = exif.get_ifd(EXIF_IFD).get(MAKER_NOTE)
    except Exception:  # an unreadable EXIF block: no identifier, the stem and time may still pair it
        return None
    return apple_content_id(note) if isinstance(note, bytes) else None


def apple_content_id(note: bytes) -> str | None:
    """Tag 0x0011 of an Apple maker note: "Apple iOS\\0", a 2-byte version, a byte order mark, then one IFD whose
    offsets count from the note's start."""
    if not note.startswith(APPLE_HEADER) or len(note) < 16:
        return None
    order = {b"MM": ">", b"II": "<"}.get(note[12:14])
    if order is None:
        return None
    try:
        (count,) = struct.unpack_from(order + "H", note, 14)
        for i in range(min(count, 256)):
            tag, kind, n, value = struct.unpack_from(order + "HHI4s", note, 16 + 12 * i)
            if tag != APPLE_CONTENT_ID or kind != 2:  # 2: ASCII
                continue
            raw = value[:n] if n <= 4 else note[struct.unpack(order + "I", value)[0]:][:n]
            text = raw.split(b"\x00", 1)[0].decode("ascii", errors="ignore").strip()
            return text or None
    except struct.error:
        return None
    return None


def still_of(store: Store, content_id: str | None, name: str, taken_at: datetime | None) -> int | None:
    """The recorded still (its original, for an exact repeat) a motion clip named `name` belongs to, or None."""
    marks = ",".join("?" * len(STILL_STATES))
    if content_id:
        row = store.one(f"SELECT id, duplicate_of FROM photos WHERE kind = 'photo' AND content_id = ? "
                        f"AND status IN ({marks}) ORDER BY id LIMIT 1", (content_id, *STILL_STATES))
        if row is not None:
            return row["duplicate_of"] or row["id"]
    if taken_at is None:
        return None
    stem = _stem(name)
    for row in store.all(f"SELECT id, duplicate_of, source_name, taken_at FROM photos WHERE kind = 'photo' "
                         f"AND origin = 'inbox' AND status IN ({marks}) AND taken_at IS NOT NULL "
                         "AND abs(julianday(taken_at) - julianday(?)) * 86400 <= ? ORDER BY id",
                         (*STILL_STATES, timeutil.iso_precise(taken_at), PAIR_SECONDS + 0.001)):
        if _stem(row["source_name"]) == stem:
            return row["duplicate_of"] or row["id"]
    return None


def motion_reason(photo_id: int) -> str:
    return f"motion of Live Photo #{photo_id}"


def _stem(name: str) -> str:
    path = PurePosixPath(name)
    return str(path.with_suffix("")).casefold() if path.suffix else str(path).casefold()
