"""Rows as pawpost's stages leave them, for tests that start part-way: posted drafts with their photos and pets.

The retraining tests build their dataset from these; the caption tests their account's past captions.
"""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime
from typing import Any

from bot.drafts.media import add_draft

START = datetime(2026, 1, 1, 9, 30, tzinfo=UTC)


def make_photo(store: Any, name: str, seed: int, *, origin: str = "inbox") -> int:
    """A small JPEG in the library and its photo row (drafted: it was captioned and posted)."""
    from PIL import Image

    rng = random.Random(seed)
    image = Image.new("RGB", (40, 32), tuple(rng.randrange(256) for _ in range(3)))
    library = store.data_dir / "library"
    library.mkdir(parents=True, exist_ok=True)
    path = library / f"{name}.jpg"
    image.save(path, "JPEG")
    now = START.isoformat()
    return store.insert("photos", sha256=hashlib.sha256(path.read_bytes()).hexdigest(), status="drafted",
                        origin=origin, source_name=path.name, path=f"library/{path.name}", format="JPEG",
                        width=40, height=32, created_at=now, updated_at=now)


def tag_pet(store: Any, photo_id: int, pet: str) -> None:
    pet_id = store.value("SELECT id FROM pets WHERE name = ?", (pet,))
    if pet_id is None:
        pet_id = store.insert("pets", name=pet, species="dog", created_at=START.isoformat())
    store.insert("photo_pets", photo_id=photo_id, pet_id=pet_id, confidence=0.9, source="model")


def add_posted(store: Any, caption: str, at: datetime, pet: str | None = "Lola", *, edited: bool = False,
               generated: str | None = None, photo_id: int | None = None) -> int:
    """A posted draft: photo (a new one unless given), recognised pet and the caption as posted."""
    n = (store.value("SELECT count(*) FROM drafts") or 0) + 1
    if photo_id is None:
        photo_id = make_photo(store, f"post-{n}", n)
    if pet:
        tag_pet(store, photo_id, pet)
    iso = at.isoformat()
    return add_draft(store, [photo_id], status="posted", caption=caption, edited=int(edited),
                     generated_caption=generated, posted_at=iso, media_id=f"m{n}", media_code=f"C{n}",
                     created_at=iso, updated_at=iso)
