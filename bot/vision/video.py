"""Seeing a video clip: `ingest.video_frames` frames sampled across it go through the same vision as photos (one
detector and embedder pass per batch of frames); a pet counts when it is recognised in at least PET_SHARE of the
frames (and in one at least); the frame with the best best-shot score is the cover (`photos.cover_at`).

The clip's analysis, boxes and cached vectors are its cover frame's, in the clip's displayed pixels; every sampled
frame's time, score and pets go to `photos.video["frames"]`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import bot.vision.shotscore as shotscore
from bot.config import Config
from bot.video.frames import sample_frames
from bot.vision.cache import box_key
from bot.vision.identify import Animal, PhotoAnalysis, Vision
from bot.vision.images import WORK_SIDE
from bot.vision.matching import References

PET_SHARE = 0.25


@dataclass
class ClipAnalysis:
    """What a clip shows: the analysis to record (its cover frame's, with the counted pets), the cover frame's
    best-shot score parts, where the cover lies, and each sampled frame as photos.video["frames"] lists it."""

    result: PhotoAnalysis
    shot: dict[str, float]
    cover_at: float
    frames: list[dict[str, Any]]


def analyze_clip(config: Config, vision: Vision, path: Any, size: tuple[int, int],
                 references: References) -> ClipAnalysis:
    """Sample the clip at `path` (displayed `size`), see each frame, count the pets, choose the cover."""
    seen: list[tuple[float, PhotoAnalysis, dict[str, float]]] = []
    chunk: list[tuple[float, Any]] = []

    def look() -> None:
        results = vision.analyze([image for _, image in chunk], references)
        for (t, image), result in zip(chunk, results, strict=True):
            shot = shotscore.score(image, shotscore.subjects_of(result.to_json()))
            seen.append((t, _scaled(result, size[0] / image.width), shot))  # the image is dropped here
        chunk.clear()

    # Frames no larger than the models' working size: a 4K clip never has more than one batch of them in memory.
    for t, image in sample_frames(path, config.ingest.video_frames, max_side=WORK_SIDE):
        chunk.append((t, image))
        if len(chunk) >= config.models.batch_size:
            look()
    if chunk:
        look()
    if not seen:
        raise ValueError(f"{path}: no frame could be sampled")
    counted = counted_pets([result for _, result, _ in seen])
    best = max(range(len(seen)), key=lambda i: (seen[i][2]["total"], -i))
    t, cover, shot = seen[best]
    frames = [{"t": round(t_, 3), "score": s["total"], "pets": sorted({a.pet for a in r.pets})}
              for t_, r, s in seen]
    return ClipAnalysis(_with_pets(cover, [r for _, r, _ in seen], counted), shot, round(t, 3), frames)


def counted_pets(results: list[PhotoAnalysis]) -> dict[str, float]:
    """The pets recognised in at least PET_SHARE of the frames (at least one), each with its mean confidence over
    the frames it was seen in."""
    confidences: dict[str, list[float]] = {}
    for result in results:
        for name in {a.pet for a in result.pets}:
            confidences.setdefault(name, []).append(max(a.confidence for a in result.pets if a.pet == name))
    needed = max(1, math.ceil(PET_SHARE * len(results)))
    return {name: sum(c) / len(c) for name, c in confidences.items() if len(c) >= needed}


def _scaled(result: PhotoAnalysis, factor: float) -> PhotoAnalysis:
    """A frame's analysis with its boxes in the clip's displayed pixels."""
    if abs(factor - 1.0) < 1e-6:
        return result
    animals = [Animal([v * factor for v in a.box], a.score, a.label, a.pet, a.similarity, a.confidence)
               for a in result.animals]
    keys = [""] + [box_key(a.box) for a in animals]
    vectors = [(key, v) for key, (_, v) in zip(keys, result.vectors, strict=False)]
    return PhotoAnalysis(animals, result.whole_image, result.no_animal, round(result.width * factor),
                         round(result.height * factor), vectors)


def _with_pets(cover: PhotoAnalysis, frames: list[PhotoAnalysis], counted: dict[str, float]) -> PhotoAnalysis:
    """The cover frame's analysis naming exactly the counted pets: a pet counted but not recognised in the cover
    frame is added with its box from the frame it was most sure of; one seen too rarely becomes an unknown animal."""
    animals = []
    for a in cover.animals:
        if a.pet is not None and a.pet not in counted:
            a = Animal(a.box, a.score, a.label, None, a.similarity, 0.0)
        elif a.pet is not None:
            a = Animal(a.box, a.score, a.label, a.pet, a.similarity, counted[a.pet])
        animals.append(a)
    for name, confidence in counted.items():
        if any(a.pet == name for a in animals):
            continue
        best = max((a for f in frames for a in f.pets if a.pet == name), key=lambda a: a.confidence)
        animals.append(Animal(best.box, best.score, best.label, name, best.similarity, confidence))
    no_animal = not animals and cover.no_animal
    return PhotoAnalysis(animals, cover.whole_image, no_animal, cover.width, cover.height, cover.vectors)
