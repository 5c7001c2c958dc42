"""Making a Reel's file: the clip streamed through decode -> upright -> the plan's 9:16 frame (crop or pad) -> scale
-> H.264 High 4:2:0 at a constant frame rate, its sound as AAC 48 kHz, into an MP4 with its index at the front.

One frame at a time: memory does not grow with the clip's length. The work is libav's (PyAV): decoding, the filter
graph and both encoders run in C, threaded as the ffmpeg command runs them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from bot.errors import CannotMakeReel
from bot.limits import REELS_AUDIO_BITRATE, REELS_MAX_AUDIO_RATE, REELS_MAX_VIDEO_BITRATE
from bot.video.reelplan import Geometry, ReelPlan

Progress = Callable[[float, float], None]  # (seconds made, seconds in all)

# A keyframe every two seconds: a player (the review page) seeks quickly.
KEYFRAME_SECONDS = 2
# The muxer's options: the index (moov) at the front, and no edit lists (Instagram's Reels rules).
MUX_OPTIONS = {"movflags": "+faststart", "use_editlist": "0"}


@dataclass(frozen=True)
class MadeReel:
    path: Path
    width: int
    height: int
    seconds: float
    rate: Fraction
    audio: bool


def upright_size(source: Path) -> tuple[int, int, float, float | None]:
    """The clip's picture size as shown (rotation applied), its length in seconds and average frame rate (the
    probe's reading of it)."""
    from bot.errors import BadVideo
    from bot.video.probe import probe

    try:
        info = probe(source)
    except BadVideo as exc:
        raise CannotMakeReel(f"the clip cannot be read: {exc.reason}") from None
    return info.width, info.height, info.duration_s, info.fps or None


def make_reel(source: Path, dest: Path, plan: ReelPlan, *, progress: Progress | None = None) -> MadeReel:
    """Write the Reel of `source` per `plan` to `dest` (the caller makes it atomic); CannotMakeReel when no picture
    decodes."""
    import av

    g = plan.geometry
    rate = plan.rate
    total_frames = max(1, math.ceil(plan.seconds * rate - 1e-9))
    step = 1 / float(rate)
    with _open(source) as src, av.open(str(dest), "w", format="mp4", options=MUX_OPTIONS) as out:
        vin = _video_stream(src)
        ain = next(iter(src.streams.audio), None)
        vout = out.add_stream("libx264", rate=rate)
        vout.width, vout.height = g.size
        vout.pix_fmt = "yuv420p"
        vout.time_base = Fraction(1) / rate
        # x264's frame threads, as the ffmpeg command uses them (PyAV asks for slice threads by default: fewer busy
        # cores and a slower Reel on a loaded machine).
        vout.codec_context.thread_type = "AUTO"
        vout.codec_context.gop_size = max(1, round(KEYFRAME_SECONDS * rate))
        vout.options = {"crf": str(plan.crf), "preset": plan.preset, "profile": "high",
                        "maxrate": str(REELS_MAX_VIDEO_BITRATE), "bufsize": str(2 * REELS_MAX_VIDEO_BITRATE),
                        "x264-params": "open-gop=0:scenecut=0"}
        aout = None
        if ain is not None:
            channels = min(2, ain.codec_context.channels or 2)
            aout = out.add_stream("aac", rate=REELS_MAX_AUDIO_RATE, layout="stereo" if channels == 2 else "mono")
            aout.bit_rate = REELS_AUDIO_BITRATE
        if plan.start > 0:
            src.seek(int(plan.start / vin.time_base), stream=vin, backward=True)
        made, pending, graph = 0, None, None
        audio = _AudioTrim(aout, plan.start, plan.end) if aout is not None else None
        streams = [vin] + ([ain] if ain is not None else [])
        for packet in src.demux(*streams):
            if packet.stream.type == "audio":
                if audio is not None:
                    audio.add(out, packet)
                continue
            for frame in _decode(packet):
                t = _time(frame) - plan.start
                if t >= plan.end - plan.start:
                    break
                if graph is None:
                    graph = _graph(vin, frame, g)
                shown = _filter(graph, frame)
                # Each output slot k shows the latest picture at or before its time (a constant rate from any clip).
                while pending is not None and made < total_frames and made * step + step / 2 <= t:
                    _encode(out, vout, pending, made, rate)
                    made += 1
                    if progress is not None and made % max(1, round(rate)) == 0:
                        progress(made * step, total_frames * step)
                pending = shown
            else:
                continue
            break  # the window's end is reached
        if pending is None:
            raise CannotMakeReel("no picture of the clip can be decoded")
        while made < total_frames:  # the rest of the last picture's time, or held until the shortest Reel
            _encode(out, vout, pending, made, rate)
            made += 1
        if audio is not None:
            audio.flush(out)
        for packet in vout.encode(None):
            out.mux(packet)
        if progress is not None:
            progress(total_frames * step, total_frames * step)
    return MadeReel(dest, g.size[0], g.size[1], total_frames * step, rate, aout is not None)


