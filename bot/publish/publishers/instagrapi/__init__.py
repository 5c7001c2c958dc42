"""The instagrapi publisher (Instagram's private API through instagrapi): what pawpost asks of it, as one `PUBLISHER`.

Posting is `publisher.InstagramPublisher`; beside it: `session` (the client, its saved session and the login) and
`answers` (the private API's error bodies read as evidence). instagrapi itself loads only when a client is made.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from bot.check import Check
from bot.config import Config
from bot.publish.base import Publisher
from bot.publish.publishers.registry import Ask, PublisherKind, StatusNotice


def _build(config: Config, store: Any) -> Publisher:
    from bot.publish.publishers.instagrapi.publisher import InstagramPublisher

    return InstagramPublisher(config, store)


def _doctor_checks(config: Config) -> Iterator[Check]:
    """The saved session (present, mode 0600, logged in); no network call."""
    from bot.publish.publishers.instagrapi.session import session_state

    ok, message = session_state(config)
    yield Check("instagram", ok, message)


def _login(config: Config, store: Any, ask: Ask) -> str:
    """Log in (asking for the password if not configured, and a two-factor code) and save the session."""
    from bot.publish.publishers.instagrapi.session import login_interactive

    username = login_interactive(
        config, store, ask_password=lambda: ask(f"Instagram password for @{config.instagram.username}", secret=True),
        ask_code=lambda prompt: ask(prompt))
    return f"logged in as @{username}; session saved to {config.session_file} (mode 600); posting is on"


def _status_notice(config: Config, store: Any, now: datetime) -> StatusNotice:
    from bot.publish.publishers.instagrapi.session import session_state

    ok, message = session_state(config)
    return StatusNotice(cannot_post=None if ok else message)


def _config_problems(config: Config) -> list[str]:
    if not config.instagram.username:
        return ["instagram: username is required when publisher = 'instagrapi'"]
    return []


def _history_client(config: Config, store: Any) -> Any:
    from bot.publish.publishers.instagrapi.session import make_client

    return make_client(config, store)


PUBLISHER = PublisherKind(
    name="instagrapi",
    build=_build,
    doctor_checks=_doctor_checks,
    login=_login,
    status_notice=_status_notice,
    config_problems=_config_problems,
    history_client=_history_client,
)
