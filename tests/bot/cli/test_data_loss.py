"""Data-loss faults, end to end through the CLI as an owner meets them (issue 12, points 1-3)."""

from __future__ import annotations

import json
import os
from pathlib import Path

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
    assert pets.returncode == 1 and "the photos folder of pet Lola" in pets.stderr
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
