"""The inbox watcher with a real watchdog observer on temp folders, feeding the real ingest."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config
from bot.ingest.intake import ingest_file
from bot.ingest.watcher import InboxWatcher
from bot.store.database import Store
from tests.bot.photofiles import exif_bytes, make_config, noise_png, photo, png_bomb, resaved

TIMEOUT = 60.0


class Ingesting:
    """`on_ready` as the daemon uses it: ingest the file with a store opened on the watcher's thread."""

    def __init__(self, config: Config, fail_first: int = 0) -> None:
        self.config = config
        self.calls: list[Path] = []
        self.fail_first = fail_first

    def __call__(self, path: Path) -> None:
        self.calls.append(path)
        if self.fail_first:
            self.fail_first -= 1
            raise RuntimeError("simulated failure in a later stage")
        with Store.for_config(self.config) as store:
            ingest_file(store, self.config, path)


@pytest.fixture
def home_sections() -> dict[str, dict[str, Any]]:
    """`config` (tests/conftest.py) with files complete only once unchanged for 0.3 s: what the watcher waits for."""
    return {"ingest": {"stable_seconds": 0.3, "max_file_mb": 0.05}}


@pytest.fixture
def watching(config: Config) -> Iterator[Callable[..., tuple[InboxWatcher, Ingesting]]]:
    started: list[InboxWatcher] = []

    def start(other: Config | None = None, **kwargs: int) -> tuple[InboxWatcher, Ingesting]:
        on_ready = Ingesting(other or config, **kwargs)
        watcher = InboxWatcher(other or config, on_ready)
        watcher.start()
        started.append(watcher)
        return watcher, on_ready

    yield start
    for watcher in started:
        watcher.stop()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def settled(config: Config, store: Store, seed: int = 999) -> None:
    """A positive control: a photo dropped now is taken within the wait, so whatever an earlier event would still
    have handed on has been handed on by the time this returns (the watcher hands files on one at a time, in the
    order they settle)."""
    before = count(store)
    (config.paths.inbox / "control.jpg").write_bytes(photo(seed, size=(32, 24)))
    wait_for(lambda: count(store) == before + 1 and not (config.paths.inbox / "control.jpg").exists(),
             "the control photo")


def photos(store: Store) -> dict[str, dict]:
    return {r["source_name"]: dict(r) for r in store.all("SELECT * FROM photos ORDER BY id")}


def count(store: Store) -> int:
    return store.value("SELECT count(*) FROM photos")


def inbox_files(config: Config) -> list[Path]:
    return [p for p in config.paths.inbox.rglob("*") if p.is_file() or p.is_symlink()]


