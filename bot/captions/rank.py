"""Ranking caption candidates: image–text match, novelty against past captions, and length fit.

The match is the embedder's image–text similarity when it can read text (CLIP, SigLIP), otherwise how well
the candidate agrees with what is known about the photo (its description, pets and hint).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.captions.rules import body, similarity, words
from bot.errors import PawpostError

log = logging.getLogger(__name__)

_STOPWORDS = (
    "a an the and or but of to in on at for with by from is are was were be been am i me my we our you your it its "
    "this that these those he she him her his they them their there here so very just not no yes do does did has have "
    "had will would can could as if then than too up down out over into about what who how when where why all any "
    "some more most one two"
)
STOPWORDS = frozenset(_STOPWORDS.split())


@dataclass(frozen=True)
class Weights:
    match: float = 0.5
    novelty: float = 0.3
    length: float = 0.2


def length_fit(text: str, target: int) -> float:
    """1 at the account's usual length, falling off smoothly (half as long or twice as long: 0.5)."""
    n = len(body(text))
    if n == 0:
        return 0.0
    target = max(target, 1)
    return min(n, target) / max(n, target)


def novelty(text: str, past: Sequence[str]) -> float:
    """1 minus the similarity to the most alike past caption."""
    return 1.0 - max((similarity(text, p) for p in past), default=0.0)


def content_words(text: str) -> set[str]:
    return {_stem(w) for w in words(text) if w not in STOPWORDS and len(w) > 2}


def agreement(text: str, reference: str) -> float:
    """Share of the reference's content words (what the photo shows) the candidate picks up, 0..1."""
    ref = content_words(reference)
    if not ref:
        return 0.0
    hits = len(content_words(text) & ref)
    return min(1.0, hits / min(len(ref), 4))


def _stem(word: str) -> str:
    # Crude plural folding so "blankets" agrees with "blanket".
    return re.sub(r"(?<=[a-z]{3})(es|s)$", "", word)


def image_match(vision: Any, image: Any, texts: Sequence[str]) -> list[float] | None:
    """Cosine similarity of each text to the image in the embedder's space, or None when it cannot read text."""
    if vision is None or image is None or not texts:
        return None
    try:
        text_vectors = vision.embed_texts([body(t) or t for t in texts])
        if text_vectors is None:
            return None
        image_vector = vision.embed_images([image])[0]
    except PawpostError as exc:  # e.g. the embedder cannot load now: rank without it, say so in the log
        log.warning("ranking captions without image-text similarity: %s", exc)
        return None
    return [float(v @ image_vector) for v in text_vectors]


def scores(
    texts: Sequence[str],
    *,
    past: Sequence[str] = (),
    reference: str = "",
    target_length: int = 120,
    matches: Sequence[float] | None = None,
    weights: Weights = Weights(),
) -> list[float]:
    """A score per candidate, higher is better. `matches` (image–text cosines) replace description agreement."""
    if matches is not None:
        # Cosines of one photo's candidates differ by hundredths; spread them over 0..1 so they count.
        low, high = min(matches), max(matches)
        match = [(m - low) / (high - low) if high > low else 0.5 for m in matches]
    else:
        match = [agreement(t, reference) for t in texts]
    return [
        round(weights.match * m + weights.novelty * novelty(t, past) + weights.length * length_fit(t, target_length), 4)
        for t, m in zip(texts, match, strict=True)
    ]
