"""Building the posting side from the config: the one way to get a `Poster` (`make_poster`), with the publisher the
config names (`make_publisher`, from bot.publish.publishers.registry), for the daemon, the CLI and the site alike.
"""

from __future__ import annotations

from typing import Any

from bot.publish.base import Publisher
from bot.publish.poster import Poster


def make_publisher(config: Any, store: Any) -> Publisher:
    """The publisher the config names; its module is imported only now (instagrapi, requests, apprise load only for
    the one in use)."""
    from bot.publish.publishers.registry import make_publisher as build

    return build(config, store)


def make_poster(store: Any, config: Any) -> Poster:
    """A Poster on `store` (one per thread: it holds the store) with the configured publisher; close it after use."""
    return Poster(store, config, make_publisher(config, store))
