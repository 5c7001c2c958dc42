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
