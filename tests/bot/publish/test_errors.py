"""Classified publish errors keep no secrets: what is stored (drafts.error, attempts.error) and shown by `status`."""

from __future__ import annotations

import json
import logging
from typing import Any

from bot.publish.poster import Poster
from bot.publish.publishers.instagrapi.publisher import InstagramPublisher, make_client
from tests.bot.publish.conftest import CLIENT, make_draft
from tests.bot.publish.publishers.instagrapi.test_publisher import SLOT, tick
from tests.conftest import run_cli, write_config

PROXY = "http://lola:pr0xy-Pa55word@proxy.example:3128"


def test_an_error_that_echoes_secrets_is_stored_and_shown_without_them(ig_home, fake, caplog):
    from bot.config import load_config
    from bot.store.database import Store

    caplog.set_level(logging.DEBUG)
    write_config(ig_home, {
        "instagram": {"publisher": "instagrapi", "username": fake.username, "password": fake.password,
                      "proxy": PROXY},
        "schedule": {"timezone": "UTC", "slots": ["09:30", "19:00"], "jitter_minutes": 0},
    })
    config = load_config(ig_home / "pawpost.toml")
    store = Store.for_config(config)
    try:
        make_client(config, store, **CLIENT)  # `pawpost login`
        token = json.loads(config.session_file.read_text())["authorization_data"]["sessionid"]
        bearer = store_bearer(config)
        # Answers that echo the request back (a misbehaving proxy or endpoint does); after the re-login too, so
        # posting stops and `status` shows the message.
        echo = (f"login_required: bad request from lola with {fake.password} Authorization: {bearer} "
                f"cookies {{'sessionid': '{fake.sessionid}'}} via {PROXY}")
        fake.fail_next("configure", *[(400, {"message": echo, "status": "fail"})] * 2)
        draft_id = make_draft(store, "Echo #dog")
        p = Poster(store, config, InstagramPublisher(config, store, **CLIENT))

        assert tick(p, fake, SLOT).error

        stored = " ".join(str(v) for v in store.one("SELECT error FROM drafts WHERE id = ?", (draft_id,)))
        stored += " ".join(str(v) for v in store.one("SELECT error FROM attempts WHERE draft_id = ?", (draft_id,)))
        assert "bad request from lola" in stored  # the message is kept, only its secrets are masked
        shown = run_cli("status", "--json", config=ig_home / "pawpost.toml")
        assert shown.returncode == 0 and "bad request from lola" in shown.stdout
        logged = caplog.text + "".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
        for secret in (fake.password, fake.sessionid, token, bearer.split(":")[-1], "pr0xy-Pa55word"):
            assert secret not in stored
            assert secret not in shown.stdout
            assert secret not in logged
    finally:
        store.close()


def store_bearer(config: Any) -> str:
    """The session's Authorization header value, as instagrapi sends it."""
    saved = json.loads(config.session_file.read_text())
    from instagrapi import Client

    client = Client(settings=saved)
    return client.authorization
