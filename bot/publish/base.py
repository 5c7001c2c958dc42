"""The publisher seam: publish one prepared photo with its caption, list recent media, add a comment.

Implementations: `dryrun.DryRunPublisher` (data/outbox/), `graph.GraphPublisher` (the official API) and
`instagram.InstagramPublisher` (instagrapi).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class PublishedMedia:
    """What Instagram (or the outbox) answered for one post."""

    media_id: str
    code: str
    url: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RecentMedia:
    """One of the account's recent posts, as reconciling needs it."""

    media_id: str
    code: str
    caption: str
    taken_at: datetime | None
    url: str


class Publisher(Protocol):
    """Where posts go. Implementations never retry a publish on their own: the poster owns exactly-once."""

    name: str

    def publish(self, photo: Path, caption: str, nonce: str, *, draft_id: int | None = None,
                pets: Sequence[str] = (), alt_text: str = "") -> PublishedMedia:
        """Post `photo` (already prepared) with `caption` and `alt_text` (the accessibility description); raise
        `PublishError` (classified) on failure."""
        ...

    def recent_media(self, count: int = 20) -> list[RecentMedia]:
        """The account's latest `count` posts, newest first; raise `PublishError` when they cannot be read."""
        ...

    def comment(self, media_id: str, text: str) -> str:
        """Add a comment to a post; returns the comment's id."""
        ...

    def find_comment(self, media_id: str, text: str) -> str | None:
        """The id of the account's own comment with `text` on the post, if it is there already."""
        ...

    def close(self) -> None:
        ...


def same_caption(a: str | None, b: str | None) -> bool:
    """Captions compared as Instagram keeps them: whitespace runs and line-end spaces do not count."""
    return _norm(a) == _norm(b)


def _norm(text: str | None) -> str:
    return " ".join((text or "").split())


def make_publisher(config: Any, store: Any) -> Publisher:
    """The publisher the config names: dry-run (the default, no account), graph or instagrapi."""
    if config.instagram.publisher == "graph":
        from bot.publish.graph import GraphPublisher

        return GraphPublisher(config, store)
    if config.instagram.publisher == "instagrapi":
        from bot.publish.instagram import InstagramPublisher

        return InstagramPublisher(config, store)
    from bot.publish.dryrun import DryRunPublisher

    return DryRunPublisher(config.paths.outbox)
