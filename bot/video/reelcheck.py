"""Instagram's Reels rules checked on a file as it is (bot.limits' REELS_*): its facts read back by the probe, and
its MP4 boxes walked for the index (moov) before the media data (mdat) and for edit lists.

Used on every Reel pawpost makes before it is kept, and by whoever must refuse to post a file that breaks a rule.
Closed GOPs and progressive scan are the encoder's settings (bot.video.transcode) and are not read back.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

from bot.errors import BadVideo
from bot.limits import (
    REELS_AUDIO_CODECS,
    REELS_CONTAINERS,
    REELS_MAX_AUDIO_CHANNELS,
    REELS_MAX_AUDIO_RATE,
    REELS_MAX_BYTES,
    REELS_MAX_FPS,
    REELS_MAX_SECONDS,
    REELS_MAX_VIDEO_BITRATE,
    REELS_MAX_WIDTH,
    REELS_MIN_FPS,
    REELS_MIN_SECONDS,
    REELS_PIX_FMTS,
    REELS_VIDEO_CODECS,
)

# Boxes that hold other boxes, on the way from the top to an edit list (moov/trak/edts/elst).
_CONTAINERS = {b"moov", b"trak", b"edts"}
# A frame rate or a length read back from a container is rounded by its time scale.
_SLACK = 0.01


def reel_problems(path: Path) -> list[str]:
    """Every way the file at `path` breaks Instagram's Reels rules, one short phrase each; [] when it keeps them."""
    from bot.video.probe import probe

    path = Path(path)
    problems: list[str] = []
    size = path.stat().st_size if path.is_file() else 0
    if size > REELS_MAX_BYTES:
        problems.append(f"{size / 1e6:.0f} MB is over the {REELS_MAX_BYTES / 1e6:.0f} MB limit")
    try:
        info = probe(path)
    except BadVideo as exc:
        return [*problems, f"not a readable video: {exc.reason}"]
    problems += _layout(path)
    if info.format.lower() not in REELS_CONTAINERS:
        problems.append(f"container {info.format} is not MP4 or MOV")
    if info.codec not in REELS_VIDEO_CODECS:
        problems.append(f"video codec {info.codec} is not H.264 or HEVC")
    if info.pix_fmt not in REELS_PIX_FMTS:
        problems.append(f"pixels {info.pix_fmt} are not 4:2:0")
    if not REELS_MIN_FPS - _SLACK <= info.fps <= REELS_MAX_FPS + _SLACK:
        problems.append(f"{info.fps:g} frames a second is outside {REELS_MIN_FPS}-{REELS_MAX_FPS}")
    if info.width > REELS_MAX_WIDTH:
        problems.append(f"{info.width} px wide is over {REELS_MAX_WIDTH}")
    if not REELS_MIN_SECONDS - _SLACK <= info.duration_s <= REELS_MAX_SECONDS + _SLACK:
        problems.append(f"{info.duration_s:.2f} seconds is outside {REELS_MIN_SECONDS:g}-{REELS_MAX_SECONDS:g}")
    elif size * 8 / info.duration_s > REELS_MAX_VIDEO_BITRATE * 1.05:
        problems.append(f"{size * 8 / info.duration_s / 1e6:.1f} Mbps is over "
                        f"{REELS_MAX_VIDEO_BITRATE / 1e6:.0f} Mbps")
    if info.audio is not None:
        if info.audio.codec not in REELS_AUDIO_CODECS:
            problems.append(f"audio codec {info.audio.codec} is not AAC")
        if info.audio.rate > REELS_MAX_AUDIO_RATE:
            problems.append(f"audio at {info.audio.rate} Hz is over {REELS_MAX_AUDIO_RATE}")
        if not 1 <= info.audio.channels <= REELS_MAX_AUDIO_CHANNELS:
            problems.append(f"{info.audio.channels} audio channels (mono or stereo only)")
    return problems


def _layout(path: Path) -> list[str]:
    """The MP4 layout rules: the index (moov) before the media data (mdat), no edit list (elst)."""
    top = [name for name, _, _ in _boxes(path, 0, path.stat().st_size)]
    problems = []
    if b"moov" not in top:
        problems.append("no moov box (not an MP4)")
    elif b"mdat" in top and top.index(b"mdat") < top.index(b"moov"):
        problems.append("the moov box comes after the media data (not faststart)")
    if _has_edit_list(path):
        problems.append("it has an edit list")
    return problems


def _has_edit_list(path: Path) -> bool:
    pending = [(s, e) for name, s, e in _boxes(path, 0, path.stat().st_size) if name == b"moov"]
    while pending:
        start, end = pending.pop()
        for name, body, box_end in _boxes(path, start, end):
            if name == b"elst":
                return True
            if name in _CONTAINERS:
                pending.append((body, box_end))
    return False


def _boxes(path: Path, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """The boxes between byte `start` and `end`: (type, where its body starts, where it ends)."""
    with open(path, "rb") as fh:
        at = start
        while at + 8 <= end:
            fh.seek(at)
            size, name = struct.unpack(">I4s", fh.read(8))
            header = 8
            if size == 1:
                size = struct.unpack(">Q", fh.read(8))[0]
                header = 16
            elif size == 0:
                size = end - at
            if size < header or at + size > end:
                return  # a damaged box: nothing after it can be trusted
            yield name, at + header, at + size
            at += size
