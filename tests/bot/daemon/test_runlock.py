"""bot/daemon/runlock.py: a second `pawpost run` on the same data folder is refused, naming the running one; and what
`run` says at start about pets it cannot recognise."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.daemon.runlock import RunLock
from bot.errors import PawpostError
from tests.conftest import REPO, run_cli, write_config


def test_a_second_run_is_refused_with_the_running_pid(tmp_path: Path) -> None:
    # Lola's reference folder is missing and Pico has none configured: the first daemon says so at start.
    config = write_config(tmp_path / "home", {"models": {"device": "cpu"}},
                          pets=[{"name": "Lola", "photos": "pets/lola"}, {"name": "Pico"}])
    log = tmp_path / "first.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAWPOST_", "NOTIFY_SOCKET", "WATCHDOG_"))}
    with log.open("w") as out:
        first = subprocess.Popen([sys.executable, "-m", "bot", "--config", str(config), "run"], stdout=out,
                                 stderr=subprocess.STDOUT, env=env, cwd=REPO)
    try:
        deadline = time.monotonic() + 120
        while "watching" not in log.read_text():
            assert first.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        second = run_cli("run", config=config, timeout=60)
        assert second.returncode == 1
        assert second.stderr.count("\n") == 1 and "Traceback" not in second.stderr
        assert "already running" in second.stderr and f"pid {first.pid}" in second.stderr
        # The first one is untouched and still the only one.
        assert first.poll() is None
        text = log.read_text()
        # (the daemon creates the missing folder at start: it is then empty)
        assert "Lola has no reference photos" in text and "pets/lola has no photos yet" in text
        assert "Pico has no reference photos" in text
    finally:
        first.terminate()
        assert first.wait(30) == 0
    # Once it has stopped, the data folder is free again: the lock never outlives its process.
    RunLock(config.parent / "data").acquire().release()


def test_the_lock_is_per_data_folder_and_released(tmp_path: Path) -> None:
    held = RunLock(tmp_path).acquire()
    try:
        with pytest.raises(PawpostError, match=rf"already running .*pid {os.getpid()}"):
            RunLock(tmp_path).acquire()
        other = tmp_path / "other"
        other.mkdir()
        RunLock(other).acquire().release()
    finally:
        held.release()
    RunLock(tmp_path).acquire().release()


def test_restore_is_refused_while_the_daemon_holds_the_data_folder(tmp_path: Path) -> None:
    config = write_config(tmp_path / "home", {"models": {"device": "cpu"}})
    data = config.parent / "data"
    data.mkdir(parents=True, exist_ok=True)
    held = RunLock(data).acquire()  # what a running `pawpost run` holds
    try:
        refused = run_cli("restore", "--force", config=config, timeout=60)
        assert refused.returncode == 1 and "Traceback" not in refused.stderr
        assert "already running" in refused.stderr and "'pawpost restore' needs it stopped" in refused.stderr
        assert not (data / "backups").exists() or not list((data / "backups").glob("replaced-*"))  # untouched
    finally:
        held.release()
    assert run_cli("restore", "--force", config=config, timeout=60).returncode == 0
