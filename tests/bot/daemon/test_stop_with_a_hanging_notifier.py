"""Stopping `pawpost run` (a real subprocess) while a notifier hangs: the process exits within the unit's
TimeoutStopSec whatever the notifier does, and the message it was sending is delivered at the next start."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from bot.config import load_config
from bot.drafts.media import add_draft
from bot.store.database import Store
from tests.bot.conftest import Receiver
from tests.conftest import REPO, write_config
from tests.rows import make_photo

REVIEW = "pawpost: 1 draft is waiting for review"


def _stop_timeout() -> float:
    """systemd's TimeoutStopSec for the pawpost unit: the longest a stop may take before systemd kills it."""
    text = (REPO / "systemd" / "pawpost.service").read_text()
    return float(re.search(r"^TimeoutStopSec=(\d+)s?$", text, re.M)[1])


class SilentServer:
    """A TCP server that accepts every connection and never answers (a notifier target that hangs)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.accepted = threading.Event()
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            self.accepted.set()

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    def close(self) -> None:
        for conn in self.conns:
            conn.close()
        self.sock.close()


def _write(root: Path, url: str) -> Path:
    # rto: Apprise's own read timeout far beyond the stop timeout, as a notifier's own timeouts may be.
    return write_config(root, {"notify": {"urls": [url], "timeout_seconds": 200}, "models": {"detector": "none"}},
                        pets=[])


def _start(cfg: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAWPOST_", "NOTIFY_SOCKET", "WATCHDOG_"))}
    with log.open("a") as out:
        return subprocess.Popen([sys.executable, "-m", "bot", "--config", str(cfg), "run"], stdout=out,
                                stderr=subprocess.STDOUT, env=env, cwd=REPO)


def _wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_a_stop_does_not_wait_for_a_hanging_notifier_and_the_message_is_kept(tmp_path: Path) -> None:
    root = tmp_path / "home"
    silent = SilentServer()
    cfg = _write(root, f"json://127.0.0.1:{silent.port}/hook?rto=300")
    with Store.for_config(load_config(cfg)) as store:
        add_draft(store, [make_photo(store, "a", 1)], status="pending", caption="Nap o'clock",
                  created_at="2026-01-01T00:00:00+00:00", updated_at="2026-01-01T00:00:00+00:00")
    log = tmp_path / "run.log"

    bot = _start(cfg, log)
    try:
        assert silent.accepted.wait(120), log.read_text()  # the review message is being sent, and hangs
        bot.send_signal(signal.SIGTERM)
        try:
            rc = bot.wait(_stop_timeout())
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running {_stop_timeout():.0f}s after SIGTERM:\n{log.read_text()}") from None
        assert rc == 0, log.read_text()
    finally:
        if bot.poll() is None:
            bot.kill()
        silent.close()
    assert "kept and sent again at the next start" in log.read_text()

    # The next start, with a notifier that answers: the message cut short is delivered, once.
    receiver = Receiver("ok")
    try:
        _write(root, receiver.url)
        again = _start(cfg, log)
        try:
            assert _wait_for(lambda: any(b["title"] == REVIEW for b in receiver.bodies), 120), log.read_text()
            again.send_signal(signal.SIGTERM)
            assert again.wait(_stop_timeout()) == 0
        finally:
            if again.poll() is None:
                again.kill()
        assert [b["title"] for b in receiver.bodies] == [REVIEW]
    finally:
        receiver.close()
