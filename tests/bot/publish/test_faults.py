"""Every row of the outcome table, for the upload, the configure and the first comment, through the real instagrapi
client over HTTP (a fault-injecting fake Instagram answers).

After every scenario: no caption was posted twice (configure requests that made a post <= 1 per draft), and no
draft is `failed` unless Instagram refused its content.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.publish.poster import Poster
from bot.publish.publishers.instagrapi.publisher import InstagramPublisher
from tests.bot.publish.conftest import CLIENT, at, make_draft
from tests.bot.publish.fake_instagram import (
    CHALLENGE,
    FEEDBACK_REQUIRED,
    LOGIN_REQUIRED,
    SERVER_ERROR,
    TOO_MANY,
    Answer,
    Lost,
    NotSent,
    Unreadable,
)
from tests.bot.publish.publishers.instagrapi.test_publisher import SLOT, draft_row, tick
from tests.conftest import write_config

CHECKPOINT = (400, {"message": "checkpoint_required", "checkpoint_url": "https://i.instagram.com/challenge/1/x/",
                    "lock": True, "status": "fail"})
BAD_IMAGE = (400, {"message": "media_needs_reupload", "error_title": "bad image input extra:{}", "status": "fail"})

# (id, answers to the step's next requests, outcome, refusal kind)
ROWS: list[tuple[str, list[Any], str, str | None]] = [
    ("dns", [NotSent("dns")], "not_sent", None),
    ("connection-refused", [NotSent("refused")], "not_sent", None),
    ("tls-handshake", [NotSent("tls")], "not_sent", None),
    ("connect-timeout", [NotSent("connect_timeout")], "not_sent", None),
    ("challenge", [CHALLENGE], "refused", "fatal"),
    ("checkpoint", [CHECKPOINT], "refused", "fatal"),
    ("feedback-required", [FEEDBACK_REQUIRED], "refused", "cooldown"),
    ("please-wait-429", [TOO_MANY], "refused", "cooldown"),
    ("logged-out-after-relogin", [LOGIN_REQUIRED, LOGIN_REQUIRED], "refused", "reauth"),
    ("bad-image", [BAD_IMAGE], "refused", "bad_content"),
    ("read-timeout-made", [Lost("timeout", lands=True)], "unknown", None),
    ("read-timeout-not-made", [Lost("timeout", lands=False)], "unknown", None),
    ("reset-after-send-made", [Lost("reset", lands=True)], "unknown", None),
    ("408-made", [Answer(408, "", lands=True)], "unknown", None),
    ("500-json", [Answer(500, SERVER_ERROR[1])], "unknown", None),
    ("502-html-made", [Answer(502, "<html>Bad gateway</html>", lands=True)], "unknown", None),
    ("200-unreadable-made", [Unreadable(lands=True)], "unknown", None),
    ("400-unknown-words", [Answer(400, {"message": "never said before", "status": "fail"})], "unknown", None),
    ("429-no-body", [Answer(429, "")], "unknown", None),
]
IDS = [r[0] for r in ROWS]
LATER = [timedelta(minutes=m) for m in (3, 7, 16, 40, 90, 200, 500)]


@pytest.fixture
def comment_config(ig_home, fake):
    from bot.config import load_config

    write_config(ig_home, {
        "instagram": {"publisher": "instagrapi", "username": fake.username, "password": fake.password,
                      "cooldown_hours": 1, "hashtags_in_first_comment": True},
        "schedule": {"timezone": "UTC", "slots": ["09:30", "19:00"], "jitter_minutes": 0, "max_posts_per_day": 2,
                     "catch_up_minutes": 60},
    })
    return load_config(ig_home / "pawpost.toml")


def make_poster(config: Any, store: Any) -> Poster:
    return Poster(store, config, InstagramPublisher(config, store, **CLIENT))


def check_invariants(fake: Any, store: Any, kind: str | None) -> None:
    assert all(n <= 1 for n in fake.created().values()), fake.created()
    failed = store.value("SELECT count(*) FROM drafts WHERE status = 'failed'")
    assert failed == (1 if kind == "bad_content" else 0)


@pytest.mark.parametrize(("name", "answers", "outcome", "kind"), ROWS, ids=IDS)
def test_upload(ig_config, ig_store, fake, logged_in, name, answers, outcome, kind):
    caption = f"Upload {name} #dog"
    draft_id = make_draft(ig_store, caption)
    fake.fail_next("upload", *answers)
    p = make_poster(ig_config, ig_store)

    result = tick(p, fake, SLOT)

    if name == "200-unreadable-made":
        # instagrapi reads only an upload answer's status: a 200 is an upload, and the configure decides the rest.
        assert result.status == "posted" and fake.count("configure") == 1
        return
    assert result.outcome == outcome
    assert fake.count("configure") == 0  # nothing after a failed upload
    row = draft_row(ig_store, draft_id)
    if kind == "bad_content":
        assert row["status"] == "failed" and "bad image input" in row["error"]
    else:
        # An unknown upload cannot have posted anything: retried like "not sent"; refusals leave it approved.
        assert row["status"] == "approved"
    if outcome in ("not_sent", "unknown"):
        assert row["retry_after"] and not ig_store.get("posting_stopped") and not ig_store.get("cooldown_until")
        assert tick(p, fake, SLOT + LATER[0]).status == "posted"  # after the backoff, once
        assert fake.count("configure") == 1 and fake.posts_with(caption) == 1
    _check_refusal_effects(ig_store, kind)
    check_invariants(fake, ig_store, kind)


@pytest.mark.parametrize(("name", "answers", "outcome", "kind"), ROWS, ids=IDS)
def test_configure(ig_config, ig_store, fake, logged_in, name, answers, outcome, kind):
    caption = f"Configure {name} #dog"
    draft_id = make_draft(ig_store, caption)
    fake.fail_next("configure", *answers)
    p = make_poster(ig_config, ig_store)

    result = tick(p, fake, SLOT)

    assert result.outcome == outcome
    row = draft_row(ig_store, draft_id)
    if outcome == "unknown":
        made = fake.posts_with(caption) == 1
        assert row["status"] == "publishing"
        for delay in [*LATER, timedelta(days=1), timedelta(days=2)]:
            tick(p, fake, SLOT + delay)
        # Never sent again; settled only when the post is found.
        assert fake.count("configure") == 1
        assert draft_row(ig_store, draft_id)["status"] == ("posted" if made else "publishing")
    elif outcome == "not_sent":
        assert row["status"] == "approved" and row["retry_after"]
        assert tick(p, fake, SLOT + LATER[0]).status == "posted"
        assert fake.count("configure") == 1 and fake.posts_with(caption) == 1  # the first one never arrived
    elif kind == "bad_content":
        assert row["status"] == "failed"
    else:
        assert row["status"] == "approved" and fake.posts_with(caption) == 0
    _check_refusal_effects(ig_store, kind)
    check_invariants(fake, ig_store, kind)


@pytest.mark.parametrize(("name", "answers", "outcome", "kind"), ROWS, ids=IDS)
def test_first_comment(comment_config, fake, name, answers, outcome, kind):
    from bot.publish.publishers.instagrapi.session import make_client
    from bot.store.database import Store

    store = Store.for_config(comment_config)
    try:
        make_client(comment_config, store, **CLIENT)
        draft_id = make_draft(store, f"Comment {name} 🐶\n\n#chihuahua #rescuedog")
        fake.fail_next("comment", *answers)
        p = make_poster(comment_config, store)

        result = tick(p, fake, SLOT)

        assert result.status == "posted"  # the post is made; whatever happens to its comment, it stays posted
        media_id = fake.media[0]["id"]
        for delay in LATER:
            tick(p, fake, SLOT + delay)
        row = draft_row(store, draft_id)
        comments = [c["text"] for c in fake.comments.get(media_id, [])]
        assert row["status"] == "posted" and fake.count("configure") == 1
        if kind == "bad_content":
            assert row["comment_id"] == "" and comments == []  # given up: Instagram refused that comment
        elif kind in ("fatal", "reauth"):
            assert row["comment_id"] is None and comments == []  # posting is stopped: nothing more is sent
        else:
            # Not sent, unknown, or after the cooldown: the comment is there exactly once.
            assert comments == ["#chihuahua #rescuedog"]
            assert row["comment_id"] == fake.comments[media_id][0]["pk"]
        _check_refusal_effects(store, kind, cooldown_over=True)
        check_invariants(fake, store, None)  # a refused comment never fails its (posted) draft
    finally:
        store.close()


def _check_refusal_effects(store: Any, kind: str | None, cooldown_over: bool = False) -> None:
    stopped = store.get("posting_stopped")
    if kind in ("fatal", "reauth"):
        assert stopped and "pawpost login" in stopped
    else:
        assert not stopped
    if kind == "cooldown" and not cooldown_over:
        assert store.get("cooldown_until")


def test_a_failed_draft_can_be_fixed_and_approved_again(ig_config, ig_store, fake, logged_in):
    from bot.drafts.actions import approve

    draft_id = make_draft(ig_store, "Refused picture #dog")
    fake.fail_next("configure", BAD_IMAGE)
    p = make_poster(ig_config, ig_store)
    assert tick(p, fake, SLOT).status == "failed"

    approve(ig_store, ig_config, draft_id, caption="Refused picture, now fixed #dog", add_hashtags=False)

    assert draft_row(ig_store, draft_id)["status"] == "approved"
    assert ig_store.value("SELECT message FROM events WHERE kind = 'draft.approved' AND draft_id = ? "
                          "ORDER BY id DESC", (draft_id,)) == f"draft {draft_id}: failed -> approved"
    assert tick(p, fake, at("2026-11-20 19:00")).status == "posted"
    assert fake.posts_with("Refused picture, now fixed #dog") == 1
