"""bot/vision/photo_pets.py: the pets in a photo, most confident first, the owner's word marked, for one or many."""

from __future__ import annotations

from bot.store.database import Store
from bot.vision.photo_pets import PetInPhoto, pets_in, pets_in_photos

NOW = "2026-11-22T10:00:00+00:00"


def add_photo(store: Store, name: str) -> int:
    return store.insert("photos", sha256=f"sha-{name}", status="analyzed", source_name=name, created_at=NOW,
                        updated_at=NOW)


def add_pet(store: Store, name: str, species: str = "dog") -> int:
    return store.insert("pets", name=name, species=species, created_at=NOW)


def test_most_confident_first_then_by_name(store: Store) -> None:
    lola, pico, mia = add_pet(store, "Lola"), add_pet(store, "Pico"), add_pet(store, "Mia", "cat")
    photo, other, empty = add_photo(store, "a.jpg"), add_photo(store, "b.jpg"), add_photo(store, "c.jpg")
    for pet, confidence in ((pico, 0.7), (lola, 0.7), (mia, 0.9)):
        store.insert("photo_pets", photo_id=photo, pet_id=pet, confidence=confidence, source="model")
    store.insert("photo_pets", photo_id=other, pet_id=pico, confidence=1.0, source="owner")
    assert pets_in(store, photo) == [PetInPhoto("Mia", "cat", 0.9, False), PetInPhoto("Lola", "dog", 0.7, False),
                                     PetInPhoto("Pico", "dog", 0.7, False)]
    assert pets_in(store, other) == [PetInPhoto("Pico", "dog", 1.0, True)]
    assert pets_in(store, empty) == []
    many = pets_in_photos(store, [photo, other, empty])
    assert many == {photo: pets_in(store, photo), other: pets_in(store, other)}
    assert pets_in_photos(store, []) == {}
