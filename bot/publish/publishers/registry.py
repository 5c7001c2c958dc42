"""The publishers by the name `[instagram] publisher` gives them, and what each one is (`PublisherKind`).

A publisher is one module in this folder (in a package of its own when it has helper modules) exporting
`PUBLISHER`, plus one line in `MODULES`; nothing else in pawpost names a publisher. Its module is imported only
when it is used, so instagrapi, requests and apprise load only for the publisher in use.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from bot.check import Check
from bot.config import ENV_PREFIX, Config, load_config
from bot.errors import ConfigError, PawpostError
from bot.publish.base import Publisher

# The config's name for each publisher -> the module that exports its PUBLISHER. The first is the default.
MODULES = {
    "dry-run": "bot.publish.publishers.dryrun",
    "notify": "bot.publish.publishers.by_hand",
    "graph": "bot.publish.publishers.graph.publisher",
    "instagrapi": "bot.publish.publishers.instagrapi.publisher",
}


class Ask(Protocol):
    """How a login asks the owner for something (the CLI prompts); `secret` answers are not echoed."""

    def __call__(self, prompt: str, *, secret: bool = False) -> str: ...


@dataclass(frozen=True)
class StatusNotice:
    """What `status` says about the publisher's access to the account, without a network call."""

    cannot_post: str | None = None  # no usable login: posting cannot start until the owner acts
    act_soon: str | None = None  # access runs out unless the owner acts (an expiring token)


def _no_problems(config: Config) -> list[str]:
    return []


def _no_notice(config: Config, store: Any, now: datetime) -> StatusNotice:
    return StatusNotice()


@dataclass(frozen=True)
class PublisherKind:
    """Everything pawpost asks of a publisher besides posting itself (which is the `Publisher` that `build` makes).

    `login` returns what to tell the owner; `config_problems` the keys this publisher needs that the config lacks
    ("key: why", one line each); `history_reader` the account's past posts for `history import`
    (a `bot.publish.history.HistoryReader`, logged in), where the publisher can read them. Finding its own posts
    for reconcile is `Publisher.recent_media`, and periodic
    upkeep `Publisher.maintain`: both need the built publisher's connection.
    """

    name: str
    build: Callable[[Config, Any], Publisher]
    doctor_checks: Callable[[Config], Iterator[Check]]
    login: Callable[[Config, Any, Ask], str]
    status_notice: Callable[[Config, Any, datetime], StatusNotice] = _no_notice
    config_problems: Callable[[Config], list[str]] = _no_problems
    history_reader: Callable[[Config, Any], Any] | None = None


def names() -> list[str]:
    return list(MODULES)


def kind(name: str) -> PublisherKind:
    """The publisher called `name` (its module imported now); PawpostError for a name no module has."""
    module = MODULES.get(name)
    if module is None:
        raise PawpostError(unknown(name))
    found = importlib.import_module(module).PUBLISHER
    if found.name != name:
        raise RuntimeError(f"{module} exports the publisher {found.name!r}, registered as {name!r}")
    return found


def kind_for(config: Config) -> PublisherKind:
    return kind(config.instagram.publisher)


def make_publisher(config: Config, store: Any) -> Publisher:
    """The publisher the config names: dry-run (the default, no account), notify, graph or instagrapi."""
    return kind_for(config).build(config, store)


def unknown(name: str) -> str:
    return f"instagram.publisher: {name!r} is not a publisher pawpost knows (one of: {', '.join(MODULES)})"


def config_problems(config: Config) -> list[str]:
    """One line per thing the config lacks for its publisher, each starting with where it is set; [] when fine."""
    name = config.instagram.publisher
    file = config.source or Path("the config")
    if name not in MODULES:
        variable = f"{ENV_PREFIX}INSTAGRAM__PUBLISHER"
        where = f"${variable}" if any(k.upper() == variable for k in os.environ) else str(file)
        return [f"{where}: {unknown(name)}"]
    return [f"{file}: {problem}" for problem in kind(name).config_problems(config)]


def load_checked_config(path: str | os.PathLike[str] | None = None) -> Config:
    """`load_config`, then what the chosen publisher needs: the one way the CLI and the daemon load a config for use.

    Raises ConfigError (one line) for the first problem.
    """
    config = load_config(path)
    problems = config_problems(config)
    if problems:
        raise ConfigError(problems[0])
    return config


def history_reader(config: Config, store: Any) -> Any:
    """What reads the account's past posts (a `HistoryReader`): the configured publisher's, else the first publisher
    whose reader has what it needs (a saved token, a username: the account's own login, used for the import only);
    PawpostError with the last reason when none has."""
    own = kind_for(config).history_reader
    if own is not None:
        return own(config, store)
    last: PawpostError | None = None
    for name in MODULES:
        reader = kind(name).history_reader
        if reader is None:
            continue
        try:
            return reader(config, store)
        except PawpostError as exc:
            last = exc
    raise last or PawpostError("no publisher can read the account's past posts")
