"""Small JPEGs of a draft's first medium (a photo, or a video's cover frame), sent with a notification ("drafts
waiting", "posted") so the message shows what it is about: data/notifications/draft-<id>.jpg, made when the message
is said and kept until it is old.
"""

from __future__ import annotations

import logging
import time
from io import BytesIO
from pathlib import Path

from bot.drafts.media import media_of
from bot.files import write_atomic
from bot.store.database import Store

log = logging.getLogger(__name__)

FOLDER = "notifications"
SIDE = 640  # the longest side, in pixels: enough for a phone's notification, small enough for any channel
KEEP_DAYS = 14  # a message waits at most this long for its attachment (it is delivered or given up well before)


def draft_thumbnail(store: Store, draft_id: int) -> Path | None:
    """The thumbnail of `draft_id`'s first medium, made now (a video's: the frame at its cover, else its first);
    None when its file cannot be read (the message then goes without it)."""
    media = media_of(store, draft_id)
    if not media or media[0].path is None:
        return None
    source = store.abspath(media[0].path)
    folder = store.data_dir / FOLDER
    try:
        from PIL import Image, ImageOps

        row = store.photo(media[0].photo_id)
        if row["kind"] == "video":
            from bot.video.frames import frame_at

            image = frame_at(source, row["cover_at"] or 0.0, max_side=SIDE)
        else:
            with Image.open(source) as opened:
                image = ImageOps.exif_transpose(opened).convert("RGB")
        image.thumbnail((SIDE, SIDE))
        out = BytesIO()
        image.save(out, "JPEG", quality=82)
        folder.mkdir(parents=True, exist_ok=True)
        _tidy(folder)
        path = folder / f"draft-{int(draft_id)}.jpg"
        write_atomic(path, out.getvalue())
    except Exception as exc:  # an unreadable photo costs the message its picture, never the message
        log.warning("no thumbnail for draft %d's notification: %s", draft_id, exc)
        return None
    return path


def _tidy(folder: Path) -> None:
    old = time.time() - KEEP_DAYS * 86400
    for path in folder.glob("draft-*.jpg"):
        try:
            if path.stat().st_mtime < old:
                path.unlink()
        except OSError:
            pass
