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

from bot import work
from bot.config import Config
from bot.errors import ModelUnavailable
from bot.memory import BatchPlanner, is_out_of_memory
from bot.ml import GpuLock, Runtime, free_memory
from bot.states import PhotoStatus
from bot.store import Store

log = logging.getLogger(__name__)

# How long to wait for the GPU lock before giving up for now (a retrain may hold it for an hour).
LOCK_WAIT_SECONDS = 5.0

Stage = Callable[[int], int]


def process_pending(
    store: Store,
    config: Config,
    runtime: Runtime,
    vision: Any = None,
    captioner: Any = None,
    *,
    stop: threading.Event | None = None,
    lock_timeout: float = LOCK_WAIT_SECONDS,
) -> dict[str, Any]:
    """Carry every due photo through analysis and drafting, one batch at a time; returns what happened.

    `vision` and `captioner` are built from the config when not given (the daemon passes its own, kept
    loaded between calls). Between batches the GPU lock is released and `stop` is checked, so a retrain
    can take the GPU and a shutdown never waits for more than one batch. A batch that fails is retried one
    photo at a time, so a single bad photo is deferred (with backoff) without holding up the others.
    """
    result: dict[str, Any] = {"analyzed": 0, "drafted": 0, "deferred": 0, "gpu_busy": False, "stopped": False}
    if not _due(store):
        return _finish(store, result)
    if vision is None:
        from bot.vision import Vision

        vision = Vision(config, runtime)
    lock = GpuLock(config.paths.gpu_lock)
    planner = BatchPlanner(store, config, runtime)

    def analyze(limit: int) -> int:
        from bot.vision import analyze_new

        return analyze_new(store, config, vision, limit=limit)

    def draft(limit: int) -> int:
        nonlocal captioner
        if captioner is None:
            captioner = make_captioner(config, runtime)
        from bot.captions import draft_analyzed

        done = draft_analyzed(store, config, captioner, vision=vision, limit=limit)
        if done:
            from bot.publish.prepare import prepare_waiting

            # The posted copy is made with the draft, so every review shows exactly what will be posted.
            prepare_waiting(store)
        return done

    stages: list[tuple[str, PhotoStatus, Stage]] = [
        ("analyzed", PhotoStatus.NEW, analyze),
        ("drafted", PhotoStatus.ANALYZED, draft),
    ]
    # Analyse everything first, then draft: one set of models at a time is busy, and on a small GPU the
    # idle unload can free the vision models while the caption model works.
    for key, status, stage in stages:
        how = Batch(STAGE_NAMES[status], planner, runtime)
        while True:
            if stop is not None and stop.is_set():
                result["stopped"] = True
                return _finish(store, result)
            size = planner.size(how.name)  # the memory budget's choice, at most models.batch_size
            before = work.due_photos(store, status, size)
            if not before:
                break
            try:
                with lock.hold(timeout=lock_timeout):
                    moved, deferred = _run_batch(store, stage, status, size, how)
            except TimeoutError:
                log.info("the GPU lock %s is held by another process (a retrain?); photos wait", lock.path)
                result["gpu_busy"] = True
                return _finish(store, result)
            result[key] += moved
            result["deferred"] += deferred
            if moved == 0 and deferred == 0 and work.due_photos(store, status, len(before)) == before:
                break  # nothing changed: the stage is waiting for something (its model, say); try again later
    return _finish(store, result)


@dataclass
class Batch:
    """What `_run_batch` needs besides the photos: the stage's name for the planner, and whether every model
    was already unloaded once to make room for a single photo."""

    name: str
    planner: BatchPlanner
    runtime: Runtime
    unloaded: bool = False


STAGE_NAMES = {PhotoStatus.NEW: "vision", PhotoStatus.ANALYZED: "captions"}


