"""systemd's notify protocol: READY=1, WATCHDOG=1, STATUS=..., RELOADING=1, STOPPING=1 over $NOTIFY_SOCKET.

A few lines over a unix datagram socket (sd_notify(3)); outside systemd every call is a no-op.
"""

from __future__ import annotations

import logging
import os
import socket
import time

log = logging.getLogger(__name__)


class Notifier:
    """Speaks to the service manager that started us, if any (Type=notify units set $NOTIFY_SOCKET)."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        # '@name' is Linux's abstract namespace: the kernel wants a leading NUL byte instead.
        self.address = "\0" + address[1:] if address.startswith("@") else address
        self.watchdog_seconds = _watchdog_seconds(env)
        self._sock: socket.socket | None = None
        self._warned = False

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def send(self, *assignments: str) -> bool:
        """Send `KEY=value` lines as one datagram; False (and one warning) when systemd cannot be reached."""
        if not self.enabled:
            return False
        message = "\n".join(assignments).encode("utf-8", "replace")
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto(message, self.address)
        except OSError as exc:
            # Never fatal: a lost READY or STATUS must not take the bot down; systemd's own timeouts will tell.
            if not self._warned:
                log.warning("cannot notify systemd at %s: %s", self.address.replace("\0", "@"), exc)
                self._warned = True
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        return self.send("READY=1", f"MAINPID={os.getpid()}", *self._status(status))

    def reloading(self) -> bool:
        # MONOTONIC_USEC lets newer systemd (253+) match the reload to the READY=1 that ends it.
        return self.send("RELOADING=1", f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}")

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def status(self, text: str) -> bool:
        return self.send(*self._status(text))

    def stopping(self, status: str | None = None) -> bool:
        return self.send("STOPPING=1", *self._status(status))

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    @staticmethod
    def _status(text: str | None) -> list[str]:
        # One line: a newline would start a new KEY=value assignment.
        return [] if text is None else ["STATUS=" + " ".join(text.split())]


def _watchdog_seconds(env: dict[str, str] | os._Environ[str]) -> float | None:
    """WatchdogSec= as seconds when the watchdog is meant for this process, else None."""
    usec = env.get("WATCHDOG_USEC")
    pid = env.get("WATCHDOG_PID")
    if not usec:
        return None
    if pid and pid != str(os.getpid()):
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 1e6 if value > 0 else None
