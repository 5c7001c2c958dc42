"""The official-API publisher (the config calls it graph): what pawpost asks of it, as one `PUBLISHER`.

Posting is `publisher.GraphPublisher`; beside it: `api` (one request, its failure decided), `answers` (error bodies
read as evidence), `token` (the long-lived access token, renewed by the daemon), `doctor` (its checks).
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
    from bot.publish.publishers.graph.publisher import GraphPublisher

    return GraphPublisher(config, store)


def _doctor_checks(config: Config) -> Iterator[Check]:
    from bot.publish.publishers.graph.doctor import graph_checks

    yield from graph_checks(config)


def _login(config: Config, store: Any, ask: Ask) -> str:
    """A token from the Meta app dashboard, exchanged for a long-lived one and saved."""
    from bot.publish.publishers.graph.token import login

    token = ask("Instagram user access token (from the Meta app dashboard)", secret=True)
    record, note = login(config, store, token)
    until = f", valid until {record.expires_at}" if record.expires_at else ""
    saved = (f"token saved for @{record.username} ({record.account_type.lower() or 'account'}, user id "
             f"{record.user_id}) to {config.graph_token_file} (mode 600){until}; pawpost renews it by itself")
    return "\n".join([*([note] if note else []), saved])


def _status_notice(config: Config, store: Any, now: datetime) -> StatusNotice:
    from bot.publish.publishers.graph.token import token_notice

    return StatusNotice(act_soon=token_notice(config, store, now))


def _config_problems(config: Config) -> list[str]:
    if not config.graph.public_base_url:
        return ["graph.public_base_url is required when instagram.publisher = 'graph' (the https URL where Instagram "
                "fetches each photo; see the README, 'Which publisher?')"]
    return []


PUBLISHER = PublisherKind(
    name="graph",
    build=_build,
    doctor_checks=_doctor_checks,
    login=_login,
    status_notice=_status_notice,
    config_problems=_config_problems,
)
