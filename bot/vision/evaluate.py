"""`pawpost pets eval DIR`: recognition measured on the owner's own labelled photos, at the threshold in use.

DIR/<pet name>/*.jpg are photos of that pet, DIR/none/*.jpg photos of none of them; nothing is written to the
library (the pets' references are enrolled as usual).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bot.config import Config
from bot.errors import PawpostError
from bot.imagefiles import image_files
from bot.store.database import Store
from bot.vision.identify import PhotoAnalysis, Vision
from bot.vision.images import open_image
from bot.vision.matching import References, match, pet_thresholds
from bot.vision.pets import references
from bot.vision.threshold import threshold_for

NONE = "none"
SWEEP = [-0.2, -0.15, -0.1, -0.05, 0.0, 0.05, 0.1, 0.15, 0.2]  # offsets from the threshold in use


@dataclass
class EvalResult:
    threshold: float  # the home's: the lowest pet's
    thresholds: dict[str, float]  # each pet's own (calibrated ones may lie above the home's)
    threshold_source: str  # "calibrated" from the references, "configured", or "uncalibrated"
    threshold_how: str  # how it was found, in one sentence
    photos: int
    accuracy: float  # top-1: the most confident recognised pet (or none) is the folder's label
    unknown_rate: float  # photos of a pet recognised as no pet
    labels: list[str]
    confusion: dict[str, dict[str, int]]  # true label -> predicted label -> count
    sweep: list[dict[str, float]]  # the same measures at nearby thresholds
    predictions: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    animal_check: str = ""  # whether photos matched whole were checked for an animal, in one phrase
    no_animal: int = 0  # photos the animal check found no animal in (no pet at any threshold)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def evaluate(store: Store, config: Config, vision: Vision, folder: Path,
             progress: Callable[[int, int], None] | None = None) -> EvalResult:
    """Identify every labelled photo under `folder` and measure top-1 accuracy, unknown rate and confusion.
    `progress(done, total)` is called after each batch."""
    samples = _samples(config, folder)
    if not samples:
        raise PawpostError(f"{folder} has no photos in sub-folders named after your pets (or 'none')")
    refs = references(store, config, vision)
    truths, analyses, paths, skipped = [], [], [], []
    size = config.models.batch_size
    for start in range(0, len(samples), size):
        batch = []
        for path, label in samples[start:start + size]:
            try:
                batch.append((path, label, open_image(path, config.ingest.max_megapixels)))
            except PawpostError as exc:
                skipped.append(str(exc))
        results = vision.analyze([image for *_, image in batch], refs)
        for (path, label, _), result in zip(batch, results, strict=True):
            truths.append(label)
            analyses.append(result)
            paths.append(path)
        if progress is not None:
            progress(min(start + size, len(samples)), len(samples))
    threshold = vision.threshold(refs)
    calibration = refs.calibration or threshold_for(config.models.match_threshold, refs)
    labels = [p.name for p in config.pets] + [NONE]
    predicted = [_top1(a, refs, threshold) for a in analyses]
    confusion = {t: dict.fromkeys(labels, 0) for t in labels}
    for t, p in zip(truths, predicted, strict=True):
        confusion[t][p] += 1
    sweep = []
    for offset in SWEEP:
        t = round(threshold + offset, 3)
        if -1 <= t <= 1:
            sweep.append({"threshold": t, **_measures(truths, [_top1(a, refs, t) for a in analyses])})
    predictions = [{"path": str(path), "label": t, "predicted": p,
                    "pets": [{"name": a.pet, "confidence": round(a.confidence, 4), "similarity": round(a.similarity, 4)}
                             for a in analysis.pets],
                    "animal_odds": None if analysis.animal_odds is None else round(analysis.animal_odds, 4)}
                   for path, t, p, analysis in zip(paths, truths, predicted, analyses, strict=True)]
    own = {name: round(float(t), 4) for name, t in zip(refs.names, pet_thresholds(refs, threshold), strict=True)}
    return EvalResult(round(threshold, 4), own, calibration.source, calibration.how, len(truths),
                      **_measures(truths, predicted), labels=labels, confusion=confusion,
                      sweep=sweep, predictions=predictions, skipped=skipped,
                      animal_check=_animal_check(config, vision), no_animal=sum(a.shows_no_animal for a in analyses))


def _animal_check(config: Config, vision: Vision) -> str:
    if not config.models.animal_check:
        return "off (models.animal_check = false)"
    if getattr(vision.embedder, "head", None) is None:
        return "not available: the embedder has no ImageNet-1k classifier"
    return "on: the embedder's ImageNet-1k classifier checks each photo matched whole"


def _samples(config: Config, folder: Path) -> list[tuple[Path, str]]:
    if not folder.is_dir():
        raise PawpostError(f"{folder} is not a folder; give a folder with one sub-folder per pet (and 'none')")
    out = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if sub.name.lower() == NONE:
            label = NONE
        else:
            pet = config.pet(sub.name)
            if pet is None:
                known = ", ".join(p.name for p in config.pets)
                raise PawpostError(f"{sub}: no pet named {sub.name!r} (pets: {known}); name each sub-folder after "
                                   "a pet, or 'none' for photos of no pet")
            label = pet.name
        out += [(path, label) for path in image_files(sub)]
    return out


def _top1(analysis: PhotoAnalysis, refs: References, threshold: float) -> str:
    """The most confident pet at `threshold` (the same matching as the analysis stage), or 'none'."""
    if analysis.shows_no_animal:
        return NONE
    vectors = [v for key, v in analysis.vectors if key] or [analysis.whole_vector]
    found = [m for m in match(np.stack(vectors), refs, threshold) if m.pet]
    return max(found, key=lambda m: m.confidence).pet if found else NONE


def _measures(truths: list[str], predicted: list[str]) -> dict[str, float]:
    n = len(truths)
    of_pets = [(t, p) for t, p in zip(truths, predicted, strict=True) if t != NONE]
    return {
        "accuracy": round(sum(t == p for t, p in zip(truths, predicted, strict=True)) / n, 4) if n else 0.0,
        "unknown_rate": round(sum(p == NONE for _, p in of_pets) / len(of_pets), 4) if of_pets else 0.0,
    }
