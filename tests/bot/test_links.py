"""Every link pawpost sends or prints points at one address: [web] public_url when set. Walks every sender: each
notification, the notify publisher's message and its 'I posted it' link, `pawpost web --url`, the terminal's
"see it on the review site". Without public_url, a site on every interface is never named by a bare host name."""

from __future__ import annotations

import re
import socket
from typing import Any

import pytest

from bot import links
from bot.config import load_config
from bot.notifications import collect, event_message
from bot.publish.base import PreparedMedium
from bot.publish.publishers.by_hand import confirm_hint, handover_message
from bot.store.database import Store
from tests.bot.publish.conftest import make_draft
from tests.conftest import run_cli, write_config

PUBLIC = "https://pets.example.org/pawpost"
INSTAGRAM = "https://www.instagram.com/"
URL = re.compile(r"[a-z][a-z0-9+.\-]*://[^\s'\")]+|\b(?:www\.|[\w\-]+\.(?:local|lan|home)\b)\S*")
# Every event a notification is made from (bot.notifications.event_message) and one it is not.
EVENTS = ["post.posted", "post.stopped", "post.cooldown", "post.unconfirmed", "post.failed", "draft.approved"]


def urls(text: str) -> list[str]:
    return URL.findall(text)


def foreign(text: str) -> list[str]:
    """The links in `text` that point anywhere but the public address (or Instagram)."""
    return [u for u in urls(text) if not (u.startswith(PUBLIC + "/") or u == PUBLIC or u.startswith(INSTAGRAM))]


@pytest.fixture
def public(tmp_path) -> tuple[Any, Any, Store]:
    path = write_config(tmp_path / "p", {"web": {"public_url": PUBLIC + "/", "listen": "0.0.0.0:8686"},
                                         "notify": {"urls": ["json://127.0.0.1:9/x"]}})
    config = load_config(path)
    return path, config, Store.for_config(config)


def test_every_notification_names_only_the_public_address(public):
    _, config, store = public
    collect(store, config)  # the first round sets the marks
    posted = make_draft(store, "Posted #dog", status="posted")
    store.update("drafts", posted, media_url=f"{INSTAGRAM}p/C9NZWmgo97h/")
    pending = make_draft(store, "Waiting #dog", status="pending")
    for kind in EVENTS:
        store.event(kind, f"draft {posted}: {kind}", draft_id=posted)

    said = collect(store, config)

    assert {m.kind for m in said} == {"posted", "stopped", "cooldown", "unsettled", "failed", "review"}
    texts = [m.title + "\n" + m.body for m in said]
    assert all(urls(t) for t in texts if "cooling" not in t and "paused" not in t)
    assert [foreign(t) for t in texts] == [[] for _ in texts]
    assert any(f"{PUBLIC}/drafts/{pending}" in t for t in texts)
    # The event texts themselves are never trusted for a link (the dry run's is a file path).
    assert event_message(config, "post.posted", "draft 9 posted: file:///srv/outbox/x.jpg", 9).body.count("file:") == 1


def test_the_notify_publishers_message_and_link_name_only_the_public_address(public, tmp_path):
    _, config, _ = public
    photo = tmp_path / "p.jpg"
    photo.write_bytes(b"\xff\xd8")
    message = handover_message(config, 7, "Hi #dog", [PreparedMedium(photo)], token="tok123")

    assert f"{PUBLIC}/drafts/7/confirm?token=tok123" in message.body
    assert foreign(message.body) == []
    assert foreign(confirm_hint(config, 7)) == [] and f"{PUBLIC}/drafts/7" in confirm_hint(config, 7)


def test_printed_links_name_only_the_public_address(public):
    path, _, store = public
    draft_id = make_draft(store, "Shown #dog", status="pending")

    login = run_cli("web", "--url", config=path)
    shown = run_cli("drafts", "show", str(draft_id), "--open", config=path, env={"DISPLAY": "", "WAYLAND_DISPLAY": ""})

    assert login.returncode == 0, login.stderr
    assert login.stdout.startswith(f"{PUBLIC}/login?token=")
    assert shown.returncode == 0, shown.stderr
    for out in (login.stdout, login.stderr, shown.stdout, shown.stderr):
        assert foreign(out) == []
    assert f"{PUBLIC}/drafts/{draft_id}" in shown.stdout


def test_without_public_url_a_bare_host_name_is_never_used(monkeypatch):
    class Web:
        public_url, listen = "", "0.0.0.0:8686"

    class Config:
        web = Web()

    monkeypatch.setattr(socket, "getfqdn", lambda *a: "homebox")
    url = links.site_url(Config())
    host = url.removeprefix("http://").rsplit(":", 1)[0]
    assert host != "homebox" and (host.count(".") == 3 or host.startswith("["))  # an address a phone can use

    # A full name the network resolves is kept.
    monkeypatch.setattr(socket, "getfqdn", lambda *a: "homebox.example.lan")
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [(socket.AF_INET, 1, 6, "", ("192.0.2.7", 0))])
    assert links.site_url(Config()) == "http://homebox.example.lan:8686"


def test_without_public_url_the_cli_says_how_to_set_it(tmp_path):
    path = write_config(tmp_path / "l", {"web": {"public_url": ""}})

    done = run_cli("web", "--url", config=path)

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("http://127.0.0.1:8686/login?token=")
    assert "[web] public_url" in done.stderr
