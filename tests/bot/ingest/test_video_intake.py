"""Video ingest: phone clips of every kind become videos in the library, broken ones are quarantined with their
reason, repeats are duplicates, and a Live Photo's motion clip belongs to its still, whichever arrives first."""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config
from bot.ingest.intake import ingest_file, ingest_inbox
from bot.store.database import Store
from tests.bot.photofiles import photo
from tests.videos import hevc_available, live_photo_exif, make_video

FILMED = datetime(2026, 5, 1, 8, 0, 0, tzinfo=UTC)


@pytest.fixture
def home_sections() -> dict[str, dict[str, Any]]:
    return {"ingest": {"stable_seconds": 0.0, "max_file_mb": 0.05, "max_video_seconds": 300}}


def rows(store: Store) -> dict[str, dict]:
    return {r["source_name"]: dict(r) for r in store.all("SELECT * FROM photos ORDER BY id")}


def _clip(config: Config, name: str, **kw: Any) -> Path:
    config.paths.inbox.mkdir(parents=True, exist_ok=True)
    return make_video(config.paths.inbox / name, **kw)


def _old(path: Path) -> Path:
    """Written long ago (past every wait for a still)."""
    os.utime(path, (time.time() - 3600, time.time() - 3600))
    return path


def test_each_kind_of_phone_clip_becomes_a_video(config: Config, store: Store) -> None:
    clips = {
        "plain.mp4": dict(seconds=1.0, creation_time=FILMED),
        "turned.mp4": dict(seconds=0.5, rotation=90),
        "uneven.mp4": dict(seconds=0.5, vfr=True),
        "silent.mov": dict(seconds=0.5, audio=False),
        # Four minutes (over max_file_mb, which is for photos), kept tiny in pixels and frames.
        "long.mp4": dict(seconds=240, fps=2, size=(64, 48), audio=False),
    }
    if hevc_available():
        clips["IMG_0100.MOV"] = dict(codec="hevc", seconds=0.5)
    data = {name: _clip(config, name, **kw).read_bytes() for name, kw in clips.items()}
    summary = ingest_inbox(store, config)
    assert summary.accepted == len(clips) and not summary.errors and summary.quarantined == 0
    got = rows(store)
    for name, content in data.items():
        row = got[name]
        sha = hashlib.sha256(content).hexdigest()
        assert row["kind"] == "video" and row["status"] == "new" and row["sha256"] == sha
        assert row["path"].endswith(f"/{sha}.{row['format'].lower()}")
        assert (config.paths.data / row["path"]).read_bytes() == content
        assert row["size_bytes"] == len(content) and row["phash"] is None
    assert got["plain.mp4"]["taken_at"] == "2026-05-01T08:00:00+00:00" and got["plain.mp4"]["taken_at_source"] == "exif"
    assert got["plain.mp4"]["path"].startswith("library/2026/05/")
    assert got["silent.mov"]["taken_at_source"] == "file"
    assert (got["turned.mp4"]["width"], got["turned.mp4"]["height"]) == (240, 320)
    assert got["long.mp4"]["duration_s"] == pytest.approx(240, abs=1)
    facts = {name: json.loads(got[name]["video"]) for name in got}
    assert facts["turned.mp4"]["rotation"] == 90 and facts["uneven.mp4"]["vfr"] is True
    assert facts["silent.mov"]["audio"] is None and got["silent.mov"]["format"] == "MOV"
    assert facts["plain.mp4"]["audio"] == {"codec": "aac", "rate": 48000, "channels": 2}
    if hevc_available():
        assert facts["IMG_0100.MOV"]["codec"] == "hevc"
    assert list(config.paths.inbox.iterdir()) == []
    assert not [p for p in (config.paths.data / "library").rglob(".incoming-*")]


