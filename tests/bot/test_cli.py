"""The CLI contract: commands, --json documents, exit codes, one-line errors, no heavy imports."""

from __future__ import annotations

import json
import os
import stat
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from bot import timeutil
from bot.drafts.media import add_draft, first_photo
from bot.store.database import Store
from tests.conftest import run_cli

NOW = "2026-11-22T10:00:00+00:00"


def seed_drafts(store: Store) -> dict[str, int]:
    ids = {}
    for status in ("pending", "approved", "posted", "rejected"):
        photo = store.insert("photos", sha256=f"sha-{status}", status="drafted", source_name=f"{status}.jpg",
                             path=f"library/2026/11/{status}.jpg", created_at=NOW, updated_at=NOW)
        draft = add_draft(store, [photo], status=status, caption=f"{status} caption #chihuahua",
                          created_at=NOW, updated_at=NOW,
                          posted_at=NOW if status == "posted" else None,
                          media_code="Cabc" if status == "posted" else None)
        for pos, text in enumerate([f"{status} caption #chihuahua", f"another {status} take"]):
            store.insert("candidates", draft_id=draft, position=pos, text=text, score=1 - pos / 10)
        store.insert("candidates", draft_id=draft, position=9, text="loop loop loop", passed=0, reason="repeats")
        ids[status] = draft
    lola = store.insert("pets", name="Lola", species="dog", created_at=NOW)
    store.insert("photo_pets", photo_id=first_photo(store, ids["pending"]), pet_id=lola, confidence=0.93,
                 source="model")
    return ids


def test_init_writes_config_and_folders(tmp_path: Path) -> None:
    result = run_cli("init", str(tmp_path / "bot"))
    assert result.returncode == 0, result.stderr
    cfg = tmp_path / "bot" / "pawpost.toml"
    assert cfg.is_file()
    for folder in ("photos/inbox", "data/library", "data/quarantine", "data/outbox"):
        assert (tmp_path / "bot" / folder).is_dir()
    # The starter's pets are a commented example: no folder is made for a pet the owner does not have.
    assert not (tmp_path / "bot" / "pets").exists()
    again = run_cli("init", str(tmp_path / "bot"))
    assert again.returncode == 1 and "already exists" in again.stderr
    status = run_cli("status", "--json", config=cfg)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["drafts"]["pending"] == 0


def test_drafts_list_json(home: Path, store: Store) -> None:
    ids = seed_drafts(store)
    result = run_cli("drafts", "list", "--json", config=home / "pawpost.toml")
    assert result.returncode == 0, result.stderr
    drafts = json.loads(result.stdout)
    assert [d["id"] for d in drafts] == sorted(ids.values(), reverse=True)
    pending = next(d for d in drafts if d["id"] == ids["pending"])
    for key in ("id", "status", "photo", "pets", "caption", "candidates", "created_at", "scheduled_for",
                "posted_at", "media_code", "error"):
        assert key in pending
    assert pending["pets"] == ["Lola"]
    assert pending["candidates"] == ["pending caption #chihuahua", "another pending take"]
    assert pending["photo"] == str(home / "data" / "library/2026/11/pending.jpg")
    assert pending["created_at"] == NOW
    only = json.loads(run_cli("drafts", "list", "--status", "posted", "--json", config=home / "pawpost.toml").stdout)
    assert [d["id"] for d in only] == [ids["posted"]] and only[0]["media_code"] == "Cabc"


def test_drafts_show_text_and_json(home: Path, store: Store) -> None:
    ids = seed_drafts(store)
    cfg = home / "pawpost.toml"
    text = run_cli("drafts", "show", str(ids["pending"]), config=cfg)
    assert text.returncode == 0
    assert "pending caption" in text.stdout and "library/2026/11/pending.jpg" in text.stdout
    assert "refused (repeats)" in text.stdout
    doc = json.loads(run_cli("drafts", "show", str(ids["pending"]), "--json", config=cfg).stdout)
    assert doc["rejected_candidates"] == [{"text": "loop loop loop", "reason": "repeats"}]
    missing = run_cli("drafts", "show", "999", config=cfg)
    assert missing.returncode == 1 and missing.stderr.startswith("pawpost: error: there is no draft 999")


