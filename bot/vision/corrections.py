"""The owner's corrections: which pets are really in a photo (`pawpost drafts pets ID NAME...`, the review page).

The corrected photo's animals join those pets' references (origin 'correction'), so the mistake is less likely
to happen again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

import bot.vision.cache as cache
from bot import timeutil
from bot.config import Config
from bot.errors import ModelUnavailable, PawpostError
from bot.store.database import Store
from bot.vision.images import open_image
from bot.vision.matching import FORBIDDEN, References, assign, scores
from bot.vision.pets import configured_pet, ensure_pets, references

NO_PETS = "none"


@dataclass
class Correction:
    photo_id: int
    pets: list[dict[str, Any]]  # {"name", "box"} (box None: no animal of the photo could be given to the pet)
    references_added: int
    not_learned: str | None = None  # why no reference was learned (the embedder could not load), if so

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def set_draft_pets(store: Store, config: Config, vision: Any, draft_id: int, names: list[str]) -> Correction:
    """`set_photo_pets` on the first photo of a draft (`pawpost drafts pets ID NAME...`, the review page's pet
    boxes)."""
    from bot.drafts.media import first_photo

    return set_photo_pets(store, config, vision, first_photo(store, draft_id), names)


def set_photo_pets(store: Store, config: Config, vision: Any, photo_id: int, names: list[str]) -> Correction:
    """Set the pets in a photo by hand (`none` alone: no pet) and learn from it.

    The photo's animals (or the whole photo, when none was detected) are given one-to-one to the named pets,
    most alike first; each given animal becomes a reference of its pet.
    """
    canonical = _names(config, names)
    photo = store.photo(photo_id)
    if not photo["path"]:
        raise PawpostError(f"photo {photo_id} has no file in the library, so its pets cannot be set")
    ids = ensure_pets(store, config)
    given: dict[str, str] = {}
    unlearned = None
    if canonical:
        try:
            given = _give(store, config, vision, photo, canonical)
        except ModelUnavailable as exc:
            # The owner's word is a fact that needs no model: save it now; only the learning waits for one.
            unlearned = str(exc)
    now = timeutil.iso(timeutil.now())
    with store.tx() as db:
        db.execute("DELETE FROM photo_pets WHERE photo_id = ?", (photo_id,))
        db.execute("DELETE FROM pet_references WHERE photo_id = ? AND origin = 'correction'", (photo_id,))
        added = 0
        for name in canonical:
            key = given.get(name, "")
            db.execute("INSERT INTO photo_pets (photo_id, pet_id, confidence, box, source) VALUES (?, ?, 1.0, ?, "
                       "'owner')", (photo_id, ids[name], key))
            if name in given:
                cur = db.execute("INSERT OR IGNORE INTO pet_references (pet_id, sha256, path, origin, photo_id, box, "
                                 "created_at) VALUES (?, ?, ?, 'correction', ?, ?, ?)",
                                 (ids[name], photo["sha256"], photo["path"], photo_id, key, now))
                added += cur.rowcount
        store.event("photo.pets", f"owner set the pets of photo {photo_id}: {', '.join(canonical) or 'none'}",
                    photo_id=photo_id)
    pets = [{"name": n, "box": cache.parse_box(given[n]) if given.get(n) else None} for n in canonical]
    return Correction(photo_id, pets, added, unlearned)


def _give(store: Store, config: Config, vision: Any, photo: Any, canonical: list[str]) -> dict[str, str]:
    """Which of the photo's animals (box keys) each named pet is: one-to-one, most alike first."""
    regions = _regions(store, vision, photo)
    if not regions:
        return {}
    keys = [key for key, _ in regions]
    vectors = np.stack([v for _, v in regions])
    refs = references(store, config, vision)
    named = References(canonical, [refs.vectors[refs.names.index(n)] for n in canonical])
    # Every named pet may take any animal: a pet without references yet scores as "unlike" (-1), not never.
    s = scores(vectors, named)
    given = {}
    for i, j in enumerate(assign(np.where(s <= FORBIDDEN, -1.0, s), threshold=-np.inf)):
        if j is not None:
            given[canonical[j]] = keys[i]
    return given


def _names(config: Config, names: list[str]) -> list[str]:
    if [n.lower() for n in names] == [NO_PETS]:
        return []
    if NO_PETS in (n.lower() for n in names):
        raise PawpostError("'none' means no pet at all; give it alone, or only pet names")
    out: list[str] = []
    for name in names:
        pet = configured_pet(config, name).name
        if pet not in out:
            out.append(pet)
    return out


def _regions(store: Store, vision: Any, photo: Any) -> list[tuple[str, np.ndarray]]:
    """The photo's animals as (box key, embedding): its detections, or the whole photo when there were none."""
    analysis = json.loads(photo["analysis"]) if photo["analysis"] else None
    image = None
    if analysis is None:  # not analyzed yet: find its animals now
        image = open_image(store.abspath(photo["path"]))
        boxes: list[list[float] | None] = [box for box, _, _ in vision.detect([image])[0]]
    else:
        boxes = [a["box"] for a in analysis["animals"] if a.get("label") is not None]
    boxes = boxes or [None]
    keys = [(photo["sha256"], cache.box_key(b)) for b in boxes]
    have = cache.lookup(store, vision.embedder_id, keys)
    missing = [i for i, key in enumerate(keys) if key not in have]
    if missing:
        image = image if image is not None else open_image(store.abspath(photo["path"]))
        vectors = vision.embed_regions([image] * len(missing), [boxes[i] for i in missing])
        fresh = {keys[i]: v for i, v in zip(missing, vectors, strict=True)}
        cache.save(store, vision.embedder_id, fresh)
        have.update(fresh)
    return [(key[1], have[key]) for key in keys]
