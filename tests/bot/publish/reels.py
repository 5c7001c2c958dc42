"""Reels for the publishing tests: a real MP4 (tests.videos), its cover, the PreparedPost a publisher takes, and a
Reel draft that the real prepare makes small and fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.publish.base import PreparedMedium, PreparedPost
from tests.bot.publish.conftest import jpeg
from tests.bot.publish.video_drafts import make_reel_draft
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


def reel_ready(config: Any) -> Any:
    """`config` with a small, fast Reel (360 px wide, x264 superfast): the real prepare makes it in a blink."""
    config.reels.width = 360
    config.reels.preset = "superfast"
    return config


def make_reel(store: Any, caption: str = "Zoomies on the lawn 🐶 #chihuahua", *, status: str = "approved") -> int:
    """A Reel draft of a 3-second clip (Instagram's shortest Reel), as the pipeline leaves one."""
    return make_reel_draft(store, caption, status=status, seconds=3.0, fps=15, size=(320, 240))
