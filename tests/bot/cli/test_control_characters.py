"""Control characters (ANSI escapes) never reach the owner's terminal: refused where the owner types them, stripped
from hint files dropped into the inbox, and shown as escapes wherever a stored string is printed."""

from __future__ import annotations

import json
from pathlib import Path

from bot.drafts.media import add_draft
from bot.ingest.intake import ingest_inbox
from tests.bot.photofiles import photo
from tests.bot.publish.conftest import make_draft
from tests.conftest import run_cli, write_config

CLEAR_SCREEN = "\x1b[2J"
TITLE = "\x1b]0;pwned\x07"


def test_drafts_show_neutralises_a_hint_file_and_a_stored_alt_text(home: Path, config, store) -> None:
    inbox = config.paths.inbox
    (inbox / "IMG_0412.jpg").write_bytes(photo(50))
    (inbox / "IMG_0412.txt").write_text(f"beach day{CLEAR_SCREEN} with {TITLE}Lola\n")
    ingest_inbox(store, config)
    [row] = store.all("SELECT id, hint FROM photos")
    assert row["hint"] == "beach day[2J with ]0;pwnedLola"  # stripped as it arrived
    # Strings stored before they were checked: an alt text and a draft's hint with escape sequences in them.
    draft_id = add_draft(store, [row["id"]], status="pending", caption="Beach day #chihuahua",
                         hint=f"old hint{CLEAR_SCREEN}", created_at="2026-11-20T08:00:00+00:00",
                         updated_at="2026-11-20T08:00:00+00:00")
    store.db.execute("UPDATE draft_media SET alt_text = ? WHERE draft_id = ?", ("A dog\x1b[31m in red\x9b", draft_id))

    shown = run_cli("drafts", "show", str(draft_id), config=home / "pawpost.toml")
    listed = run_cli("drafts", "list", config=home / "pawpost.toml")
    as_json = run_cli("drafts", "show", str(draft_id), "--json", config=home / "pawpost.toml")

    assert shown.returncode == 0, shown.stderr
    for out in (shown.stdout, listed.stdout, as_json.stdout):
        assert "\x1b" not in out and "\x9b" not in out and "\x07" not in out
    assert "old hint\\x1b[2J" in shown.stdout
    assert "A dog\\x1b[31m in red\\x9b" in shown.stdout
    assert json.loads(as_json.stdout)["media"][0]["alt_text"] == "A dog\x1b[31m in red\x9b"  # the data, escaped


def test_control_characters_typed_in_are_refused_in_one_line(home: Path, store) -> None:
    draft_id = make_draft(store, "Blanket day #chihuahua", status="pending")
    cfg = home / "pawpost.toml"

    for argv in (("drafts", "approve", str(draft_id), "--alt", f"a dog{CLEAR_SCREEN}"),
                 ("drafts", "reject", str(draft_id), "--reason", f"nope{TITLE}")):
        result = run_cli(*argv, config=cfg)
        assert result.returncode == 1, argv
        [line] = result.stderr.strip().splitlines()
        assert "control character (U+001B" in line and "\x1b" not in line
    assert store.draft(draft_id)["status"] == "pending"


def test_a_pet_name_with_an_escape_sequence_is_a_config_error(tmp_path: Path) -> None:
    config = write_config(tmp_path / "p", pets=[{"name": "Lola", "species": "dog"}])
    # TOML refuses a raw escape character, but its \u escape writes one into the value.
    config.write_text(config.read_text().replace('name = "Lola"', 'name = "Lola\\u001b[2J"'))

    result = run_cli("status", config=config)

    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert "pets[0].name" in line and "control character (U+001B" in line and "\x1b" not in line