def test_a_file_written_slowly_in_chunks_is_ingested_once_complete(config: Config, store: Store, watching) -> None:
    watching()
    data = photo(1, size=(400, 300))
    path = config.paths.inbox / "slow.jpg"
    pieces = [data[i:i + len(data) // 12 + 1] for i in range(0, len(data), len(data) // 12 + 1)]
    with open(path, "wb") as fh:
        for i, piece in enumerate(pieces):
            fh.write(piece)
            fh.flush()
            # Pauses longer than stable_seconds too: the writer still holds the file open, so it is not taken.
            time.sleep(1.0 if i == len(pieces) // 2 else 0.2)
    wait_for(lambda: count(store) == 1 and not path.exists(), "the slow file to be ingested")
    settled(config, store)
    row = photos(store)["slow.jpg"]
    assert count(store) == 2  # the slow file once, and the control photo
    assert row["status"] == "new" and row["sha256"] == hashlib.sha256(data).hexdigest()
    assert (config.paths.data / row["path"]).read_bytes() == data


def test_a_burst_of_300_files_loses_and_doubles_nothing(config: Config, store: Store, watching) -> None:
    watcher, _ = watching()
    files = {f"IMG_{i:04d}.jpg": photo(1000 + i, size=(64, 48)) for i in range(300)}
    for name, data in files.items():
        (config.paths.inbox / name).write_bytes(data)
    wait_for(lambda: count(store) >= 300 and not inbox_files(config), "300 photos", timeout=240)
    settled(config, store)
    rows = photos(store)
    assert rows.pop("control.jpg")["status"] == "new"
    assert len(rows) == 300 and {r["status"] for r in rows.values()} == {"new"}
    assert {name: r["sha256"] for name, r in rows.items()} == {
        name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    library = [p for p in (config.paths.data / "library").rglob("*") if p.is_file()]
    assert len(library) == 301
    assert watcher.pending == 0


def test_moved_in_and_renamed_into_the_inbox(config: Config, store: Store, watching, tmp_path: Path) -> None:
    watching()
    outside = tmp_path / "camera"
    outside.mkdir()
    (outside / "moved.jpg").write_bytes(photo(2))
    os.rename(outside / "moved.jpg", config.paths.inbox / "moved.jpg")
    # A downloader's temporary name, renamed when complete; and rsync's hidden temporary name.
    part = config.paths.inbox / "renamed.jpg.part"
    with open(part, "wb") as fh:
        fh.write(photo(3)[:100])
        time.sleep(0.6)  # longer than stable_seconds: a .part file is never taken, however quiet
        fh.write(photo(3)[100:])
    os.rename(part, config.paths.inbox / "renamed.jpg")
    hidden = config.paths.inbox / ".synced.jpg.Xa9f2"
    hidden.write_bytes(photo(4))
    time.sleep(0.5)
    os.rename(hidden, config.paths.inbox / "synced.jpg")
    wait_for(lambda: count(store) == 3 and not inbox_files(config), "three photos")
    rows = photos(store)
    assert set(rows) == {"moved.jpg", "renamed.jpg", "synced.jpg"}
    assert {r["status"] for r in rows.values()} == {"new"}
    assert (config.paths.data / rows["renamed.jpg"]["path"]).read_bytes() == photo(3)


def test_subfolders_created_or_moved_in(config: Config, store: Store, watching, tmp_path: Path) -> None:
    watching()
    deep = config.paths.inbox / "2026" / "beach"
    deep.mkdir(parents=True)
    (deep / "a.jpg").write_bytes(photo(5))
    trip = tmp_path / "trip"
    (trip / "day 2").mkdir(parents=True)
    (trip / "b.jpg").write_bytes(photo(6))
    (trip / "day 2" / "c.jpg").write_bytes(photo(7))
    os.rename(trip, config.paths.inbox / "trip")
    wait_for(lambda: count(store) == 3, "three photos from subfolders")
    assert set(photos(store)) == {"2026/beach/a.jpg", "trip/b.jpg", "trip/day 2/c.jpg"}
    wait_for(lambda: not inbox_files(config), "the inbox to empty")


def test_files_present_before_start_up_are_taken(config: Config, store: Store, watching) -> None:
    (config.paths.inbox / "old").mkdir()
    (config.paths.inbox / "a.jpg").write_bytes(photo(8))
    (config.paths.inbox / "old" / "b.png").write_bytes(photo(9, "PNG"))
    watching()
    wait_for(lambda: count(store) == 2 and not inbox_files(config), "the files already there")
    assert set(photos(store)) == {"a.jpg", "old/b.png"}


def test_bad_files_go_to_quarantine_and_the_watcher_keeps_going(config: Config, store: Store, watching,
                                                               tmp_path: Path) -> None:
    watching()
    secret = tmp_path / "private" / "passport.jpg"
    secret.parent.mkdir()
    secret.write_bytes(photo(10))
    good = photo(11)
    drops = {
        "zero.jpg": b"",
        "truncated.jpg": good[: len(good) // 2],
        "letter.jpg": b"Dear Lola, happy birthday!\n",
        "bomb.png": png_bomb(),
        "big.png": noise_png(160),  # ~77 KB, over max_file_mb = 0.05
        "IMG_0001.HEIC": photo(12, "HEIF", quality=90),
        "sideways.jpg": photo(13, size=(60, 40), exif=exif_bytes(orientation=8)),
        "Лола и 🐕 día.jpg": photo(14),
    }
    for name, data in drops.items():
        (config.paths.inbox / name).write_bytes(data)
    os.symlink(secret, config.paths.inbox / "shortcut.jpg")
    wait_for(lambda: count(store) == len(drops) + 1 and not inbox_files(config), "every file to be judged")
    rows = photos(store)
    expected_reason = {"zero.jpg": "empty", "truncated.jpg": "damaged or incomplete", "letter.jpg": "text file",
                       "bomb.png": "decompression bomb", "big.png": "max_file_mb", "shortcut.jpg": "outside the inbox"}
    for name, words in expected_reason.items():
        assert rows[name]["status"] == "quarantined" and words in rows[name]["reason"], (name, rows[name]["reason"])
        assert os.path.lexists(config.paths.data / rows[name]["path"])
    for name in ("zero.jpg", "truncated.jpg", "letter.jpg", "bomb.png", "big.png"):
        assert (config.paths.data / rows[name]["path"]).read_bytes() == drops[name]
    assert secret.read_bytes() == photo(10)
    assert rows["IMG_0001.HEIC"]["status"] == "new" and rows["IMG_0001.HEIC"]["format"] == "HEIF"
    assert rows["sideways.jpg"]["status"] == "new" and (rows["sideways.jpg"]["width"], rows["sideways.jpg"]
                                                        ["height"]) == (40, 60)
    assert rows["Лола и 🐕 día.jpg"]["status"] == "new"
    # Still watching: a good photo dropped afterwards is taken.
    (config.paths.inbox / "after.jpg").write_bytes(photo(15))
    wait_for(lambda: "after.jpg" in photos(store), "a photo after the bad ones")
    assert photos(store)["after.jpg"]["status"] == "new"


def test_exact_and_near_duplicates(config: Config, store: Store, watching) -> None:
    watching()
    original = photo(20, size=(200, 150))
    (config.paths.inbox / "IMG_1.jpg").write_bytes(original)
    wait_for(lambda: count(store) == 1, "the original")
    (config.paths.inbox / "IMG_1 copy.jpg").write_bytes(original)
    (config.paths.inbox / "IMG_1 edited.jpg").write_bytes(resaved(original, quality=50))
    (config.paths.inbox / "IMG_2.jpg").write_bytes(photo(21, size=(200, 150)))
    wait_for(lambda: count(store) == 4 and not inbox_files(config), "the duplicates")
    rows = photos(store)
    first = rows["IMG_1.jpg"]["id"]
    assert rows["IMG_1 copy.jpg"]["status"] == "duplicate" and rows["IMG_1 copy.jpg"]["duplicate_of"] == first
    assert rows["IMG_1 edited.jpg"]["status"] == "duplicate" and rows["IMG_1 edited.jpg"]["duplicate_of"] == first
    assert rows["IMG_2.jpg"]["status"] == "new"


def test_a_hint_joins_its_photo_even_when_it_arrives_later(config: Config, store: Store, watching) -> None:
    watching()
    (config.paths.inbox / "IMG_0412.txt").write_text("first day at the beach")
    (config.paths.inbox / "IMG_0412.jpg").write_bytes(photo(30))
    (config.paths.inbox / "IMG_0413.jpg").write_bytes(photo(31))
    wait_for(lambda: count(store) == 2 and not (config.paths.inbox / "IMG_0412.txt").exists(), "two photos")
    (config.paths.inbox / "IMG_0413.txt").write_text("her 5th birthday")
    wait_for(lambda: not inbox_files(config), "the late note to be taken")
    rows = photos(store)
    assert rows["IMG_0412.jpg"]["hint"] == "first day at the beach"
    assert rows["IMG_0413.jpg"]["hint"] == "her 5th birthday"
    assert store.value("SELECT count(*) FROM photos WHERE status = 'quarantined'") == 0


def test_junk_is_never_handed_on(config: Config, store: Store, watching) -> None:
    _, on_ready = watching()
    junk = [".DS_Store", "._IMG_1.jpg", "Thumbs.db", "IMG_2.jpg.crdownload", "dl.tmp", "@eaDir/x.jpg",
            ".stfolder/y.jpg"]
    for name in junk:
        (config.paths.inbox / name).parent.mkdir(exist_ok=True)
        (config.paths.inbox / name).write_bytes(photo(40))
    time.sleep(0.5)
    (config.paths.inbox / "real.jpg").write_bytes(photo(41))
    wait_for(lambda: count(store) == 1, "the real photo")
    settled(config, store)
    assert [p.name for p in on_ready.calls] == ["real.jpg", "control.jpg"]
    assert all((config.paths.inbox / name).exists() for name in junk)


def test_polling_observer(tmp_path: Path, watching) -> None:
    config = make_config(tmp_path / "polled", stable_seconds=0.3, polling=True)
    watcher, _ = watching(config)
    assert watcher.polling
    (config.paths.inbox / "sub").mkdir()
    (config.paths.inbox / "a.jpg").write_bytes(photo(50))
    (config.paths.inbox / "sub" / "b.jpg").write_bytes(photo(51))
    with Store.for_config(config) as store:
        wait_for(lambda: count(store) == 2, "two polled photos")
        assert set(photos(store)) == {"a.jpg", "sub/b.jpg"}


def test_a_failed_hand_off_is_retried_by_the_periodic_rescan(tmp_path: Path, watching) -> None:
    config = make_config(tmp_path / "h", stable_seconds=0.2, rescan_minutes=0.01)
    _, on_ready = watching(config, fail_first=1)
    (config.paths.inbox / "a.jpg").write_bytes(photo(60))
    with Store.for_config(config) as store:
        wait_for(lambda: count(store) == 1, "the photo after a rescan")
    assert [p.name for p in on_ready.calls] == ["a.jpg", "a.jpg"]


def test_stop_stops_watching(config: Config, store: Store, tmp_path: Path) -> None:
    calls: list[Path] = []
    ready = threading.Event()
    watcher = InboxWatcher(config, lambda p: (calls.append(p), ready.set()))
    watcher.start()
    (config.paths.inbox / "a.jpg").write_bytes(photo(70))
    assert ready.wait(TIMEOUT)
    watcher.stop()
    (config.paths.inbox / "b.jpg").write_bytes(photo(71))
    # The control: a watcher started after the file arrived takes it within the wait; the stopped one never does.
    taken = threading.Event()
    control = InboxWatcher(config, lambda p: taken.set())
    control.start()
    try:
        assert taken.wait(TIMEOUT)
    finally:
        control.stop()
    assert [p.name for p in calls] == ["a.jpg"]
