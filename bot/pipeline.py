"""The processing stages in order: photos `new` -> `analyzed` (vision) -> `drafted` (captions), in batches.

Shared by the daemon's worker and `pawpost ingest`; models run only while this process holds the GPU lock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.config import Config
from bot.errors import GpuBusy, ModelUnavailable
from bot.ingest import photo_queue
from bot.ingest.shoot_grouping import form_shoots, planned_media
from bot.runtime.budget import BatchPlanner, is_out_of_memory
from bot.runtime.ml import Runtime, free_memory
from bot.runtime.services import ModelServices
from bot.store.database import Store
from bot.store.states import PhotoStatus

log = logging.getLogger(__name__)

# How long to wait for the GPU lock before giving up for now (a retrain may hold it for an hour).
LOCK_WAIT_SECONDS = 5.0

# A stage takes the ids of a batch of photos waiting in its state and returns how many it moved on.
Stage = Callable[[list[int]], int]


def process_pending(
    store: Store,
    config: Config,
    runtime: Runtime,
    vision: Any = None,
    captioner: Any = None,
    *,
    stop: threading.Event | None = None,
    lock_timeout: float = LOCK_WAIT_SECONDS,
    models: ModelServices | None = None,
    close_all: bool = False,
) -> dict[str, Any]:
    """Carry every due photo through analysis and drafting, one batch at a time; returns what happened.

    `models` are the process's model services (the daemon passes its own, shared with its review site and kept
    loaded between calls); without them, ones over `runtime` with `vision` and `captioner` when given. Each
    batch holds them (`ModelServices.using`: the process's other model jobs and the cross-process GPU lock);
    between batches they are released and `stop` is checked, so a retrain or the review site can take the GPU
    and a shutdown never waits for more than one batch. A batch that fails is retried one photo at a time, so a
    single bad photo is deferred (with backoff) without holding up the others. Analyzed frames are grouped into
    shoots (bot.ingest.shoot_grouping); a shoot is drafted, led by its best shot, once it settled, or at once for
    every open shoot with `close_all`.
    """
    result: dict[str, Any] = {"analyzed": 0, "drafted": 0, "deferred": 0, "gpu_busy": False, "stopped": False}
    form_shoots(store, config, close_all=close_all)  # shoots that settled since the last call are drafted now
    if not _due(store):
        return _finish(store, result)
    if models is None:
        models = ModelServices(config, runtime, vision=vision, captioner=captioner)
    runtime = models.runtime
    planner = BatchPlanner(store, config, runtime)

    def analyze(ids: list[int]) -> int:
        from bot.vision.analyze import analyze_photos

        return analyze_photos(store, config, models.vision(), ids)

    def draft(ids: list[int]) -> int:
        from bot.captions.stage import draft_posts

        # A shoot's leader brings the shoot's other best shots when they make a carousel (drafts.carousel).
        posts = [planned_media(store, config, photo_id) for photo_id in ids]
        done = draft_posts(store, config, models.captioner(), posts, vision=models.vision())
        if done:
            from bot.publish.prepare import prepare_waiting

            # The posted copy is made with the draft, so every review shows exactly what will be posted.
            prepare_waiting(store, reels=config.reels)
        return done

    stages: list[tuple[str, PhotoStatus, Stage]] = [
        ("analyzed", PhotoStatus.NEW, analyze),
        ("drafted", PhotoStatus.ANALYZED, draft),
    ]
    # Analyse everything first, then draft: one set of models at a time is busy, and on a small GPU the
    # idle unload can free the vision models while the caption model works.
    for key, status, stage in stages:
        if status == PhotoStatus.ANALYZED:
            # The frames just analyzed join their shoots; a shoot drafts only once it has settled.
            form_shoots(store, config, close_all=close_all)
        how = Batch(STAGE_NAMES[status], planner, runtime)
        while True:
            if stop is not None and stop.is_set():
                result["stopped"] = True
                return _finish(store, result)
            models.make_way()  # a regenerate on the review site goes between two batches
            size = planner.size(how.name)  # the memory budget's choice, at most models.batch_size
            batch = photo_queue.due_photos(store, status, size)
            if not batch:
                break
            try:
                with models.using(timeout=lock_timeout):
                    moved, deferred = _run_batch(store, stage, status, size, batch, how)
            except GpuBusy:
                log.info("the GPU lock %s is held by another job (a retrain?); photos wait", models.gpu_lock.path)
                result["gpu_busy"] = True
                return _finish(store, result)
            result[key] += moved
            result["deferred"] += deferred
            if moved == 0 and deferred == 0 and photo_queue.due_photos(store, status, len(batch)) == batch:
                break  # nothing changed: the stage is waiting for something (its model, say); try again later
    return _finish(store, result)


def process_now(store: Store, config: Config, *, inbox_empty: bool = True) -> dict[str, Any]:
    """`pawpost ingest`: the daemon's processing, run once by hand, with models of its own unloaded after.

    Run by hand, usually after fixing what held photos back (a model folder, say): deferred photos are tried
    again now. With the inbox empty (nothing still copying in) every open shoot is closed and drafted now: no
    frame of it is on its way; otherwise shoots settle as in the daemon.
    """
    photo_queue.retry_deferred_now(store)
    models = ModelServices(config)
    try:
        return process_pending(store, config, models.runtime, close_all=inbox_empty)
    finally:
        models.unload_all()


@dataclass
class Batch:
    """What `_run_batch` needs besides the photos: the stage's name for the planner, and whether every model
    was already unloaded once to make room for a single photo."""

    name: str
    planner: BatchPlanner
    runtime: Runtime
    unloaded: bool = False


STAGE_NAMES = {PhotoStatus.NEW: "vision", PhotoStatus.ANALYZED: "captions"}


def _run_batch(store: Store, stage: Stage, status: PhotoStatus, size: int, batch: list[int],
               how: Batch) -> tuple[int, int]:
    """The photos `batch` (at most `size`) through `stage`; on an unexpected error, the same photos one at a time.
    (moved, deferred).

    Out of GPU memory, the same photos are tried again at once in batches of half the size (see
    `_out_of_memory`): a batch too big for the card never fails or defers a photo.
    """
    started = time.monotonic()
    # A batch can take a minute (model loads, generation): say what runs now, not only when it is done.
    log.info("%s %d photo(s) (%s)...", "analyzing" if status == PhotoStatus.NEW else "writing captions for",
             len(batch), _ids(batch))
    oom = False
    try:
        with how.planner.measure(how.name, len(batch)):
            moved = stage(batch)
    except ModelUnavailable as exc:
        # The stage should record this itself; if it did not, the photos still must not be retried at once.
        photo_queue.model_failed(store, exc, photo_queue.due_photos(store, status, among=batch))
        return 0, len(batch)
    except Exception as exc:
        oom = is_out_of_memory(exc)
        if not oom:
            log.exception("a batch of %d %s photo(s) failed (photos %s); trying them one at a time",
                          len(batch), status.value, _ids(batch))
    else:
        if moved:
            log.info("%d photo(s) %s -> %s in %.1fs", moved, status.value, _next(status), time.monotonic() - started)
        return moved, 0
    if oom:  # outside the except block, so the error's traceback (and the batch's tensors) are freed first
        return _out_of_memory(store, stage, status, size, how, batch)
    moved = deferred = 0
    for photo_id in batch:
        if not photo_queue.due_photos(store, status, among=[photo_id]):
            continue  # the failed batch took it, or deferred it itself
        try:
            moved += stage([photo_id])
        except ModelUnavailable as exc:
            rest = photo_queue.due_photos(store, status, among=batch)
            photo_queue.model_failed(store, exc, rest)
            return moved, deferred + len(rest)
        except Exception as exc:
            log.exception("photo %d failed while %s; it is retried later", photo_id, status.value)
            photo_queue.defer_photos(store, [photo_id], f"{type(exc).__name__}: {exc}"[:300])
            deferred += 1
        else:
            # The stage took the photo, or deferred it itself (left it in place with a retry time).
            if photo_queue.due_photos(store, status, among=[photo_id]):
                photo_queue.defer_photos(store, [photo_id], "processing did not finish; retried later")
                deferred += 1
    return moved, deferred


def _out_of_memory(store: Store, stage: Stage, status: PhotoStatus, size: int, how: Batch,
                   batch: list[int]) -> tuple[int, int]:
    """The card ran out of memory on `batch`: the same photos again now, at half the batch (remembered for the
    stage); at one photo, once more after unloading every model; only then is the photo deferred (retried later,
    like any photo whose processing failed)."""
    free_memory()
    if size > 1:
        smaller = how.planner.lowered(how.name, size)
        log.warning("out of GPU memory with %d photos per batch (%s stage, photos %s); trying them again now, %d "
                    "per batch from now on", size, how.name, _ids(batch), smaller)
    elif not how.unloaded:
        how.unloaded = True
        how.runtime.unload_all()
        log.warning("out of GPU memory with one photo (%s stage, photo %s); unloaded every model, trying again now",
                    how.name, _ids(batch))
        smaller = 1
    else:
        still = photo_queue.due_photos(store, status, among=batch)
        photo_queue.defer_photos(store, still, "not enough GPU memory for this photo even alone; it is retried "
                                 "later (a smaller models.caption_image_px or captions.candidates needs less)")
        log.warning("out of GPU memory with one photo (%s stage, photo %s) after unloading every model; it waits "
                    "and is retried later", how.name, _ids(batch))
        return 0, len(still)
    moved = deferred = 0
    for _ in range(len(batch)):
        rest = photo_queue.due_photos(store, status, smaller, among=batch)
        if not rest:
            break
        m, d = _run_batch(store, stage, status, smaller, rest, how)
        moved, deferred = moved + m, deferred + d
        if m == 0 and d == 0:
            break
    return moved, deferred


def _due(store: Store) -> bool:
    return any(photo_queue.due_photos(store, status, 1) for status in (PhotoStatus.NEW, PhotoStatus.ANALYZED))


def _finish(store: Store, result: dict[str, Any]) -> dict[str, Any]:
    result["waiting"] = photo_queue.pending_counts(store)
    return result


def _ids(ids: list[int]) -> str:
    return ", ".join(map(str, ids[:10])) + (" ..." if len(ids) > 10 else "")


def _next(status: PhotoStatus) -> str:
    return "analyzed" if status == PhotoStatus.NEW else "drafted"
