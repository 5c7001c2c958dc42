"""`pawpost run`: the composition root. It starts the working threads (`bot.daemon.threads`) and supervises them.

The main thread handles signals, the systemd watchdog and status line, and the event log; the work runs in threads.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from types import FrameType

from bot.config import Config
from bot.daemon.readiness import Notifier
from bot.daemon.runlock import RunLock
from bot.daemon.threads import DaemonThreads
from bot.errors import PawpostError
from bot.publish.publishers.registry import load_checked_config
from bot.store.database import Store

log = logging.getLogger(__name__)

# How often the systemd status line (queue counts) is refreshed.
STATUS_SECONDS = 10.0


class Daemon:
    """Runs until SIGTERM/SIGINT; SIGHUP re-reads the config. `run()` returns the exit status."""

    def __init__(self, config: Config, notifier: Notifier | None = None) -> None:
        self.config = config
        self.notifier = notifier or Notifier()
        self.threads: DaemonThreads | None = None
        self.clean = True
        self._signalled = threading.Event()
        self._stop = False
        self._reload = False
        self._last_event = 0
        self._last_status = 0.0
        self._stall_reported = False

    # -- signals ----------------------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            self._reload = True
        elif signum == signal.SIGINT and self._stop:
            # A second Ctrl-C: leave now. Every step is crash-safe; the next start resumes what was in flight.
            os._exit(130)
        else:
            self._stop = True
        self._signalled.set()

    def run(self) -> int:
        from bot.logs import protect_secrets

        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
        lock = None
        try:
            protect_secrets(self.config)
            store = open_store(self.config)
            try:
                # Before any work: two daemons on one data folder would both watch, process and post.
                lock = RunLock(self.config.paths.data).acquire()
            except PawpostError:
                store.close()
                raise
            self._last_event = store.value("SELECT max(id) FROM events") or 0
            self._retry_deferred(store)
            log.info("pawpost starting: config %s, data %s, publisher %s", self.config.source,
                     self.config.paths.data, self.config.instagram.publisher)
            self._warn_setup(store)
            self.threads = DaemonThreads(self.config).start()
            self.notifier.ready(self._status_line(store))
            rc = self._loop(store)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if lock is not None:
                lock.release()
        return rc

    def _warn_setup(self, store: Store) -> None:
        """Say at start what keeps photos from being recognised (no pets, no reference photos)."""
        from bot.home import setup_problems

        try:
            problems = setup_problems(self.config, store)
        except Exception:  # a warning is an extra: never a reason not to start
            log.exception("checking the pets' reference photos failed")
            return
        for problem in problems:
            log.warning("%s", problem)

    def _loop(self, store: Store) -> int:
        interval = 5.0
        if self.notifier.watchdog_seconds:
            interval = min(interval, self.notifier.watchdog_seconds / 3)
        rc = 0
        while True:
            self._signalled.wait(interval)
            self._signalled.clear()
            if self._stop:
                break
            if self._reload:
                self._reload = False
                store = self._reload_config(store)
            assert self.threads is not None
            dead = self.threads.dead()
            if dead:
                log.critical("%s; exiting so that the service manager restarts pawpost", dead)
                rc = 1
                break
            hung = self.threads.hung()
            if hung:
                # A hung thread cannot be interrupted from Python: no more pings, and systemd's watchdog restarts us.
                if not self._stall_reported:
                    log.critical("%s; stopping the watchdog pings so that systemd restarts pawpost", hung)
                    self._stall_reported = True
                continue
            self.notifier.watchdog()
            try:
                self._log_events(store)
                if time.monotonic() - self._last_status >= STATUS_SECONDS:
                    self.notifier.status(self._status_line(store))
                    store.backup_if_due()  # a long-running daemon still gets its daily backup
            except Exception:  # the log and the status line are extras: never a reason to stop
                log.exception("reading the events for the log failed")
        log.info("stopping")
        self.notifier.stopping("stopping")
        assert self.threads is not None
        self.clean = self.threads.shutdown()
        try:
            self._log_events(store)
        except Exception:
            log.exception("reading the events for the log failed")
        store.close()
        log.info("stopped" if self.clean else "stopped (work in progress resumes at the next start)")
        return rc

    def _reload_config(self, store: Store) -> Store:
        """SIGHUP: load the config again; a bad one is reported and the running one kept."""
        from bot.logs import protect_secrets

        source = self.config.source
        try:
            new = load_checked_config(source)
            new_store = open_store(new)  # a data folder that cannot be opened is a bad config too
        except PawpostError as exc:
            log.error("config reload failed, keeping the running config: %s", exc)
            self.notifier.status(f"config reload failed: {exc}")
            return store
        self.notifier.reloading()
        log.info("reloading the config from %s", source)
        assert self.threads is not None
        self.clean = self.threads.shutdown(unload=True) and self.clean
        protect_secrets(new)
        self.config = new
        store.close()
        self._retry_deferred(new_store)
        self._warn_setup(new_store)
        self.threads = DaemonThreads(new).start()
        self.notifier.ready(self._status_line(new_store))
        log.info("config reloaded")
        return new_store

    def _retry_deferred(self, store: Store) -> None:
        from bot.ingest.photo_queue import retry_deferred_now

        n = retry_deferred_now(store)
        if n:
            log.info("%d photo(s) that failed before are tried again now", n)

    # -- what the owner sees ----------------------------------------------------------------------

    def _log_events(self, store: Store) -> None:
        """Every event any process recorded (stage changes, deferrals, posts), one log line each."""
        rows = store.all("SELECT id, level, kind, photo_id, draft_id, message FROM events WHERE id > ? ORDER BY id "
                         "LIMIT 500", (self._last_event,))
        for row in rows:
            self._last_event = row["id"]
            level = {"warning": logging.WARNING, "error": logging.ERROR}.get(row["level"], logging.INFO)
            ids = " ".join(f"{k}={row[f'{k}_id']}" for k in ("photo", "draft") if row[f"{k}_id"] is not None)
            logging.getLogger("bot.events").log(level, "%s%s %s", row["kind"], f" [{ids}]" if ids else "",
                                                row["message"])

    def _status_line(self, store: Store) -> str:
        from bot.status import status, status_line

        self._last_status = time.monotonic()
        try:
            return status_line(status(store, self.config))
        except Exception as exc:  # the status line must never take the loop down
            return f"running (status unavailable: {exc})"


def open_store(config: Config) -> Store:
    """The database, or one sentence on why the data folder cannot hold it (the sandbox, an owner mismatch)."""
    from bot.home import ensure_folders

    data = config.paths.data
    try:
        # A first start on a fresh config (the README's example) creates the inbox and the data folders.
        ensure_folders(config)
        if not os.access(data, os.W_OK | os.X_OK):
            if os.statvfs(data).f_flag & os.ST_RDONLY:
                raise OSError(30, "it is on a file system mounted read-only; remount it read-write")
            raise PermissionError(13, "not writable by this user")
    except OSError as exc:
        hint = ""
        if os.environ.get("INVOCATION_ID"):  # started by systemd: the unit's sandbox decides what is writable
            hint = (" (under the pawpost units only /var/lib/pawpost is writable: point paths.data there, or add "
                    "ReadWritePaths= with 'systemctl edit')")
        raise PawpostError(f"the data folder {data} cannot be used: {exc.strerror or exc}{hint}") from None
    store = Store.for_config(config)
    damaged = store.damage()
    if damaged:  # posting from it could forget what was posted: the owner restores first
        store.close()
        raise PawpostError(damaged)
    if store.read_only:  # a full disk: reads work, but the daemon's every step writes
        store.close()
        raise PawpostError(f"the database {config.paths.database} cannot be written: the disk holding it is full "
                           "or mounted read-only; free some space (or remount it read-write) and start pawpost again")
    return store
