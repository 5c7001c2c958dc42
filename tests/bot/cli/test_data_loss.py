"""Data-loss faults, end to end through the CLI as an owner meets them."""

from __future__ import annotations

import json
import os
from pathlib import Path

from bot.drafts.media import add_draft
from tests.bot.photofiles import photo
from tests.conftest import run_cli, write_config


def _home(root: Path, **paths: str) -> Path:
    cfg = write_config(root, {"ingest": {"stable_seconds": 0.0}})
    if paths:
        text = cfg.read_text()
        for key, value in paths.items():
            text = text.replace(f'{key} = "{key}"', f'{key} = "{value}"', 1)
        cfg.write_text(text)
    return cfg


# -- point 3: file names that are not UTF-8 ----------------------------------------------------------


def test_a_file_name_with_invalid_utf8_is_ingested_and_the_batch_goes_on(tmp_path: Path) -> None:
    cfg = _home(tmp_path / "home")
    inbox = tmp_path / "home" / "inbox"
    weird = os.fsencode(inbox) + b"/x\xff\xfey.png"
    with open(weird, "wb") as fh:
        fh.write(photo(1, "PNG"))
    with open(os.fsencode(inbox) + b"/line\nbreak.jpg", "wb") as fh:
        fh.write(photo(2))
    for i in range(3, 6):
        (inbox / f"IMG_{i}.jpg").write_bytes(photo(i))

    result = run_cli("ingest", "--no-process", "--json", config=cfg)

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    doc = json.loads(result.stdout)
    assert doc["accepted"] == 5 and doc["errors"] == []
    names = {f["source_name"] for f in doc["files"]}
    assert "x\\xff\\xfey.png" in names and "line\\x0abreak.jpg" in names
    assert os.listdir(os.fsencode(inbox)) == []  # taken, not left to abort every later run

    # Shown safely in the listing a person reads, too.
    status = run_cli("status", "--json", config=cfg)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["photos"]["new"] == 5

    # The same bytes again under another odd name: a duplicate, recognised by content, shown on one line.
    with open(os.fsencode(inbox) + b"/copy\xfe.png", "wb") as fh:
        fh.write(photo(1, "PNG"))
    again = run_cli("ingest", "--no-process", config=cfg)
    assert again.returncode == 0, again.stderr
    assert "duplicate: copy\\xfe.png is the same file as photo" in again.stdout


def test_an_unreadable_oddly_named_file_is_quarantined_under_a_printable_name(tmp_path: Path) -> None:
    cfg = _home(tmp_path / "home")
    inbox = tmp_path / "home" / "inbox"
    with open(os.fsencode(inbox) + b"/bad\xe9.png", "wb") as fh:
        fh.write(b"not an image at all")

    result = run_cli("ingest", "--no-process", "--json", config=cfg)

    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["quarantined"] == 1
    [file] = doc["files"]
    assert file["source_name"] == "bad\\xe9.png"
    assert (tmp_path / "home" / "data" / file["path"]).is_file()


# -- point 1: an inbox that overlaps pawpost's own folders ---------------------------------------------


def test_an_inbox_holding_pawposts_own_files_is_refused_and_nothing_is_touched(tmp_path: Path) -> None:
    root = tmp_path / "home"
    ok = _home(root)
    (root / "inbox" / "IMG_1.jpg").write_bytes(photo(1))
    assert run_cli("ingest", "--no-process", config=ok).returncode == 0
    library = sorted(p.name for p in (root / "data" / "library").rglob("*") if p.is_file())
    assert library and (root / "data" / "pawpost.db").is_file()
    before = sorted(str(p.relative_to(root)) for p in root.rglob("*"))

    for inbox in (".", "data", "data/inbox", str(root)):
        text = ok.read_text().replace('inbox = "inbox"', f'inbox = "{inbox}"', 1)
        (root / "pawpost.toml").write_text(text)
        for command in (("doctor",), ("ingest", "--no-process"), ("status",)):
            result = run_cli(*command, config=root / "pawpost.toml")
            assert result.returncode == 1, (inbox, command, result.stdout)
            [line] = result.stderr.splitlines()
            assert "paths.inbox" in line and "a folder of its own" in line, line
            assert "Traceback" not in result.stderr
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*")) == before  # nothing moved, nothing lost


