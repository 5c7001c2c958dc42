"""`pawpost drafts unapprove ID` and `drafts restore ID`: the owner's undo, back to pending, each an event; refused
with one line once a draft is publishing or posted, or not in the state it undoes."""

from __future__ import annotations

from datetime import timedelta

from bot import timeutil
from bot.store.database import Store
from tests.bot.publish.conftest import make_draft
from tests.conftest import run_cli


def _events(store, draft_id: int) -> list[str]:
    return [r["kind"] for r in store.all("SELECT kind FROM events WHERE draft_id = ? ORDER BY id", (draft_id,))]


def test_unapprove_puts_an_approved_draft_back_to_pending(home, store, config):
    at = timeutil.now() + timedelta(days=2)
    approved = make_draft(store, "Blanket day", scheduled_for=at, approved_at=timeutil.now())
    store.close()

    result = run_cli("drafts", "unapprove", str(approved), config=home / "pawpost.toml")
    listed = run_cli("drafts", "list", "--status", "approved", "--json", config=home / "pawpost.toml")
    again = run_cli("drafts", "unapprove", str(approved), config=home / "pawpost.toml")

    assert result.returncode == 0, result.stderr
    assert f"draft {approved} is pending again" in result.stdout
    assert listed.stdout.strip() == "[]"
    assert again.returncode == 1 and again.stderr.count("\n") == 1
    assert "only approved drafts can be unapproved" in again.stderr
    with Store.for_config(config) as db:
        row = db.draft(approved)
        assert row["status"] == "pending" and row["approved_at"] is None and row["scheduled_for"] is None
        assert "draft.unapproved" in _events(db, approved)


def test_unapprove_refuses_a_draft_being_posted_or_posted(home, store):
    publishing = make_draft(store, "in flight")
    store.set_draft_status(publishing, "publishing")
    posted = make_draft(store, "done")
    store.set_draft_status(posted, "publishing")
    store.set_draft_status(posted, "posted", media_code="ABC")
    store.close()

    for draft_id, state in ((publishing, "publishing"), (posted, "posted")):
        result = run_cli("drafts", "unapprove", str(draft_id), config=home / "pawpost.toml")
        assert result.returncode == 1, result.stdout
        assert f"draft {draft_id} is {state}" in result.stderr and "can no longer be undone" in result.stderr
        assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1


def test_restore_puts_a_rejected_draft_back_to_pending(home, store, config):
    draft_id = make_draft(store, "Rainy walk", status="pending")
    store.set_draft_status(draft_id, "rejected", reject_reason="blurry")
    pending = make_draft(store, "Still pending", status="pending")
    store.close()

    result = run_cli("drafts", "restore", str(draft_id), config=home / "pawpost.toml")
    refused = run_cli("drafts", "restore", str(pending), config=home / "pawpost.toml")

    assert result.returncode == 0, result.stderr
    assert f"draft {draft_id} is pending again" in result.stdout
    assert refused.returncode == 1 and "only rejected drafts can be restored" in refused.stderr
    with Store.for_config(config) as db:
        row = db.draft(draft_id)
        assert row["status"] == "pending" and row["reject_reason"] is None
        assert "draft.restored" in _events(db, draft_id)
