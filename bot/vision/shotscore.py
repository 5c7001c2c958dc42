"""The best-shot score: how good a frame is by what the owner would judge, from its pixels and what vision found.

Parts, each 0..1: sharpness and exposure measured on the pets' crop (not the background), the pets' size (the share
of the frame they fill) and place, and detection and recognition confidence; `total` weighs them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# How much each part counts. Sharpness and exposure decide between frames of one moment (a blurred or dark copy
# loses to its original whatever vision says); the rest prefers the frame where the pets show best.
WEIGHTS = {"sharpness": 0.4, "exposure": 0.25, "size": 0.1, "place": 0.05, "detection": 0.1, "recognition": 0.1}
# The crop is measured at this longest side, so frames of different resolutions compare alike.
MEASURE_SIDE = 640
# Variance of the Laplacian at which sharpness reaches about 0.63; crisp phone photos lie well above it.
SHARP_SCALE = 150.0
# Luminance (0-255) at or beyond which a pixel counts as clipped.
CLIP_LOW, CLIP_HIGH = 6, 249
# The pets filling this share of the frame count as fully "big enough".
FULL_SIZE = 0.35


@dataclass(frozen=True)
class Subject:
    """One animal vision found: its box in the upright image's pixels, detection score and recognition confidence."""

    box: tuple[float, float, float, float] | None  # None: the whole image
    detection: float | None
    recognition: float  # 0 for an animal that is none of the pets


def score(image: Any, subjects: Sequence[Subject]) -> dict[str, float]:
    """The score parts and their weighted `total` for an upright RGB PIL image."""
    width, height = image.size
    pets = [s for s in subjects if s.recognition > 0] or list(subjects)
    boxes = [s.box for s in pets if s.box is not None]
    box = _union(boxes, width, height) if boxes else (0.0, 0.0, float(width), float(height))
    grey = _grey(image.crop(tuple(round(v) for v in box)))
    area = max(1.0, (box[2] - box[0]) * (box[3] - box[1]))
    parts = {
        "sharpness": _sharpness(grey),
        "exposure": _exposure(grey),
        "size": round(min(1.0, area / (width * height)), 4) if boxes else 0.0,
        "place": _place(box, width, height) if boxes else 0.5,
        "detection": max((s.detection for s in pets if s.detection is not None), default=0.5),
        "recognition": max((s.recognition for s in pets), default=0.0),
    }
    size_credit = min(1.0, parts["size"] / FULL_SIZE)
    total = sum(WEIGHTS[k] * (size_credit if k == "size" else parts[k]) for k in WEIGHTS)
    return {k: round(float(v), 4) for k, v in {**parts, "total": total}.items()}


def subjects_of(analysis: dict[str, Any]) -> list[Subject]:
    """The animals of a `photos.analysis` document (bot.vision.identify.PhotoAnalysis.to_json)."""
    out = []
    for animal in analysis.get("animals", []):
        box = animal.get("box")
        recognised = animal.get("pet") is not None
        out.append(Subject(box=tuple(box) if box else None, detection=animal.get("score"),
                           recognition=float(animal.get("confidence") or 0.0) if recognised else 0.0))
    return out


def _grey(crop: Any) -> np.ndarray:
    side = max(crop.size)
    if side > MEASURE_SIDE:
        scale = MEASURE_SIDE / side
        crop = crop.resize((max(1, round(crop.width * scale)), max(1, round(crop.height * scale))))
    return np.asarray(crop.convert("L"), dtype=np.float32)


def _sharpness(grey: np.ndarray) -> float:
    """Variance of the Laplacian (edges' strength), squashed to 0..1: blur lowers it the most."""
    if grey.shape[0] < 3 or grey.shape[1] < 3:
        return 0.0
    lap = (grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:] - 4.0 * grey[1:-1, 1:-1])
    return 1.0 - math.exp(-float(lap.var()) / SHARP_SCALE)


def _exposure(grey: np.ndarray) -> float:
    """1 for a well exposed crop; clipped shadows or highlights and a mean far from mid-grey lower it."""
    if grey.size == 0:
        return 0.0
    clipped = float(np.mean((grey <= CLIP_LOW) | (grey >= CLIP_HIGH)))
    mean = float(grey.mean()) / 255.0
    # A dark subject (a black cat) is fine at a mean of 0.3; what matters is detail lost to clipping.
    balance = 1.0 - min(1.0, abs(mean - 0.5) / 0.5) ** 2
    return max(0.0, (1.0 - 2.0 * clipped) * balance)


def _place(box: tuple[float, float, float, float], width: int, height: int) -> float:
    """Near the middle is better; a box cut by the frame's edge (the pet cut off) costs a little."""
    cx, cy = (box[0] + box[2]) / 2 / width, (box[1] + box[3]) / 2 / height
    centred = 1.0 - min(1.0, math.hypot(cx - 0.5, cy - 0.5) / math.hypot(0.5, 0.5))
    margin = 0.01 * max(width, height)
    cut = sum(1 for edge in (box[0], box[1], width - box[2], height - box[3]) if edge < margin)
    return centred * (0.9 ** cut)


def _union(boxes: Sequence[tuple[float, ...]], width: int, height: int) -> tuple[float, float, float, float]:
    x0 = max(0.0, min(b[0] for b in boxes))
    y0 = max(0.0, min(b[1] for b in boxes))
    x1 = min(float(width), max(b[2] for b in boxes))
    y1 = min(float(height), max(b[3] for b in boxes))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return 0.0, 0.0, float(width), float(height)
    return x0, y0, x1, y1
