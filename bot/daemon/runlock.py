"""One `pawpost run` per data folder: a second daemon on the same config is refused, naming the running one.

The lock is an flock on data/pawpost.pid, held for the process's life; the kernel drops it when the process
ends, however it ends, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from bot.errors import PawpostError

PID_FILE = "pawpost.pid"


class AlreadyRunning(PawpostError):
    """Another `pawpost run` holds the data folder."""


class RunLock:
    """`acquire()` takes the data folder for this process (or raises AlreadyRunning); `release()` gives it back."""

    def __init__(self, data: Path) -> None:
        self.path = data / PID_FILE
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            who = f"pid {pid}" if pid else "another process"
            raise AlreadyRunning(f"pawpost is already running for this data folder ({who}, data {self.path.parent}); "
                                 "stop it first, or use 'systemctl reload pawpost' / SIGHUP to re-read the config"
                                 ) from None
        except BaseException:
            os.close(fd)
            raise
        # Ours now: the file says who holds it, for the next one that asks.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.ftruncate(fd, 0)
            except OSError:
                pass
            os.close(fd)


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
