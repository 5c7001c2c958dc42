"""Where a posted photo is cut: its frame within Instagram's ratio limits with the pets kept inside, the owner's own
frame when they set one, and the one aspect ratio of a carousel, chosen so that every photo keeps its pets.

Pure arithmetic on sizes and boxes (pixels of the upright original, [x0, y0, x1, y1]); bot.publish.prepare cuts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from bot.limits import MAX_RATIO, MIN_RATIO

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Frame:
    """Where to cut the upright original, and how large the canvas is after padding (in cut pixels)."""

    crop: tuple[int, int, int, int]
    canvas: tuple[int, int]

    @property
    def padded(self) -> bool:
        return self.canvas != (self.crop[2] - self.crop[0], self.crop[3] - self.crop[1])


@dataclass(frozen=True)
class Shot:
    """What framing knows of one photo of a post: its upright size, the pets' boxes, the owner's frame (if any)."""

    width: int
    height: int
    boxes: tuple[Box, ...] = ()
    crop: Box | None = None


def plan_frame(width: int, height: int, boxes: Sequence[Sequence[float]] = (), ratio: float | None = None) -> Frame:
    """The crop (and padding) that brings a width x height picture to `ratio` keeping `boxes` inside; without a
    `ratio`, to the nearest ratio within 4:5..1.91:1 (a picture already within them is left whole)."""
    own = width / height
    if ratio is None:
        if MIN_RATIO <= own <= MAX_RATIO:
            return Frame((0, 0, width, height), (width, height))
        ratio = MIN_RATIO if own < MIN_RATIO else MAX_RATIO
    union = _union(boxes, width, height)
    if math.isclose(own, ratio, rel_tol=1e-9):
        return Frame((0, 0, width, height), (width, height))
    if own < ratio:  # too tall: cut rows
        keep = max(1, math.floor(width / ratio))
        lo, hi = (union[1], union[3]) if union else (None, None)
        top, bottom = _window(height, keep, lo, hi)
        cut_h = bottom - top
        canvas_w = max(width, math.ceil(cut_h * ratio))
        return Frame((0, top, width, bottom), (canvas_w, cut_h))
    keep = max(1, math.floor(height * ratio))  # too wide: cut columns
    lo, hi = (union[0], union[2]) if union else (None, None)
    left, right = _window(width, keep, lo, hi)
    cut_w = right - left
    canvas_h = max(height, math.ceil(cut_w / ratio))
    return Frame((left, 0, right, height), (cut_w, canvas_h))


def frame_shot(shot: Shot, ratio: float | None = None) -> Frame:
    """The frame of one photo in the upright original's pixels. The owner's frame (`crop`) is kept whole: the photo
    is cut to it, then only padded to the ratio; otherwise the pets' boxes are kept inside the cut."""
    region = owner_region(shot)
    if region is None:
        return plan_frame(shot.width, shot.height, shot.boxes, ratio)
    x0, y0, x1, y1 = region
    inner = plan_frame(x1 - x0, y1 - y0, [(0, 0, x1 - x0, y1 - y0)], ratio)
    cx0, cy0, cx1, cy1 = inner.crop
    return Frame((x0 + cx0, y0 + cy0, x0 + cx1, y0 + cy1), inner.canvas)


def owner_region(shot: Shot) -> tuple[int, int, int, int] | None:
    """The owner's frame clipped to the photo, in whole pixels; None when there is none (or nothing is left)."""
    if shot.crop is None:
        return None
    found = _union([shot.crop], shot.width, shot.height)
    if found is None or found[2] - found[0] < 1 or found[3] - found[1] < 1:
        return None
    return found


def carousel_ratio(shots: Sequence[Shot]) -> float:
    """The one aspect ratio (width / height) for every photo of a carousel, within 4:5..1.91:1.

    Instagram shows every item of a carousel at the first item's ratio, so pawpost cuts them all to one, each photo's
    pets always kept whole (padded if they must be). A photo's share is how much of it is kept times how much of its
    frame it fills, squared (bars show more than a cut); the ratio with the best product of the shares wins, so one
    photo is never made mostly bars or a sliver to spare the others a little. Only the ratios where some photo's
    share turns (its own ratio, the widest or tallest cut that still holds its pets, the limits) can win; a tie goes
    to the one nearest the first photo's.
    """
    if not shots:
        raise ValueError("a carousel has at least one photo")
    candidates = {MIN_RATIO, MAX_RATIO, 1.0}
    for shot in shots:
        region = owner_region(shot)
        w, h = (region[2] - region[0], region[3] - region[1]) if region else (shot.width, shot.height)
        candidates.add(w / h)
        union = (0, 0, w, h) if region else _union(shot.boxes, w, h)
        if union is not None:
            candidates.update((max(1, union[2] - union[0]) / h, w / max(1, union[3] - union[1])))
    first = _own_ratio(shots[0])

    def score(ratio: float) -> tuple[float, float]:
        total = 0.0
        for shot in shots:
            frame = frame_shot(shot, ratio)
            cut = (frame.crop[2] - frame.crop[0]) * (frame.crop[3] - frame.crop[1])
            kept = cut / _area(shot)
            filled = cut / (frame.canvas[0] * frame.canvas[1])
            total += math.log(max(kept * filled * filled, 1e-12))
        return round(total, 9), -abs(math.log(ratio / first))

    clamped = sorted({min(MAX_RATIO, max(MIN_RATIO, c)) for c in candidates})
    return max(clamped, key=score)


def _own_ratio(shot: Shot) -> float:
    region = owner_region(shot)
    w, h = (region[2] - region[0], region[3] - region[1]) if region else (shot.width, shot.height)
    return min(MAX_RATIO, max(MIN_RATIO, w / h))


def _area(shot: Shot) -> int:
    region = owner_region(shot)
    if region is not None:
        return (region[2] - region[0]) * (region[3] - region[1])
    return shot.width * shot.height


def _window(total: int, keep: int, lo: int | None, hi: int | None) -> tuple[int, int]:
    """A span of `keep` pixels out of `total` holding [lo, hi], centred on it; wider than `keep` if it must be."""
    if lo is None or hi is None:
        start = (total - keep) // 2
        return start, start + keep
    if hi - lo >= keep:
        return lo, hi  # the pets need more than the ratio allows: keep them all, the caller pads
    start = round((lo + hi) / 2 - keep / 2)
    start = min(max(start, 0), total - keep)
    start = min(start, lo)
    start = max(start, hi - keep)
    return start, start + keep


def _union(boxes: Sequence[Sequence[float]], width: int, height: int) -> tuple[int, int, int, int] | None:
    valid = []
    for box in boxes:
        try:
            x0, y0, x1, y1 = (float(v) for v in box)
        except (TypeError, ValueError):
            continue
        x0, x1 = max(0.0, min(x0, x1)), min(float(width), max(x0, x1))
        y0, y1 = max(0.0, min(y0, y1)), min(float(height), max(y0, y1))
        if x1 > x0 and y1 > y0:
            valid.append((x0, y0, x1, y1))
    if not valid:
        return None
    return (math.floor(min(b[0] for b in valid)), math.floor(min(b[1] for b in valid)),
            math.ceil(max(b[2] for b in valid)), math.ceil(max(b[3] for b in valid)))
