"""The poster with the dry-run publisher (data/outbox/): slots, the queue, the daily cap, catch-up, recovery."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.errors import PawpostError
from bot.publish.comments import split_hashtags
from bot.publish.dryrun import DryRunPublisher
from bot.publish.gate import posting_blocked
from bot.publish.poster import Poster
from tests.bot.publish.conftest import at, make_draft

SLOT = at("2026-11-20 09:30")


@pytest.fixture
def poster(config, store):
    # The example config's UTC slots 09:30 and 19:00, cap 2, catch-up 60 minutes; no jitter, for exact times.
    config.schedule.jitter_minutes = 0
    return Poster(store, config, DryRunPublisher(config.paths.outbox))


def status_of(store, draft_id):
    return store.value("SELECT status FROM drafts WHERE id = ?", (draft_id,))


def outbox_records(config):
    return [json.loads(p.read_text()) for p in sorted(config.paths.outbox.glob("*.json"))]


def test_dry_run_writes_the_photo_and_a_record_to_the_outbox(config, store, poster):
    draft_id = make_draft(store, "Hello from the outbox 🐾 #chihuahua", size=(900, 1600))
    pet = store.insert("pets", name="Lola", species="dog", created_at="2026-01-01T00:00:00+00:00")
    photo_id = store.value("SELECT photo_id FROM drafts WHERE id = ?", (draft_id,))
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


def test_the_oldest_approved_draft_goes_first_and_one_per_slot(config, store, poster):
    newer = make_draft(store, "newer", approved_at=at("2026-11-19 12:00"))
    older = make_draft(store, "older", approved_at=at("2026-11-18 12:00"))
    make_draft(store, "pending", status="pending")

    assert poster.tick(SLOT).draft_id == older
    assert poster.tick(SLOT + timedelta(minutes=1)) is None
    assert poster.tick(at("2026-11-20 19:00")).draft_id == newer
    assert poster.tick(at("2026-11-21 09:30")) is None  # the pending draft is never posted
    assert len(outbox_records(config)) == 2


def test_a_draft_approved_with_at_goes_out_at_its_time(config, store, poster):
    queued = make_draft(store, "queued")
    timed = make_draft(store, "timed", scheduled_for=at("2026-11-20 14:15"))

    assert poster.tick(SLOT).draft_id == queued
    assert poster.tick(at("2026-11-20 14:14")) is None
    assert poster.tick(at("2026-11-20 14:15")).draft_id == timed
    assert poster.next_fire_time(at("2026-11-20 14:16")) == at("2026-11-20 19:00")


def test_catch_up_after_downtime_posts_once_then_waits_for_the_next_slot(config, store, poster):
    store.put("schedule_last_fired", "2026-11-18T19:00:00+00:00")  # the daemon was off since the 18th
    drafts = [make_draft(store, f"draft {i}", approved_at=at(f"2026-11-1{i} 10:00")) for i in range(3)]

    first = poster.tick(at("2026-11-20 09:50"))

    assert first.draft_id == drafts[0]
    for minutes in range(1, 60, 7):
        assert poster.tick(at("2026-11-20 09:50") + timedelta(minutes=minutes)) is None
    assert poster.tick(at("2026-11-20 19:00")).draft_id == drafts[1]
    assert len(outbox_records(config)) == 2
    skipped = store.all("SELECT message FROM events WHERE kind = 'schedule.skipped'")
    assert [r[0] for r in skipped] == ["slot 2026-11-19 09:30 skipped: a later slot is due",
                                       "slot 2026-11-19 19:00 skipped: a later slot is due"]  # never fired


def test_a_missed_slot_beyond_catch_up_is_skipped(config, store, poster):
    store.put("schedule_last_fired", "2026-11-20T08:00:00+00:00")
    make_draft(store)

    assert poster.tick(at("2026-11-20 10:31")) is None  # 09:30 is 61 minutes old (catch_up_minutes = 60)

    assert poster.tick(at("2026-11-20 19:00")).status == "posted"


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


def test_posts_made_now_count_toward_the_daily_cap(config, store, poster):
    first, second, third = (make_draft(store, f"d{i}") for i in range(3))

    poster.post_now(first, at("2026-11-20 08:00"))
    assert poster.tick(SLOT).draft_id == second
    assert poster.tick(at("2026-11-20 19:00")) is None  # max_posts_per_day = 2 reached
    assert status_of(store, third) == "approved"
    assert poster.tick(at("2026-11-21 09:30")).draft_id == third


def test_bad_content_fails_the_draft_and_the_slot_posts_the_next_one(config, store, poster):
    broken = make_draft(store, "broken", approved_at=at("2026-11-01 00:00"))
    good = make_draft(store, "good")
    photo = store.value("SELECT p.path FROM photos p JOIN drafts d ON d.photo_id = p.id WHERE d.id = ?", (broken,))
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


def test_hashtags_split_from_the_caption():
    assert split_hashtags("Cosy day 🐶\n\n#chihuahua #rescuedog") == ("Cosy day 🐶", "#chihuahua #rescuedog")
    assert split_hashtags("Love my #blanket so much") == ("Love my #blanket so much", None)
    assert split_hashtags("#only #tags") == ("#only #tags", None)
    assert split_hashtags("Mid #tag and end #one #two") == ("Mid #tag and end", "#one #two")


def test_cooldown_and_stop_are_one_sentence_for_status(config, store, poster):
    make_draft(store)
    store.put("cooldown_until", "2026-11-20T12:00:00+00:00")

    assert poster.tick(SLOT) is None
    assert "resumes by itself" in posting_blocked(store, SLOT)
    assert poster.tick(at("2026-11-20 10:00")) is None  # still cooling down; 09:30 is still in its catch-up window
    assert poster.tick(at("2026-11-20 19:00")).status == "posted"
    assert store.get("cooldown_until") is None


def test_upcoming_lists_slots_and_their_drafts(config, store, poster):
    first = make_draft(store, "first", approved_at=at("2026-11-18 00:00"))
    second = make_draft(store, "second", approved_at=at("2026-11-19 00:00"))

    listed = poster.upcoming(at("2026-11-20 08:00"), 3)

    assert [(u.slot.fire_at, u.draft_id) for u in listed] == [
        (at("2026-11-20 09:30"), first), (at("2026-11-20 19:00"), second), (at("2026-11-21 09:30"), None)]
    assert listed[2].note == "nothing approved yet"
