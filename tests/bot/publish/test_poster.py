"""The poster with the dry-run publisher (data/outbox/): the exactly-once steps, post now, bad content, recovery.

Which slot and which draft: test_slots.py; the gate: test_gate.py; hashtag comments: test_comments.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.drafts.media import first_photo
from bot.errors import PawpostError
from bot.publish.poster import Poster
from bot.publish.publishers.dryrun import DryRunPublisher
from tests.bot.publish.conftest import at, make_draft, outbox_records, status_of

SLOT = at("2026-11-20 09:30")


def test_dry_run_writes_the_photo_and_a_record_to_the_outbox(config, store, poster):
    draft_id = make_draft(store, "Hello from the outbox 🐾 #chihuahua", size=(900, 1600))
    pet = store.insert("pets", name="Lola", species="dog", created_at="2026-01-01T00:00:00+00:00")
    photo_id = first_photo(store, draft_id)
    store.insert("photo_pets", photo_id=photo_id, pet_id=pet, confidence=0.93, box="", source="model")

    result = poster.tick(SLOT)

    assert result.status == "posted"
    [record] = outbox_records(config)
    assert record["draft_id"] == draft_id and record["caption"] == "Hello from the outbox 🐾 #chihuahua"
    assert record["pets"] == ["Lola"] and record["media_code"] == result.media_code
    jpg = config.paths.outbox / record["image"]
    assert jpg.name.endswith(f"-{draft_id}.jpg") and jpg.name == jpg.with_suffix(".json").name[:-5] + ".jpg"
    from PIL import Image

    with Image.open(jpg) as im:
        assert im.size == (900, 1125)  # the prepared copy, not the 9:16 original
    row = store.one("SELECT * FROM drafts WHERE id = ?", (draft_id,))
    assert row["media_code"] == record["media_code"] and row["posted_at"] == "2026-11-20T09:30:00+00:00"
    assert not list((config.paths.data / "prepared").glob("*.jpg"))  # the attempt's copy is cleaned up
    assert [p.read_bytes() for p in (config.paths.data / "prepared" / "cache").glob("*.jpg")] == [jpg.read_bytes()]


def test_a_post_survives_the_loss_of_the_write_ahead_log_alone(config, store, poster, tmp_path):
    # A crash with the database open, then the -wal file lost (a careless clean-up): what is in the database file
    # alone must still say the draft was posted, or it would be posted again.
    import shutil
    import sqlite3

    draft_id = make_draft(store, "Posted once #chihuahua")
    assert poster.tick(SLOT).status == "posted"
    # The database file as it is on disk now, without its -wal (the store's connection is still open).
    copy = tmp_path / "without-wal.db"
    shutil.copyfile(store.path, copy)
    db = sqlite3.connect(copy)
    try:
        assert db.execute("SELECT status FROM drafts WHERE id = ?", (draft_id,)).fetchone() == ("posted",)
    finally:
        db.close()


def test_post_now_refuses_what_is_not_approved_and_never_posts_twice(config, store, poster):
    pending = make_draft(store, "pending one", status="pending")
    approved = make_draft(store, "approved one")

    with pytest.raises(PawpostError, match="only approved drafts"):
        poster.post_now(pending)
    result = poster.post_now(approved, SLOT - timedelta(hours=2))
    assert result.status == "posted"
    with pytest.raises(PawpostError, match="already posted"):
        poster.post_now(approved)
    assert len(outbox_records(config)) == 1


def test_bad_content_fails_the_draft_and_the_slot_posts_the_next_one(config, store, poster):
    broken = make_draft(store, "broken", approved_at=at("2026-11-01 00:00"))
    good = make_draft(store, "good")
    photo = store.photo(first_photo(store, broken))["path"]
    (store.data_dir / photo).write_bytes(b"not an image")

    failed = poster.tick(SLOT)

    assert failed.status == "failed" and failed.kind == "bad_content"
    assert store.value("SELECT error FROM drafts WHERE id = ?", (broken,)).startswith("BadContent: ")
    assert poster.tick(SLOT + timedelta(seconds=30)).draft_id == good
    assert poster.tick(SLOT + timedelta(minutes=5)) is None  # later ticks: the slot is used


def test_a_crash_before_the_answer_was_stored_is_reconciled_from_the_outbox(config, store, poster):
    draft_id = make_draft(store, "crash-safe caption #dog")
    poster._mark_posted = lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        poster.tick(SLOT)
    assert status_of(store, draft_id) == "publishing"

    restarted = Poster(store, config, DryRunPublisher(config.paths.outbox))
    assert restarted.tick(SLOT + timedelta(minutes=1)) is None  # waits before looking
    settled = restarted.tick(SLOT + timedelta(minutes=3))

    assert settled.status == "posted"
    [record] = outbox_records(config)
    assert store.value("SELECT media_code FROM drafts WHERE id = ?", (draft_id,)) == record["media_code"]


def test_a_crash_before_anything_was_sent_goes_back_to_approved(config, store, poster):
    draft_id = make_draft(store, "never left")
    poster.publisher.publish = lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        poster.tick(SLOT)

    restarted = Poster(store, config, DryRunPublisher(config.paths.outbox))
    [result] = restarted.reconcile(SLOT + timedelta(minutes=1))  # nothing was sent: no need to look

    assert result.decision == "approved" and status_of(store, draft_id) == "approved"
    assert outbox_records(config) == []
