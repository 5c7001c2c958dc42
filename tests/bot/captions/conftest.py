"""Fixtures for the caption tests: the tiny caption models, a config that uses them, and analyzed photos."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from PIL import Image

from tests.conftest import write_config
from tests.rows import add_posted
from tests.tiny_captions import (  # noqa: F401
    captioner_models,
    scripted_vlm,
    scripted_writer,
    tiny_blip,
    tiny_plain_writer,
    tiny_vlm,
    tiny_writer,
    two_stage_models,
)

FAST = {"seed": 7, "candidates": 3, "max_new_tokens": 16, "max_attempts": 2}
# The scripted models write about Lola in the third person ("Lola naps ..."): with the example config's first-person
# voice the writer's answer is primed with the pet's "I", which they cannot continue.
ABOUT_THE_PET = {"voice": "playful, about the dog, one or two emojis"}


def caption_config(home: Path, models: dict[str, Any], captions: dict[str, Any] | None = None,
                   approval: dict[str, Any] | None = None, pets: list[dict[str, Any]] | None = None):
    """Write and load a config whose caption models are the given local folders."""
    from bot.config import load_config

    sections: dict[str, dict[str, Any]] = {"models": {"device": "cpu", **models},
                                           "captions": {**FAST, **(captions or {})}}
    if approval:
        sections["approval"] = approval
    return load_config(write_config(home, sections, pets))


def add_analyzed_photo(store, config, pets: dict[str, float] | None = None, *, hint: str | None = None,
                       analysis: dict[str, Any] | None = None, color: tuple[int, int, int] = (180, 140, 90),
                       sha: str | None = None) -> int:
    """A photo in the library, as vision leaves it: `analyzed`, with photo_pets rows and analysis JSON."""
    from bot import timeutil

    now = timeutil.iso(timeutil.now())
    n = (store.value("SELECT count(*) FROM photos") or 0) + 1
    library = config.paths.library
    library.mkdir(parents=True, exist_ok=True)
    path = library / f"photo{n}.jpg"
    Image.new("RGB", (96, 64), color).save(path)
    pets = pets or {}
    animals = [{"box": [0, 0, 96, 64], "score": 0.9, "label": config.pet(name).species, "pet": name,
                "similarity": conf} for name, conf in pets.items()]
    analysis = analysis if analysis is not None else {"animals": animals, "unknown": 0, "whole_image": False,
                                                        "no_animal": not pets}
    photo_id = store.insert("photos", sha256=sha or f"sha{n}", status="analyzed", source_name=path.name,
                            path=store.relpath(path), format="JPEG", width=96, height=64, hint=hint,
                            analysis=json.dumps(analysis), created_at=now, updated_at=now)
    for name, confidence in pets.items():
        pet_id = store.value("SELECT id FROM pets WHERE name = ?", (name,))
        if pet_id is None:
            pet_id = store.insert("pets", name=name, species=config.pet(name).species, created_at=now)
        store.insert("photo_pets", photo_id=photo_id, pet_id=pet_id, confidence=confidence, box="[0, 0, 96, 64]",
                     source="model")
    return photo_id


def add_past_caption(store, config, caption: str, *, sha: str, vector: list[float] | None = None,
                     embedder: str | None = None, posted_at: str = "2026-01-01T10:00:00+00:00") -> int:
    """A posted draft of the account (a past caption) over an analyzed photo, with the photo's cached whole-image
    embedding when `vector` is given."""
    import numpy as np

    photo_id = add_analyzed_photo(store, config, sha=sha)
    store.set_photo_status(photo_id, "drafted")
    draft_id = add_posted(store, caption, datetime.fromisoformat(posted_at), pet=None, photo_id=photo_id)
    if vector is not None:
        v = np.asarray(vector, dtype=np.float32)
        v = v / np.linalg.norm(v)
        store.insert("embeddings", embedder=embedder or config.models.embedder, sha256=sha, box="", dim=v.size,
                     vector=v.tobytes(), created_at=posted_at)
    return draft_id
