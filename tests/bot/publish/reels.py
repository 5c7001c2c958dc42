"""Reels for the publishing tests: a real MP4 (tests.videos), its cover, the PreparedPost a publisher
takes, and a video draft in the store as ingest leaves one.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from bot import timeutil
from bot.drafts.media import add_draft
from bot.publish.base import PreparedMedium, PreparedPost
from bot.publish.poster import Poster
from tests.bot.publish.conftest import jpeg
from tests.videos import make_video

SIZE = (180, 320)  # 9:16, tiny: tests stay fast
SECONDS = 1.0


def mp4(path: Path, *, seconds: float = SECONDS, size: tuple[int, int] = SIZE, fps: int = 15) -> Path:
    """A real H.264 MP4 with sound (tests.videos.make_video), `seconds` long, tiny."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return make_video(path, seconds=seconds, size=size, fps=fps)


def reel_medium(folder: Path, *, alt_text: str = "a chihuahua runs across the lawn", cover: bool = True,
                seconds: float = SECONDS) -> PreparedMedium:
    """A prepared Reel medium: the MP4 and its cover JPEG, as bot.publish.prepare stages them."""
    video = mp4(folder / "reel.mp4", seconds=seconds)
    cover_path = folder / "reel-cover.jpg"
    if cover:
        cover_path.write_bytes(jpeg(SIZE, (240, 200, 40)))
    return PreparedMedium(path=video, kind="video", alt_text=alt_text, width=SIZE[0], height=SIZE[1],
                          cover=cover_path if cover else None, duration=seconds)


def reel_post(folder: Path, caption: str = "Zoomies on the lawn 🐶 #chihuahua", *, draft_id: int = 1,
              nonce: str = "0123456789abcdef0123456789abcdef", **medium: Any) -> PreparedPost:
    return PreparedPost(draft_id=draft_id, media=(reel_medium(folder, **medium),), caption=caption, nonce=nonce,
                        pets=("Lola",))


def make_reel_draft(store: Any, caption: str = "Zoomies on the lawn 🐶 #chihuahua", *,
                    status: str = "approved") -> int:
    """A video (a real MP4 under data/library, kind video, status drafted) and its Reel draft."""
    folder = store.data_dir / "library"
    video = mp4(folder / f"clip-{hashlib.sha256(caption.encode()).hexdigest()[:10]}.mp4")
    data = video.read_bytes()
    sha = hashlib.sha256(data + caption.encode()).hexdigest()
    now = timeutil.iso(timeutil.now())
    facts = {"codec": "h264", "profile": "High", "fps": 15.0, "vfr": False, "rotation": 0, "audio": None,
             "frames": [{"t": 0.5, "score": 0.8, "pets": ["Lola"]}]}
    photo_id = store.insert("photos", sha256=sha, status="drafted", source_name=video.name,
                            path=f"library/{video.name}", format="MP4", width=SIZE[0], height=SIZE[1],
                            size_bytes=len(data), analysis=json.dumps({"animals": []}), created_at=now,
                            updated_at=now, kind="video", duration_s=SECONDS, cover_at=0.5, video=json.dumps(facts))
    return add_draft(store, [photo_id], status=status, caption=caption, created_at=now, updated_at=now,
                     approved_at=now if status == "approved" else None)


def library_reel(store: Any, draft_id: int, folder: Path, caption: str, nonce: str) -> PreparedPost:
    """The draft's video as a publisher takes it (its library file and a cover), for the tests that drive the poster
    before bot.publish.prepare makes Reels."""
    row = store.one("SELECT p.* FROM draft_media m JOIN photos p ON p.id = m.photo_id WHERE m.draft_id = ?",
                    (draft_id,))
    cover = folder / f"cover-{draft_id}.jpg"
    cover.parent.mkdir(parents=True, exist_ok=True)
    cover.write_bytes(jpeg(SIZE, (240, 200, 40)))
    medium = PreparedMedium(path=store.data_dir / row["path"], kind="video", alt_text="a chihuahua runs",
                            width=row["width"], height=row["height"], cover=cover, duration=row["duration_s"])
    return PreparedPost(draft_id=draft_id, media=(medium,), caption=caption, nonce=nonce, pets=("Lola",))


class ReelPoster(Poster):
    """The real poster, with prepare's share for a video draft done by `library_reel` (its library MP4 and a
    cover), so the publishers' Reel paths run under the poster's exactly-once protocol on their own."""

    def _prepare(self, draft_id: int, caption: str, nonce: str, alt_texts: list[str], staging: Path) -> PreparedPost:
        return library_reel(self.store, draft_id, staging, caption, nonce)
