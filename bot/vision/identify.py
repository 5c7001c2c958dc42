"""`Vision`: the detector and embedder together — which animals are in a batch of photos and which pets they are.

One detector pass and one embedder pass per batch; boxes come back in the original image's pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bot.config import Config
from bot.runtime.ml import Runtime
from bot.vision.cache import box_key
from bot.vision.detector import Detector
from bot.vision.embedder import Embedder, padded_crop
from bot.vision.images import working_copy
from bot.vision.matching import References, match
from bot.vision.threshold import threshold_for

ANIMAL_LIKELY = 0.5  # a whole photo the classifier gives less than even odds of showing an animal holds none


@dataclass
class Animal:
    box: list[float]  # [x0, y0, x1, y1], original pixels; the whole image when nothing was detected
    score: float | None  # the detector's score; None for the whole image
    label: str | None  # the species the detector saw; None for the whole image
    pet: str | None  # None: an animal that is none of the owner's pets
    similarity: float
    confidence: float

    def to_json(self) -> dict[str, Any]:
        return {"box": [round(v, 1) for v in self.box], "score": None if self.score is None else round(self.score, 4),
                "label": self.label, "pet": self.pet, "similarity": round(self.similarity, 4),
                "confidence": round(self.confidence, 4)}


@dataclass
class PhotoAnalysis:
    """What one photo holds. With no detection the whole image was matched (`whole_image`); if even that is
    none of the pets, `no_animal` is set."""

    animals: list[Animal]
    whole_image: bool
    no_animal: bool
    width: int
    height: int
    # (box key, vector) for the whole image ('') and every detected animal, for the embedding cache.
    vectors: list[tuple[str, np.ndarray]] = field(default_factory=list, repr=False)
    # A photo matched whole: the embedder's classifier's odds that it shows an animal (None: not checked).
    animal_odds: float | None = None

    @property
    def shows_no_animal(self) -> bool:
        """The animal check found none in the whole photo: it is no pet, at any threshold."""
        return self.whole_image and self.animal_odds is not None and self.animal_odds < ANIMAL_LIKELY

    @property
    def unknown(self) -> int:
        return sum(1 for a in self.animals if a.pet is None)

    @property
    def pets(self) -> list[Animal]:
        """The recognised pets, most confident first."""
        return sorted((a for a in self.animals if a.pet), key=lambda a: a.confidence, reverse=True)

    @property
    def whole_vector(self) -> np.ndarray:
        return next(v for key, v in self.vectors if key == "")

    def to_json(self) -> dict[str, Any]:
        """The `photos.analysis` JSON (contract: animals, unknown, whole_image, no_animal)."""
        return {"animals": [a.to_json() for a in self.animals], "unknown": self.unknown,
                "whole_image": self.whole_image, "no_animal": self.no_animal}


class Vision:
    """The two vision models (keys "detector" and "embedder"), loaded on first use, unloaded when idle."""

    def __init__(self, config: Config, runtime: Runtime) -> None:
        self.config = config
        self.runtime = runtime
        self.detector = Detector(config.models.detector, runtime)
        self.embedder = Embedder(config.models.embedder, runtime, config.models.embed_views)

    @property
    def embedder_id(self) -> str:
        """The embedding cache key of the configured embedder."""
        return self.embedder.identity

    @property
    def species(self) -> list[str]:
        return sorted({p.species.lower() for p in self.config.pets}) or ["dog", "cat"]

    def embed_images(self, images: list[Any]) -> np.ndarray:
        """(n, dim) L2-normalised embeddings of whole images."""
        return self.embedder.embed([working_copy(im)[0] for im in images])

    def embed_texts(self, texts: list[str]) -> np.ndarray | None:
        """(n, dim) L2-normalised text embeddings, or None when the embedder cannot read text (e.g. DINOv2)."""
        return self.embedder.embed_texts(texts)

    def detect(self, images: list[Any]) -> list[list[tuple[list[float], float, str]]]:
        """Per image, its animals as (box in original pixels, score, species), best first; one model pass per
        `models.batch_size` images (a pet's reference photos can be many), halved if the GPU runs out of memory."""
        from bot.runtime.budget import in_batches

        work = [working_copy(im) for im in images]
        found = in_batches([w for w, _ in work], self.config.models.batch_size,
                           lambda chunk: self.detector.detect(chunk, self.species,
                                                              self.config.models.detection_threshold),
                           what="reference photos")
        return [[([v * scale for v in d.box], d.score, d.label) for d in dets]
                for dets, (_, scale) in zip(found, work, strict=True)]

    def embed_regions(self, images: list[Any], boxes: list[list[float] | None]) -> np.ndarray:
        """Embeddings of one padded crop per image (None: the whole image), boxes in original pixels."""
        crops = []
        for image, box in zip(images, boxes, strict=True):
            work, scale = working_copy(image)
            crops.append(padded_crop(work, [v / scale for v in box] if box else None))
        return self.embedder.embed(crops)

    def threshold(self, references: References) -> float:
        """The match threshold: the references' calibration, else the configured number."""
        if references.calibration is not None:
            return references.calibration.threshold
        return threshold_for(self.config.models.match_threshold, references).threshold

    def analyze(self, images: list[Any], references: References, threshold: float | None = None) -> list[PhotoAnalysis]:
        """Detect, embed and match a batch of photos: one detector pass and one embedder pass (none with
        `detector = "none"`: each whole photo is one animal)."""
        if not images:
            return []
        threshold = self.threshold(references) if threshold is None else threshold
        work = [working_copy(im) for im in images]
        found = self.detector.detect([w for w, _ in work], self.species, self.config.models.detection_threshold)
        crops, spans = [], []
        for (image, _), dets in zip(work, found, strict=True):
            spans.append((len(crops), len(dets)))
            crops.append(image)
            crops.extend(padded_crop(image, d.box) for d in dets)
        vectors = self.embedder.embed(crops)
        results = []
        for original, (_, scale), dets, (start, n) in zip(images, work, found, spans, strict=True):
            whole = vectors[start]
            animal_vectors = vectors[start + 1:start + 1 + n]
            boxes = [[v * scale for v in d.box] for d in dets]
            full = [0.0, 0.0, float(original.width), float(original.height)]
            keyed = [("", whole)] + [(box_key(b), v) for b, v in zip(boxes, animal_vectors, strict=True)]
            if dets:
                matches = match(animal_vectors, references, threshold)
                animals = [Animal(b, d.score, d.label, m.pet, m.similarity, m.confidence)
                           for b, d, m in zip(boxes, dets, matches, strict=True)]
                results.append(PhotoAnalysis(animals, False, False, original.width, original.height, keyed))
                continue
            # Nothing detected (an unusual pose, a close-up, a detector that does not know the species):
            # the whole photo is compared with the references instead, and the result says so.
            m = match(whole[None, :], references, threshold)[0]
            animals = [Animal(full, None, None, m.pet, m.similarity, m.confidence)] if m.pet else []
            results.append(PhotoAnalysis(animals, True, not animals, original.width, original.height, keyed))
        self._check_animals(results, [image for image, _ in work])
        return results

    def _check_animals(self, results: list[PhotoAnalysis], images: list[Any]) -> None:
        """The whole photos' odds of showing an animal, from the embedder's ImageNet-1k classifier where it has
        one (`models.animal_check`); one the odds are against is no pet."""
        whole = [i for i, r in enumerate(results) if r.whole_image]
        if not whole or not self.config.models.animal_check:
            return
        odds = self.embedder.animal_likelihood([images[i] for i in whole])
        if odds is None:
            return
        for i, p in zip(whole, odds, strict=True):
            results[i].animal_odds = float(p)
            if results[i].shows_no_animal:
                results[i].animals, results[i].no_animal = [], True

    def unload(self) -> None:
        self.detector.unload()
        self.embedder.unload()