def reel_picture(source: Path, geometry: Geometry, seconds: float) -> Any:
    """The picture at `seconds` into the clip as the Reel shows it (upright, framed, scaled): a PIL image, for the
    cover."""
    with _open(source) as src:
        vin = _video_stream(src)
        if seconds > 0:
            src.seek(int(seconds / vin.time_base), stream=vin, backward=True)
        chosen = None
        for frame in _frames(src, vin):
            if chosen is not None and _time(frame) > seconds + 1e-6:
                break
            chosen = frame
        if chosen is None:
            raise CannotMakeReel("no picture of the clip can be decoded")
        return _filter(_graph(vin, chosen, geometry), chosen).to_image()


# -- the pieces --------------------------------------------------------------------------------------------------

def _open(source: Path) -> Any:
    from bot.errors import BadVideo
    from bot.video.probe import open_video

    try:
        return open_video(source)
    except BadVideo as exc:
        raise CannotMakeReel(f"the clip cannot be read: {exc.reason}") from None


def _video_stream(container: Any) -> Any:
    stream = next(iter(container.streams.video), None)
    if stream is None:
        raise CannotMakeReel("the file holds no picture")
    stream.thread_type = "AUTO"
    return stream


def _decode(packet: Any) -> list[Any]:
    import av

    try:
        return packet.decode()
    except av.FFmpegError:
        return []  # a damaged packet: its frames are skipped, as a player skips them


def _frames(container: Any, stream: Any) -> Iterator[Any]:
    for packet in container.demux(stream):
        yield from _decode(packet)


def _time(frame: Any) -> float:
    return float(frame.time) if frame.time is not None else 0.0


def _turn_filters(frame: Any) -> list[tuple[str, str]]:
    """The filters that show a frame upright (its rotation: how far it turns counter-clockwise to be shown)."""
    from bot.video.probe import frame_rotation

    turn = frame_rotation(frame)
    if turn == 90:
        return [("transpose", "cclock")]
    if turn == 270:
        return [("transpose", "clock")]
    if turn == 180:
        return [("hflip", ""), ("vflip", "")]
    return []


def _graph(stream: Any, first: Any, g: Geometry) -> Any:
    """upright -> cut -> scale -> pad -> 4:2:0, as one libavfilter graph (the pixels never come to Python)."""
    import av.filter

    graph = av.filter.Graph()
    x0, y0, x1, y1 = g.crop
    chain = [graph.add_buffer(width=first.width, height=first.height, format=first.format.name,
                              time_base=stream.time_base)]
    steps = [*_turn_filters(first),
             ("crop", f"{x1 - x0}:{y1 - y0}:{x0}:{y0}:exact=1"),
             ("scale", f"{g.scaled[0]}:{g.scaled[1]}:flags=bicubic")]
    if g.scaled != g.size:
        steps.append(("pad", f"{g.size[0]}:{g.size[1]}:{g.offset[0]}:{g.offset[1]}:black"))
    steps += [("format", "yuv420p"), ("setsar", "1")]
    for name, args in steps:
        chain.append(graph.add(name, args) if args else graph.add(name))
    chain.append(graph.add("buffersink"))
    graph.link_nodes(*chain).configure()
    return graph


def _filter(graph: Any, frame: Any) -> Any:
    graph.push(frame)
    return graph.pull()


def _encode(out: Any, stream: Any, frame: Any, index: int, rate: Fraction) -> None:
    frame.pts = index
    frame.time_base = Fraction(1) / rate
    for packet in stream.encode(frame):
        out.mux(packet)


class _AudioTrim:
    """The clip's sound within the window, resampled to the AAC encoder's 48 kHz, timed from the Reel's start."""

    def __init__(self, stream: Any, start: float, end: float) -> None:
        import av

        self.stream, self.start, self.end = stream, start, end
        self.resampler = av.AudioResampler(format="fltp", layout=stream.layout.name, rate=REELS_MAX_AUDIO_RATE)
        self.samples = 0
        self.limit = round((end - start) * REELS_MAX_AUDIO_RATE)

    def add(self, out: Any, packet: Any) -> None:
        for frame in _decode(packet):
            t = _time(frame)
            if t + frame.samples / frame.sample_rate <= self.start or t >= self.end:
                continue
            frame.pts = None
            for piece in self.resampler.resample(frame):
                self._encode(out, piece)

    def flush(self, out: Any) -> None:
        for piece in self.resampler.resample(None):
            self._encode(out, piece)
        for packet in self.stream.encode(None):
            out.mux(packet)

    def _encode(self, out: Any, frame: Any) -> None:
        if self.samples >= self.limit:
            return
        frame.pts = self.samples
        frame.time_base = Fraction(1, REELS_MAX_AUDIO_RATE)
        self.samples += frame.samples
        for packet in self.stream.encode(frame):
            out.mux(packet)
