"""`pawpost run` as a subprocess, as systemd runs it: end to end, SIGKILL at random moments, SIGTERM, SIGHUP.

Tiny local models, the dry-run publisher (posts are files in data/outbox/) and an injected clock
(PAWPOST_FAKE_NOW) a minute after a slot, so a post is due as soon as a draft is approved.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.bot.conftest import pipeline_home
from tests.conftest import REPO, run_cli
from tests.tiny_vision import pet_jpeg

DAY0 = datetime.fromisoformat("2026-06-01T12:01:00+00:00")  # the 12:00 slot fired a minute ago
SCHEDULE = {"timezone": "UTC", "slots": ["12:00"], "jitter_minutes": 0, "max_posts_per_day": 1,
            "catch_up_minutes": 60}
SECRET = "hunter2-never-in-the-log"


def fake_now(day: int) -> str:
    return (DAY0 + timedelta(days=day)).isoformat()


class Notifications:
    """A datagram socket standing in for systemd's $NOTIFY_SOCKET; collects every message."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.messages: list[str] = []
        self._closed = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._closed:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except (TimeoutError, OSError):
                continue

    def count(self, line: str) -> int:
        return sum(line in m.split("\n") for m in self.messages)

    def close(self) -> None:
        self._closed = True
        self._thread.join(2)
        self.sock.close()


