"""A video medium's Reel file and cover, made when first asked for (publishing, the review page) and kept under
data/reels/: one file per clip and making choices, written whole or not at all, checked against Instagram's rules.

The file's name carries a key over everything it depends on (the clip's content, the `[reels]` settings, the pets'
boxes that place the 9:16 frame, this module's version); the cover is not part of it, so choosing another cover
never makes the Reel again.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.errors import CannotMakeReel
from bot.publish.framing import Box
from bot.video.reelcheck import reel_problems
from bot.video.reelplan import ReelPlan, plan_reel
from bot.video.transcode import Progress, make_reel, reel_picture, upright_size

FOLDER = "reels"
# Bump when make_reel's output changes, so every kept Reel is made again.
REEL_VERSION = "1"
COVER_QUALITY = 90

_making = threading.Lock()  # one Reel made at a time in a process: each one keeps every core busy


def reel_plan(data_dir: Path, photo: Any, settings: Any, boxes: Sequence[Box] = ()) -> ReelPlan:
    """How the clip of `photo` (its photos row) becomes a Reel per `settings` (the `[reels]` section), the pets'
    `boxes` kept in frame (with any boxes the sampled frames carry in photos.video)."""
    source = _source(data_dir, photo)
    facts = _facts(photo)
    width, height, duration = photo["width"] or 0, photo["height"] or 0, photo["duration_s"] or 0.0
    fps = facts.get("fps") if isinstance(facts.get("fps"), int | float) else None
    if not (width > 0 and height > 0 and duration > 0):
        width, height, duration, fps = upright_size(source)
    frames = [f for f in facts.get("frames") or [] if isinstance(f, dict)]
    seen = [b for f in frames for b in f.get("boxes") or [] if isinstance(b, list | tuple) and len(b) == 4]
    return plan_reel((int(width), int(height)), float(duration), fps, settings, boxes=[*boxes, *seen],
                     frames=frames)


def reel_path(data_dir: Path, photo: Any, plan: ReelPlan) -> Path:
    """Where the Reel of `photo` made by `plan` is kept."""
    key = hashlib.sha256(json.dumps([REEL_VERSION, photo["sha256"], plan.facts()]).encode()).hexdigest()[:16]
    return Path(data_dir) / FOLDER / f"{int(photo['id'])}-{key}.mp4"


def cached_reel(data_dir: Path, photo: Any, settings: Any, *, boxes: Sequence[Box] = ()) -> Path | None:
    """The Reel of `photo` if it is made already and still current (None: `ensure_reel` makes it)."""
    path = reel_path(data_dir, photo, reel_plan(data_dir, photo, settings, boxes))
    return path if path.is_file() else None


def ensure_reel(data_dir: Path, photo: Any, settings: Any, *, boxes: Sequence[Box] = (),
                progress: Progress | None = None) -> Path:
    """The Reels-ready MP4 of the video `photo` (its photos row), made now if it is not kept yet; CannotMakeReel
    (one line, for the draft) when the clip cannot be made into one or the made file breaks Instagram's rules."""
    plan = reel_plan(data_dir, photo, settings, boxes)
    dest = reel_path(data_dir, photo, plan)
    if dest.is_file():
        return dest
    with _making:
        if dest.is_file():  # made by another thread meanwhile
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.stem}.", suffix=".mp4")
        os.close(fd)
        tmp = Path(name)
        try:
            make_reel(_source(data_dir, photo), tmp, plan, progress=progress)
            problems = reel_problems(tmp)
            if problems:
                raise CannotMakeReel("the Reel made from the clip breaks Instagram's rules: " + "; ".join(problems))
            _fsync(tmp)
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
    for old in dest.parent.glob(f"{int(photo['id'])}-*.mp4"):
        if old != dest:
            old.unlink(missing_ok=True)
    return dest


def write_cover(data_dir: Path, photo: Any, settings: Any, dest: Path, *, seconds: float | None = None,
                boxes: Sequence[Box] = ()) -> tuple[int, int]:
    """Write the Reel's cover, the picture at `seconds` (default: photos.cover_at, else the start) framed as the Reel
    shows it, as a JPEG to `dest` (atomically); returns its size."""
    import io

    from bot.files import write_atomic

    plan = reel_plan(data_dir, photo, settings, boxes)
    at = seconds if seconds is not None else (photo["cover_at"] or 0.0)
    picture = reel_picture(_source(data_dir, photo), plan.geometry, max(0.0, float(at)))
    buf = io.BytesIO()
    picture.convert("RGB").save(buf, "JPEG", quality=COVER_QUALITY)
    write_atomic(dest, buf.getvalue())
    return picture.size


def _source(data_dir: Path, photo: Any) -> Path:
    source = Path(data_dir) / photo["path"]
    if not source.is_file():
        raise CannotMakeReel(f"the clip {photo['path']} is missing from the library")
    return source


def _facts(photo: Any) -> dict[str, Any]:
    try:
        facts = json.loads(photo["video"] or "{}")
    except (ValueError, TypeError):
        return {}
    return facts if isinstance(facts, dict) else {}


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())
