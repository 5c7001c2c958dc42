"""Ranking caption candidates: saying what the photo shows, the voice's first person, novelty against past
captions and style examples, and length fit, less a penalty for phrases taken from the prompt.

The match is the embedder's image–text similarity when it can read text (CLIP, SigLIP), otherwise how many of
the scene's content words (description, what vision found, the owner's hint) the candidate picks up.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.captions import identity, quality
from bot.captions.text import body, ngrams, similarity, words
from bot.errors import PawpostError

log = logging.getLogger(__name__)

STOPWORDS = quality.STOPWORDS


@dataclass(frozen=True)
class Weights:
    match: float = 0.4  # says something about the photo
    voice: float = 0.25  # first person, when the voice asks for it
    novelty: float = 0.2  # unlike past captions and the style examples
    length: float = 0.15  # near the account's usual length
    echo: float = 0.5  # penalty: share of its phrases taken from the instructions or pets' descriptions
    intro: float = 0.3  # penalty: the speaking pet introduces itself ("I'm Lola the dog") instead of the photo
    unfinished: float = 0.3  # penalty: the words stop without ending a sentence ("My love for Christmas")
    reuse: float = 0.3  # penalty: share of its word pairs already used by the captions just chosen for other photos
    owner: float = 0.3  # penalty: the pet speaks of "my little dog" as its owner would, alone in the photo


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
    return quality.content_words(text)


def agreement(text: str, reference: str, names: Sequence[str] = ()) -> float:
    """Share of the reference's content words (what the photo shows) the candidate picks up, 0..1."""
    return quality.scene_overlap(text, reference, names)


def echo_share(text: str, sources: Sequence[str], n: int = 3) -> float:
    """Share of the candidate's 3-word phrases found in `sources` (instructions, pets' descriptions), 0..1."""
    grams = ngrams(words(text), n)
    if not grams or not sources:
        return 0.0
    theirs = set().union(*(ngrams(words(s), n) for s in sources))
    return len(grams & theirs) / len(grams)


def reused_share(text: str, recent: Sequence[str]) -> float:
    """Share of the candidate's word pairs that `recent` captions already use, 0..1 (an account whose captions
    all say "I love my little ..." reads as a template)."""
    grams = ngrams(words(text), 2)
    if not grams or not recent:
        return 0.0
    used = set().union(*(ngrams(words(r), 2) for r in recent))
    return len(grams & used) / len(grams)


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
    names: Sequence[str] = (),
    first_person: bool = False,
    echo_sources: Sequence[str] = (),
    speaker: str = "",
    recent: Sequence[str] = (),
    species: str = "",
    alone: bool = False,
) -> list[float]:
    """A score per candidate, higher is better. `reference` is what the photo shows (the pets' `names` aside);
    `matches` (image–text cosines) replace agreement with it; `first_person` rewards "I/my" when the voice
    asks for it; phrases from `echo_sources`, the `speaker`'s introducing itself and an unfinished last sentence
    are penalised, and so are word pairs the `recent` captions (this batch's others) already use, and, when the
    speaker is `alone` in the photo, calling an animal of its own `species` "my dog"; `past` includes the style
    examples shown."""
    if matches is not None:
        # Cosines of one photo's candidates differ by hundredths; spread them over 0..1 so they count.
        low, high = min(matches), max(matches)
        match = [(m - low) / (high - low) if high > low else 0.5 for m in matches]
    else:
        match = [agreement(t, reference, names) for t in texts]
    out = []
    for t, m in zip(texts, match, strict=True):
        voice = 1.0 if not first_person or quality.first_person(t) else 0.0
        value = (weights.match * m + weights.voice * voice + weights.novelty * novelty(t, past)
                 + weights.length * length_fit(t, target_length) - weights.echo * echo_share(t, echo_sources)
                 - weights.intro * quality.introduces(t, speaker) - weights.unfinished * quality.truncated(t)
                 - weights.reuse * reused_share(t, recent)
                 - weights.owner * bool(alone and identity.speaks_as_owner(t, species)))
        out.append(round(value, 4))
    return out