def test_an_inbox_holding_a_pets_photos_or_the_session_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "home"
    cfg = write_config(root, pets=[{"name": "Lola", "photos": "inbox/lola"}])
    (root / "inbox" / "lola").mkdir()
    (root / "inbox" / "lola" / "ref.jpg").write_bytes(photo(1))

    pets = run_cli("ingest", "--no-process", config=cfg)
    assert pets.returncode == 1 and "pets[0].photos (Lola)" in pets.stderr
    assert (root / "inbox" / "lola" / "ref.jpg").is_file()

    cfg = write_config(root, {"instagram": {"session_file": "inbox/session.json"}}, pets=[])
    session = run_cli("ingest", "--no-process", config=cfg)
    assert session.returncode == 1 and "instagram.session_file" in session.stderr

    by_env = run_cli("status", config=write_config(root, pets=[]), env={"PAWPOST_PATHS__INBOX": str(root)})
    assert by_env.returncode == 1 and by_env.stderr.startswith("pawpost: error: $PAWPOST_PATHS__INBOX: ")


def test_the_usual_inbox_beside_the_config_is_fine(tmp_path: Path) -> None:
    cfg = _home(tmp_path / "home", inbox="photos/inbox")
    (tmp_path / "home" / "photos" / "inbox").mkdir(parents=True)
    assert run_cli("ingest", "--no-process", config=cfg).returncode == 0


# -- point 2: a deleted, emptied or damaged database ----------------------------------------------------


def _posted_workspace(root: Path) -> tuple[Path, dict[str, bytes]]:
    """Three photos ingested through the CLI, two posted with `pawpost post` (dry-run outbox), one approved."""
    from bot import timeutil
    from bot.config import load_config
    from bot.store.database import Store

    cfg = _home(root)
    # Ingested in name order: beach and rain (a tall photo: its posted copy is cut to 4:5) are posted.
    shots = {"beach.jpg": photo(1, size=(800, 600)), "rain.jpg": photo(2, size=(600, 900)),
             "sofa.jpg": photo(3, size=(640, 800))}
    for name, data in shots.items():
        (root / "inbox" / name).write_bytes(data)
    assert run_cli("ingest", "--no-process", config=cfg).returncode == 0
    now = timeutil.iso(timeutil.now())
    with Store.for_config(load_config(cfg)) as store:  # what the pipeline and the owner's approvals leave
        drafts = []
        for row in store.all("SELECT id, source_name FROM photos ORDER BY id"):
            store.update("photos", row["id"], status="drafted")
            drafts.append(add_draft(store, [row["id"]], status="approved", approved_at=now,
                                    caption=f"{row['source_name']} day 🐶", created_at=now, updated_at=now))
    assert (root / "data" / "backups").is_dir()  # the daily backup: taken before anything was posted
    for draft_id in drafts[:2]:
        posted = run_cli("post", str(draft_id), config=cfg)
        assert posted.returncode == 0, posted.stderr
    return cfg, shots


def _lose_database(root: Path) -> None:
    for path in (root / "data").glob("pawpost.db*"):
        path.unlink()


def _refused(result) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    [line] = result.stderr.splitlines()
    assert "pawpost restore" in line and "--fresh" in line and "Traceback" not in result.stderr
    return line


def test_a_deleted_database_is_refused_then_restored_and_nothing_posted_can_post_again(tmp_path: Path) -> None:
    root = tmp_path / "home"
    cfg, shots = _posted_workspace(root)
    _lose_database(root)

    for command in (("status",), ("drafts", "list"), ("ingest", "--no-process"), ("schedule",)):
        assert "is missing" in _refused(run_cli(*command, config=cfg))
    doctor = run_cli("doctor", config=cfg)
    assert doctor.returncode == 1 and "FAIL database: the database" in doctor.stdout
    (root / "inbox" / "again.jpg").write_bytes(shots["beach.jpg"])  # a posted photo dropped in again
    _refused(run_cli("ingest", "--no-process", config=cfg))
    assert (root / "inbox" / "again.jpg").is_file()  # not taken while the database is missing

    restored = run_cli("restore", "--json", config=cfg)
    assert restored.returncode == 0, restored.stderr
    report = json.loads(restored.stdout)
    assert report["state"] == "missing" and report["backup"]
    assert len(report["posts_recovered"]) == 2 and len(report["held"]) == 1 and report["photos_rebuilt"] == []

    drafts = {d["id"]: d for d in json.loads(run_cli("drafts", "list", "--json", config=cfg).stdout)}
    by_caption = {d["caption"]: d for d in drafts.values() if d["status"] == "posted"}
    assert set(by_caption) == {"beach.jpg day 🐶", "rain.jpg day 🐶"}
    assert all(d["media_code"] for d in by_caption.values())
    [held] = [d for d in drafts.values() if d["status"] == "pending"]  # may have gone out after the backup
    assert held["photo"].endswith(".jpg") and "held back" in json.loads(
        run_cli("drafts", "show", str(held["id"]), "--json", config=cfg).stdout)["note"]
    assert not [d for d in drafts.values() if d["status"] == "approved"]
    again = json.loads(run_cli("ingest", "--no-process", "--json", config=cfg).stdout)
    assert (again["accepted"], again["duplicates"]) == (0, 1)
    schedule = json.loads(run_cli("schedule", "--json", config=cfg).stdout)
    assert all(slot["draft_id"] is None for slot in schedule["slots"])


