"""The `new` -> `analyzed` stage: which pets are in each waiting photo, in batches, one model pass per batch.

Writes `photo_pets` (source 'model'), `photos.analysis` and the embedding cache; a model that cannot load
leaves the photos `new` with the reason (bot.ingest.photo_queue.model_failed), to be retried later.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import bot.vision.cache as cache
import bot.vision.shotscore as shotscore
from bot.config import Config
from bot.errors import ModelUnavailable, PawpostError
from bot.ingest.photo_queue import clear_failure, defer_photos, due_photos, model_failed
from bot.runtime.model_errors import clear_model_error
from bot.store.database import Store
from bot.store.states import PhotoStatus
from bot.vision.identify import PhotoAnalysis, Vision
from bot.vision.images import open_image
from bot.vision.pets import references

log = logging.getLogger(__name__)


def analyze_new(store: Store, config: Config, vision: Vision, limit: int | None = None) -> int:
    """Analyze due `new` photos (at most `limit`); returns how many became `analyzed`."""
    return analyze_photos(store, config, vision, due_photos(store, PhotoStatus.NEW, limit))


def analyze_photos(store: Store, config: Config, vision: Vision, ids: list[int]) -> int:
    """Analyze the `new` photos `ids` (the pipeline's batch); returns how many became `analyzed`.

    A photo that is no longer `new` (another process took it meanwhile) is left alone.
    """
    if not ids:
        return 0
    try:
        refs = references(store, config, vision)
    except ModelUnavailable as exc:
        model_failed(store, exc, ids)
        return 0
    done = 0
    size = config.models.batch_size
    for start in range(0, len(ids), size):
        batch: list[tuple[Any, Any]] = []
        for photo_id in ids[start:start + size]:
            row = store.photo(photo_id)
            if row["status"] != PhotoStatus.NEW:
                continue
            if row["kind"] == "video":
                done += _analyze_video(store, config, vision, row, refs)
                continue
            try:
                batch.append((row, open_image(_library_path(store, row))))
            except PawpostError as exc:
                defer_photos(store, [photo_id], str(exc))
        if not batch:
            continue
        try:
            results = vision.analyze([image for _, image in batch], refs)
        except ModelUnavailable as exc:
            # Every photo still waiting needs the same model: all of them wait, none is lost.
            model_failed(store, exc, [row["id"] for row, _ in batch] + ids[start + size:])
            return done
        clear_model_error(store, "detector")
        clear_model_error(store, "embedder")
        for (row, image), result in zip(batch, results, strict=True):
            record(store, vision, row, result, shot=shotscore.score(image, shotscore.subjects_of(result.to_json())))
            done += 1
    return done


def record(store: Store, vision: Vision, row: Any, result: PhotoAnalysis,
           shot: dict[str, float] | None = None, fields: dict[str, Any] | None = None) -> None:
    """Store one photo's analysis (and its best-shot score parts, `shot`; more columns in `fields`) and move it to
    `analyzed`, in one transaction."""
    pet_ids = {r["name"].lower(): r["id"] for r in store.all("SELECT id, name FROM pets")}
    analysis = {**result.to_json(), "embedder": vision.embedder_id, "detector": vision.detector.model_id}
    with store.tx() as db:
        # The owner's word (a correction made before analysis) is never overwritten by the model.
        owner = db.execute("SELECT 1 FROM photo_pets WHERE photo_id = ? AND source = 'owner'", (row["id"],)).fetchone()
        db.execute("DELETE FROM photo_pets WHERE photo_id = ? AND source = 'model'", (row["id"],))
        if not owner:
            for animal in result.pets:
                db.execute("INSERT INTO photo_pets (photo_id, pet_id, confidence, box, source) "
                           "VALUES (?, ?, ?, ?, 'model')",
                           (row["id"], pet_ids[animal.pet.lower()], round(animal.confidence, 4),
                            cache.box_key(animal.box)))
        cache.save(store, vision.embedder_id, {(row["sha256"], key): v for key, v in result.vectors})
        clear_failure(store, row["id"])
        scored = {} if shot is None else {"shot_score": shot["total"], "score_parts": json.dumps(shot)}
        store.set_photo_status(row["id"], PhotoStatus.ANALYZED, expect=PhotoStatus.NEW, analysis=analysis, **scored,
                               **(fields or {}))
    names = ", ".join(a.pet for a in result.pets) or ("no animal" if result.no_animal else "no known pet")
    log.info("photo %s: %s", row["id"], names)


def _analyze_video(store: Store, config: Config, vision: Vision, row: Any, refs: Any) -> int:
    """A clip's frames seen and recorded (bot.vision.video); 1 when it became `analyzed`. A clip that cannot be read
    is deferred like a photo; a model that cannot load is the caller's (every waiting photo waits for it)."""
    from bot.vision.video import analyze_clip

    try:
        clip = analyze_clip(config, vision, _library_path(store, row), (row["width"], row["height"]), refs)
    except ModelUnavailable:
        raise
    except PawpostError as exc:  # BadVideo, or the file gone from the library
        defer_photos(store, [row["id"]], str(exc))
        return 0
    clear_model_error(store, "detector")
    clear_model_error(store, "embedder")
    facts = json.loads(row["video"]) if row["video"] else {}
    facts["frames"] = clip.frames
    record(store, vision, row, clip.result, shot=clip.shot,
           fields={"cover_at": clip.cover_at, "video": json.dumps(facts)})
    return 1


def _library_path(store: Store, row: Any) -> Path:
    if not row["path"]:
        raise PawpostError(f"photo {row['id']} has no file in the library")
    return store.abspath(row["path"])