def test_approve_candidate_and_at(home: Path, store: Store) -> None:
    ids = seed_drafts(store)
    cfg = home / "pawpost.toml"
    at = (timeutil.now() + timedelta(days=30)).replace(hour=19, minute=0, second=0, microsecond=0)
    result = run_cli("drafts", "approve", str(ids["pending"]), "--candidate", "2", "--at", f"{at:%Y-%m-%d %H:%M}",
                     config=cfg)
    assert result.returncode == 0, result.stderr
    doc = json.loads(run_cli("drafts", "show", str(ids["pending"]), "--json", config=cfg).stdout)
    assert doc["status"] == "approved" and doc["caption"] == "another pending take"
    assert doc["scheduled_for"] == timeutil.iso(at)  # the test config's zone is UTC
    bad = run_cli("drafts", "approve", str(ids["posted"]), config=cfg)
    assert bad.returncode == 1 and "is posted" in bad.stderr
    out_of_range = run_cli("drafts", "approve", str(ids["approved"]), "--candidate", "7", config=cfg)
    assert out_of_range.returncode == 1 and "--candidate must be 1 to 2" in out_of_range.stderr
    past = run_cli("drafts", "approve", str(ids["approved"]), "--at", "2001-01-01 10:00", config=cfg)
    assert past.returncode == 1 and "in the past" in past.stderr
    malformed = run_cli("drafts", "approve", str(ids["approved"]), "--at", "tomorrow", config=cfg)
    assert malformed.returncode == 1 and "must look like" in malformed.stderr


def test_approve_with_own_caption_checks_instagram_limits(home: Path, store: Store) -> None:
    ids = seed_drafts(store)
    cfg = home / "pawpost.toml"
    tags = " ".join(f"#tag{i}" for i in range(7))
    too_many = run_cli("drafts", "approve", str(ids["pending"]), "--caption", f"Lola! {tags}", config=cfg)
    assert too_many.returncode == 1 and "7 hashtags" in too_many.stderr
    assert store.draft(ids["pending"])["status"] == "pending"
    ok = run_cli("drafts", "approve", str(ids["pending"]), "--caption", "Lola owns the sofa now", config=cfg)
    assert ok.returncode == 0
    row = store.draft(ids["pending"])
    # The one hashtag rule: Lola's and the account's hashtags are added to the owner's caption too.
    assert row["caption"] == "Lola owns the sofa now\n\n#lolathechihuahua #chihuahua #rescuedog"
    assert row["edited"] == 1 and row["generated_caption"] == "pending caption #chihuahua"


def test_edit_uses_editor_and_records_the_edit(home: Path, store: Store, tmp_path: Path) -> None:
    ids = seed_drafts(store)
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nprintf "Lola, queen of blankets" > "$1"\n')
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    result = run_cli("drafts", "edit", str(ids["approved"]), config=home / "pawpost.toml",
                     env={"EDITOR": str(editor)})
    assert result.returncode == 0, result.stderr
    row = store.draft(ids["approved"])
    assert row["caption"] == "Lola, queen of blankets" and row["edited"] == 1 and row["status"] == "approved"
    assert row["generated_caption"] == "approved caption #chihuahua"


def test_reject(home: Path, store: Store) -> None:
    ids = seed_drafts(store)
    cfg = home / "pawpost.toml"
    assert run_cli("drafts", "reject", str(ids["pending"]), "--reason", "blurry", config=cfg).returncode == 0
    row = store.draft(ids["pending"])
    assert row["status"] == "rejected" and row["reject_reason"] == "blurry"
    again = run_cli("drafts", "reject", str(ids["pending"]), config=cfg)
    assert again.returncode == 1 and "only pending drafts" in again.stderr


def test_status_json_counts(home: Path, store: Store) -> None:
    seed_drafts(store)
    store.insert("photos", sha256="bad", status="quarantined", source_name="bad.jpg", reason="not an image",
                 created_at=NOW, updated_at=NOW)
    doc = json.loads(run_cli("status", "--json", config=home / "pawpost.toml").stdout)
    for key in ("photos", "drafts", "next_slot", "last_post", "cooldown_until", "last_error", "models"):
        assert key in doc
    assert doc["photos"]["drafted"] == 4 and doc["photos"]["quarantined"] == 1
    assert doc["drafts"] == {"pending": 1, "approved": 1, "publishing": 0, "posted": 1, "rejected": 1, "failed": 0}
    assert doc["quarantined"][0]["reason"] == "not an image"
    assert doc["last_post"]["media_code"] == "Cabc"


def test_doctor_reports_each_check(home: Path) -> None:
    result = run_cli("doctor", "--json", config=home / "pawpost.toml")
    doc = json.loads(result.stdout)
    names = {c["name"] for c in doc["checks"]}
    assert {"config", "folder inbox", "folder data", "database", "gpu"} <= names
    assert result.returncode == (0 if doc["ok"] else 1)


def test_usage_errors_exit_2(home: Path) -> None:
    result = run_cli("drafts", "approve", config=home / "pawpost.toml")
    assert result.returncode == 2
    assert run_cli("no-such-command").returncode == 2


@pytest.mark.parametrize("argv", [["drafts", "list", "--json"], ["status", "--json"], ["drafts", "show", "1"],
                                  ["init", "--help"]])
