"""The schedule's facts in the database (bot/publish/slots.py): which slot is due, which draft fills it, what fired,
posts per local day, the install's jitter salt. The pure slot functions: tests/bot/publish/test_schedule.py.
"""

from __future__ import annotations

from datetime import timedelta

from bot.publish.schedule import Slot
from bot.publish.slots import SlotBook
from bot.store import keys
from tests.bot.publish.conftest import at, make_draft, outbox_records, status_of

SLOT = at("2026-11-20 09:30")


def book(config, store) -> SlotBook:
    config.schedule.jitter_minutes = 0
    return SlotBook(store, config)


def test_the_salt_is_made_once_and_kept(config, store):
    first = SlotBook(store, config).salt()
    assert first and store.get(keys.SCHEDULE_SALT) == first
    assert SlotBook(store, config).salt() == first  # the same jitter for every process and restart


def test_fired_only_moves_forward_and_restore_frees_the_slot(config, store):
    slots = book(config, store)
    assert slots.last_fired() is None
    slots.fired(Slot(SLOT, SLOT))
    slots.fired(Slot(SLOT - timedelta(hours=10), SLOT - timedelta(hours=10)))  # an older one changes nothing
    assert slots.last_fired() == "2026-11-20T09:30:00+00:00"
    slots.restore_fired(None)  # nothing went out for it: the slot is free again
    assert slots.decide(SLOT + timedelta(minutes=1)).slot == Slot(SLOT, SLOT)


def test_passing_slots_over_says_so_and_counts_them_as_fired(config, store):
    slots = book(config, store)
    passed = [Slot(at(t), at(t)) for t in ("2026-11-19 09:30", "2026-11-19 19:00")]

    slots.pass_over(passed, "missed: the last slot was more than 60 minutes ago")

    events = store.all("SELECT level, message FROM events WHERE kind = 'schedule.skipped' ORDER BY id")
    assert [tuple(e) for e in events] == [
        ("warning", "slot 2026-11-19 09:30 skipped: missed: the last slot was more than 60 minutes ago"),
        ("warning", "slot 2026-11-19 19:00 skipped: missed: the last slot was more than 60 minutes ago")]
    assert slots.last_fired() == "2026-11-19T19:00:00+00:00"


def test_pick_takes_the_oldest_ready_draft_and_an_at_draft_for_its_own_slot(config, store):
    slots = book(config, store)
    later = make_draft(store, "not before noon", scheduled_for=at("2026-11-20 12:00"))
    waiting = make_draft(store, "retry later", approved_at=at("2026-11-18 00:00"))
    store.update("drafts", waiting, retry_after="2026-11-20T10:00:00+00:00")
    ready = make_draft(store, "ready", approved_at=at("2026-11-19 00:00"))

    assert slots.pick(Slot(SLOT, SLOT), SLOT) == ready  # the older one waits for its retry time
    assert slots.pick(Slot(SLOT, SLOT), at("2026-11-20 10:00")) == waiting
    noon = at("2026-11-20 12:00")
    assert slots.pick(Slot(noon, noon, later), noon) == later  # its own time, ahead of the queue


def test_posts_on_day_counts_posted_and_in_flight_drafts_by_the_local_day(config, store):
    config.schedule.timezone = "Europe/Madrid"
    slots = SlotBook(store, config)
    late = make_draft(store, "late evening", status="posted")
    store.update("drafts", late, posted_at="2026-11-20T23:30:00+00:00")  # 00:30 on the 21st in Madrid
    flying = make_draft(store, "in flight", status="publishing")
    store.insert("attempts", draft_id=flying, nonce="n1", started_at="2026-11-21T08:00:00+00:00")

    day = at("2026-11-21 12:00").date()
    assert slots.posts_on_day(day) == 2
    assert slots.posts_on_day(day - timedelta(days=1)) == 0


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


def test_posts_made_now_count_toward_the_daily_cap(config, store, poster):
    first, second, third = (make_draft(store, f"d{i}") for i in range(3))

    poster.post_now(first, at("2026-11-20 08:00"))
    assert poster.tick(SLOT).draft_id == second
    assert poster.tick(at("2026-11-20 19:00")) is None  # max_posts_per_day = 2 reached
    assert status_of(store, third) == "approved"
    assert poster.tick(at("2026-11-21 09:30")).draft_id == third


def test_upcoming_lists_slots_and_their_drafts(config, store, poster):
    first = make_draft(store, "first", approved_at=at("2026-11-18 00:00"))
    second = make_draft(store, "second", approved_at=at("2026-11-19 00:00"))

    listed = poster.upcoming(at("2026-11-20 08:00"), 3)

    assert [(u.slot.fire_at, u.draft_id) for u in listed] == [
        (at("2026-11-20 09:30"), first), (at("2026-11-20 19:00"), second), (at("2026-11-21 09:30"), None)]
    assert listed[2].note == "nothing approved yet"