def _run_batch(store: Store, stage: Stage, status: PhotoStatus, size: int, how: Batch) -> tuple[int, int]:
    """One batch through `stage`; on an unexpected error, the same photos one at a time. (moved, deferred).

    Out of GPU memory, the same photos are tried again at once in batches of half the size (see
    `_out_of_memory`): a batch too big for the card never fails or defers a photo.
    """
    batch = work.due_photos(store, status, size)
    started = time.monotonic()
    # A batch can take a minute (model loads, generation): say what runs now, not only when it is done.
    log.info("%s %d photo(s) (%s)...", "analyzing" if status == PhotoStatus.NEW else "writing captions for",
             len(batch), _ids(batch))
    oom = False
    try:
        with how.planner.measure(how.name, len(batch)):
            moved = stage(size)
    except ModelUnavailable as exc:
        # The stage should record this itself; if it did not, the photos still must not be retried at once.
        log.error("%s", exc)
        work.model_failed(store, exc, _still(store, batch, status))
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
    for _ in batch:
        photo = work.due_photos(store, status, 1)
        if not photo:
            break
        try:
            moved += stage(1)
        except ModelUnavailable as exc:
            log.error("%s", exc)
            work.model_failed(store, exc, _still(store, batch, status))
            return moved, deferred + len(_still(store, batch, status))
        except Exception as exc:
            log.exception("photo %d failed while %s; it is retried later", photo[0], status.value)
            work.defer_photos(store, photo, f"{type(exc).__name__}: {exc}"[:300])
            deferred += 1
        else:
            # The stage took the photo, or deferred it itself (left it in place with a retry time).
            if work.due_photos(store, status, 1)[:1] == photo:
                work.defer_photos(store, photo, "processing did not finish; retried later")
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
        still = _still(store, batch, status)
        work.defer_photos(store, still, "not enough GPU memory for this photo even alone; it is retried later "
                          "(a smaller models.caption_image_px or captions.candidates needs less)")
        log.warning("out of GPU memory with one photo (%s stage, photo %s) after unloading every model; it waits "
                    "and is retried later", how.name, _ids(batch))
        return 0, len(still)
    moved = deferred = 0
    for _ in range(len(batch)):
        if not set(_still(store, batch, status)) & set(work.due_photos(store, status, len(batch) + 1)):
            break
        m, d = _run_batch(store, stage, status, smaller, how)
        moved, deferred = moved + m, deferred + d
        if m == 0 and d == 0:
            break
    return moved, deferred


def make_captioner(config: Config, runtime: Runtime) -> Any:
    """The Captioner for the config, with the promoted LoRA adapter when one was trained on this base model."""
    from bot.captions import Captioner

    adapter = current_adapter(config)
    return Captioner(config, runtime, adapter_dir=adapter, style_examples=adapter_style_examples(adapter))


def adapter_style_examples(adapter: Any) -> int | None:
    """How many style examples the adapter was trained to be prompted with (None: captions.style_examples)."""
    if adapter is None:
        return None
    from bot.captions.registry import style_examples_for

    return style_examples_for(adapter)


def current_adapter(config: Config) -> Any:
    """The adapter of the promoted version that writes captions (`Registry.in_use`); None: the base model."""
    from bot.captions.registry import Registry

    version = Registry(config).in_use()
    return version.adapter_dir if version else None


def current_model_version(config: Config) -> str | None:
    """The promoted caption model version (the daemon polls it to reload the Captioner); None: base model."""
    from bot.captions.registry import Registry

    return Registry(config).current_id()


def pending_counts(store: Store) -> dict[str, int]:
    """Photos waiting in each processing state, whether due now or deferred."""
    rows = store.all("SELECT status, count(*) FROM photos WHERE status IN ('new', 'analyzed') GROUP BY status")
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


def _due(store: Store) -> bool:
    return bool(work.due_photos(store, PhotoStatus.NEW, 1) or work.due_photos(store, PhotoStatus.ANALYZED, 1))


def _finish(store: Store, result: dict[str, Any]) -> dict[str, Any]:
    result["waiting"] = pending_counts(store)
    return result


def _still(store: Store, ids: list[int], status: PhotoStatus) -> list[int]:
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    sql = f"SELECT id FROM photos WHERE id IN ({marks}) AND status = ?"
    return [r[0] for r in store.all(sql, [*ids, status.value])]


def _ids(ids: list[int]) -> str:
    return ", ".join(map(str, ids[:10])) + (" ..." if len(ids) > 10 else "")


def _next(status: PhotoStatus) -> str:
    return "analyzed" if status == PhotoStatus.NEW else "drafted"