def test_commands_without_models_never_import_torch(home: Path, store: Store, argv: list[str]) -> None:
    seed_drafts(store)
    probe = (
        "import sys, runpy\n"
        f"sys.argv = ['pawpost', '--config', {str(home / 'pawpost.toml')!r}, *{argv!r}]\n"
        "try:\n    runpy.run_module('bot', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'transformers', 'instagrapi') if m in sys.modules]\n"
        "sys.stderr.write('HEAVY=' + ','.join(heavy))\n"
    )
    import subprocess
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAWPOST_")}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60)
    assert "HEAVY=" in result.stderr
    assert result.stderr.rsplit("HEAVY=", 1)[1] == "", result.stderr


def test_json_keeps_rank_order_and_the_latest_generation(home: Path, store: Store) -> None:
    photo = store.insert("photos", sha256="s", status="drafted", source_name="x.jpg", path="library/x.jpg",
                         created_at=NOW, updated_at=NOW)
    draft = add_draft(store, [photo], status="pending", caption="b", created_at=NOW, updated_at=NOW)
    store.insert("candidates", draft_id=draft, position=0, text="old generation", generation=0)
    for pos, text in ((2, "c"), (0, "a"), (3, "refused"), (1, "b")):  # inserted out of rank order
        store.insert("candidates", draft_id=draft, position=pos, text=text, generation=1, passed=int(pos != 3),
                     reason="loop" if pos == 3 else None)
    for name, confidence in (("Pico", 0.4), ("Lola", 0.9), ("Bimba", 0.4)):
        pet = store.insert("pets", name=name, species="dog", created_at=NOW)
        store.insert("photo_pets", photo_id=photo, pet_id=pet, confidence=confidence, source="model")
    from bot.drafts.actions import get_draft, list_drafts

    for view in (get_draft(store, draft), list_drafts(store)[0]):
        assert view.candidates == ["a", "b", "c"]
        assert view.rejected_candidates == [{"text": "refused", "reason": "loop"}]
        assert view.pets == ["Lola", "Bimba", "Pico"]


def test_unusable_paths_are_one_line_errors(home: Path, tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    result = run_cli("status", config=home / "pawpost.toml", env={"PAWPOST_PATHS__DATA": str(afile)})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and "fix paths.data" in result.stderr
    result = run_cli("init", str(afile / "sub"))
    assert result.returncode == 1 and "Traceback" not in result.stderr and "cannot create" in result.stderr


def test_secret_values_are_never_echoed_in_config_errors(tmp_path: Path) -> None:
    from tests.conftest import write_config

    path = write_config(tmp_path / "h", {"instagram": {"totp_seed": 987654, "proxy": 31337}})
    result = run_cli("status", config=path)
    assert result.returncode == 1
    assert "987654" not in result.stderr and "31337" not in result.stderr and "instagram." in result.stderr


def test_at_a_time_skipped_by_daylight_saving_is_refused(tmp_path: Path) -> None:
    from bot.config import load_config
    from bot.drafts.actions import parse_at
    from bot.errors import PawpostError
    from tests.conftest import write_config

    config = load_config(write_config(tmp_path / "h", {"schedule": {"timezone": "Europe/Madrid"}}))
    with pytest.raises(PawpostError, match="does not exist in Europe/Madrid"):
        parse_at("2027-03-28 02:30", config)
    assert parse_at("2027-03-28 03:30", config).isoformat() == "2027-03-28T03:30:00+02:00"
    assert parse_at("2027-10-31 02:30", config).utcoffset() is not None  # the repeated hour is allowed


def test_edit_refuses_before_opening_the_editor_and_zero_candidates(home: Path, store: Store, tmp_path: Path) -> None:
    ids = seed_drafts(store)
    marker = tmp_path / "editor-ran"
    editor = tmp_path / "editor.sh"
    editor.write_text(f'#!/bin/sh\ntouch "{marker}"\n')
    editor.chmod(0o755)
    result = run_cli("drafts", "edit", str(ids["posted"]), config=home / "pawpost.toml", env={"EDITOR": str(editor)})
    assert result.returncode == 1 and "is posted" in result.stderr and not marker.exists()
    store.db.execute("DELETE FROM candidates WHERE draft_id = ?", (ids["pending"],))
    result = run_cli("drafts", "approve", str(ids["pending"]), "--candidate", "1", config=home / "pawpost.toml")
    assert result.returncode == 1 and "has no candidates" in result.stderr


def test_doctor_failures_are_named_on_stderr(home: Path) -> None:
    (home / "inbox").rmdir()
    result = run_cli("doctor", config=home / "pawpost.toml")
    assert result.returncode == 1
    assert result.stderr.startswith("pawpost: error: ") and "folder inbox" in result.stderr
