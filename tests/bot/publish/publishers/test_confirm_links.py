"""The notify publisher's "I posted it" link, from the message the phone receives to the page that spends it: it
works once, then is refused; an expired link, another draft's link and a link to a draft confirmed otherwise are
refused, and none of them changes anything. The page needs no login (the link is the credential) and opening it
changes nothing."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from bot import timeutil
from bot.config import load_config
from bot.errors import LinkRefused
from bot.publish import confirm_links
from bot.publish.factory import make_poster
from bot.store.database import Store
from bot.web.routes import create_app
from tests.bot.publish.conftest import make_draft
from tests.bot.publish.publishers.test_by_hand import LINK, PUBLIC, SLOT, notify_home, poster_for, row
from tests.conftest import run_cli


@pytest.fixture
def home(tmp_path, receiver) -> Any:
    path = notify_home(tmp_path, receiver.url)
    config = load_config(path)
    store = Store.for_config(config)
    yield path, config, store
    store.close()


def handed_over(config: Any, store: Any, receiver: Any, caption: str = "By hand #dog") -> tuple[int, str]:
    """A draft sent to the owner at the slot, and the "I posted it" link its message carries."""
    draft_id = make_draft(store, caption)
    assert poster_for(config, store).tick(SLOT).status == "publishing"
    found = re.search(rf"{re.escape(PUBLIC)}/drafts/{draft_id}/confirm\?token=[A-Za-z0-9_\-]+",
                      receiver.bodies[-1]["message"])
    assert found, receiver.bodies[-1]["message"]
    return draft_id, found.group(0)


def site(config: Any) -> TestClient:
    # A site that requires a login everywhere, as one behind a proxy does: the link needs none.
    return TestClient(create_app(config, login=True), base_url=PUBLIC)


def press(client: TestClient, link: str, url: str = "") -> Any:
    page = client.get(link.removeprefix(PUBLIC))
    assert page.status_code == 200, page.text
    action = re.search(r'action="([^"]+)"', page.text).group(1)
    fields = dict(re.findall(r'name="(token|csrf)" value="([^"]+)"', page.text))
    return client.post(action, data={**fields, "url": url})


def test_the_link_in_the_message_confirms_the_draft_once(home, receiver):
    _, config, store = home
    draft_id, link = handed_over(config, store, receiver)
    with site(config) as client:
        page = client.get(link.removeprefix(PUBLIC))
        assert page.status_code == 200 and "I posted it" in page.text and "By hand #dog" in page.text
        assert row(store, draft_id)["status"] == "publishing"  # opening it (a link preview) changes nothing

        done = press(client, link, LINK)
        assert done.status_code == 200 and f"Draft {draft_id} is posted" in done.text
        d = row(store, draft_id)
        assert d["status"] == "posted" and d["media_code"] == "C9NZWmgo97h"
        assert "pawpost_session" not in client.cookies  # the link opened no session

        again = client.get(link.removeprefix(PUBLIC))
        assert again.status_code == 403 and "used already" in again.text


def test_a_spent_token_posted_again_is_refused(home, receiver):
    _, config, store = home
    draft_id, link = handed_over(config, store, receiver)
    with site(config) as client:
        page = client.get(link.removeprefix(PUBLIC))
        fields = dict(re.findall(r'name="(token|csrf)" value="([^"]+)"', page.text))
        assert client.post(f"/drafts/{draft_id}/confirm", data=fields).status_code == 200
        assert client.post(f"/drafts/{draft_id}/confirm", data=fields).status_code == 403


def test_an_expired_link_is_refused_and_changes_nothing(home, receiver):
    _, config, store = home
    draft_id = make_draft(store, "Old #dog")
    assert poster_for(config, store).tick(SLOT).status == "publishing"
    token = confirm_links.issue(store, draft_id, now=timeutil.now() - timedelta(days=confirm_links.CONFIRM_LINK_DAYS,
                                                                                 minutes=1))
    with site(config) as client:
        page = client.get(f"/drafts/{draft_id}/confirm", params={"token": token})
    assert page.status_code == 410 and "expired" in page.text
    with pytest.raises(LinkRefused, match="expired"):
        confirm_links.confirm_by_link(make_poster(store, config), draft_id, token)
    assert row(store, draft_id)["status"] == "publishing"


def test_another_drafts_link_is_refused(home, receiver):
    _, config, store = home
    first, first_link = handed_over(config, store, receiver, "First #dog")
    second = make_draft(store, "Second #dog")
    assert poster_for(config, store).tick(SLOT + timedelta(hours=9, minutes=30)).status == "publishing"
    token = first_link.split("token=")[1]
    with site(config) as client:
        page = client.get(f"/drafts/{second}/confirm", params={"token": token})
        assert page.status_code == 403 and "another draft" in page.text
        # The form of the first draft's page, sent to the second draft's address, is refused too.
        own = client.get(first_link.removeprefix(PUBLIC))
        fields = dict(re.findall(r'name="(token|csrf)" value="([^"]+)"', own.text))
        assert client.post(f"/drafts/{second}/confirm", data=fields).status_code == 403
    assert row(store, second)["status"] == "publishing" and row(store, first)["status"] == "publishing"


def test_a_link_to_a_draft_already_confirmed_by_the_cli_is_refused(home, receiver):
    path, config, store = home
    draft_id, link = handed_over(config, store, receiver)
    assert run_cli("drafts", "posted", str(draft_id), config=path).returncode == 0
    with site(config) as client:
        page = client.get(link.removeprefix(PUBLIC))
    assert page.status_code == 409 and "not waiting for you" in page.text
    with pytest.raises(LinkRefused) as refused:
        confirm_links.confirm_by_link(make_poster(store, config), draft_id, link.split("token=")[1])
    assert refused.value.why == "done"


def test_a_resent_message_has_a_new_link_and_either_one_confirms_only_once(home, receiver):
    path, config, store = home
    draft_id, first = handed_over(config, store, receiver)
    assert run_cli("drafts", "resend", str(draft_id), "--now", config=path).returncode == 0
    second = re.search(r"https://\S+/confirm\?token=[A-Za-z0-9_\-]+", receiver.bodies[-1]["message"]).group(0)
    assert second != first
    with site(config) as client:
        assert press(client, second).status_code == 200
        assert client.get(first.removeprefix(PUBLIC)).status_code == 403  # spending one forgot the other


def test_a_form_without_the_pages_token_is_refused(home, receiver):
    _, config, store = home
    draft_id, link = handed_over(config, store, receiver)
    with site(config) as client:
        refused = client.post(f"/drafts/{draft_id}/confirm", data={"token": link.split("token=")[1], "csrf": "x"})
    assert refused.status_code == 403 and "nothing was changed" in refused.text
    assert row(store, draft_id)["status"] == "publishing"


def test_guessed_tokens_are_limited_like_failed_logins(home, receiver):
    _, config, store = home
    draft_id, _ = handed_over(config, store, receiver)
    with site(config) as client:
        codes = [client.get(f"/drafts/{draft_id}/confirm", params={"token": f"guess{n}"}).status_code
                 for n in range(7)]
    assert codes[:5] == [403] * 5 and codes[5:] == [429, 429]
