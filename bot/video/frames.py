"""Pictures from a video clip: frames sampled across it (streamed, one at a time) and the frame shown at a given
second, each turned upright as the clip's rotation asks.

The frame "at" a time is the one on screen then: the last frame that starts at or before it. Each wanted time is
reached by seeking to the keyframe before it and decoding forward, so a long clip is never decoded whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from PIL import Image

from bot.errors import BadVideo
from bot.video.probe import frame_rotation, open_video, said

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".qt")


def is_video_path(path: Path) -> bool:
    """A library file that is a video clip (named for its format, as ingest stores it)."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def middle_frame(path: Path, *, max_side: int | None = None) -> Image.Image:
    """The frame shown halfway through the clip."""
    container = open_video(path)
    try:
        duration = _duration(container, _video_stream(container))
    finally:
        container.close()
    return frame_at(path, duration / 2, max_side=max_side)


def upright(image: Image.Image, rotation: int) -> Image.Image:
    """`image` turned `rotation` degrees counter-clockwise (VideoInfo.rotation), as the clip is shown."""
    turn = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_270}
    return image.transpose(turn[rotation]) if rotation in turn else image


def sample_times(duration_s: float, n: int) -> list[float]:
    """`n` times spread evenly across a clip: the middles of n equal parts (never the black first frame or the
    last one)."""
    if n < 1 or duration_s <= 0:
        return []
    return [duration_s * (i + 0.5) / n for i in range(n)]


def sample_frames(path: Path, n: int, *, max_side: int | None = None) -> Iterator[tuple[float, Image.Image]]:
    """`n` frames spread across the clip, in time order, as (seconds into the clip, upright RGB picture); one frame
    in memory at a time. `max_side` scales each picture down so its longer side is at most that (None: as stored).
    Times of frames that fall on the same picture (a clip shorter than n frames) are yielded once."""
    container = open_video(path)
    try:
        stream = _video_stream(container)
        duration = _duration(container, stream)
        last = None
        for t, frame in _frames_at(container, stream, sample_times(duration, n)):
            if frame.pts == last:
                continue
            last = frame.pts
            yield t, _picture(frame, max_side)
    finally:
        container.close()


def frame_at(path: Path, seconds: float, *, max_side: int | None = None) -> Image.Image:
    """The upright RGB picture on screen `seconds` into the clip (the last frame for a time past its end)."""
    container = open_video(path)
    try:
        stream = _video_stream(container)
        for _, frame in _frames_at(container, stream, [max(0.0, float(seconds))]):
            return _picture(frame, max_side)
    finally:
        container.close()
    raise BadVideo("its pictures cannot be decoded: no frame came out")


def _video_stream(container):
    if not container.streams.video:
        raise BadVideo("no picture in it (no video stream)")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    return stream


def _duration(container, stream) -> float:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return (container.duration or 0) / 1_000_000


def _frames_at(container, stream, times: list[float]) -> Iterator[tuple[float, object]]:
    """(frame time, frame) of the frame on screen at each of `times` (ascending), seeking before each."""
    import av

    start = float(stream.start_time * stream.time_base) if stream.start_time and stream.time_base else 0.0
    try:
        for wanted in times:
            container.seek(int((start + wanted) / stream.time_base), stream=stream, backward=True)
            shown = None
            for frame in container.decode(stream):
                if frame.time is None:
                    continue
                if shown is not None and frame.time - start > wanted + 1e-6:
                    break
                shown = frame
            if shown is None:
                raise BadVideo("its pictures cannot be decoded: no frame came out")
            yield round(max(0.0, shown.time - start), 6), shown
    except av.FFmpegError as exc:
        raise BadVideo(f"its pictures cannot be decoded: {said(exc)}") from exc


def _picture(frame, max_side: int | None) -> Image.Image:
    rotation = frame_rotation(frame)
    if max_side and max(frame.width, frame.height) > max_side:
        scale = max_side / max(frame.width, frame.height)
        frame = frame.reformat(width=max(2, round(frame.width * scale)), height=max(2, round(frame.height * scale)))
    return upright(frame.to_image(), rotation)
