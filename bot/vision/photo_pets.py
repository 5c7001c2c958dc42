"""Which pets are in a photo as the database knows them now (the model's guesses and the owner's corrections),
most confident first: the one reading that captions, posting, alt text and the review surfaces share.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.store.database import Store


@dataclass(frozen=True)
class PetInPhoto:
    name: str
    species: str
    confidence: float
    by_owner: bool  # set by the owner ('drafts pets', the review page), not guessed by the model


def pets_in(store: Store, photo_id: int) -> list[PetInPhoto]:
    """The pets in one photo, most confident first (then by name)."""
    return pets_in_photos(store, [photo_id]).get(photo_id, [])


def pets_in_photos(store: Store, photo_ids: list[int]) -> dict[int, list[PetInPhoto]]:
    """The pets in each of `photo_ids` (one query for a whole queue of drafts); a photo without pets is absent."""
    if not photo_ids:
        return {}
    marks = ",".join("?" * len(photo_ids))
    out: dict[int, list[PetInPhoto]] = {}
    for r in store.all(f"SELECT pp.photo_id, pets.name, pets.species, pp.confidence, pp.source FROM photo_pets pp "
                       f"JOIN pets ON pets.id = pp.pet_id WHERE pp.photo_id IN ({marks}) "
                       "ORDER BY pp.confidence DESC, pets.name", list(photo_ids)):
        out.setdefault(r["photo_id"], []).append(
            PetInPhoto(r["name"], r["species"], float(r["confidence"]), r["source"] == "owner"))
    return out
