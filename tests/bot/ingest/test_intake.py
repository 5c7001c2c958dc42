"""Ingest: formats by content, EXIF facts, quarantine with reasons, duplicates, hints, crash resume, the CLI."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path

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


def drop(cfg: Config, name: str, data: bytes) -> Path:
    path = cfg.paths.inbox / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def rows(store: Store) -> list[dict]:
    return [dict(r) for r in store.all("SELECT * FROM photos ORDER BY id")]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_formats_are_recognised_by_content_and_stored_byte_for_byte(cfg: Config, db: Store) -> None:
    files = {
        "jpeg-named.png": (photo(1, "JPEG"), "JPEG", "jpg"),
        "png-named.jpg": (photo(2, "PNG"), "PNG", "png"),
        "photo.webp": (photo(3, "WEBP", quality=90), "WEBP", "webp"),
        "IMG_0001.HEIC": (photo(4, "HEIF", quality=90), "HEIF", "heic"),
    }
    for name, (data, _, _) in files.items():
        drop(cfg, name, data)
    summary = ingest_inbox(db, cfg)
    assert summary.accepted == 4 and summary.quarantined == 0 and not summary.errors
    by_name = {r["source_name"]: r for r in rows(db)}
    for name, (data, fmt, ext) in files.items():
        row = by_name[name]
        assert row["status"] == "new" and row["format"] == fmt and row["origin"] == "inbox"
        assert row["path"].startswith("library/") and row["path"].endswith(f"/{sha(data)}.{ext}")
        assert (cfg.paths.data / row["path"]).read_bytes() == data
        assert (row["width"], row["height"]) == (96, 72) and row["size_bytes"] == len(data)
        assert len(row["phash"]) == 16
    assert list(cfg.paths.inbox.iterdir()) == []


def test_exif_orientation_capture_time_and_gps_are_recorded(cfg: Config, db: Store) -> None:
    drop(cfg, "rotated.jpg", photo(5, size=(60, 40), exif=exif_bytes(orientation=6, taken="2024:05:06 07:08:09",
                                                                      offset="+02:00", gps=True)))
    drop(cfg, "local.jpg", photo(6, exif=exif_bytes(taken="2023:12:31 23:30:00")))
    drop(cfg, "plain.png", photo(7, "PNG"))
    ingest_inbox(db, cfg)
    by_name = {r["source_name"]: r for r in rows(db)}
    r = by_name["rotated.jpg"]
    assert (r["width"], r["height"]) == (40, 60)  # as displayed, not as stored
    assert r["taken_at"] == "2024-05-06T05:08:09+00:00" and r["has_gps"] == 1
    assert r["path"].startswith("library/2024/05/")
    # No offset in EXIF: the camera clock is taken to be in the owner's time zone (UTC in the test config).
    assert by_name["local.jpg"]["taken_at"] == "2023-12-31T23:30:00+00:00" and by_name["local.jpg"]["has_gps"] == 0
    assert by_name["plain.png"]["taken_at"] is None


def test_exif_rotation_is_applied_before_the_perceptual_hash(cfg: Config, db: Store) -> None:
    upright = picture(8, (72, 96))
    # Stored turned a quarter to the left, as a phone held sideways saves it; orientation 6 turns it back.
    stored_sideways = upright.transpose(Image.Transpose.ROTATE_90)
    drop(cfg, "a.jpg", photo(8, size=(72, 96)))
    ingest_inbox(db, cfg)
    drop(cfg, "b.jpg", encode(stored_sideways, "JPEG", quality=80, exif=exif_bytes(orientation=6)))
    ingest_inbox(db, cfg)
    a, b = rows(db)
    assert b["status"] == "duplicate" and b["duplicate_of"] == a["id"]


def test_bad_files_are_quarantined_with_a_reason_and_kept(cfg: Config, db: Store, tmp_path: Path) -> None:
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
        drop(cfg, name, data)
    os.symlink(secret, cfg.paths.inbox / "link.jpg")
    os.symlink(secret.parent, cfg.paths.inbox / "linked folder")
    summary = ingest_inbox(db, cfg)
    assert summary.quarantined == len(bad) + 2 and summary.accepted == 0 and not summary.errors
    by_name = {r["source_name"]: r for r in rows(db)}
    for name, (data, words) in bad.items():
        row = by_name[name]
        assert row["status"] == "quarantined" and words in row["reason"], (name, row["reason"])
        assert row["path"].startswith("quarantine/")
        assert (cfg.paths.data / row["path"]).read_bytes() == data  # moved, never deleted
    link = by_name["link.jpg"]
    assert link["status"] == "quarantined" and "outside the inbox" in link["reason"]
    moved_link = cfg.paths.data / link["path"]
    assert moved_link.is_symlink() and os.readlink(moved_link) == str(secret)
    folder = by_name["linked folder"]
    assert folder["status"] == "quarantined" and "never follows links" in folder["reason"]
    assert (cfg.paths.data / folder["path"]).is_symlink()
    assert secret.read_bytes() == photo(11)  # the target is neither read into the library nor touched
    assert not list((cfg.paths.data / "library").rglob("*.*"))  # nothing, the link's target included, was taken
    assert list(cfg.paths.inbox.iterdir()) == []
    # The owner sees them in `pawpost status`.
    from bot.status import status

    shown = {q["source_name"]: q["reason"] for q in status(db, cfg)["quarantined"]}
    assert "truncated.jpg" in shown and "damaged" in shown["truncated.jpg"]


def test_only_inbox_files_are_taken(cfg: Config, db: Store, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.jpg"
    elsewhere.write_bytes(photo(12))
    with pytest.raises(ValueError):
        ingest_file(db, cfg, elsewhere)
    assert elsewhere.exists() and rows(db) == []


def test_quarantined_content_is_not_judged_again(cfg: Config, db: Store) -> None:
    text = b"not a photo at all\n"
    drop(cfg, "a.jpg", text)
    ingest_inbox(db, cfg)
    assert ingest_inbox(db, cfg).results == []  # nothing left to retry: it is out of the inbox
    drop(cfg, "b.jpg", text)  # the same bytes again, another name: set aside for the same reason
    summary = ingest_inbox(db, cfg)
    a, b = rows(db)
    assert summary.quarantined == 1 and b["status"] == "quarantined" and b["reason"] == a["reason"]
    assert (cfg.paths.data / b["path"]).read_bytes() == text and (cfg.paths.data / a["path"]).exists()


def test_a_file_over_a_limit_is_taken_once_the_owner_raises_it(cfg: Config, db: Store) -> None:
    big = noise_png(160)
    drop(cfg, "pano.png", big)
    (first,) = ingest_inbox(db, cfg).of("quarantined")
    assert "raise the limit" in first.reason
    # Still over the limit: coming back (as after a crash) changes nothing and records nothing new.
    drop(cfg, "pano.png", big)
    again = ingest_file(db, cfg, cfg.paths.inbox / "pano.png")
    assert again.status == "quarantined" and not again.recorded and len(rows(db)) == 1
    # The owner raises the limit and puts the file back: it is judged again and accepted, once.
    cfg.ingest.max_file_mb = 1
    (cfg.paths.data / first.path).rename(cfg.paths.inbox / "pano.png")
    accepted = ingest_file(db, cfg, cfg.paths.inbox / "pano.png")
    assert accepted.status == "new" and accepted.recorded
    drop(cfg, "pano.png", big)
    assert not ingest_file(db, cfg, cfg.paths.inbox / "pano.png").recorded
    assert [r["status"] for r in rows(db)] == ["quarantined", "new"]


def test_exact_and_near_duplicates_name_the_photo_they_repeat(cfg: Config, db: Store) -> None:
    first = photo(20)
    drop(cfg, "first.jpg", first)
    drop(cfg, "other.jpg", photo(21))
    ingest_inbox(db, cfg)
    drop(cfg, "again/first copy.jpg", first)
    drop(cfg, "burst.jpg", resaved(first, quality=55))
    summary = ingest_inbox(db, cfg)
    assert summary.duplicates == 2 and summary.accepted == 0
    by_name = {r["source_name"]: r for r in rows(db)}
    original = by_name["first.jpg"]
    exact, near = by_name["again/first copy.jpg"], by_name["burst.jpg"]
    assert exact["status"] == near["status"] == "duplicate"
    assert exact["duplicate_of"] == near["duplicate_of"] == original["id"]
    assert exact["path"] == original["path"]  # same bytes, one copy
    assert (cfg.paths.data / near["path"]).read_bytes() == resaved(first, quality=55)  # its own bytes kept
    assert {r.near for r in summary.of("duplicate")} == {True, False}
    assert by_name["other.jpg"]["status"] == "new"


def test_near_duplicate_distance_is_configurable(tmp_path: Path) -> None:
    cfg = make_config(tmp_path / "h", stable_seconds=0.0, near_duplicate_distance=0)
    original = encode(picture(30, (256, 192)), quality=95)
    with Store.for_config(cfg) as store:
        drop(cfg, "a.jpg", original)
        drop(cfg, "b.jpg", resaved(original, quality=30))  # a harsh re-save: a couple of hash bits flip
        ingest_inbox(store, cfg)
        a, b = rows(store)
        assert 0 < hash_distance(a["phash"], b["phash"]) <= 4
        assert [a["status"], b["status"]] == ["new", "new"]  # distance 0: only identical hashes repeat


def test_a_restart_after_the_commit_records_nothing_twice(cfg: Config, db: Store) -> None:
    data = photo(40)
    drop(cfg, "IMG_1.jpg", data)
    drop(cfg, "IMG_1.txt", b"her birthday")
    first = ingest_file(db, cfg, cfg.paths.inbox / "IMG_1.jpg")
    assert first.status == "new" and first.recorded
    # As if killed after the commit, before the inbox file was removed: the same file is back in the inbox.
    drop(cfg, "IMG_1.jpg", data)
    drop(cfg, "IMG_1.txt", b"her birthday")
    again = ingest_file(db, cfg, cfg.paths.inbox / "IMG_1.jpg")
    assert again.status == "new" and not again.recorded and again.photo_id == first.photo_id
    assert len(rows(db)) == 1 and list(cfg.paths.inbox.iterdir()) == []
    # The same for a quarantined file: finished into quarantine, not recorded again.
    drop(cfg, "bad.jpg", b"oops")
    bad = ingest_file(db, cfg, cfg.paths.inbox / "bad.jpg")
    drop(cfg, "bad.jpg", b"oops")
    again = ingest_file(db, cfg, cfg.paths.inbox / "bad.jpg")
    assert again.status == "quarantined" and not again.recorded and again.photo_id == bad.photo_id
    assert len(rows(db)) == 2 and list(cfg.paths.inbox.iterdir()) == []


def test_a_file_replaced_while_being_ingested_is_not_removed(cfg: Config, db: Store, monkeypatch) -> None:
    path = drop(cfg, "a.jpg", photo(41))
    import bot.ingest.intake as ingest_mod

    real = ingest_mod._admit

    def replace_then_admit(*args, **kwargs):
        result = real(*args, **kwargs)
        path.write_bytes(photo(42))  # the owner copies a new file over it before it is removed
        return result

    monkeypatch.setattr(ingest_mod, "_admit", replace_then_admit)
    ingest_file(db, cfg, path)
    assert path.read_bytes() == photo(42)  # not lost: it is taken on the next pass
    monkeypatch.setattr(ingest_mod, "_admit", real)
    ingest_inbox(db, cfg)
    assert [r["status"] for r in rows(db)] == ["new", "new"] and not path.exists()


def test_hint_beside_a_photo_is_stored_and_leaves_with_it(cfg: Config, db: Store) -> None:
    drop(cfg, "trip/IMG_0412.HEIC", photo(50, "HEIF"))
    drop(cfg, "trip/IMG_0412.txt", "\ufefffirst day at the beach 🏖\n".encode())
    drop(cfg, "IMG_9.jpg", photo(51))
    drop(cfg, "IMG_9.txt", b"   \n")  # an empty note: nothing to store, still removed
    summary = ingest_inbox(db, cfg)
    assert summary.accepted == 2 and summary.quarantined == 0
    by_name = {r["source_name"]: r for r in rows(db)}
    assert by_name["trip/IMG_0412.HEIC"]["hint"] == "first day at the beach 🏖"
    assert by_name["IMG_9.jpg"]["hint"] is None
    assert [p for p in cfg.paths.inbox.rglob("*") if p.is_file()] == []


def test_a_late_hint_joins_its_photo_until_it_is_drafted(cfg: Config, db: Store) -> None:
    drop(cfg, "IMG_1.jpg", photo(60))
    drop(cfg, "IMG_2.jpg", photo(61))
    ingest_inbox(db, cfg)
    one, two = rows(db)
    db.set_photo_status(two["id"], PhotoStatus.ANALYZED)
    db.set_photo_status(two["id"], PhotoStatus.DRAFTED)
    drop(cfg, "IMG_1.txt", b"her 5th birthday")
    drop(cfg, "IMG_2.txt", b"too late")
    drop(cfg, "IMG_3.txt", b"no photo yet")
    summary = ingest_inbox(db, cfg)
    assert summary.hints == 1
    assert db.photo(one["id"])["hint"] == "her 5th birthday" and db.photo(two["id"])["hint"] is None
    left = {r.source_name: r.reason for r in summary.of("skipped")}
    assert "already drafted" in left["IMG_2.txt"] and "has arrived yet" in left["IMG_3.txt"]
    assert sorted(p.name for p in cfg.paths.inbox.iterdir()) == ["IMG_2.txt", "IMG_3.txt"]  # never quarantined
    assert db.value("SELECT count(*) FROM photos WHERE status = 'quarantined'") == 0


def test_a_note_for_a_duplicate_goes_to_the_photo_it_repeats(cfg: Config, db: Store) -> None:
    data = photo(62)
    drop(cfg, "a.jpg", data)
    ingest_inbox(db, cfg)
    drop(cfg, "b.jpg", data)
    drop(cfg, "b.txt", b"at grandma's")
    ingest_inbox(db, cfg)
    a, b = rows(db)
    assert b["status"] == "duplicate" and b["hint"] == a["hint"] == "at grandma's"


def test_a_file_still_being_written_waits(tmp_path: Path) -> None:
    cfg = make_config(tmp_path / "h", stable_seconds=0.3)
    data = photo(70, size=(320, 240))
    path = cfg.paths.inbox / "slow.jpg"
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
    with Store.for_config(cfg) as store:
        try:
            summary = ingest_inbox(store, cfg)
            assert summary.waiting == ["slow.jpg"] and summary.results == []
        finally:
            thread.join()
        summary = ingest_inbox(store, cfg)
        assert summary.accepted == 1
        assert (cfg.paths.data / rows(store)[0]["path"]).read_bytes() == data


def test_hidden_temporary_and_system_files_are_left_alone(cfg: Config, db: Store) -> None:
    junk = [".DS_Store", "._IMG_1.jpg", "Thumbs.db", "IMG_2.jpg.part", "x.crdownload", "y.tmp",
            "@eaDir/IMG_3.jpg/SYNOFILE_THUMB_M.jpg", ".stfolder/z.jpg"]
    for name in junk:
        drop(cfg, name, photo(80))
    drop(cfg, "Ünïcødé 🐶 фото.jpg", photo(81))
    summary = ingest_inbox(db, cfg)
    assert [r.source_name for r in summary.results] == ["Ünïcødé 🐶 фото.jpg"] and summary.accepted == 1
    for name in junk:
        assert (cfg.paths.inbox / name).exists()


def test_add_to_library_for_imported_images(cfg: Config, db: Store) -> None:
    data = photo(90)
    first = add_to_library(db, cfg, data, "instagram/C0de.jpg", origin="imported", taken_at="2025-01-02T03:04:05Z")
    assert first.status == "new" and first.recorded and first.path.startswith("library/2025/01/")
    row = db.photo(first.photo_id)
    assert row["origin"] == "imported" and row["taken_at"] == "2025-01-02T03:04:05+00:00"
    assert (cfg.paths.data / first.path).read_bytes() == data
    again = add_to_library(db, cfg, data, "instagram/C0de.jpg", origin="imported")
    assert not again.recorded and again.photo_id == first.photo_id
    drop(cfg, "same.jpg", data)  # the owner drops a photo that was already posted
    assert ingest_inbox(db, cfg).of("duplicate")[0].duplicate_of == first.photo_id
    bad = add_to_library(db, cfg, b"<html>rate limited</html>", "instagram/x.jpg", origin="imported")
    assert bad.status == "quarantined" and (cfg.paths.data / bad.path).read_bytes() == b"<html>rate limited</html>"
    with pytest.raises(ValueError):
        add_to_library(db, cfg, data, "x.jpg", origin="elsewhere")


def test_a_library_that_cannot_be_written_leaves_the_photo_in_the_inbox(cfg: Config, db: Store) -> None:
    blocker = cfg.paths.data / "library"
    blocker.write_bytes(b"")  # a file where the library folder should be: nothing can be written under it
    drop(cfg, "a.jpg", photo(95))
    summary = ingest_inbox(db, cfg)
    assert summary.results == [] and "a.jpg" in summary.errors[0] and "cannot write" in summary.errors[0]
    assert (cfg.paths.inbox / "a.jpg").exists() and rows(db) == []
    with pytest.raises(PawpostError):
        ingest_file(db, cfg, cfg.paths.inbox / "a.jpg")
    blocker.unlink()
    assert ingest_inbox(db, cfg).accepted == 1 and not (cfg.paths.inbox / "a.jpg").exists()


def test_cli_ingest_prints_a_summary_and_json(tmp_path: Path) -> None:
    cfg = make_config(tmp_path / "h", stable_seconds=0.0)
    drop(cfg, "a.jpg", photo(100))
    drop(cfg, "b.jpg", photo(100))
    drop(cfg, "c.jpg", b"hello")
    result = run_cli("ingest", "--no-process", config=cfg.source)
    assert result.returncode == 0, result.stderr
    assert "accepted 1, duplicates 1, quarantined 1" in result.stdout
    assert "c.jpg" in result.stdout and "text file" in result.stdout
    drop(cfg, "d.jpg", photo(101))
    drop(cfg, "e.jpg", b"")
    result = run_cli("ingest", "--no-process", "--json", config=cfg.source)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["accepted"], doc["duplicates"], doc["quarantined"]) == (1, 0, 1)
    assert {f["source_name"]: f["status"] for f in doc["files"]} == {"d.jpg": "new", "e.jpg": "quarantined"}
    assert "torch" not in result.stderr


def test_cli_ingest_without_an_inbox_is_one_clear_error(tmp_path: Path) -> None:
    cfg = make_config(tmp_path / "h")
    cfg.paths.inbox.rmdir()
    result = run_cli("ingest", config=cfg.source)
    assert result.returncode == 1 and "inbox folder" in result.stderr and "Traceback" not in result.stderr


def test_doctor_reports_heic_support_and_the_quarantine(cfg: Config, db: Store) -> None:
    from bot.doctor import check_inbox

    assert [c.name for c in check_inbox(cfg)] == ["heic"]
    drop(cfg, "bad.jpg", b"nope")
    ingest_inbox(db, cfg)
    checks = {c.name: c for c in check_inbox(cfg)}
    assert checks["heic"].ok and checks["quarantine"].warning and "1 file(s)" in checks["quarantine"].message


def test_pawposts_own_files_are_never_ingested_even_by_an_inbox_that_holds_them(cfg: Config, db: Store) -> None:
    # load_config refuses such an inbox; ingest still guards a config built or changed in memory.
    drop(cfg, "IMG_1.jpg", photo(1))
    ingest_inbox(db, cfg)
    owned = [cfg.source, cfg.paths.database, *cfg.paths.library.rglob("*.jpg")]
    cfg.paths.inbox = cfg.source.parent
    drop(cfg, "IMG_2.jpg", photo(2))

    summary = ingest_inbox(db, cfg)

    assert all(p.is_file() for p in owned)
    assert [r.source_name for r in summary.of("new")] == ["IMG_2.jpg"]
    assert summary.quarantined == 0
    skipped = {r.source_name: r.reason for r in summary.of("skipped")}
    assert "pawpost's own (the config file)" in skipped["pawpost.toml"]
    assert "paths.data" in skipped["data/pawpost.db"]
