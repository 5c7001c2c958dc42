"""The photo queue: which photos wait in a processing state and are due, how a failed attempt defers a photo,
and which photos wait with an error (for status and `pawpost ingest`).

A failure never changes a photo's state: it records why, and when to try again (backoff up to an hour).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from bot import timeutil
from bot.errors import ModelUnavailable
from bot.runtime.model_errors import model_error_since, record_model_error, with_advice
from bot.store.database import Store
from bot.store.states import PhotoStatus, ShootState

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=1)
MAX_SERVER_BACKOFF = timedelta(minutes=10)


def due_photos(store: Store, status: PhotoStatus, limit: int | None = None,
               among: list[int] | None = None) -> list[int]:
    """Ids of photos in `status` whose retry time (if any) has come, oldest first; only those of `among` when
    given (which photos of a batch still wait for the stage).

    Imported photos (the account's posts from before pawpost) are analyzed, so they carry pet names for
    retraining, but never drafted: they were posted already. Of a shoot, only its closed shoot's leader is due.
    """
    sql = "SELECT id FROM photos WHERE status = ? AND (retry_after IS NULL OR retry_after <= ?)"
    params: list[object] = [status.value, timeutil.iso(timeutil.now())]
    if status == PhotoStatus.ANALYZED:
        # A frame of a shoot is drafted only as its closed shoot's leader (bot.ingest.shoot_grouping); the others
        # stay analyzed, offered beside the draft or set aside as near-identical.
        sql += (" AND origin = 'inbox' AND (shoot_id IS NULL OR id IN (SELECT leader_photo_id FROM shoots "
                "WHERE state = ?))")
        params.append(ShootState.CLOSED.value)
    if among is not None:
        if not among:
            return []
        sql += f" AND id IN ({','.join('?' * len(among))})"
        params += among
    sql += " ORDER BY id"
    if limit:
        sql += f" LIMIT {int(limit)}"
    return [r[0] for r in store.all(sql, params)]


def defer_photos(store: Store, photo_ids: list[int], reason: str, first_wait: timedelta | None = None) -> None:
    """Record that processing failed; the photos keep their state and are retried after a backoff (from
    `first_wait`, doubling; default two minutes)."""
    now = timeutil.now()
    with store.tx():
        for photo_id in photo_ids:
            attempts = (store.value("SELECT attempts FROM photos WHERE id = ?", (photo_id,)) or 0) + 1
            if first_wait is None:
                wait = min(timedelta(minutes=2 ** min(attempts, 10)), MAX_BACKOFF)
            else:
                wait = min(first_wait * 2 ** min(attempts - 1, 10), MAX_SERVER_BACKOFF)
            store.update("photos", photo_id, error=reason, attempts=attempts,
                         retry_after=timeutil.iso(now + wait), updated_at=timeutil.iso(now))
            store.event("photo.deferred", f"photo {photo_id}: {reason}; retrying in {wait}",
                        level="error", photo_id=photo_id)


def model_failed(store: Store, exc: ModelUnavailable, photo_ids: list[int]) -> None:
    """A model could not load: remember why (status, doctor), say what to do in the log when it starts failing (not
    at every retry), and defer the photos that needed it.

    Logged at INFO: the daemon's log shows it; a command (`pawpost ingest`) ends with the same words as its error."""
    if model_error_since(store, exc.key) is None:
        log.info("%s", with_advice(f"{exc}; the photos that need it wait and are tried again"))
    record_model_error(store, exc.key, exc.reason)
    # An inference server is retried sooner than a model that would not load (models.server_retry_seconds).
    retry = getattr(exc, "retry_seconds", None)
    defer_photos(store, photo_ids, str(exc), timedelta(seconds=retry) if retry else None)


def clear_failure(store: Store, photo_id: int) -> None:
    """Forget a past failure once the photo has been processed (call inside the stage's transaction)."""
    store.update("photos", photo_id, error=None, retry_after=None, attempts=0)


def waiting_with_error(store: Store, limit: int | None = None) -> list[dict[str, Any]]:
    """Photos still waiting to be analyzed or drafted after a failed attempt, oldest first, with why and when
    they are tried again (`status`, `pawpost ingest`)."""
    sql = ("SELECT id, source_name, status, error, attempts, retry_after FROM photos "
           "WHERE error IS NOT NULL AND status IN ('new', 'analyzed') ORDER BY id")
    if limit:
        sql += f" LIMIT {int(limit)}"
    return [dict(r) for r in store.all(sql)]


def pending_counts(store: Store) -> dict[str, int]:
    """Photos waiting in each processing state, whether due now or deferred. A frame its closed shoot did not put
    in a draft waits for nothing (it is offered beside the draft, or set aside)."""
    offered = ("shoot_id IS NOT NULL AND shoot_id IN (SELECT id FROM shoots WHERE state = ?) "
               "AND id NOT IN (SELECT leader_photo_id FROM shoots WHERE leader_photo_id IS NOT NULL)")
    rows = store.all(f"SELECT status, count(*) FROM photos WHERE status IN ('new', 'analyzed') AND NOT ({offered}) "
                     "GROUP BY status", (ShootState.CLOSED.value,))
    counts = {"new": 0, "analyzed": 0}
    counts.update({r[0]: r[1] for r in rows})
    return counts


def next_retry(store: Store) -> str | None:
    """The earliest retry time of a deferred photo (UTC ISO), for the worker to wake at."""
    return store.value("SELECT min(retry_after) FROM photos WHERE status IN ('new', 'analyzed') "
                       "AND retry_after IS NOT NULL")


def retry_deferred_now(store: Store) -> int:
    """Make every deferred photo due at once (a start or a config reload: the owner may have fixed the cause).

    The attempt count stays, so a photo that fails again backs off as long as before.
    """
    with store.tx() as db:
        cur = db.execute("UPDATE photos SET retry_after = NULL WHERE status IN ('new', 'analyzed') "
                         "AND retry_after IS NOT NULL")
        return cur.rowcount
