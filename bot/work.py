"""Photo work queues: which rows in a state are due, and how a failed attempt defers a photo.

A failure never changes a photo's state: it records why, and when to try again (backoff up to an hour).
"""

from __future__ import annotations

from datetime import timedelta

from bot import timeutil
from bot.errors import ModelUnavailable
from bot.keys import MODEL_ERROR
from bot.states import PhotoStatus
from bot.store import Store

MAX_BACKOFF = timedelta(hours=1)


def due_photos(store: Store, status: PhotoStatus, limit: int | None = None) -> list[int]:
    """Ids of photos in `status` whose retry time (if any) has come, oldest first.

    Imported photos (the account's posts from before pawpost) are analyzed, so they carry pet names for
    retraining, but never drafted: they were posted already.
    """
    sql = "SELECT id FROM photos WHERE status = ? AND (retry_after IS NULL OR retry_after <= ?)"
    if status == PhotoStatus.ANALYZED:
        sql += " AND origin = 'inbox'"
    sql += " ORDER BY id"
    if limit:
        sql += f" LIMIT {int(limit)}"
    return [r[0] for r in store.all(sql, (status.value, timeutil.iso(timeutil.now())))]


def defer_photos(store: Store, photo_ids: list[int], reason: str) -> None:
    """Record that processing failed; the photos keep their state and are retried after a backoff."""
    now = timeutil.now()
    with store.tx():
        for photo_id in photo_ids:
            attempts = (store.value("SELECT attempts FROM photos WHERE id = ?", (photo_id,)) or 0) + 1
            wait = min(timedelta(minutes=2 ** min(attempts, 10)), MAX_BACKOFF)
            store.update("photos", photo_id, error=reason, attempts=attempts,
                         retry_after=timeutil.iso(now + wait), updated_at=timeutil.iso(now))
            store.event("photo.deferred", f"photo {photo_id}: {reason}; retrying in {wait}",
                        level="error", photo_id=photo_id)


def model_failed(store: Store, exc: ModelUnavailable, photo_ids: list[int]) -> None:
    """A model could not load: remember why (status, doctor) and defer the photos that needed it."""
    store.put(MODEL_ERROR.format(exc.key), exc.reason)
    defer_photos(store, photo_ids, str(exc))


def model_ok(store: Store, key: str) -> None:
    if store.get(MODEL_ERROR.format(key)) is not None:
        store.put(MODEL_ERROR.format(key), None)


def clear_failure(store: Store, photo_id: int) -> None:
    """Forget a past failure once the photo has been processed (call inside the stage's transaction)."""
    store.update("photos", photo_id, error=None, retry_after=None, attempts=0)
