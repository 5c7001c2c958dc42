"""The daemon's working threads, built from one config: inbox intake, the processing worker, the poster.

`bot.daemon.supervisor` supervises them (signals, watchdog, status); every thread keeps its state in the database only.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot import timeutil
from bot.config import Config
from bot.errors import PawpostError
from bot.store.database import Store
from bot.store.states import DraftStatus

log = logging.getLogger(__name__)

# How often the poster looks for a due slot. A tick that finds nothing due is a few SQLite reads.
POST_TICK_SECONDS = 2.0
# How often the worker looks for work when nothing woke it (deferred photos, a new model version, idle unload).
PROCESS_POLL_SECONDS = 30.0
# How long a stop waits for a batch or an upload to finish; systemd's TimeoutStopSec is longer.
STOP_GRACE_SECONDS = 6.0
# A poster cycle that takes longer than this is hung (every Instagram call has a timeout): stop the watchdog
# pings so systemd restarts the bot.
POSTER_STALL_SECONDS = 30 * 60.0


class Worker:
    """A thread running `body(stop)` again and again (it returns how long to wait before the next round).

    An exception never ends the thread: an owner's error (PawpostError) is logged as one line, a bug with its
    traceback, and the round is retried after a growing pause.
    """

    def __init__(self, name: str, body: Callable[[threading.Event], float], stop: threading.Event,
                 *, teardown: Callable[[], None] | None = None) -> None:
        self.name = name
        self.body = body
        self.stop = stop
        self.teardown = teardown
        self.thread = threading.Thread(target=self._run, name=f"pawpost-{name}", daemon=True)

    def start(self) -> Worker:
        self.thread.start()
        return self

    def _run(self) -> None:
        failures = 0
        try:
            while not self.stop.is_set():
                try:
                    wait = self.body(self.stop)
                    failures = 0
                except PawpostError as exc:
                    failures += 1
                    wait = min(2.0 ** failures, 300.0)
                    log.error("%s: %s (trying again in %.0fs)", self.name, exc, wait)
                except Exception:
                    failures += 1
                    wait = min(2.0 ** failures, 300.0)
                    log.exception("%s: unexpected error; trying again in %.0fs", self.name, wait)
                self.stop.wait(max(wait, 0.0))
        finally:
            if self.teardown is not None:
                try:
                    self.teardown()
                except Exception:
                    log.exception("%s: cleaning up failed", self.name)


class DaemonThreads:
    """Everything built from one config: the runtime and models, the watcher, the worker and the poster.

    A config reload (SIGHUP) stops one DaemonThreads and starts a new one; the database carries all state across.
    """

    def __init__(self, config: Config) -> None:
        from bot.runtime.services import ModelServices

        self.config = config
        self.models = ModelServices(config)
        self.runtime = self.models.runtime
        self.stop = threading.Event()
        self.wake = threading.Event()
        self.workers: list[Worker] = []
        self.watcher: Any = None
        self.scheduler: Any = None
        self.poster: WatchedPoster | None = None
        self.web: Any = None
        self.notify: Any = None
        self._local = threading.local()

    # -- life cycle -----------------------------------------------------------------------------

    def start(self) -> DaemonThreads:
        from bot.publish.schedule import PostingScheduler

        self.workers = [
            Worker("intake", self._intake, self.stop, teardown=self._close_store),
            Worker("worker", self._process, self.stop, teardown=self._close_store),
        ]
        for worker in self.workers:
            worker.start()
        # The poster runs in the posting scheduler's own thread: woken at each slot and every POST_TICK_SECONDS;
        # each tick first settles drafts a crash left in `publishing`, so recovery comes before any new post.
        self.scheduler = PostingScheduler(self.config, self._make_poster, interval=POST_TICK_SECONDS)
        self.scheduler.start()
        self._start_review_surfaces()
        return self

    def _start_review_surfaces(self) -> None:
        """The review site ([web] enabled) and the notifier ([notify] urls): neither can hold up posting."""
        from bot.web.server import start_in_daemon

        # The site shares this daemon's model services: one set of models, one job at a time, one memory budget.
        self.web = start_in_daemon(self.config, self.models)
        if self.config.notify.urls:
            from bot.notifications import NotifyWorker

            self.notify = NotifyWorker(self.config, lambda: self.store)
            self.workers.append(Worker("notifier", self.notify.round, self.stop, teardown=self._close_store).start())

    def shutdown(self, grace: float = STOP_GRACE_SECONDS, *, unload: bool = False) -> bool:
        """Ask every thread to stop and wait up to `grace` seconds; True when all of them finished.

        `unload` frees the models' memory (a reload: the next DaemonThreads loads its own); at exit the OS does it.
        """
        self.stop.set()
        self.wake.set()
        deadline = time.monotonic() + grace
        if self.scheduler is not None:
            # Not wait=True: an upload in flight is waited for below, within the grace period only.
            self.scheduler.stop(wait=False)
        if self.web is not None:
            self.web.stop(timeout=min(grace, 3.0))
        if self.watcher is not None:
            try:
                self.watcher.stop(timeout=grace)
            except Exception:
                log.exception("stopping the inbox watcher failed")
        clean = True
        for worker in self.workers:
            worker.thread.join(max(0.0, deadline - time.monotonic()))
            if worker.thread.is_alive():
                clean = False
                log.warning("the %s is still busy after %.0fs; its work resumes at the next start", worker.name,
                            grace)
        if self.notify is not None and self.notify.in_flight:
            # A notifier that does not answer cannot be interrupted; the message is kept and sent at the next start.
            clean = False
            log.warning("a notification is still being sent; it is kept and sent again at the next start")
        while self.poster is not None and self.poster.busy_since is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.poster is not None and self.poster.busy_since is not None:
            clean = False
            log.warning("a post is still in flight after %.0fs; the next start checks the account before "
                        "anything is sent again", grace)
        if clean and unload:
            try:
                self.runtime.unload_all()
            except Exception:
                log.exception("unloading the models failed")
        return clean

    def dead(self) -> str | None:
        """A thread that ended (it never should while running): the daemon exits and systemd restarts it."""
        if self.stop.is_set():
            return None
        return next((f"the {w.name} thread has stopped" for w in self.workers if not w.thread.is_alive()), None)

    def hung(self) -> str | None:
        """A posting tick that runs far longer than any Instagram timeout: only a restart can end it."""
        if self.poster is not None and self.poster.stalled(time.monotonic()):
            return f"a posting tick has been running for over {POSTER_STALL_SECONDS / 60:.0f} minutes"
        return None

    # -- per-thread database connections ----------------------------------------------------------

    @property
    def store(self) -> Store:
        """This thread's connection (sqlite3 connections must not cross threads)."""
        store = getattr(self._local, "store", None)
        if store is None:
            store = Store.for_config(self.config)
            self._local.store = store
        return store

    def _close_store(self) -> None:
        store = getattr(self._local, "store", None)
        if store is not None:
            self._local.store = None
            store.close()

    # -- intake: the inbox --------------------------------------------------------------------------

    def _intake(self, stop: threading.Event) -> float:
        """Recover first: take what arrived while the bot was down, then watch for new files."""
        if self.watcher is None:
            from bot.ingest.intake import ingest_inbox
            from bot.ingest.watcher import InboxWatcher

            summary = ingest_inbox(self.store, self.config)
            if summary.results or summary.errors:
                log.info("inbox at start-up: %d new, %d duplicate, %d quarantined, %d could not be read yet",
                         summary.accepted, summary.duplicates, summary.quarantined, len(summary.errors))
            self.wake.set()
            if stop.is_set():
                return 0.0
            watcher = InboxWatcher(self.config, self._on_file)
            watcher.start()  # it rescans the inbox itself every ingest.rescan_minutes
            self.watcher = watcher
            if stop.is_set():  # a stop that came while it was starting did not see it
                watcher.stop()
                return 0.0
            log.info("watching %s", self.config.paths.inbox)
        return 60.0

    def _on_file(self, path: Path) -> None:
        """Called by the watcher's thread for each settled file; a bad file is logged, never fatal."""
        if self.stop.is_set():
            return  # left in the inbox: the next start takes it
        from bot.ingest.intake import ingest_file

        try:
            result = ingest_file(self.store, self.config, path)
        except Exception:
            log.exception("ingesting %s failed; it stays in the inbox and is tried again at the next rescan", path)
            return
        if result.recorded and result.status in ("new", "duplicate", "quarantined"):
            self.wake.set()
            return  # its event (photo.new, photo.duplicate, photo.quarantined) is the log line
        what = {"new": "new photo", "duplicate": f"duplicate of photo {result.duplicate_of}",
                "quarantined": f"quarantined: {result.reason}", "hint": "hint for a photo",
                "skipped": f"left in the inbox: {result.reason}"}.get(result.status, result.status)
        ids = f" [photo={result.photo_id}]" if result.photo_id is not None else ""
        log.log(logging.WARNING if result.status == "quarantined" else logging.INFO, "inbox %s%s: %s",
                result.source_name, ids, what)
        self.wake.set()

    # -- processing: new -> analyzed -> drafted -----------------------------------------------------

    def _process(self, stop: threading.Event) -> float:
        from bot.ingest.photo_queue import next_retry
        from bot.ingest.shoot_grouping import next_close_in
        from bot.pipeline import process_pending

        config, store = self.config, self.store
        self.wake.clear()
        self._check_model_version()
        # A retrain (or `pawpost ingest`, or a standalone `pawpost web`) has the GPU: give it our memory; models
        # reload on next use.
        self.models.make_room_for_another_process()
        result = process_pending(store, config, self.runtime, stop=stop, models=self.models)
        if result["analyzed"] or result["drafted"] or result["deferred"]:
            log.info("processed: %d analyzed, %d drafted, %d deferred; waiting: %d new, %d analyzed",
                     result["analyzed"], result["drafted"], result["deferred"], result["waiting"]["new"],
                     result["waiting"]["analyzed"])
        for key in self.runtime.unload_idle():
            log.info("models.%s unloaded after %g idle minutes", key, config.models.idle_unload_minutes)
        # Sleep until woken by the watcher, the next deferred photo's retry time, or the poll interval.
        wait = 10.0 if result["gpu_busy"] else PROCESS_POLL_SECONDS
        retry = timeutil.parse(next_retry(store))
        if retry is not None:
            wait = min(wait, max(1.0, (retry - timeutil.now()).total_seconds()))
        settles = next_close_in(store, config)  # an open shoot is drafted once it has settled
        if settles is not None:
            wait = min(wait, max(0.5, settles))
        if self.runtime.idle_seconds:
            wait = min(wait, max(1.0, self.runtime.idle_seconds))
        self.wake.wait(wait)
        return 0.0

    def _captioner(self) -> Any:
        return self.models.captioner()

    def _check_model_version(self) -> None:
        """Reload the Captioner when the retraining job promoted (or rolled back) a caption model version."""
        try:
            changed = self.models.caption_version_changed()
        except PawpostError as exc:
            log.error("cannot read the caption model registry: %s", exc)
            return
        if changed is not None:
            old, new = changed
            log.info("caption model version changed (%s -> %s); reloading the captioner", old or "base",
                     new or "base")

    # -- posting ------------------------------------------------------------------------------------

    def _make_poster(self) -> WatchedPoster:
        """Called by the scheduler in its own thread, where the poster's Store must live."""
        from bot.publish.factory import make_poster

        self.poster = WatchedPoster(make_poster(self.store, self.config))
        return self.poster


class WatchedPoster:
    """The Poster as the scheduler drives it, recording when a tick started so a hung one can be noticed."""

    def __init__(self, poster: Any) -> None:
        self.poster = poster
        self.busy_since: float | None = None

    def tick(self, now: Any) -> Any:
        self.busy_since = time.monotonic()
        try:
            result = self.poster.tick(now)
        finally:
            self.busy_since = None
        if result is not None:
            fine = result.status in (DraftStatus.POSTED, DraftStatus.APPROVED) and not result.error
            level = logging.INFO if fine else logging.WARNING
            log.log(level, "post [draft=%s]: %s", result.draft_id, result.message or result.status)
        return result

    def next_fire_time(self, now: Any) -> Any:
        return self.poster.next_fire_time(now)

    def close(self) -> None:
        self.poster.close()

    def stalled(self, now: float) -> bool:
        return self.busy_since is not None and now - self.busy_since > POSTER_STALL_SECONDS
