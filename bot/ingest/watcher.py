"""The inbox watcher: filesystem events (or polling) turned into settled files, handed on one at a time.

A file is handed on once it has been quiet for `ingest.stable_seconds` with size and mtime unchanged (and, where
inotify tells, closed by its writer); a scan at start and a periodic rescan catch whatever the events missed.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler

from bot.config import Config
from bot.errors import PawpostError
from bot.ingest.hints import is_hint
from bot.ingest.inbox import Signature, candidates, is_ignored, signature, source_name

log = logging.getLogger(__name__)

# A file its writer still holds open (inotify saw writes but no close) is taken anyway after this long unchanged:
# a stalled network copy must not wait forever, and a writer pausing for seconds must not be cut short.
OPEN_WRITE_GRACE = 60.0


@dataclass
class _Pending:
    changed_at: float             # monotonic time of the last event or observed change
    sig: Signature | None         # (size, mtime_ns, inode) when last looked at
    writing: bool = False         # written to and not yet closed (inotify only)
    opens: int = 0                # open handles seen and not yet closed (inotify only)


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: InboxWatcher) -> None:
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        try:
            self.watcher._on_event(event)
        except Exception:  # an odd event must never kill the observer thread
            log.exception("inbox event %r could not be handled", event)


class InboxWatcher:
    """Watches `paths.inbox` (subfolders included) and calls `on_ready(path)` for each settled candidate file.

    `on_ready` runs on the watcher's own worker thread, one file at a time (open a Store in that thread); an exception
    from it is logged and the file stays where it is, to be seen again by the next rescan.
    """

    def __init__(self, config: Config, on_ready: Callable[[Path], None],
                 *, clock: Callable[[], float] = time.monotonic) -> None:
        self.inbox = Path(config.paths.inbox)
        self.on_ready = on_ready
        self.stable = config.ingest.stable_seconds
        self.rescan_every = config.ingest.rescan_minutes * 60
        self.polling = config.ingest.polling
        self._clock = clock
        self._tick = max(0.05, min(0.5, self.stable / 4))
        self._pending: dict[Path, _Pending] = {}
        self._dirs: set[Path] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._observer: Any = None
        self._thread: threading.Thread | None = None

    # -- life cycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Start watching; everything already in the inbox is scanned and handed on once settled."""
        if self._thread is not None:
            return
        self.inbox.mkdir(parents=True, exist_ok=True)
        self._stopping.clear()
        self._observer = self._start_observer()
        self._thread = threading.Thread(target=self._run, name="pawpost-inbox", daemon=True)
        self._thread.start()
        # After the observer runs, so a file arriving now is seen by the scan, an event, or both (never neither).
        self.rescan()

    def stop(self, timeout: float | None = 30) -> None:
        """Stop watching; a file being handed on finishes first."""
        self._stopping.set()
        self._wake.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout)
            self._observer = None
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> InboxWatcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def rescan(self) -> None:
        """Look at every file in the inbox again (start-up, the periodic safety net, or on demand)."""
        for path in candidates(self.inbox):
            self._touch(path, only_new=True)
        self._wake.set()

    @property
    def pending(self) -> int:
        """Files seen and not yet handed on."""
        with self._lock:
            return len(self._pending)

    def _start_observer(self) -> Any:
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        if not self.polling:
            observer = Observer()
            observer.schedule(_Handler(self), str(self.inbox), recursive=True)
            try:
                observer.start()
                return observer
            except OSError as exc:
                # e.g. the inotify watch limit: polling is slower but never misses a file.
                log.warning("cannot watch %s with inotify (%s); polling it instead", self.inbox, exc)
                self.polling = True
        observer = PollingObserver(timeout=max(0.1, min(1.0, self.stable / 2)))
        observer.schedule(_Handler(self), str(self.inbox), recursive=True)
        observer.start()
        return observer

    # -- events (observer thread) --------------------------------------------------------------------

    def _on_event(self, event: FileSystemEvent) -> None:
        kind = event.event_type
        src = Path(os.fsdecode(event.src_path))
        dest = Path(os.fsdecode(event.dest_path)) if kind == "moved" else None
        if event.is_directory:
            folder = dest or src
            if kind in ("created", "moved") and self._inside(folder):
                # A folder moved or copied in: its files may have arrived before its watch was added.
                with self._lock:
                    self._dirs.add(folder)
                self._wake.set()
            return
        if kind == "moved":
            self._forget(src)
            if dest is not None and self._inside(dest):
                self._touch(dest)
        elif kind == "deleted":
            self._forget(src)
        elif kind in ("created", "modified"):
            self._touch(src, writing=kind == "modified")
        elif kind == "attrib":
            self._touch(src, only_known=True)
        elif kind in ("opened", "closed", "closed_no_write"):
            self._open_close(src, kind)

    def _inside(self, path: Path) -> bool:
        return path != self.inbox and path.is_relative_to(self.inbox)

    def _touch(self, path: Path, *, writing: bool = False, only_new: bool = False, only_known: bool = False) -> None:
        if is_ignored(source_name(path, self.inbox)):
            return
        sig = signature(path)
        now = self._clock()
        with self._lock:
            pending = self._pending.get(path)
            if pending is None:
                if not only_known:
                    self._pending[path] = _Pending(now, sig, writing=writing and not self.polling)
            elif not only_new:
                pending.changed_at, pending.sig = now, sig
                pending.writing = pending.writing or (writing and not self.polling)

    def _forget(self, path: Path) -> None:
        with self._lock:
            self._pending.pop(path, None)

    def _open_close(self, path: Path, kind: str) -> None:
        # Only files already waiting are tracked: our own reads of a handed-on file must not bring it back.
        with self._lock:
            pending = self._pending.get(path)
            if pending is None:
                return
            if kind == "opened":
                pending.opens += 1
                return
            pending.opens = max(0, pending.opens - 1)
            if kind == "closed":
                pending.writing = False
                pending.changed_at = self._clock()

    # -- the worker --------------------------------------------------------------------------------

    def _run(self) -> None:
        last_rescan = self._clock()
        while not self._stopping.is_set():
            self._wake.wait(self._tick)
            self._wake.clear()
            try:
                self._scan_new_folders()
                if self.rescan_every and self._clock() - last_rescan >= self.rescan_every:
                    last_rescan = self._clock()
                    self.rescan()
                ready = self._due()
            except Exception:
                log.exception("the inbox watcher hit an error; it carries on")
                continue
            for path in ready:
                if self._stopping.is_set():
                    break
                try:
                    self.on_ready(path)
                except PawpostError as exc:  # the owner's to fix (a full disk): one line, no traceback
                    log.error("%s stays in the inbox for now: %s", path, exc)
                except Exception:
                    log.exception("%s could not be taken now; it stays in the inbox for the next rescan", path)

    def _scan_new_folders(self) -> None:
        with self._lock:
            folders, self._dirs = self._dirs, set()
        for folder in folders:
            if folder.is_dir() and not folder.is_symlink():
                for path in candidates(folder, self.inbox):
                    self._touch(path, only_new=True)

    def _due(self) -> list[Path]:
        """Take the files that have settled out of the waiting set, photos before hints."""
        now = self._clock()
        ready = []
        with self._lock:
            items = [(p, w) for p, w in self._pending.items() if now - w.changed_at >= self.stable]
        for path, waiting in items:
            sig = signature(path)  # outside the lock: a stat on a slow share must not stall the event thread
            with self._lock:
                if self._pending.get(path) is not waiting:
                    continue
                if sig is None:
                    del self._pending[path]
                elif sig != waiting.sig:
                    waiting.sig, waiting.changed_at = sig, now
                elif (waiting.writing or waiting.opens) and now - waiting.changed_at < OPEN_WRITE_GRACE:
                    continue  # its writer still holds it open
                else:
                    del self._pending[path]
                    ready.append(path)
        return sorted(ready, key=lambda p: (is_hint(p), str(p)))
