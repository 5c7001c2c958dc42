"""Posting through the real instagrapi client, its HTTP answered by a fake Instagram (`responses`).

Each test counts the configure requests Instagram received: a configure is a post.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.publish.poster import Poster
from bot.publish.publishers.instagrapi.publisher import InstagramPublisher, login_interactive
from tests.bot.publish.conftest import CLIENT, at, make_draft
from tests.bot.publish.fake_instagram import (
    CHALLENGE,
    FEEDBACK_REQUIRED,
    LOGIN_REQUIRED,
    SERVER_ERROR,
    TOO_MANY,
    FakeInstagram,
    Timeout,
)

SLOT = at("2026-11-20 09:30")


def poster(config: Any, store: Any) -> Poster:
    return Poster(store, config, InstagramPublisher(config, store, **CLIENT))


def tick(p: Poster, fake: FakeInstagram, when: datetime) -> Any:
    fake.now = when.timestamp()
    return p.tick(when)


def draft_row(store: Any, draft_id: int) -> Any:
    return store.one("SELECT * FROM drafts WHERE id = ?", (draft_id,))


def test_clean_publish(ig_config, ig_store, fake, logged_in):
    draft_id = make_draft(ig_store, "Blanket burrito season 🌯🐶 #chihuahua")
    p = poster(ig_config, ig_store)

    result = tick(p, fake, SLOT + timedelta(seconds=20))

    assert result.status == "posted"
    row = draft_row(ig_store, draft_id)
    assert row["status"] == "posted"
    assert row["media_code"] == fake.media[0]["code"]
    assert row["media_id"] == fake.media[0]["id"]
    assert row["media_url"] == f"https://www.instagram.com/p/{fake.media[0]['code']}/"
    assert fake.media[0]["caption"]["text"] == "Blanket burrito season 🌯🐶 #chihuahua"
    assert fake.count("configure") == 1 and fake.count("upload") == 1
    assert fake.count("login") == 1  # the saved session was loaded, not a new login
    attempt = ig_store.one("SELECT * FROM attempts WHERE draft_id = ?", (draft_id,))
    assert attempt["outcome"] == "posted" and attempt["media_code"] == row["media_code"] and attempt["nonce"]
    # The same slot never posts twice, even with another approved draft waiting.
    make_draft(ig_store, "Second one")
    assert tick(p, fake, SLOT + timedelta(minutes=2)) is None
    assert fake.count("configure") == 1


def test_login_required_relogs_in_once_then_posts(ig_config, ig_store, fake, logged_in):
    draft_id = make_draft(ig_store)
    fake.fail_next("configure", LOGIN_REQUIRED)

    result = tick(poster(ig_config, ig_store), fake, SLOT)

    assert result.status == "posted"
    assert fake.count("login") == 2  # exactly one re-login
    # The first configure was refused (login_required): nothing was posted by it, so it was sent again once.
    assert fake.count("configure") == 2 and len(fake.media) == 1
    assert draft_row(ig_store, draft_id)["media_code"] == fake.media[0]["code"]


def test_login_required_after_the_relogin_stops_posting(ig_config, ig_store, fake, logged_in):
    from bot.status import status

    draft_id = make_draft(ig_store)
    fake.fail_next("configure", LOGIN_REQUIRED, LOGIN_REQUIRED)
    p = poster(ig_config, ig_store)

    result = tick(p, fake, SLOT)

    assert result.status == "approved"
    assert fake.count("login") == 2 and fake.count("configure") == 2 and fake.media == []
    assert "pawpost login" in status(ig_store, ig_config)["posting_stopped"]
    before = len(fake.received)
    assert tick(p, fake, SLOT + timedelta(minutes=5)) is None
    assert len(fake.received) == before  # stopped: nothing is sent, not even a login
    assert draft_row(ig_store, draft_id)["status"] == "approved"


@pytest.mark.parametrize("answer", [TOO_MANY, FEEDBACK_REQUIRED], ids=["429", "feedback_required"])
def test_rate_limits_pause_posting_and_send_nothing_again(ig_config, ig_store, fake, logged_in, answer,
                                                          monkeypatch):
    from bot.status import status

    draft_id = make_draft(ig_store)
    fake.fail_next("configure", answer)
    p = poster(ig_config, ig_store)

    result = tick(p, fake, SLOT)

    assert result.status == "approved" and result.kind == "cooldown"
    assert fake.count("configure") == 1  # the transport did not retry the 429 behind our back
    until = datetime.fromisoformat(ig_store.get("cooldown_until"))
    assert until == SLOT + timedelta(hours=6)
    before = len(fake.received)
    for minutes in (1, 30, 120, 300):
        assert tick(p, fake, SLOT + timedelta(minutes=minutes)) is None
    assert len(fake.received) == before
    monkeypatch.setenv("PAWPOST_FAKE_NOW", (SLOT + timedelta(hours=5)).isoformat())
    info = status(ig_store, ig_config)
    assert info["cooldown_until"] == ig_store.get("cooldown_until")
    assert draft_row(ig_store, draft_id)["status"] == "approved"
    monkeypatch.delenv("PAWPOST_FAKE_NOW")
    # After the cooldown the draft goes out at the next slot, once.
    assert tick(p, fake, at("2026-11-20 19:00")).status == "posted"
    assert fake.count("configure") == 2 and len(fake.media) == 1
    assert ig_store.get("cooldown_until") is None


def test_server_error_on_upload_is_retried_at_a_later_tick(ig_config, ig_store, fake, logged_in):
    draft_id = make_draft(ig_store)
    fake.fail_next("upload", SERVER_ERROR)
    p = poster(ig_config, ig_store)

    first = tick(p, fake, SLOT)

    assert first.status == "approved" and first.kind == "transient"
    row = draft_row(ig_store, draft_id)
    assert row["retry_after"] == "2026-11-20T09:32:00+00:00" and "500" in row["error"]
    assert fake.count("upload") == 1 and fake.count("configure") == 0
    assert tick(p, fake, SLOT + timedelta(minutes=1)) is None  # backing off
    second = tick(p, fake, SLOT + timedelta(minutes=3))
    assert second.status == "posted"
    assert fake.count("upload") == 2 and fake.count("configure") == 1
    assert draft_row(ig_store, draft_id)["error"] is None


def test_timeout_after_configure_with_the_media_present_is_reconciled_as_posted(ig_config, ig_store, fake,
                                                                                  logged_in):
    draft_id = make_draft(ig_store, "Did it post? 🤔 #chihuahua")
    fake.fail_next("configure", Timeout(lands=True))
    p = poster(ig_config, ig_store)

    first = tick(p, fake, SLOT)

    assert first.status == "publishing"
    assert draft_row(ig_store, draft_id)["status"] == "publishing"
    assert tick(p, fake, SLOT + timedelta(minutes=1)) is None  # too early to look: Instagram may still be busy
    assert fake.count("feed") == 0
    settled = tick(p, fake, SLOT + timedelta(minutes=3))

    assert settled.status == "posted"
    row = draft_row(ig_store, draft_id)
    assert row["status"] == "posted" and row["media_code"] == fake.media[0]["code"]
    assert fake.count("configure") == 1 and len(fake.media) == 1
    attempt = ig_store.one("SELECT outcome FROM attempts WHERE draft_id = ?", (draft_id,))
    assert attempt["outcome"] == "reconciled"
    make_draft(ig_store, "Another")
    assert tick(p, fake, SLOT + timedelta(minutes=12)) is None  # that slot was used
    assert fake.count("configure") == 1


def test_timeout_after_configure_with_the_media_absent_stays_unsettled_until_the_owner_resends(ig_config, ig_store,
                                                                                             fake, logged_in):
    draft_id = make_draft(ig_store, "Lost in the post #dog")
    fake.fail_next("configure", Timeout(lands=False))
    p = poster(ig_config, ig_store)

    assert tick(p, fake, SLOT).status == "publishing"
    # No post on the account, look after look, for two days: still never sent again by pawpost.
    for hours in (0.05, 0.2, 1, 5, 20, 30, 47):
        tick(p, fake, SLOT + timedelta(hours=hours))
    assert draft_row(ig_store, draft_id)["status"] == "publishing"
    assert fake.count("configure") == 1 and fake.count("feed") >= 6
    # The owner checked the account: `pawpost drafts resend` approves it again; it goes out at the next slot, once.
    look, sent = p.resend(draft_id, SLOT + timedelta(hours=48))
    assert look.decision == "approved" and sent is None and "checked the account's feed" in look.message
    assert draft_row(ig_store, draft_id)["status"] == "approved"
    assert ig_store.value("SELECT outcome FROM attempts WHERE draft_id = ?", (draft_id,)) == "not_found"
    assert tick(p, fake, at("2026-11-22 19:00")).status == "posted"
    assert fake.count("configure") == 2 and len(fake.media) == 1


def test_a_crash_after_the_attempt_was_recorded_is_reconciled_on_restart(ig_config, ig_store, fake, logged_in):
    """The process died after configure landed but before the answer was stored: no second configure."""
    draft_id = make_draft(ig_store, "Crash test dummy #chihuahua")
    p = poster(ig_config, ig_store)

    class Killed(BaseException):
        pass

    def die(*args, **kwargs):
        raise Killed

    p._mark_posted = die
    with pytest.raises(Killed):
        tick(p, fake, SLOT)
    assert draft_row(ig_store, draft_id)["status"] == "publishing"
    assert fake.count("configure") == 1

    restarted = poster(ig_config, ig_store)
    results = restarted.reconcile(SLOT + timedelta(minutes=11))

    assert [r.decision for r in results] == ["posted"]
    assert draft_row(ig_store, draft_id)["media_code"] == fake.media[0]["code"]
    assert fake.count("configure") == 1


def test_a_challenge_stops_posting_and_status_says_why(ig_config, ig_store, fake, logged_in, ig_home):
    from bot.status import status
    from tests.conftest import run_cli

    draft_id = make_draft(ig_store)
    fake.fail_next("configure", CHALLENGE)
    p = poster(ig_config, ig_store)

    result = tick(p, fake, SLOT)

    assert result.status == "approved" and result.kind == "fatal"
    stopped = status(ig_store, ig_config)["posting_stopped"]
    assert stopped == ("Instagram wants to verify the account: open the Instagram app, confirm it was you, then run "
                       "'pawpost login' (ChallengeRequired).")
    assert fake.count("configure") == 1
    before = len(fake.received)
    assert tick(p, fake, SLOT + timedelta(minutes=10)) is None
    assert len(fake.received) == before
    out = run_cli("status", config=ig_home / "pawpost.toml")
    assert out.returncode == 0 and "posting stopped" in out.stdout and "pawpost login" in out.stdout
    # `pawpost login` (here its service) clears the stop; the draft then goes out at the next slot.
    login_interactive(ig_config, ig_store, ask_password=lambda: "unused", ask_code=lambda _p: "unused", **CLIENT)
    assert status(ig_store, ig_config)["posting_stopped"] is None
    assert tick(p, fake, at("2026-11-20 19:00")).status == "posted"
    assert draft_row(ig_store, draft_id)["status"] == "posted" and fake.count("configure") == 2


def test_hashtags_go_in_the_first_comment_and_a_crash_between_adds_only_the_comment(ig_home, fake):
    from bot.config import load_config
    from bot.store.database import Store
    from tests.conftest import write_config

    write_config(ig_home, {
        "instagram": {"publisher": "instagrapi", "username": fake.username, "password": fake.password,
                      "hashtags_in_first_comment": True},
        "schedule": {"timezone": "UTC", "slots": ["09:30", "19:00"], "jitter_minutes": 0},
    })
    config = load_config(ig_home / "pawpost.toml")
    store = Store.for_config(config)
    try:
        draft_id = make_draft(store, "Cosy Sunday under the blanket 🐶\n\n#chihuahua #rescuedog")
        p = poster(config, store)
        p.publisher.comment = lambda *a: (_ for _ in ()).throw(SystemExit("killed between post and comment"))
        with pytest.raises(SystemExit):
            tick(p, fake, SLOT)
        row = draft_row(store, draft_id)
        assert row["status"] == "posted" and row["comment_id"] is None
        assert fake.media[0]["caption"]["text"] == "Cosy Sunday under the blanket 🐶"

        restarted = poster(config, store)
        assert tick(restarted, fake, SLOT + timedelta(minutes=1)) is None

        media_id = fake.media[0]["id"]
        assert [c["text"] for c in fake.comments[media_id]] == ["#chihuahua #rescuedog"]
        assert draft_row(store, draft_id)["comment_id"] == fake.comments[media_id][0]["pk"]
        assert fake.count("configure") == 1
        tick(restarted, fake, SLOT + timedelta(minutes=2))
        assert fake.count("comment") == 1
    finally:
        store.close()


def test_secrets_never_reach_logs_or_output(ig_config, ig_store, fake, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    make_draft(ig_store)
    fake.fail_next("configure", LOGIN_REQUIRED)
    p = poster(ig_config, ig_store)

    assert tick(p, fake, SLOT).status == "posted"  # a login, a re-login, uploads, configures

    saved = ig_config.session_file.read_text()
    assert fake.sessionid in saved  # the session is real and was written...
    assert any(r.name == "pawpost.instagrapi" and r.levelno == logging.DEBUG for r in caplog.records)
    seen = caplog.text + "".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    seen += "".join(capsys.readouterr())
    for secret in (fake.password, fake.sessionid, fake.sessionid.replace("%3A", ":"),
                   json.loads(saved)["authorization_data"]["sessionid"]):
        assert secret not in seen  # ...but never logged or printed
    assert "IGT:2:ey" not in seen


def test_when_the_feed_cannot_be_read_the_draft_waits_and_nothing_is_sent_again(ig_config, ig_store, fake,
                                                                                 logged_in):
    draft_id = make_draft(ig_store, "Patience #dog")
    fake.fail_next("configure", Timeout(lands=True))
    fake.fail_next("feed", SERVER_ERROR)
    p = poster(ig_config, ig_store)

    assert tick(p, fake, SLOT).status == "publishing"
    assert tick(p, fake, SLOT + timedelta(minutes=3)) is None  # the feed answered 500: cannot tell yet
    assert draft_row(ig_store, draft_id)["status"] == "publishing"
    assert tick(p, fake, SLOT + timedelta(minutes=4)) is None  # paced: Instagram is not asked again at once
    assert fake.count("feed") == 1

    assert tick(p, fake, SLOT + timedelta(minutes=6)).status == "posted"
    assert fake.count("configure") == 1 and fake.count("feed") == 2 and len(fake.media) == 1
