"""What a Reel is made of, decided before a frame is decoded: which window of the clip (trimmed to the best one when
it is too long), where the 9:16 frame is cut (the pets kept in it) or padded, the size, and the frame rate.

Pure arithmetic on the clip's facts (photos.video) and the `[reels]` settings; bot.video.transcode does the work.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from bot.errors import CannotMakeReel
from bot.limits import REELS_MAX_FPS, REELS_MIN_FPS, REELS_MIN_SECONDS, REELS_RATIO
from bot.publish.framing import Box, plan_frame

# The frame rates cameras use; a clip's average rate close to one of them (a variable-rate phone clip) is made at it.
COMMON_RATES = (Fraction(24000, 1001), Fraction(24), Fraction(25), Fraction(30000, 1001), Fraction(30),
                Fraction(50), Fraction(60000, 1001), Fraction(60))


@dataclass(frozen=True)
class Geometry:
    """How the upright picture becomes the Reel's: cut `crop` (x0, y0, x1, y1) out of it, scale that to `scaled`,
    and place it at `offset` on a black canvas of `size` (width, height); no padding when scaled == size."""

    crop: tuple[int, int, int, int]
    scaled: tuple[int, int]
    offset: tuple[int, int]
    size: tuple[int, int]


@dataclass(frozen=True)
class ReelPlan:
    """One Reel to make: the window [start, end) of the clip in seconds, the geometry, the constant frame rate, the
    encoder's quality and speed, and the shortest length (the last frame is held until it)."""

    start: float
    end: float
    geometry: Geometry
    rate: Fraction
    crf: int = 23
    preset: str = "fast"
    min_seconds: float = REELS_MIN_SECONDS

    @property
    def seconds(self) -> float:
        return max(self.end - self.start, self.min_seconds)

    def facts(self) -> list[Any]:
        """Everything the made file depends on, for its cache key."""
        g = self.geometry
        return [round(self.start, 3), round(self.end, 3), list(g.crop), list(g.scaled), list(g.offset), list(g.size),
                str(self.rate), self.crf, self.preset, self.min_seconds]


def plan_reel(upright: tuple[int, int], duration: float, fps: float | None, settings: Any, *,
              boxes: Sequence[Box] = (), frames: Sequence[dict] = ()) -> ReelPlan:
    """The Reel of a clip of `upright` size (rotation applied) and `duration` seconds at `fps` (its average), made
    per `settings` (the `[reels]` section); `boxes`: the pets in the upright picture; `frames`: photos.video's
    sampled frames ({"t", "score", ...}), which choose the window of a clip too long to post whole. A clip too long
    with too_long = "refuse" is CannotMakeReel."""
    if duration <= 0:
        raise CannotMakeReel("the clip has no length")
    start, end = 0.0, duration
    if duration > settings.max_seconds + 1e-6:
        if settings.too_long == "refuse":
            raise CannotMakeReel(f"the clip is {duration:.0f} seconds long; Reels are made of at most "
                                 f"{settings.max_seconds:g} (set [reels] too_long = \"trim\" to keep its best part)")
        start = best_window(frames, duration, settings.max_seconds)
        end = start + settings.max_seconds
    return ReelPlan(start, end, geometry(upright, settings.fit, settings.width, boxes), reel_rate(fps),
                    settings.crf, settings.preset)


def best_window(frames: Sequence[dict], duration: float, length: float) -> float:
    """Where the best `length` seconds of a clip start: the window whose sampled frames score highest on average
    (the best-shot score: sharp, the pet large and in frame); the start of the clip when nothing was scored."""
    scored = sorted((float(f["t"]), float(f["score"])) for f in frames
                    if isinstance(f, dict) and _number(f.get("t")) and _number(f.get("score")))
    latest = max(0.0, duration - length)
    if not scored:
        return 0.0
    best, best_mean = 0.0, -math.inf
    # A best window begins at a sampled frame (or ends the clip): moving it later until the next one only loses.
    for start in sorted({min(max(0.0, t), latest) for t, _ in scored} | {latest}):
        inside = [s for t, s in scored if start <= t < start + length]
        mean = sum(inside) / len(inside) if inside else -math.inf
        if mean > best_mean + 1e-9:
            best, best_mean = start, mean
    return best


def geometry(upright: tuple[int, int], fit: str, width: int, boxes: Sequence[Box] = ()) -> Geometry:
    """The 9:16 frame of an upright picture: "crop" cuts it keeping `boxes` (the pets) inside, padding only where a
    cut would lose a pet (bot.publish.framing's rule for photos); "pad" keeps the whole picture. The Reel is `width`
    wide (Instagram shows every Reel at its 9:16 size: a smaller file is only scaled up there)."""
    w, h = upright
    if w < 2 or h < 2:
        raise CannotMakeReel(f"the clip's picture ({w}x{h}) is too small")
    if fit == "crop":
        frame = plan_frame(w, h, boxes, REELS_RATIO)
        crop, canvas = frame.crop, frame.canvas
    else:
        crop = (0, 0, w, h)
        canvas = (w, math.ceil(w / REELS_RATIO)) if w / h > REELS_RATIO else (math.ceil(h * REELS_RATIO), h)
    out_w = _even(width)
    out_h = _even(out_w / REELS_RATIO)
    scale = min(out_w / canvas[0], out_h / canvas[1])
    cut_w, cut_h = crop[2] - crop[0], crop[3] - crop[1]
    scaled = (min(out_w, _even(cut_w * scale)), min(out_h, _even(cut_h * scale)))
    if abs(scaled[0] - out_w) <= 2 and abs(scaled[1] - out_h) <= 2:
        scaled = (out_w, out_h)  # a rounding pixel is stretched, not padded
    offset = ((out_w - scaled[0]) // 2 // 2 * 2, (out_h - scaled[1]) // 2 // 2 * 2)
    return Geometry(crop, scaled, offset, (out_w, out_h))


def reel_rate(fps: float | None) -> Fraction:
    """The Reel's constant frame rate: the clip's own (a camera's standard rate when it is close to one), within
    Instagram's REELS_MIN_FPS..REELS_MAX_FPS."""
    if not fps or not math.isfinite(fps) or fps <= 0:
        return Fraction(30)
    near = min(COMMON_RATES, key=lambda r: abs(float(r) - fps))
    rate = near if abs(float(near) - fps) <= 0.02 * fps else Fraction(round(fps))
    return min(max(rate, Fraction(REELS_MIN_FPS)), Fraction(REELS_MAX_FPS))


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