def test_broken_and_too_long_videos_are_quarantined_with_their_reason(config: Config, store: Store) -> None:
    inbox = config.paths.inbox
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / "empty.mp4").write_bytes(b"")
    # Fixed noise: some random bytes probe as a container holding only an audio stream ("no picture in it").
    (inbox / "noise.mp4").write_bytes(random.Random(7).randbytes(40_000))
    whole = make_video(config.paths.data / "whole.mp4", seconds=1.0).read_bytes()
    (inbox / "cut.mov").write_bytes(whole[: len(whole) // 2])
    _clip(config, "endless.mp4", seconds=301, fps=1, size=(32, 32), audio=False)
    summary = ingest_inbox(store, config)
    assert summary.quarantined == 4 and summary.accepted == 0 and not summary.errors
    got = rows(store)
    assert "empty" in got["empty.mp4"]["reason"]
    assert "not a readable video" in got["noise.mp4"]["reason"]
    assert "not a readable video" in got["cut.mov"]["reason"]
    assert "5 min 01 s" in got["endless.mp4"]["reason"] and "ingest.max_video_seconds = 300" in got["endless.mp4"][
        "reason"]
    for row in got.values():
        assert row["status"] == "quarantined" and "\n" not in row["reason"]
        assert (config.paths.data / row["path"]).is_file()  # kept in quarantine/, as a photo would be
    assert list(inbox.iterdir()) == []
    assert not [p for p in (config.paths.data / "library").rglob("*") if p.is_file()]


def test_a_clip_over_the_limit_is_taken_once_the_limit_is_raised(tmp_path, config: Config, store: Store) -> None:
    clip = _clip(config, "walk.mp4", seconds=301, fps=1, size=(32, 32), audio=False)
    content = clip.read_bytes()
    assert ingest_file(store, config, clip).status == "quarantined"
    config.ingest.max_video_seconds = 600
    clip.write_bytes(content)  # the owner puts it back
    result = ingest_file(store, config, clip)
    assert result.status == "new" and rows(store)["walk.mp4"]["kind"] == "video"


def test_the_same_clip_again_is_a_duplicate(config: Config, store: Store) -> None:
    first = _clip(config, "a.mp4", seconds=0.5)
    content = first.read_bytes()
    assert ingest_file(store, config, first).status == "new"
    again = config.paths.inbox / "copy of a.mp4"
    again.write_bytes(content)
    result = ingest_file(store, config, again)
    original = rows(store)["a.mp4"]
    assert result.status == "duplicate" and result.duplicate_of == original["id"]
    copy = rows(store)["copy of a.mp4"]
    assert copy["kind"] == "video" and copy["duration_s"] == original["duration_s"]


def test_a_clip_that_changes_while_copied_waits(config: Config, store: Store, monkeypatch) -> None:
    import bot.ingest.video_intake as video_intake

    clip = _clip(config, "growing.mp4", seconds=0.5)
    copy = video_intake._copy_hashing

    def and_grow(path, library):
        out = copy(path, library)
        with open(path, "ab") as fh:  # the owner's copy is still running
            fh.write(b"\0" * 10)
        return out

    monkeypatch.setattr(video_intake, "_copy_hashing", and_grow)
    result = ingest_file(store, config, clip)
    assert result.status == "skipped" and "still being written" in result.reason
    assert clip.exists() and rows(store) == {}
    assert not list((config.paths.data / "library").glob(".incoming-*"))


def test_a_hint_beside_a_clip_joins_it(config: Config, store: Store) -> None:
    _clip(config, "zoomies.mp4", seconds=0.5)
    (config.paths.inbox / "zoomies.txt").write_text("first snow!")
    ingest_inbox(store, config)
    assert rows(store)["zoomies.mp4"]["hint"] == "first snow!"
    assert list(config.paths.inbox.iterdir()) == []


# -- Live Photos --------------------------------------------------------------------------------------------------


def _still(config: Config, name: str, content_id: str | None, seed: int = 5) -> Path:
    path = config.paths.inbox / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(photo(seed, exif=live_photo_exif(content_id, FILMED)))
    return path


def test_a_live_photo_pair_is_one_photo_in_one_pass(config: Config, store: Store) -> None:
    # The clip's name sorts before the still's: videos are still taken after photos.
    _clip(config, "IMG_0007.MOV", seconds=0.5, content_id="8D3C-LIVE", creation_time=FILMED)
    _still(config, "IMG_0007.jpeg", "8D3C-LIVE")
    summary = ingest_inbox(store, config)
    got = rows(store)
    still, motion = got["IMG_0007.jpeg"], got["IMG_0007.MOV"]
    assert still["status"] == "new" and still["kind"] == "photo" and still["content_id"] == "8D3C-LIVE"
    assert motion["status"] == "duplicate" and motion["duplicate_of"] == still["id"]
    assert motion["reason"] == f"motion of Live Photo #{still['id']}" and motion["kind"] == "video"
    assert (config.paths.data / motion["path"]).is_file()  # the owner's clip is kept
    assert summary.accepted == 1 and list(config.paths.inbox.iterdir()) == []


def test_a_motion_clip_that_arrives_first_waits_for_its_still(config: Config, store: Store) -> None:
    _clip(config, "IMG_0008.MOV", seconds=0.5, content_id="11AA-LIVE")
    first = ingest_inbox(store, config)
    assert [r.status for r in first.results] == ["skipped"] and "waiting for its still" in first.results[0].reason
    assert rows(store) == {}
    _still(config, "IMG_0008.HEIC.jpg", "11AA-LIVE")  # another name: the identifier pairs them
    ingest_inbox(store, config)
    got = rows(store)
    assert got["IMG_0008.MOV"]["duplicate_of"] == got["IMG_0008.HEIC.jpg"]["id"]


def test_a_lone_motion_clip_becomes_a_video_after_the_wait(config: Config, store: Store) -> None:
    _old(_clip(config, "IMG_0009.MOV", seconds=0.5, content_id="22BB-LIVE"))
    ingest_inbox(store, config)
    assert rows(store)["IMG_0009.MOV"]["status"] == "new"


def test_without_identifiers_the_stem_and_the_moment_pair_them(config: Config, store: Store) -> None:
    _clip(config, "IMG_0010.MOV", seconds=0.5, creation_time=FILMED)
    _still(config, "IMG_0010.JPG", None)
    # Same moment, another name: a video of its own.
    _clip(config, "IMG_0011.MOV", seconds=0.6, creation_time=FILMED)
    ingest_inbox(store, config)
    got = rows(store)
    assert got["IMG_0010.MOV"]["duplicate_of"] == got["IMG_0010.JPG"]["id"]
    assert got["IMG_0011.MOV"]["status"] == "new"


def test_a_quarantined_clip_is_taken_in_again_once_the_limit_is_raised(config: Config, store: Store) -> None:
    from bot.ingest.quarantine import retry

    clip = _clip(config, "long walk.mp4", seconds=301, fps=1, size=(32, 32), audio=False)
    content = clip.read_bytes()
    first = ingest_file(store, config, clip)
    kept = config.paths.data / first.path
    assert first.status == "quarantined" and kept.read_bytes() == content
    again = retry(store, config, first.photo_id)  # still over the limit: set aside again, its file kept
    assert again.status == "quarantined" and "max_video_seconds" in again.reason and kept.is_file()
    config.ingest.max_video_seconds = 600
    taken = retry(store, config, again.photo_id)
    assert taken.status == "new" and not kept.exists()
    row = rows(store)["long walk.mp4"]
    assert row["kind"] == "video" and (config.paths.data / row["path"]).read_bytes() == content
    assert store.value("SELECT count(*) FROM photos") == 1
