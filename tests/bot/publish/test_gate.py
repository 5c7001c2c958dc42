"""The posting gate (bot/publish/gate.py): the owner's stop, Instagram's cooldown, one sentence for the owner, the last
error; the same facts for the poster, `status`, the daemon's status line and the review site.
"""

from __future__ import annotations

from datetime import timedelta

from bot.publish import gate
from bot.publish.errors import FATAL_ADVICE, QUOTA_ADVICE, ErrorKind, PublishError
from bot.publish.outcome import Step
from bot.store import keys
from tests.bot.publish.conftest import at, make_draft

SLOT = at("2026-11-20 09:30")


def events(store, kind):
    return [r[0] for r in store.all("SELECT message FROM events WHERE kind = ? ORDER BY id", (kind,))]


def test_a_stop_keeps_its_first_reason_until_the_owner_resumes(store):
    assert gate.posting_blocked(store, SLOT) is None
    first = gate.stop_sentence("the password was refused: fix it, then run 'pawpost login'", "BadPassword")
    assert first == "The password was refused: fix it, then run 'pawpost login' (BadPassword)."

    assert gate.stop(store, first, "login failed")
    assert not gate.stop(store, "Something else (Other).", "a later error")  # the first reason is what to fix

    assert gate.stopped(store) == first and events(store, "post.stopped") == ["login failed"]
    assert gate.posting_blocked(store, SLOT) == f"Posting stopped: {first}"
    gate.resume(store)
    assert gate.stopped(store) is None and gate.posting_blocked(store, SLOT) is None


def test_a_cooldown_blocks_until_its_time_and_then_lifts_itself(store):
    store.put(keys.COOLDOWN_UNTIL, "2026-11-20T12:00:00+00:00")

    assert gate.cooldown_until(store, SLOT) == "2026-11-20T12:00:00+00:00"
    assert "pauses until 2026-11-20T12:00:00+00:00 and resumes by itself" in gate.posting_blocked(store, SLOT)
    gate.lift_cooldown(store, SLOT)  # not over yet: kept
    assert store.get(keys.COOLDOWN_UNTIL) and events(store, "post.cooldown_over") == []

    noon = at("2026-11-20 12:00")
    assert gate.cooldown_until(store, noon) is None and gate.posting_blocked(store, noon) is None
    gate.lift_cooldown(store, noon)
    assert store.get(keys.COOLDOWN_UNTIL) is None
    assert events(store, "post.cooldown_over") == ["Instagram cooldown is over; posting resumes"]


def test_a_rate_limit_pauses_for_the_configured_hours_and_never_shortens_a_pause(config, store):
    limited = PublishError(ErrorKind.COOLDOWN, "please wait a few minutes", error_class="PleaseWaitFewMinutes")

    gate.after_error(store, config, limited, SLOT)
    until = SLOT + timedelta(hours=config.instagram.cooldown_hours)
    assert store.get(keys.COOLDOWN_UNTIL) == until.isoformat()
    gate.after_error(store, config, limited, SLOT - timedelta(hours=1))  # an earlier end does not shorten it
    assert store.get(keys.COOLDOWN_UNTIL) == until.isoformat()
    assert gate.stopped(store) is None


def test_a_spent_quota_pauses_until_a_day_after_the_oldest_post_of_the_last_24_hours(config, store):
    posted = make_draft(store, "posted this morning", status="posted")
    store.update("drafts", posted, posted_at="2026-11-20T06:00:00+00:00")
    spent = PublishError(ErrorKind.COOLDOWN, "quota", error_class="GraphError9", advice=QUOTA_ADVICE)

    gate.after_error(store, config, spent, SLOT)

    assert store.get(keys.COOLDOWN_UNTIL) == "2026-11-21T06:01:00+00:00"


def test_a_fatal_error_or_a_failed_relogin_stops_posting_with_what_to_do(config, store):
    relogin = PublishError(ErrorKind.REAUTH, "login_required", error_class="LoginRequired")

    gate.after_error(store, config, relogin, SLOT)

    assert gate.stopped(store) == gate.stop_sentence(FATAL_ADVICE["logged_out"], "LoginRequired")
    assert events(store, "post.stopped") == [f"posting stopped: {gate.stopped(store)} login_required"]
    bad = PublishError(ErrorKind.BAD_CONTENT, "caption too long", error_class="CaptionTooLong")
    gate.after_error(store, config, bad, SLOT)  # about one draft: the gate does not change
    assert len(events(store, "post.stopped")) == 1


def test_the_last_error_is_kept_with_its_class_until_a_post_works(store):
    err = PublishError(ErrorKind.TRANSIENT, "connection refused", error_class="ConnectionError", step=Step.UPLOAD)

    gate.remember_error(store, err, SLOT, 7)

    assert gate.last_error(store) == {
        "at": "2026-11-20T09:30:00+00:00", "draft_id": 7, "kind": "transient", "outcome": "refused",
        "step": str(Step.UPLOAD), "error_class": "ConnectionError", "message": "connection refused",
        "advice": err.advice}
    gate.forget_error(store)
    assert gate.last_error(store) is None


def test_cooldown_and_stop_are_one_sentence_for_status(config, store, poster):
    make_draft(store)
    store.put("cooldown_until", "2026-11-20T12:00:00+00:00")

    assert poster.tick(SLOT) is None
    assert "resumes by itself" in gate.posting_blocked(store, SLOT)
    assert poster.tick(at("2026-11-20 10:00")) is None  # still cooling down; 09:30 is still in its catch-up window
    assert poster.tick(at("2026-11-20 19:00")).status == "posted"
    assert store.get("cooldown_until") is None
