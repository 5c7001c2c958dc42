"""publisher = "notify" end to end against a local Apprise receiver (json://): at the slot the prepared photo and the
caption go to the owner, the draft waits (unsettled) for the owner's `drafts posted` or the page's button; a failed
notification is not sent and tried again."""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config import load_config
from bot.drafts.media import first_photo, update_medium
from bot.errors import ConfigError
from bot.publish.factory import make_publisher
from bot.publish.poster import Poster
from bot.publish.prepare import prepared_copy
from bot.publish.publishers.registry import load_checked_config
from bot.publish.unsettled import unsettled_drafts
from bot.store.database import Store
from tests.bot.conftest import Receiver
from tests.bot.publish.conftest import at, make_draft
from tests.conftest import run_cli, write_config

SLOT = at("2026-11-20 09:30")
EVENING = at("2026-11-20 19:00")
PUBLIC = "https://pets.example.org"
LINK = "https://www.instagram.com/p/C9NZWmgo97h/"


def notify_home(tmp_path: Path, url: str, public_url: str = PUBLIC) -> Path:
    return write_config(tmp_path / "n", {"instagram": {"publisher": "notify"},
                                         "notify": {"urls": [url], "timeout_seconds": 5, "posts": False},
                                         "web": {"public_url": public_url},
                                         "schedule": {"timezone": "UTC", "slots": ["09:30", "19:00"],
                                                      "jitter_minutes": 0, "max_posts_per_day": 2,
                                                      "catch_up_minutes": 60}})


@pytest.fixture
def setup(tmp_path: Path, receiver: Receiver) -> Any:
    path = notify_home(tmp_path, receiver.url)
    config = load_config(path)
    store = Store.for_config(config)
    yield path, config, store
    store.close()


def poster_for(config: Any, store: Any) -> Poster:
    return Poster(store, config, make_publisher(config, store))


def row(store: Any, draft_id: int) -> Any:
    return store.one("SELECT * FROM drafts WHERE id = ?", (draft_id,))


def test_the_slot_sends_the_photo_and_caption_and_the_draft_waits_for_the_owner(setup, receiver):
    path, config, store = setup
    draft_id = make_draft(store, "Blanket burrito season 🌯🐶 #chihuahua")
    update_medium(store, draft_id, description="a small dog wrapped in a red blanket")
    poster = poster_for(config, store)

    result = poster.tick(SLOT)

    assert result.status == "publishing" and result.error is None and "post by hand" in result.message
    (sent,) = receiver.bodies
    assert "Blanket burrito season 🌯🐶 #chihuahua" in sent["message"]
    assert "A small dog wrapped in a red blanket." in sent["message"]  # the alt text, for the app's settings
    assert f"{PUBLIC}/drafts/{draft_id}" in sent["message"]
    (attached,) = sent["attachments"]
    assert attached["mimetype"] == "image/jpeg"
    assert base64.b64decode(attached["base64"]) == prepared_copy(store, first_photo(store, draft_id)).read_bytes()
    # Unsettled, waiting for the owner: status says what to run; nothing is looked for or sent again by itself.
    d = row(store, draft_id)
    assert d["status"] == "publishing" and d["error"] is None
    (waiting,) = unsettled_drafts(store)
    assert waiting["command"] == f"pawpost drafts posted {draft_id} --url LINK" and waiting["next_look"] is None
    assert poster.reconcile(SLOT + timedelta(days=2)) == []
    assert poster.tick(EVENING) is None and len(receiver.bodies) == 1
    # The owner posted it and confirms from the command line, with the post's link.
    done = run_cli("drafts", "posted", str(draft_id), "--url", LINK, config=path)
    assert done.returncode == 0, done.stderr
    d = row(store, draft_id)
    assert (d["status"], d["media_code"], d["media_url"]) == ("posted", "C9NZWmgo97h", LINK)
    assert unsettled_drafts(store) == []


