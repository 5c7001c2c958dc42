"""A video file's facts, read from its headers and packet index with PyAV: size as shown, rotation, length, frame
rate (and whether it varies), codecs, sound, and Apple's content identifier. Never decodes more than one frame.
"""

from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

from bot.errors import BadVideo

# QuickTime metadata key an iPhone writes into a Live Photo's motion clip (the still carries the same identifier).
CONTENT_ID_KEY = "com.apple.quicktime.content.identifier"
# When the clip was filmed: Apple's own key (local time with its offset) first, then the container's (UTC).
CREATION_KEYS = ("com.apple.quicktime.creationdate", "creation_time")

# Frame times that differ by more than this share of the usual step mean a variable frame rate (rounding in the
# container's time scale stays well below it).
VFR_SPREAD = 0.1


@dataclass(frozen=True)
class AudioInfo:
    codec: str
    rate: int
    channels: int


@dataclass(frozen=True)
class VideoInfo:
    """`width`/`height` as shown (rotation applied); `coded_*` as stored. `rotation`: degrees counter-clockwise the
    stored picture turns to be shown (0, 90, 180 or 270; PyAV's `VideoFrame.rotation` modulo 360). `format`: 'MP4'
    or 'MOV'."""

    width: int
    height: int
    coded_width: int
    coded_height: int
    rotation: int
    duration_s: float
    fps: float
    vfr: bool
    codec: str
    profile: str | None
    pix_fmt: str | None
    audio: AudioInfo | None
    content_id: str | None
    format: str
    taken_at: datetime | None = None  # when it was filmed (UTC), from the container's metadata

    def facts(self) -> dict:
        """The file's facts as stored in photos.video (the sampled frames are added by whoever samples them)."""
        return {"codec": self.codec, "profile": self.profile, "fps": self.fps, "vfr": self.vfr,
                "rotation": self.rotation,
                "audio": None if self.audio is None else {"codec": self.audio.codec, "rate": self.audio.rate,
                                                          "channels": self.audio.channels}}


def open_video(path: Path):
    """The file opened by PyAV, or BadVideo with the reason it cannot be."""
    import av

    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise BadVideo(f"cannot be read: {exc.strerror or exc}") from exc
    if size == 0:
        raise BadVideo("empty file (0 bytes)")
    try:
        return av.open(str(path), metadata_errors="replace")
    except (av.FFmpegError, OSError, UnicodeDecodeError, ValueError) as exc:
        raise BadVideo(f"not a readable video: {said(exc)}") from exc


def probe(path: Path) -> VideoInfo:
    """The facts of the video at `path`; BadVideo (one line) for an empty, cut-short or unreadable file, one with no
    picture, or one whose first frame cannot be decoded."""
    import av

    path = Path(path)
    container = open_video(path)
    try:
        if not container.streams.video:
            raise BadVideo("no picture in it (no video stream)")
        stream = container.streams.video[0]
        entries = list(stream.index_entries)
        if not entries:
            raise BadVideo("no frames in it")
        end = max(e.pos + e.size for e in entries)
        if end > path.stat().st_size:
            raise BadVideo(f"cut short: frames run to byte {end:,} of a {path.stat().st_size:,}-byte file")
        rotation = _first_frame_rotation(container, stream)
        duration = _duration(container, stream, entries)
        if duration <= 0:
            raise BadVideo("no length (0 seconds)")
        ctx = stream.codec_context
        coded_w, coded_h = ctx.width, ctx.height
        shown = (coded_h, coded_w) if rotation in (90, 270) else (coded_w, coded_h)
        audio = None
        if container.streams.audio:
            a = container.streams.audio[0].codec_context
            audio = AudioInfo(codec=a.name, rate=int(a.sample_rate or 0), channels=int(a.channels or 0))
        brand = str(container.metadata.get("major_brand", "")).strip()
        fmt = "MOV" if brand == "qt" or (not brand and path.suffix.lower() == ".mov") else "MP4"
        return VideoInfo(width=shown[0], height=shown[1], coded_width=coded_w, coded_height=coded_h,
                         rotation=rotation, duration_s=duration, fps=_fps(stream, entries, duration),
                         vfr=_vfr(entries), codec=ctx.name, profile=stream.profile, pix_fmt=ctx.pix_fmt,
                         audio=audio, content_id=content_id(container.metadata), format=fmt,
                         taken_at=creation_time(container.metadata))
    except av.FFmpegError as exc:
        raise BadVideo(f"not a readable video: {said(exc)}") from exc
    finally:
        container.close()


def content_id(metadata: dict) -> str | None:
    for key, value in metadata.items():
        if key.lower() == CONTENT_ID_KEY and str(value).strip():
            return str(value).strip()
    return None


def frame_rotation(frame) -> int:
    """A decoded frame's display rotation, counter-clockwise, in 0..359."""
    return round(frame.rotation or 0) % 360


def creation_time(metadata: dict) -> datetime | None:
    """When the clip was filmed, as UTC; None when absent, unreadable, or an encoder's zero date (1904, 1970)."""
    lowered = {str(k).lower(): str(v).strip() for k, v in metadata.items()}
    for key in CREATION_KEYS:
        text = lowered.get(key, "")
        if not text:
            continue
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():
            text = text[:-2] + ":" + text[-2:]  # Apple writes +0200
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        if moment.year > 1970:
            return moment.astimezone(UTC)
    return None


def _first_frame_rotation(container, stream) -> int:
    """The rotation the display matrix asks for, read from the first decoded frame (PyAV exposes no stream-level
    getter); decoding it also shows the codec can be read."""
    import av

    try:
        for frame in container.decode(stream):
            return frame_rotation(frame)
    except av.FFmpegError as exc:
        raise BadVideo(f"its pictures cannot be decoded: {said(exc)}") from exc
    raise BadVideo("its pictures cannot be decoded: no frame came out")


def _duration(container, stream, entries) -> float:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000
    stamps = sorted(e.timestamp for e in entries)
    return float((stamps[-1] - stamps[0]) * (stream.time_base or Fraction(1, 1)))


def _fps(stream, entries, duration: float) -> float:
    rate = stream.average_rate or stream.guessed_rate
    if rate:
        return round(float(rate), 3)
    return round(len(entries) / duration, 3)


def _vfr(entries) -> bool:
    stamps = sorted(e.timestamp for e in entries)
    steps = [b - a for a, b in itertools.pairwise(stamps) if b > a]
    if len(steps) < 2:
        return False
    usual = statistics.median(steps)
    return (max(steps) - min(steps)) > VFR_SPREAD * usual


def said(exc: BaseException) -> str:
    """An FFmpeg error as one short line, without the file's path."""
    text = getattr(exc, "strerror", None) or str(exc)
    return " ".join(str(text).split())[:200]