class Bot:
    """One `pawpost run` process; its output goes to a log file (never a pipe that could fill up)."""

    def __init__(self, config: Path, log: Path, env: dict[str, str]) -> None:
        self.log = log
        full = {k: v for k, v in os.environ.items() if not k.startswith(("PAWPOST_", "NOTIFY_SOCKET", "WATCHDOG_"))}
        full.update(env)
        with log.open("a") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "bot", "--config", str(config), "run"],
                                         stdout=out, stderr=subprocess.STDOUT, env=full, cwd=REPO)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 10) -> int:
        """SIGTERM, then the exit status (TimeoutExpired if it takes longer than `timeout` seconds)."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(30)


class Home:
    """A pawpost home for the daemon: config, inbox, database and outbox, and helpers to look at them."""

    def __init__(self, root: Path, models: dict[str, str], **sections: dict[str, Any]) -> None:
        sections.setdefault("schedule", SCHEDULE)
        sections.setdefault("instagram", {"publisher": "dry-run"})
        self.root = root
        self.config = pipeline_home(root, models, **sections)
        self.inbox = root / "inbox"
        self.data = root / "data"
        self.log = root / "daemon.log"
        self.bots: list[Bot] = []

    def start(self, day: int = 0, **env: str) -> Bot:
        bot = Bot(self.config, self.log, {"PAWPOST_FAKE_NOW": fake_now(day), "PAWPOST_INSTAGRAM__PASSWORD": SECRET,
                                          **env})
        self.bots.append(bot)
        return bot

    def cleanup(self) -> None:
        for bot in self.bots:
            if bot.alive:
                bot.kill()

    def drop(self, name: str, data: bytes) -> None:
        """A file arriving in the inbox the way a copy does: written under a temporary name, then renamed."""
        tmp = self.inbox / f".{name}.part"
        tmp.write_bytes(data)
        tmp.rename(self.inbox / name)

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if not (self.data / "pawpost.db").exists():
            raise sqlite3.OperationalError("no database yet")
        db = sqlite3.connect(self.data / "pawpost.db", timeout=30)
        try:
            return db.execute(sql, params).fetchall()
        finally:
            db.close()

    def value(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        rows = self.query(sql, params)
        return rows[0][0] if rows else None

    def photos(self) -> Counter[str]:
        return Counter(dict(self.query("SELECT status, count(*) FROM photos GROUP BY status")))

    def drafts(self) -> Counter[str]:
        return Counter(dict(self.query("SELECT status, count(*) FROM drafts GROUP BY status")))

    def outbox(self) -> list[dict[str, Any]]:
        folder = self.data / "outbox"
        return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []

    def approve_pending(self, day: int, use_cli: bool = True) -> list[int]:
        """Approve every pending draft as the owner would, writing the caption (tiny models write gibberish)."""
        if not (self.data / "pawpost.db").exists():
            return []
        ids = [r[0] for r in self.query("SELECT id FROM drafts WHERE status = 'pending' ORDER BY id")]
        for draft_id in ids:
            caption = f"Lola and Pico, photo number {draft_id} #chihuahua"
            if use_cli:
                done = run_cli("drafts", "approve", str(draft_id), "--caption", caption, config=self.config,
                               env={"PAWPOST_FAKE_NOW": fake_now(day)})
                assert done.returncode == 0, done.stderr
            else:
                from bot.config import load_config
                from bot.drafts.actions import approve
                from bot.store.database import Store

                with Store.for_config(load_config(self.config)) as store:
                    approve(store, load_config(self.config), draft_id, caption=caption)
        return ids


def wait_for(what: str, check: Callable[[], bool], bot: Bot | None = None, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except sqlite3.OperationalError:
            pass  # the database does not exist yet
        if bot is not None and not bot.alive:
            raise AssertionError(f"the daemon exited ({bot.proc.returncode}) while waiting for {what}:\n"
                                 + bot.log.read_text()[-4000:])
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}:\n" + (bot.log.read_text()[-4000:] if bot else ""))


@pytest.fixture
def home(tmp_path: Path, pipeline_models: dict[str, str]) -> Iterator[Home]:
    h = Home(tmp_path / "pawpost", pipeline_models)
    yield h
    h.cleanup()


def bad_files() -> dict[str, bytes]:
    whole = pet_jpeg("green", 99)
    return {
        "notes.jpg": b"this is a text file with an image's name\n" * 20,
        "cut-off.jpg": whole[: len(whole) // 3],
        "empty.jpg": b"",
        "fake.png": b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
    }


def bad_videos(tmp_path: Path) -> dict[str, bytes]:
    from tests.videos import make_video

    whole = make_video(tmp_path / "whole.mp4", seconds=1.0, size=(64, 48)).read_bytes()
    return {"cut-off.mp4": whole[: len(whole) // 2], "noise.mov": random.Random(7).randbytes(20_000), "empty.mp4": b""}


@pytest.mark.slow
def test_end_to_end_photos_to_posts_with_bad_files(home: Home, tmp_path: Path) -> None:
    notify = Notifications(tmp_path / "notify.sock")
    try:
        # WATCHDOG_USEC as systemd sets it for WatchdogSec=3s: the main loop must ping at least every 3 s.
        bot = home.start(0, NOTIFY_SOCKET=str(notify.path), WATCHDOG_USEC="3000000")
        wait_for("READY=1", lambda: notify.count("READY=1") == 1, bot)

        home.drop("lola.jpg", pet_jpeg("red", 11))
        home.drop("pico.jpg", pet_jpeg("blue", 12))
        for name, data in {**bad_files(), **bad_videos(tmp_path)}.items():
            home.drop(name, data)
        # Every file is taken from the inbox (removed only after its row is committed).
        wait_for("two drafts, every bad file set aside and the inbox empty",
                 lambda: home.photos() == Counter({"drafted": 2, "quarantined": 7}) and not any(home.inbox.iterdir()),
                 bot)

        # Still healthy after the bad files: alive, and the watchdog keeps being fed.
        pings = notify.count("WATCHDOG=1")
        wait_for("watchdog pings after the bad files", lambda: notify.count("WATCHDOG=1") >= pings + 2, bot)
        wait_for("the status line showing the queue",
                 lambda: any(line.startswith("STATUS=") and "drafts: 2 pending" in line
                             for m in notify.messages for line in m.split("\n")), bot)

        approved = home.approve_pending(day=0)
        assert len(approved) == 2
        wait_for("the first approved draft posted at the due slot",
                 lambda: home.drafts() == Counter({"posted": 1, "approved": 1}), bot)
        (first,) = home.outbox()
        assert first["draft_id"] == approved[0] and first["caption"].startswith("Lola and Pico")

        assert bot.stop() == 0
        assert notify.count("STOPPING=1") == 1
    finally:
        notify.close()

    # The next day's slot: a new start posts the second draft, and only it.
    bot = home.start(1)
    wait_for("the second draft posted at the next slot", lambda: home.drafts() == Counter({"posted": 2}), bot)
    assert bot.stop() == 0
    posted = [r["draft_id"] for r in home.outbox()]
    assert sorted(posted) == sorted(approved)
    assert home.drafts() == Counter({"posted": 2})

    log = home.log.read_text()
    assert SECRET not in log
    assert "[photo=1]" in log and "[draft=1]" in log
    assert "quarantined" in log and "Traceback" not in log


@pytest.mark.slow
def test_a_broken_model_then_a_config_reload(home: Home) -> None:
    """A caption model that cannot load leaves photos waiting and the bot healthy; SIGHUP with a fixed config
    picks them up; SIGHUP with a broken config is reported and the running config kept."""
    good_config = home.config.read_text()
    home.config.write_text(good_config.replace(
        next(line for line in good_config.splitlines() if line.startswith("captioner =")),
        f'captioner = "{home.root / "no-such-model"}"'))
    bot = home.start(0)
    home.drop("lola.jpg", pet_jpeg("red", 21))
    wait_for("the photo analyzed and waiting for the caption model",
             lambda: home.value("SELECT error FROM photos WHERE status = 'analyzed'") is not None, bot)
    assert "no such folder" in home.value("SELECT value FROM kv WHERE key = 'model_error:captioner'")

    home.config.write_text(good_config + "\n[nonsense]\nkey = 1\n")
    bot.signal(signal.SIGHUP)
    wait_for("the bad config reported", lambda: "config reload failed" in home.log.read_text(), bot)
    assert bot.alive

    home.config.write_text(good_config)
    bot.signal(signal.SIGHUP)
    wait_for("the photo drafted after the reload", lambda: home.photos()["drafted"] == 1, bot)
    assert bot.stop() == 0
    assert "config reloaded" in home.log.read_text()


@pytest.mark.slow
def test_sigterm_mid_batch_exits_cleanly_and_the_next_start_resumes(home: Home) -> None:
    looks = ["red", "blue", "green"]
    n = 12  # enough batches (of 2) that the stop lands while some are still waiting
    for i in range(n):
        home.drop(f"photo{i}.jpg", pet_jpeg(looks[i % 3], 30 + i))
    bot = home.start(0)

    def mid_batch() -> bool:
        p = home.photos()
        return p["analyzed"] + p["drafted"] >= 1 and p["new"] + p["analyzed"] >= 1

    wait_for("processing under way", mid_batch, bot)
    assert bot.stop(timeout=10) == 0  # TimeoutExpired here would mean it did not stop within 10 seconds
    before = home.photos()
    assert sum(before.values()) == n and before["drafted"] < n
    assert home.value("SELECT count(*) FROM drafts") == before["drafted"]
    assert not list((home.data / "library").glob(".*.tmp")), "no half-written file in the library"

    bot = home.start(0)
    wait_for("every photo drafted after the restart", lambda: home.photos()["drafted"] == n, bot)
    assert bot.stop() == 0
    assert home.value("SELECT count(*) FROM drafts") == n


@pytest.mark.slow
@pytest.mark.timeout(900)  # ~2 minutes here; room for a slower machine
def test_sigkill_at_random_moments_loses_and_doubles_nothing(home: Home) -> None:
    rng = random.Random(int(os.environ.get("CRASH_TEST_SEED", "4")))
    looks = ["red", "blue", "green"]
    dropped: list[str] = []

    def drop_good(name: str, variant: int) -> None:
        home.drop(name, pet_jpeg(looks[variant % 3], variant))
        dropped.append(name)

    # Warm-up, not killed: a few drafts exist and are approved, so the killed runs have posts to make.
    for i in range(6):
        drop_good(f"first{i}.jpg", 50 + i)
    bot = home.start(0)
    wait_for("the first drafts", lambda: home.photos()["drafted"] == 6, bot)
    assert bot.stop() == 0

    runs = 20
    for run in range(1, runs + 1):
        # More files arrive in some runs, before the start and while the bot is up; two of them are bad.
        if run <= 4:
            drop_good(f"good{run}.jpg", 60 + run)
        if run in (2, 4):
            name, data = list(bad_files().items())[run // 2 - 1]
            home.drop(f"r{run}-{name}", data)
            dropped.append(name)
        home.approve_pending(day=run, use_cli=False)
        bot = home.start(run)  # a new day: its slot is due, so the first tick posts
        if run % 6 == 2:
            drop_good(f"late{run}.jpg", 80 + run)
        # Early (start-up recovery, the first posting tick, ingest) or late (models loading, batches).
        time.sleep(rng.uniform(0.3, 3.0) if rng.random() < 0.6 else rng.uniform(3.0, 9.0))
        bot.kill()

    # Then let it finish: one post per day, so a few more days. A kill between the post-making step and its
    # answer leaves a draft unsettled, which only the owner decides: here the owner resends it (its one last look
    # finds the post in the outbox if it was made, and then never sends it again).
    for day in range(runs + 1, runs + 25):
        for (draft_id,) in home.query("SELECT id FROM drafts WHERE status = 'publishing' ORDER BY id"):
            done = run_cli("drafts", "resend", str(draft_id), config=home.config,
                           env={"PAWPOST_FAKE_NOW": fake_now(day)})
            assert done.returncode == 0, done.stderr
        home.approve_pending(day=day, use_cli=False)
        bot = home.start(day)
        posted_before = home.drafts()["posted"]

        def settled(posted_before: int = posted_before) -> bool:
            photos, drafts = home.photos(), home.drafts()
            processed = photos["new"] + photos["analyzed"] == 0 and not any(home.inbox.iterdir())
            return processed and (drafts["approved"] == 0 or drafts["posted"] > posted_before)

        wait_for(f"day {day} settled", settled, bot)
        assert bot.stop() == 0
        if not any(home.drafts()[state] for state in ("pending", "approved", "publishing")):
            break

    photos = home.photos()
    drafts = home.drafts()
    # Every file became exactly one photo, in exactly one final state.
    assert sum(photos.values()) == len(dropped), (photos, dropped)
    assert photos["quarantined"] == 2
    assert set(photos) <= {"drafted", "quarantined", "duplicate"}
    # One draft per drafted photo, none lost, none doubled, all posted.
    assert home.value("SELECT count(*) FROM drafts") == photos["drafted"]
    assert home.value("SELECT count(DISTINCT photo_id) FROM draft_media") == photos["drafted"]
    assert drafts == Counter({"posted": photos["drafted"]})
    # Each draft is in the outbox exactly once: never posted twice.
    outbox = Counter(r["draft_id"] for r in home.outbox())
    assert outbox == Counter({r[0]: 1 for r in home.query("SELECT id FROM drafts")})
    # The recorded media codes are the ones in the outbox.
    codes = {r["draft_id"]: r["media_code"] for r in home.outbox()}
    assert codes == dict(home.query("SELECT id, media_code FROM drafts"))


def test_run_with_a_broken_config_exits_1_with_one_line(tmp_path: Path) -> None:
    config = tmp_path / "pawpost.toml"
    config.write_text("[schedule]\nslots = ['25:00']\n")
    done = run_cli("run", config=config, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "schedule.slots" in done.stderr
