"""Ingest: formats by content, EXIF facts, quarantine with reasons, duplicates, hints, crash resume, the CLI."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.config import Config
from bot.errors import PawpostError
from bot.ingest.filecheck import hash_distance
from bot.ingest.intake import add_to_library, ingest_file, ingest_inbox
from bot.store.database import Store
from bot.store.states import PhotoStatus
from tests.bot.photofiles import encode, exif_bytes, make_config, noise_png, photo, picture, png_bomb, resaved
from tests.conftest import run_cli


@pytest.fixture
def home_sections() -> dict[str, dict[str, Any]]:
    """`config` (tests/conftest.py) takes files at once and refuses any over 50 kB."""
    return {"ingest": {"stable_seconds": 0.0, "max_file_mb": 0.05}}


def drop(config: Config, name: str, data: bytes) -> Path:
    path = config.paths.inbox / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def rows(store: Store) -> list[dict]:
    return [dict(r) for r in store.all("SELECT * FROM photos ORDER BY id")]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_formats_are_recognised_by_content_and_stored_byte_for_byte(config: Config, store: Store) -> None:
    files = {
        "jpeg-named.png": (photo(1, "JPEG"), "JPEG", "jpg"),
        "png-named.jpg": (photo(2, "PNG"), "PNG", "png"),
        "photo.webp": (photo(3, "WEBP", quality=90), "WEBP", "webp"),
        "IMG_0001.HEIC": (photo(4, "HEIF", quality=90), "HEIF", "heic"),
    }
    for name, (data, _, _) in files.items():
        drop(config, name, data)
    summary = ingest_inbox(store, config)
    assert summary.accepted == 4 and summary.quarantined == 0 and not summary.errors
    by_name = {r["source_name"]: r for r in rows(store)}
    for name, (data, fmt, ext) in files.items():
        row = by_name[name]
        assert row["status"] == "new" and row["format"] == fmt and row["origin"] == "inbox"
        assert row["path"].startswith("library/") and row["path"].endswith(f"/{sha(data)}.{ext}")
        assert (config.paths.data / row["path"]).read_bytes() == data
        assert (row["width"], row["height"]) == (96, 72) and row["size_bytes"] == len(data)
        assert len(row["phash"]) == 16
    assert list(config.paths.inbox.iterdir()) == []


def test_exif_orientation_capture_time_and_gps_are_recorded(config: Config, store: Store) -> None:
    drop(config, "rotated.jpg", photo(5, size=(60, 40), exif=exif_bytes(orientation=6, taken="2024:05:06 07:08:09",
                                                                      offset="+02:00", gps=True)))
    drop(config, "local.jpg", photo(6, exif=exif_bytes(taken="2023:12:31 23:30:00")))
    plain_file = drop(config, "plain.png", photo(7, "PNG"))
    os.utime(plain_file, (1741086000, 1741086000))  # 2025-03-04 11:00:00 UTC
    ingest_inbox(store, config)
    by_name = {r["source_name"]: r for r in rows(store)}
    r = by_name["rotated.jpg"]
    assert (r["width"], r["height"]) == (40, 60)  # as displayed, not as stored
    assert r["taken_at"] == "2024-05-06T05:08:09+00:00" and r["has_gps"] == 1
    assert r["path"].startswith("library/2024/05/")
    # No offset in EXIF: the camera clock is taken to be in the owner's time zone (UTC in the test config).
    assert by_name["local.jpg"]["taken_at"] == "2023-12-31T23:30:00+00:00" and by_name["local.jpg"]["has_gps"] == 0
    assert {r["taken_at_source"] for r in (by_name["rotated.jpg"], by_name["local.jpg"])} == {"exif"}
    # No EXIF time at all: the file's own time stands in, and the photo says so.
    assert by_name["plain.png"]["taken_at"] == "2025-03-04T11:00:00+00:00"
    assert by_name["plain.png"]["taken_at_source"] == "file"


def test_sub_seconds_and_offset_of_the_capture_time_order_a_burst(config: Config, store: Store) -> None:
    for n, sub in enumerate(("120", "5", "873")):
        exif = exif_bytes(taken="2024:05:06 07:08:09", offset="-05:00", subsec=sub)
        drop(config, f"IMG_{n}.HEIC", photo(40 + n, "HEIF", exif=exif))
    drop(config, "whole.jpg", photo(43, exif=exif_bytes(taken="2024:05:06 07:08:10", offset="-05:00", subsec="0")))
    ingest_inbox(store, config)
    by_name = {r["source_name"]: r for r in rows(store)}
    assert [by_name[f"IMG_{n}.HEIC"]["taken_at"] for n in range(3)] == [
        "2024-05-06T12:08:09.120+00:00", "2024-05-06T12:08:09.500+00:00", "2024-05-06T12:08:09.873+00:00"]
    assert by_name["whole.jpg"]["taken_at"] == "2024-05-06T12:08:10+00:00"
    assert {r["taken_at_source"] for r in by_name.values()} == {"exif"}


def test_exif_rotation_is_applied_before_the_perceptual_hash(config: Config, store: Store) -> None:
    upright = picture(8, (72, 96))
    # Stored turned a quarter to the left, as a phone held sideways saves it; orientation 6 turns it back.
    stored_sideways = upright.transpose(Image.Transpose.ROTATE_90)
    drop(config, "a.jpg", photo(8, size=(72, 96)))
    ingest_inbox(store, config)
    drop(config, "b.jpg", encode(stored_sideways, "JPEG", quality=80, exif=exif_bytes(orientation=6)))
    ingest_inbox(store, config)
    a, b = rows(store)
    assert b["status"] == "duplicate" and b["duplicate_of"] == a["id"]


def test_bad_files_are_quarantined_with_a_reason_and_kept(config: Config, store: Store, tmp_path: Path) -> None:
    good = photo(10)
    secret = tmp_path / "outside" / "secret.jpg"
    secret.parent.mkdir()
    secret.write_bytes(photo(11))
    bad = {
        "empty.jpg": (b"", "empty"),
        "truncated.jpg": (good[: len(good) * 2 // 3], "damaged or incomplete"),
        "notes.jpg": (b"shopping list: kibble, treats\n", "text file"),
        "bomb.png": (png_bomb(), "megapixels"),
        "huge.png": (noise_png(160), "max_file_mb"),
        "anim.jpg": (b"GIF89a" + b"\x00" * 40, "GIF"),
    }
    for name, (data, _) in bad.items():
        drop(config, name, data)
    os.symlink(secret, config.paths.inbox / "link.jpg")
    os.symlink(secret.parent, config.paths.inbox / "linked folder")
    summary = ingest_inbox(store, config)
    assert summary.quarantined == len(bad) + 2 and summary.accepted == 0 and not summary.errors
    by_name = {r["source_name"]: r for r in rows(store)}
    for name, (data, words) in bad.items():
        row = by_name[name]
        assert row["status"] == "quarantined" and words in row["reason"], (name, row["reason"])
        assert row["path"].startswith("quarantine/")
        assert (config.paths.data / row["path"]).read_bytes() == data  # moved, never deleted
    link = by_name["link.jpg"]
    assert link["status"] == "quarantined" and "outside the inbox" in link["reason"]
    moved_link = config.paths.data / link["path"]
    assert moved_link.is_symlink() and os.readlink(moved_link) == str(secret)
    folder = by_name["linked folder"]
    assert folder["status"] == "quarantined" and "never follows links" in folder["reason"]
    assert (config.paths.data / folder["path"]).is_symlink()
    assert secret.read_bytes() == photo(11)  # the target is neither read into the library nor touched
    assert not list((config.paths.data / "library").rglob("*.*"))  # nothing, the link's target included, was taken
    assert list(config.paths.inbox.iterdir()) == []
    # The owner sees them in `pawpost status`.
    from bot.status import status

    shown = {q["source_name"]: q["reason"] for q in status(store, config)["quarantined"]}
    assert "truncated.jpg" in shown and "damaged" in shown["truncated.jpg"]


def test_only_inbox_files_are_taken(config: Config, store: Store, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.jpg"
    elsewhere.write_bytes(photo(12))
    with pytest.raises(ValueError):
        ingest_file(store, config, elsewhere)
    assert elsewhere.exists() and rows(store) == []


def test_quarantined_content_is_not_judged_again(config: Config, store: Store) -> None:
    text = b"not a photo at all\n"
    drop(config, "a.jpg", text)
    ingest_inbox(store, config)
    assert ingest_inbox(store, config).results == []  # nothing left to retry: it is out of the inbox
    drop(config, "b.jpg", text)  # the same bytes again, another name: set aside for the same reason
    summary = ingest_inbox(store, config)
    a, b = rows(store)
    assert summary.quarantined == 1 and b["status"] == "quarantined" and b["reason"] == a["reason"]
    assert (config.paths.data / b["path"]).read_bytes() == text and (config.paths.data / a["path"]).exists()


def test_a_file_over_a_limit_is_taken_once_the_owner_raises_it(config: Config, store: Store) -> None:
    big = noise_png(160)
    drop(config, "pano.png", big)
    (first,) = ingest_inbox(store, config).of("quarantined")
    assert "raise the limit" in first.reason
    # Still over the limit: coming back (as after a crash) changes nothing and records nothing new.
    drop(config, "pano.png", big)
    again = ingest_file(store, config, config.paths.inbox / "pano.png")
    assert again.status == "quarantined" and not again.recorded and len(rows(store)) == 1
    # The owner raises the limit and puts the file back: it is judged again and accepted, once.
    config.ingest.max_file_mb = 1
    (config.paths.data / first.path).rename(config.paths.inbox / "pano.png")
    accepted = ingest_file(store, config, config.paths.inbox / "pano.png")
    assert accepted.status == "new" and accepted.recorded
    drop(config, "pano.png", big)
    assert not ingest_file(store, config, config.paths.inbox / "pano.png").recorded
    assert [r["status"] for r in rows(store)] == ["quarantined", "new"]


def test_exact_and_near_duplicates_name_the_photo_they_repeat(config: Config, store: Store) -> None:
    first = photo(20)
    drop(config, "first.jpg", first)
    drop(config, "other.jpg", photo(21))
    ingest_inbox(store, config)
    drop(config, "again/first copy.jpg", first)
    drop(config, "burst.jpg", resaved(first, quality=55))
    summary = ingest_inbox(store, config)
    assert summary.duplicates == 2 and summary.accepted == 0
    by_name = {r["source_name"]: r for r in rows(store)}
    original = by_name["first.jpg"]
    exact, near = by_name["again/first copy.jpg"], by_name["burst.jpg"]
    assert exact["status"] == near["status"] == "duplicate"
    assert exact["duplicate_of"] == near["duplicate_of"] == original["id"]
    assert exact["path"] == original["path"]  # same bytes, one copy
    assert (config.paths.data / near["path"]).read_bytes() == resaved(first, quality=55)  # its own bytes kept
    assert {r.near for r in summary.of("duplicate")} == {True, False}
    assert by_name["other.jpg"]["status"] == "new"


def test_near_duplicate_distance_is_configurable(tmp_path: Path) -> None:
    config = make_config(tmp_path / "h", stable_seconds=0.0, near_duplicate_distance=0)
    original = encode(picture(30, (256, 192)), quality=95)
    with Store.for_config(config) as store:
        drop(config, "a.jpg", original)
        drop(config, "b.jpg", resaved(original, quality=30))  # a harsh re-save: a couple of hash bits flip
        ingest_inbox(store, config)
        a, b = rows(store)
        assert 0 < hash_distance(a["phash"], b["phash"]) <= 4
        assert [a["status"], b["status"]] == ["new", "new"]  # distance 0: only identical hashes repeat


def test_a_restart_after_the_commit_records_nothing_twice(config: Config, store: Store) -> None:
    data = photo(40)
    drop(config, "IMG_1.jpg", data)
    drop(config, "IMG_1.txt", b"her birthday")
    first = ingest_file(store, config, config.paths.inbox / "IMG_1.jpg")
    assert first.status == "new" and first.recorded
    # As if killed after the commit, before the inbox file was removed: the same file is back in the inbox.
    drop(config, "IMG_1.jpg", data)
    drop(config, "IMG_1.txt", b"her birthday")
    again = ingest_file(store, config, config.paths.inbox / "IMG_1.jpg")
    assert again.status == "new" and not again.recorded and again.photo_id == first.photo_id
    assert len(rows(store)) == 1 and list(config.paths.inbox.iterdir()) == []
    # The same for a quarantined file: finished into quarantine, not recorded again.
    drop(config, "bad.jpg", b"oops")
    bad = ingest_file(store, config, config.paths.inbox / "bad.jpg")
    drop(config, "bad.jpg", b"oops")
    again = ingest_file(store, config, config.paths.inbox / "bad.jpg")
    assert again.status == "quarantined" and not again.recorded and again.photo_id == bad.photo_id
    assert len(rows(store)) == 2 and list(config.paths.inbox.iterdir()) == []


def test_a_file_replaced_while_being_ingested_is_not_removed(config: Config, store: Store, monkeypatch) -> None:
    path = drop(config, "a.jpg", photo(41))
    import bot.ingest.intake as ingest_mod

    real = ingest_mod._admit

    def replace_then_admit(*args, **kwargs):
        result = real(*args, **kwargs)
        path.write_bytes(photo(42))  # the owner copies a new file over it before it is removed
        return result

    monkeypatch.setattr(ingest_mod, "_admit", replace_then_admit)
    ingest_file(store, config, path)
    assert path.read_bytes() == photo(42)  # not lost: it is taken on the next pass
    monkeypatch.setattr(ingest_mod, "_admit", real)
    ingest_inbox(store, config)
    assert [r["status"] for r in rows(store)] == ["new", "new"] and not path.exists()


def test_hint_beside_a_photo_is_stored_and_leaves_with_it(config: Config, store: Store) -> None:
    drop(config, "trip/IMG_0412.HEIC", photo(50, "HEIF"))
    drop(config, "trip/IMG_0412.txt", "\ufefffirst day at the beach 🏖\n".encode())
    drop(config, "IMG_9.jpg", photo(51))
    drop(config, "IMG_9.txt", b"   \n")  # an empty note: nothing to store, still removed
    summary = ingest_inbox(store, config)
    assert summary.accepted == 2 and summary.quarantined == 0
    by_name = {r["source_name"]: r for r in rows(store)}
    assert by_name["trip/IMG_0412.HEIC"]["hint"] == "first day at the beach 🏖"
    assert by_name["IMG_9.jpg"]["hint"] is None
    assert [p for p in config.paths.inbox.rglob("*") if p.is_file()] == []


def test_a_late_hint_joins_its_photo_until_it_is_drafted(config: Config, store: Store) -> None:
    drop(config, "IMG_1.jpg", photo(60))
    drop(config, "IMG_2.jpg", photo(61))
    ingest_inbox(store, config)
    one, two = rows(store)
    store.set_photo_status(two["id"], PhotoStatus.ANALYZED)
    store.set_photo_status(two["id"], PhotoStatus.DRAFTED)
    drop(config, "IMG_1.txt", b"her 5th birthday")
    drop(config, "IMG_2.txt", b"too late")
    drop(config, "IMG_3.txt", b"no photo yet")
    summary = ingest_inbox(store, config)
    assert summary.hints == 1
    assert store.photo(one["id"])["hint"] == "her 5th birthday" and store.photo(two["id"])["hint"] is None
    left = {r.source_name: r.reason for r in summary.of("skipped")}
    assert "already drafted" in left["IMG_2.txt"] and "has arrived yet" in left["IMG_3.txt"]
    assert sorted(p.name for p in config.paths.inbox.iterdir()) == ["IMG_2.txt", "IMG_3.txt"]  # never quarantined
    assert store.value("SELECT count(*) FROM photos WHERE status = 'quarantined'") == 0


def test_a_note_for_a_duplicate_goes_to_the_photo_it_repeats(config: Config, store: Store) -> None:
    data = photo(62)
    drop(config, "a.jpg", data)
    ingest_inbox(store, config)
    drop(config, "b.jpg", data)
    drop(config, "b.txt", b"at grandma's")
    ingest_inbox(store, config)
    a, b = rows(store)
    assert b["status"] == "duplicate" and b["hint"] == a["hint"] == "at grandma's"


def test_a_file_still_being_written_waits(tmp_path: Path) -> None:
    config = make_config(tmp_path / "h", stable_seconds=0.3)
    data = photo(70, size=(320, 240))
    path = config.paths.inbox / "slow.jpg"
    done = threading.Event()

    def writer() -> None:
        with open(path, "wb") as fh:
            for i in range(0, len(data), 512):
                fh.write(data[i:i + 512])
                fh.flush()
                time.sleep(0.05)
        done.set()

    path.write_bytes(b"")
    thread = threading.Thread(target=writer)
    thread.start()
    with Store.for_config(config) as store:
        try:
            summary = ingest_inbox(store, config)
            assert summary.waiting == ["slow.jpg"] and summary.results == []
        finally:
            thread.join()
        summary = ingest_inbox(store, config)
        assert summary.accepted == 1
        assert (config.paths.data / rows(store)[0]["path"]).read_bytes() == data


def test_hidden_temporary_and_system_files_are_left_alone(config: Config, store: Store) -> None:
    junk = [".DS_Store", "._IMG_1.jpg", "Thumbs.db", "IMG_2.jpg.part", "x.crdownload", "y.tmp",
            "@eaDir/IMG_3.jpg/SYNOFILE_THUMB_M.jpg", ".stfolder/z.jpg"]
    for name in junk:
        drop(config, name, photo(80))
    drop(config, "Ünïcødé 🐶 фото.jpg", photo(81))
    summary = ingest_inbox(store, config)
    assert [r.source_name for r in summary.results] == ["Ünïcødé 🐶 фото.jpg"] and summary.accepted == 1
    for name in junk:
        assert (config.paths.inbox / name).exists()


def test_add_to_library_for_imported_images(config: Config, store: Store) -> None:
    data = photo(90)
    first = add_to_library(store, config, data, "instagram/C0de.jpg", origin="imported",
                           taken_at="2025-01-02T03:04:05Z")
    assert first.status == "new" and first.recorded and first.path.startswith("library/2025/01/")
    row = store.photo(first.photo_id)
    assert row["origin"] == "imported" and row["taken_at"] == "2025-01-02T03:04:05+00:00"
    assert (config.paths.data / first.path).read_bytes() == data
    again = add_to_library(store, config, data, "instagram/C0de.jpg", origin="imported")
    assert not again.recorded and again.photo_id == first.photo_id
    drop(config, "same.jpg", data)  # the owner drops a photo that was already posted
    assert ingest_inbox(store, config).of("duplicate")[0].duplicate_of == first.photo_id
    bad = add_to_library(store, config, b"<html>rate limited</html>", "instagram/x.jpg", origin="imported")
    assert bad.status == "quarantined" and (config.paths.data / bad.path).read_bytes() == b"<html>rate limited</html>"
    with pytest.raises(ValueError):
        add_to_library(store, config, data, "x.jpg", origin="elsewhere")


def test_a_library_that_cannot_be_written_leaves_the_photo_in_the_inbox(config: Config, store: Store) -> None:
    blocker = config.paths.data / "library"
    blocker.write_bytes(b"")  # a file where the library folder should be: nothing can be written under it
    drop(config, "a.jpg", photo(95))
    summary = ingest_inbox(store, config)
    assert summary.results == [] and "a.jpg" in summary.errors[0] and "cannot write" in summary.errors[0]
    assert (config.paths.inbox / "a.jpg").exists() and rows(store) == []
    with pytest.raises(PawpostError):
        ingest_file(store, config, config.paths.inbox / "a.jpg")
    blocker.unlink()
    assert ingest_inbox(store, config).accepted == 1 and not (config.paths.inbox / "a.jpg").exists()


def test_cli_ingest_prints_a_summary_and_json(tmp_path: Path) -> None:
    config = make_config(tmp_path / "h", stable_seconds=0.0)
    drop(config, "a.jpg", photo(100))
    drop(config, "b.jpg", photo(100))
    drop(config, "c.jpg", b"hello")
    result = run_cli("ingest", "--no-process", config=config.source)
    assert result.returncode == 0, result.stderr
    assert "accepted 1, duplicates 1, quarantined 1" in result.stdout
    assert "c.jpg" in result.stdout and "text file" in result.stdout
    drop(config, "d.jpg", photo(101))
    drop(config, "e.jpg", b"")
    result = run_cli("ingest", "--no-process", "--json", config=config.source)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["accepted"], doc["duplicates"], doc["quarantined"]) == (1, 0, 1)
    assert {f["source_name"]: f["status"] for f in doc["files"]} == {"d.jpg": "new", "e.jpg": "quarantined"}
    assert "torch" not in result.stderr


def test_cli_ingest_without_an_inbox_is_one_clear_error(tmp_path: Path) -> None:
    config = make_config(tmp_path / "h")
    config.paths.inbox.rmdir()
    result = run_cli("ingest", config=config.source)
    assert result.returncode == 1 and "inbox folder" in result.stderr and "Traceback" not in result.stderr


def test_doctor_reports_heic_support_and_the_quarantine(config: Config, store: Store) -> None:
    from bot.doctor import check_inbox

    assert [c.name for c in check_inbox(config)] == ["heic"]
    drop(config, "bad.jpg", b"nope")
    ingest_inbox(store, config)
    checks = {c.name: c for c in check_inbox(config)}
    assert checks["heic"].ok and checks["quarantine"].warning and "1 file(s)" in checks["quarantine"].message


def test_pawposts_own_files_are_never_ingested_even_by_an_inbox_that_holds_them(config: Config, store: Store) -> None:
    # load_config refuses such an inbox; ingest still guards a config built or changed in memory.
    drop(config, "IMG_1.jpg", photo(1))
    ingest_inbox(store, config)
    owned = [config.source, config.paths.database, *config.paths.library.rglob("*.jpg")]
    config.paths.inbox = config.source.parent
    drop(config, "IMG_2.jpg", photo(2))

    summary = ingest_inbox(store, config)

    assert all(p.is_file() for p in owned)
    assert [r.source_name for r in summary.of("new")] == ["IMG_2.jpg"]
    assert summary.quarantined == 0
    skipped = {r.source_name: r.reason for r in summary.of("skipped")}
    assert "pawpost's own (the config file)" in skipped["pawpost.toml"]
    assert "paths.data" in skipped["data/pawpost.db"]
