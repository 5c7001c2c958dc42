"""Alt text: the plain, factual description of a photo that Instagram reads out to blind and low-vision people.

Written from the photo's description (the describer's words, when there is one) and the pets' names; the owner's
own text (the medium's alt_text) always wins. Each medium of a post has its own; every publisher posts the same.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from bot.drafts.media import Medium, media_of_drafts
from bot.vision.photo_pets import pets_in_photos

MAX_WORDS = 100

_URL = re.compile(r"https?://\S+")
_TAG = re.compile(r"(?<![\w#])[#@]\w+")


def write_alt_text(pets: Sequence[tuple[str, str]], description: str | None = None) -> str:
    """'Photo of Lola (a dog) and Max (a cat). A small dog lying on a blanket.' (MAX_WORDS words at most).

    `pets` are (name, species) pairs, most confident first; `description` is what the photo shows, if known.
    """
    named = [f"{name} (a {species})" if species else name for name, species in pets if name]
    if len(named) > 1:
        subject = f"Photo of {', '.join(named[:-1])} and {named[-1]}."
    elif named:
        subject = f"Photo of {named[0]}."
    else:
        subject = ""
    scene = _sentence(description)
    # Nothing known: no alt text rather than an empty phrase (Instagram then writes its own).
    return clip_words(" ".join(p for p in (subject, scene) if p), MAX_WORDS)


def clean_alt_text(text: str) -> str:
    """The owner's alt text as it will be posted: one line, at most MAX_WORDS words (refused when over)."""
    from bot.controls import refuse_controls
    from bot.errors import PawpostError

    text = refuse_controls(" ".join(text.split()), "alt text")
    if not text:
        raise PawpostError("alt text is empty; give a short plain description of the photo")
    words = len(text.split())
    if words > MAX_WORDS:
        raise PawpostError(f"alt text has {words} words; keep it to {MAX_WORDS} (plain, factual: who is in the photo "
                           "and what it shows)")
    return text


def clip_words(text: str, limit: int) -> str:
    words = text.split()
    if len(words) <= limit:
        return " ".join(words)
    return " ".join(words[:limit]).rstrip(",;:") + "..."


def _sentence(description: str | None) -> str:
    if not description:
        return ""
    # A describer's output, not a caption: no hashtags, handles or links belong in alt text.
    text = " ".join(_TAG.sub("", _URL.sub("", description)).split()).strip(" ,;:-")
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def draft_alt_text(store: Any, draft_id: int) -> str:
    """The alt text of a draft's first photo (what `drafts show` shows); "" for no such draft."""
    texts = media_alt_texts(store, draft_id)
    return texts[0] if texts else ""


def media_alt_texts(store: Any, draft_id: int) -> list[str]:
    """The alt text each medium of a draft posts with, in order: the owner's text, else one written from the
    medium's description and the photo's pets as the database knows them now."""
    media = media_of_drafts(store, [draft_id]).get(draft_id, [])
    pets = pets_in_photos(store, [m.photo_id for m in media])
    return [medium_alt_text(m, [(p.name, p.species) for p in pets.get(m.photo_id, [])]) for m in media]


def medium_alt_text(medium: Medium, pets: Sequence[tuple[str, str]]) -> str:
    """One medium's alt text: the owner's, else written from its description and its `pets` (name, species)."""
    if medium.alt_text and medium.alt_text.strip():
        return medium.alt_text.strip()
    return write_alt_text(pets, medium.description)