def test_without_any_backup_restore_rebuilds_from_the_library_and_the_outbox(tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "home"
    cfg, shots = _posted_workspace(root)
    _lose_database(root)
    shutil.rmtree(root / "data" / "backups")

    text = run_cli("restore", config=cfg)
    assert text.returncode == 0, text.stderr
    assert "no good backup: rebuilt" in text.stdout and "2 post(s) found in the outbox" in text.stdout
    assert "1 photo(s) from the library wait as pending drafts" in text.stdout

    drafts = json.loads(run_cli("drafts", "list", "--json", config=cfg).stdout)
    assert sorted(d["status"] for d in drafts) == ["pending", "posted", "posted"]
    captions = {d["caption"] for d in drafts if d["status"] == "posted"}
    assert captions == {"beach.jpg day 🐶", "rain.jpg day 🐶"}
    for name in ("beach.jpg", "sofa.jpg", "rain.jpg"):  # the posted ones, and the one nobody can vouch for
        (root / "inbox" / f"again-{name}").write_bytes(shots[name])
    again = json.loads(run_cli("ingest", "--no-process", "--json", config=cfg).stdout)
    assert (again["accepted"], again["duplicates"]) == (0, 3)
    status = json.loads(run_cli("status", "--json", config=cfg).stdout)
    assert status["drafts"]["approved"] == 0 and status["photos"]["new"] == 0


def test_an_emptied_database_is_refused_and_fresh_starts_over_on_purpose(tmp_path: Path) -> None:
    root = tmp_path / "home"
    cfg = _home(root)
    (root / "inbox" / "a.jpg").write_bytes(photo(1))
    assert run_cli("ingest", "--no-process", config=cfg).returncode == 0
    (root / "data" / "pawpost.db").write_bytes(b"")
    for suffix in ("-wal", "-shm"):
        (root / "data" / f"pawpost.db{suffix}").unlink(missing_ok=True)

    assert "is empty" in _refused(run_cli("status", config=cfg))
    fresh = run_cli("restore", "--fresh", config=cfg)
    assert fresh.returncode == 0, fresh.stderr and "started over" in fresh.stdout
    status = run_cli("status", "--json", config=cfg)
    assert status.returncode == 0 and sum(json.loads(status.stdout)["photos"].values()) == 0
    whole = run_cli("restore", config=cfg)
    assert whole.returncode == 1 and "is whole; nothing to restore" in whole.stderr


def test_a_damaged_database_is_one_line_and_restore_brings_back_the_backup(tmp_path: Path) -> None:
    root = tmp_path / "home"
    cfg, _ = _posted_workspace(root)
    run_cli("status", config=cfg)  # closes the WAL cleanly
    db = root / "data" / "pawpost.db"
    db.write_bytes(b"this is not a database" * 200)

    for command in (("status",), ("drafts", "list"), ("run",)):
        result = run_cli(*command, config=cfg)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        [line] = result.stderr.splitlines()
        assert "is damaged" in line and "pawpost restore" in line

    restored = json.loads(run_cli("restore", "--json", config=cfg).stdout)
    assert restored["state"] == "damaged" and len(restored["posts_recovered"]) == 2
    assert (Path(restored["set_aside"]) / "pawpost.db").read_bytes().startswith(b"this is not")
    assert run_cli("status", config=cfg).returncode == 0
