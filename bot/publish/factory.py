"""Building the posting side from the config: the publisher it names (`make_publisher`) and the one way to get a
`Poster` (`make_poster`), for the daemon, the CLI and the review site alike.

The publishers are imported only when chosen: instagrapi, requests and apprise load only for the one in use.
"""

from __future__ import annotations

from typing import Any

from bot.publish.base import Publisher
from bot.publish.poster import Poster


def make_publisher(config: Any, store: Any) -> Publisher:
    """The publisher the config names: dry-run (the default, no account), notify, graph or instagrapi."""
    if config.instagram.publisher == "notify":
        from bot.publish.notify import NotifyPublisher

        return NotifyPublisher(config)
    if config.instagram.publisher == "graph":
        from bot.publish.graph import GraphPublisher

        return GraphPublisher(config, store)
    if config.instagram.publisher == "instagrapi":
        from bot.publish.instagram import InstagramPublisher

        return InstagramPublisher(config, store)
    from bot.publish.dryrun import DryRunPublisher

    return DryRunPublisher(config.paths.outbox)


def make_poster(store: Any, config: Any) -> Poster:
    """A Poster on `store` (one per thread: it holds the store) with the configured publisher; close it after use."""
    return Poster(store, config, make_publisher(config, store))