@pytest.mark.parametrize("receiver", ["fail"], indirect=True)
def test_a_failed_notification_is_not_sent_and_tried_again(setup, receiver):
    _, config, store = setup
    draft_id = make_draft(store, "Second try #dog")
    poster = poster_for(config, store)

    result = poster.tick(SLOT)

    assert result.status == "approved" and result.outcome == "not_sent" and receiver.hits == 1
    d = row(store, draft_id)
    assert d["status"] == "approved" and "notify.urls" in d["error"] and d["retry_after"]
    receiver.mode = "ok"
    assert poster.tick(EVENING).status == "publishing"
    assert len(receiver.bodies) == 1 and row(store, draft_id)["status"] == "publishing"


def test_the_page_button_confirms_with_the_same_service(setup, receiver):
    from starlette.testclient import TestClient

    from bot.web.routes import create_app
    from tests.bot.web.conftest import csrf_of

    _, config, store = setup
    draft_id = make_draft(store, "Button #dog")
    assert poster_for(config, store).tick(SLOT).status == "publishing"

    # https: with an https public_url the session cookie is Secure.
    with TestClient(create_app(config, login=False), base_url="https://127.0.0.1:8686") as client:
        page = client.get(f"/drafts/{draft_id}")
        assert "I posted it" in page.text and "sent to you to post by hand" in page.text
        token = csrf_of(page.text)
        refused = client.post(f"/drafts/{draft_id}/posted", data={"csrf": token, "url": "https://example.com/x"})
        assert refused.status_code == 409 and "not a link to an Instagram post" in refused.text
        assert row(store, draft_id)["status"] == "publishing"
        answer = client.post(f"/drafts/{draft_id}/posted", data={"csrf": token, "url": "", "next": "/"},
                             follow_redirects=False)
        assert answer.status_code == 303
        d = row(store, draft_id)
        assert d["status"] == "posted" and d["media_code"] is None and d["posted_at"]
        assert "I posted it" not in client.get(f"/drafts/{draft_id}").text


def test_pawpost_post_hands_it_over_and_resend_sends_it_again(setup, receiver):
    path, _, store = setup
    draft_id = make_draft(store, "By hand now #dog")

    done = run_cli("post", str(draft_id), config=path)

    assert done.returncode == 0, done.stderr
    assert "post by hand" in done.stdout and len(receiver.bodies) == 1
    # The owner lost the message: 'drafts resend' sends it again (the draft keeps waiting).
    again = run_cli("drafts", "resend", str(draft_id), "--now", config=path)
    assert again.returncode == 0, again.stderr
    assert len(receiver.bodies) == 2 and row(store, draft_id)["status"] == "publishing"
    # A draft that is not waiting cannot be confirmed.
    other = make_draft(store, "Not sent #dog")
    refused = run_cli("drafts", "posted", str(other), config=path)
    assert refused.returncode == 1 and "only a draft waiting for you" in refused.stderr


def test_notify_needs_a_notification_url(tmp_path):
    with pytest.raises(ConfigError, match=r"notify\.urls is required"):
        load_checked_config(write_config(tmp_path / "x", {"instagram": {"publisher": "notify"}}))


def test_the_notify_publisher_takes_alt_text_like_the_others(tmp_path, receiver):
    from bot.publish.base import PreparedMedium, PreparedPost
    from bot.publish.publishers.by_hand import ByHandPublisher

    config = load_config(notify_home(tmp_path, receiver.url, public_url=""))
    photo = tmp_path / "p.jpg"
    photo.write_bytes(b"\xff\xd8jpeg")

    post = PreparedPost(draft_id=7, media=(PreparedMedium(photo, alt_text="A dog on a sofa."),), caption="Hi #dog",
                        nonce="n" * 32)
    handed = ByHandPublisher(config).publish(post)

    (sent,) = receiver.bodies
    assert "A dog on a sofa." in sent["message"] and "pawpost drafts posted 7 --url LINK" in sent["message"]
    assert "/drafts/7" not in sent["message"].replace("drafts posted 7", "")  # no page link without public_url
    assert "pawpost drafts posted 7" in handed.reason
