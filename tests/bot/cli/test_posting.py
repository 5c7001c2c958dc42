"""`pawpost schedule`, `pawpost post ID`, `pawpost login` and the Instagram doctor check, as an owner runs them."""

from __future__ import annotations

import json
import os

from bot.doctor import check_instagram
from tests.bot.publish.conftest import make_draft
from tests.conftest import run_cli, write_config


def test_schedule_json_lists_slots_and_the_drafts_filling_them(home, store):
    first = make_draft(store, "first caption")
    store.close()

    result = run_cli("schedule", "--json", "--count", "3", config=home / "pawpost.toml")

    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["timezone"] == "UTC" and doc["publisher"] == "dry-run" and doc["posting"] is None
    assert len(doc["slots"]) == 3
    assert doc["slots"][0]["draft_id"] == first and doc["slots"][0]["caption"] == "first caption"
    assert doc["slots"][1]["draft_id"] is None and doc["slots"][1]["note"] == "nothing approved yet"
    assert doc["slots"][0]["at"] < doc["slots"][0]["fire_at"] or doc["slots"][0]["at"] == doc["slots"][0]["fire_at"]


def test_schedule_table_says_when_posting_is_stopped(home, store):
    store.put("posting_stopped", "Instagram wants to verify the account: run 'pawpost login' (ChallengeRequired).")
    store.close()

    result = run_cli("schedule", config=home / "pawpost.toml")

    assert result.returncode == 0, result.stderr
    assert "Posting stopped: Instagram wants to verify the account" in result.stdout
    assert "times are UTC" in result.stdout


def test_post_publishes_an_approved_draft_once_and_refuses_the_rest(home, store, config):
    approved = make_draft(store, "Post me now 🐶")
    pending = make_draft(store, "Not yet", status="pending")
    store.close()
    cfg = home / "pawpost.toml"

    posted = run_cli("post", str(approved), config=cfg)
    again = run_cli("post", str(approved), config=cfg)
    not_approved = run_cli("post", str(pending), config=cfg)
    missing = run_cli("post", "999", config=cfg)

    assert posted.returncode == 0, posted.stderr
    assert posted.stdout.startswith(f"draft {approved} posted: file://")
    records = [json.loads(p.read_text()) for p in config.paths.outbox.glob("*.json")]
    assert [r["draft_id"] for r in records] == [approved]
    assert again.returncode == 1 and "already posted" in again.stderr and "Traceback" not in again.stderr
    assert not_approved.returncode == 1 and "only approved drafts" in not_approved.stderr
    assert missing.returncode == 1 and "no draft 999" in missing.stderr
    assert len(list(config.paths.outbox.glob("*.json"))) == 1


def test_post_json_is_one_document(home, store):
    draft_id = make_draft(store)
    store.close()

    result = run_cli("post", str(draft_id), "--json", config=home / "pawpost.toml")

    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["draft_id"] == draft_id and doc["status"] == "posted" and doc["media_code"]


def test_login_with_the_dry_run_publisher_needs_no_account(home):
    result = run_cli("login", config=home / "pawpost.toml")

    assert result.returncode == 0 and "needs no login" in result.stdout


def test_doctor_checks_the_instagram_session_without_the_network(tmp_path):
    from bot.config import load_config

    dry = load_config(write_config(tmp_path / "dry"))
    [check] = check_instagram(dry)
    assert check.ok and "dry-run publisher: no account needed" in check.message

    cfg = write_config(tmp_path / "ig", {"instagram": {"publisher": "instagrapi", "username": "lola"}})
    config = load_config(cfg)
    [missing] = check_instagram(config)
    assert not missing.ok and "pawpost login" in missing.message

    session = config.session_file
    session.write_text(json.dumps({"authorization_data": {"sessionid": "4242%3Aabc"}, "cookies": {}}))
    os.chmod(session, 0o644)
    [loose] = check_instagram(config)
    assert not loose.ok and "chmod 600" in loose.message

    os.chmod(session, 0o600)
    [good] = check_instagram(config)
    assert good.ok and "@lola" in good.message and "4242" not in good.message

    session.write_text(json.dumps({"cookies": {}}))
    [logged_out] = check_instagram(config)
    assert not logged_out.ok and "no logged-in session" in logged_out.message
