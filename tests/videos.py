"""Real little video clips for the tests, written with PyAV: moving coloured shapes (so frames differ), H.264 or HEVC,
rotation metadata, an uneven frame rate, sound or none, and Apple's Live Photo content identifier."""

from __future__ import annotations

import colorsys
import functools
import struct
from collections.abc import Callable
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import numpy as np

TIME_BASE = Fraction(1, 90000)
_ENCODERS = {"h264": "libx264", "hevc": "libx265"}


@functools.cache
def hevc_available() -> bool:
    """Whether this PyAV build can write HEVC (libx265)."""
    import av

    try:
        av.codec.Codec("libx265", "w")
    except (av.FFmpegError, ValueError):
        return False
    return True


def picture(i: int, count: int, size: tuple[int, int]) -> np.ndarray:
    """Frame `i` of `count`: a background whose hue turns over the clip, a white block crossing it, and a black
    corner at the top left (so a picture turned the wrong way shows)."""
    w, h = size
    r, g, b = colorsys.hsv_to_rgb(i / max(count, 1), 0.6, 0.7)
    img = np.empty((h, w, 3), np.uint8)
    img[:] = (int(r * 255), int(g * 255), int(b * 255))
    bw, bh = max(2, w // 5), max(2, h // 3)
    x = int((w - bw) * i / max(count - 1, 1))
    img[h // 3:h // 3 + bh, x:x + bw] = 255
    img[:h // 4, :w // 4] = 0
    return img


def frame_times(seconds: float, fps: float, vfr: bool) -> list[float]:
    """When each frame starts; with `vfr` the steps alternate short and long (half and one and a half frames)."""
    count = max(1, round(seconds * fps))
    if not vfr:
        return [i / fps for i in range(count)]
    times, t = [], 0.0
    for i in range(count):
        times.append(t)
        t += (0.5 if i % 2 else 1.5) / fps
    return [x * seconds / t for x in times] if t > seconds else times


def make_video(path: Path, *, codec: str = "h264", seconds: float = 2.0, fps: float = 30,
               size: tuple[int, int] = (320, 240), rotation: int = 0, vfr: bool = False, audio: bool = True,
               container: str | None = None, content_id: str | None = None, faststart: bool = False,
               creation_time: datetime | None = None,
               draw: Callable[[int, int, tuple[int, int]], np.ndarray] | None = None) -> Path:
    """Write a clip to `path` and return it. `size` is as stored (coded); `rotation` (0/90/180/270, counter-clockwise
    as probe reports it) goes into the display matrix. `container`: 'mp4' or 'mov' (default from the suffix).
    `content_id`: Apple's Live Photo identifier in the QuickTime metadata. `faststart`: the index before the frames
    (as phones and web uploads often write it) instead of after them. `creation_time`: when it was filmed, in the
    container's metadata. `draw(i, count, size)`: frame i's RGB pixels (default: `picture`)."""
    import av

    path = Path(path)
    fmt = container or ("mov" if path.suffix.lower() == ".mov" else "mp4")
    flags = [f for f, on in (("use_metadata_tags", content_id), ("faststart", faststart)) if on]
    options = {"movflags": "+".join(flags)} if flags else {}
    out = av.open(str(path), "w", format=fmt, options=options)
    try:
        if content_id:
            out.metadata["com.apple.quicktime.content.identifier"] = content_id
        if creation_time is not None:
            out.metadata["creation_time"] = creation_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
        video = out.add_stream(_ENCODERS.get(codec, codec), rate=round(fps))
        video.width, video.height, video.pix_fmt = size[0], size[1], "yuv420p"
        video.time_base = video.codec_context.time_base = TIME_BASE
        if codec == "hevc":
            video.codec_context.options = {"x265-params": "log-level=error"}
            video.codec_context.codec_tag = "hvc1"  # as Apple writes HEVC (and QuickTime/Safari require)
        if rotation:
            video.set_display_rotation(rotation)
        sound = None
        if audio:
            sound = out.add_stream("aac", rate=48000, layout="stereo")
        times = frame_times(seconds, fps, vfr)
        for i, t in enumerate(times):
            frame = av.VideoFrame.from_ndarray((draw or picture)(i, len(times), size), format="rgb24")
            frame.pts, frame.time_base = round(t / TIME_BASE), TIME_BASE
            out.mux(video.encode(frame))
        out.mux(video.encode())
        if sound is not None:
            _write_sound(out, sound, seconds)
    finally:
        out.close()
    return path


def _write_sound(out, stream, seconds: float) -> None:
    import av

    rate, step = 48000, 1024
    total = round(seconds * rate)
    for start in range(0, total, step):
        n = min(step, total - start)
        t = (np.arange(start, start + n) / rate).astype(np.float32)
        tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
        frame.sample_rate, frame.pts = rate, start
        out.mux(stream.encode(frame))
    out.mux(stream.encode())


def apple_maker_note(content_id: str) -> bytes:
    """An Apple maker note (as an iPhone writes into a Live Photo's still) holding only the content identifier:
    "Apple iOS\\0", version 1, big-endian, one IFD entry (tag 0x0011, ASCII) whose text follows the IFD."""
    text = content_id.encode("ascii") + b"\x00"
    ifd_end = 14 + 2 + 12 + 4
    inline = len(text) <= 4  # TIFF: a value of up to 4 bytes sits in the entry itself
    value = text.ljust(4, b"\x00") if inline else struct.pack(">I", ifd_end)
    entry = struct.pack(">HHI", 0x0011, 2, len(text)) + value
    return b"Apple iOS\x00" + b"\x00\x01" + b"MM" + struct.pack(">H", 1) + entry + b"\x00" * 4 + (
        b"" if inline else text)


def live_photo_exif(content_id: str | None, taken: datetime) -> bytes:
    """EXIF for a Live Photo's still: the capture time (with its offset) and, if given, the content identifier."""
    from PIL import Image

    exif = Image.Exif()
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = taken.astimezone(UTC).strftime("%Y:%m:%d %H:%M:%S")
    sub[0x9011] = "+00:00"
    if content_id:
        sub[0x927C] = apple_maker_note(content_id)
    return exif.tobytes()
