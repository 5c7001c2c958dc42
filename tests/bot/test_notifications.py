"""Notifications through Apprise to a local HTTP receiver (json://): what is said and when, batching of review
messages, and a receiver that fails or hangs, which is logged and given up without holding anything up."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

import pytest

from bot import timeutil
from bot.config import load_config
from bot.notifications import ROUND_SECONDS, Message, NotifyWorker, Sender, collect
from bot.store.database import Store
from tests.bot.publish.conftest import make_draft
from tests.conftest import write_config


def home_with(tmp_path, urls: list[str], **notify: Any) -> tuple[Any, Store]:
    config = load_config(write_config(tmp_path / "n", {
        "notify": {"urls": urls, "review_every_hours": 6, "timeout_seconds": 1, **notify},
        "web": {"public_url": "https://pets.example.org"}}))
    return config, Store.for_config(config)


def test_waiting_drafts_are_announced_at_most_once_per_review_period(tmp_path):
    config, store = home_with(tmp_path, [])
    make_draft(store, "a", status="pending")
    make_draft(store, "b", status="pending")
    now = timeutil.now()

    first = collect(store, config, now)
    assert [m.kind for m in first] == ["review"]
    assert first[0].title == "pawpost: 2 drafts are waiting for review"
    assert "https://pets.example.org/" in first[0].body
    assert collect(store, config, now + timedelta(minutes=1)) == []  # nothing new

    make_draft(store, "c", status="pending")
    assert collect(store, config, now + timedelta(hours=5)) == []  # new, but within review_every_hours
    later = collect(store, config, now + timedelta(hours=6, minutes=1))
    assert [m.title for m in later] == ["pawpost: 3 drafts are waiting for review"]
    assert collect(store, config, now + timedelta(hours=13)) == []  # the same drafts are not nagged about


def test_posting_events_since_the_last_round_become_messages_history_does_not(tmp_path):
    config, store = home_with(tmp_path, [])
    store.event("post.posted", "draft 1 posted: old news", draft_id=1)
    assert collect(store, config) == []  # the first round only sets the mark

    store.event("post.posted", "draft 2 posted: https://www.instagram.com/p/X/", draft_id=2)
    store.event("post.stopped", "posting stopped: Instagram wants a security check; run 'pawpost login'",
                level="error")
    store.event("post.cooldown", "Instagram asked to slow down (feedback_required); posting pauses until ...")
    store.event("post.unconfirmed", "draft 3: the answer to the publish call was lost", level="warning",
                draft_id=3)
    store.event("draft.approved", "draft 4: pending -> approved", draft_id=4)

    said = collect(store, config)

    assert [m.kind for m in said] == ["posted", "stopped", "cooldown", "unsettled"]
    assert "https://www.instagram.com/p/X/" in said[0].body
    assert "pawpost login" in said[1].body
    assert "pawpost reconcile 3" in said[3].body and "pawpost drafts resend 3" in said[3].body
    assert collect(store, config) == []


def test_published_posts_can_be_left_unsaid(tmp_path):
    config, store = home_with(tmp_path, [], posts=False)
    collect(store, config)
    store.event("post.posted", "draft 2 posted", draft_id=2)

    assert collect(store, config) == []


def test_a_retrain_promoted_or_not_is_said_once(tmp_path):
    from bot.captions.registry import Decision, Registry

    config, store = home_with(tmp_path, [])
    collect(store, config)
    registry = Registry(config)
    metrics = {"primary_metric": "cider", "new": {"cider": 0.52}, "old": {"cider": 0.41}}

    registry.finish(registry.create("vlm", "base"), metrics=metrics, counts={}, keys=[],
                    decision=Decision(True, "cider improved"))
    promoted = collect(store, config)
    registry.finish(registry.create("vlm", "base"), metrics=metrics, counts={}, keys=[],
                    decision=Decision(False, "rules reject more"))
    rejected = collect(store, config)

    assert [m.title for m in promoted] == ["pawpost: caption model v001 promoted"]
    assert "cider 0.520, was 0.410" in promoted[0].body
    assert [m.title for m in rejected] == ["pawpost: retrain v002 not promoted"]
    assert collect(store, config) == []


def test_a_message_reaches_a_json_receiver(receiver):
    sent = Sender([receiver.url], timeout=10).send(Message("review", "pawpost: 1 draft is waiting", "see the page"))

    assert sent
    assert receiver.bodies[0]["title"] == "pawpost: 1 draft is waiting"
    assert receiver.bodies[0]["message"] == "see the page"


@pytest.mark.parametrize("receiver", ["fail"], indirect=True)
def test_a_failing_receiver_is_logged_not_raised(receiver, caplog):
    with caplog.at_level(logging.WARNING, logger="bot.notifications"):
        assert Sender([receiver.url], timeout=10).send(Message("posted", "t", "b")) is False

    assert "a notifier refused 't'" in caplog.text


@pytest.mark.parametrize("receiver", ["hang"], indirect=True)
def test_a_hanging_receiver_is_given_up_and_the_round_goes_on(receiver, tmp_path, caplog):
    config, store = home_with(tmp_path, [receiver.url])
    make_draft(store, "a", status="pending")
    worker = NotifyWorker(config, lambda: store)

    with caplog.at_level(logging.WARNING, logger="bot.notifications"):
        wait = worker.round(threading.Event())

    assert wait == ROUND_SECONDS
    assert not receiver.release.is_set()  # the receiver is still hanging: the round did not wait for it
    assert "did not answer within 1s" in caplog.text
    assert store.get("notify:review_last_draft") == 1  # marked as said: not retried in a loop
    assert store.get("notify:pending") is None  # given up after the timeout, not kept for another round


def test_a_bad_url_is_named_by_position_never_echoed(tmp_path, caplog):
    with caplog.at_level(logging.ERROR, logger="bot.notifications"):
        assert Sender(["nosuchscheme://secret-token@host"], timeout=1).send(Message("x", "t", "b")) is False

    assert "notify.urls[0]" in caplog.text and "secret-token" not in caplog.text
