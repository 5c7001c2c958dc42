"""A Reel draft as the pipeline leaves one: a real clip (tests/videos.py) in data/library as a `photos` row of kind
'video' with its facts, and a draft whose one medium it is."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from bot import timeutil
from bot.drafts.media import add_draft
from tests.videos import make_video


def make_clip(store: Any, name: str = "clip.mp4", *, cover_at: float = 1.0, frames: list[dict] | None = None,
              **video: Any) -> int:
    """A clip under data/library (tests.videos.make_video's keywords), status drafted, as a `photos` row."""
    from bot.video.probe import probe

    folder = store.data_dir / "library"
    folder.mkdir(parents=True, exist_ok=True)
    path = make_video(folder / name, **video)
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    info = probe(path)
    now = timeutil.iso(timeutil.now())
    facts = {**info.facts(), "frames": frames or []}
    return store.insert("photos", sha256=sha, status="drafted", source_name=name, path=f"library/{name}",
                        format=info.format, width=info.width, height=info.height, size_bytes=len(data),
                        analysis=json.dumps({"animals": []}), created_at=now, updated_at=now, kind="video",
                        duration_s=info.duration_s, cover_at=cover_at, video=json.dumps(facts))


def make_reel_draft(store: Any, caption: str = "Zoomies at dusk 🐶 #chihuahua", *, status: str = "approved",
                    **clip: Any) -> int:
    """A Reel draft of one new clip (`make_clip`'s keywords)."""
    photo_id = make_clip(store, **clip)
    now = timeutil.iso(timeutil.now())
    return add_draft(store, [photo_id], status=status, caption=caption, created_at=now, updated_at=now,
                     approved_at=now if status == "approved" else None)
