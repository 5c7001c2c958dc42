"""The publisher seam: publish one prepared post (`PreparedPost`), list recent media, add a comment, keep up.

The implementations live in bot.publish.publishers, one module each behind its registry. Each reports a failed
request as `errors.step_error(step, evidence, exc)`, with `outcome.Evidence` built from its own answers (its own
reading of its error bodies; bot.publish.transport's "never sent" rule for HTTP); the poster does the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from bot.limits import MAX_CAROUSEL_ITEMS
from bot.publish.errors import BadContent


@dataclass(frozen=True)
class PreparedMedium:
    """One medium of a post, already made to Instagram's rules (bot.publish.prepare), in its place in the post."""

    path: Path  # the staged file to upload: a JPEG for a photo (an MP4 for a video)
    kind: str = "photo"  # photo | video
    alt_text: str = ""  # the accessibility description of this medium
    width: int = 0
    height: int = 0
    cover: Path | None = None  # a video's cover frame as a staged JPEG
    duration: float = 0.0  # a video's length in seconds


@dataclass(frozen=True)
class PreparedPost:
    """What a publisher posts: 1-10 prepared photos in order, or one prepared video (a Reel); one caption, and the
    pets it shows.

    A post of one photo is a single-photo post; more photos make a carousel; one video is a Reel. The publisher never
    reads the database: everything it needs to post is here.
    """

    draft_id: int
    media: tuple[PreparedMedium, ...]
    caption: str
    nonce: str
    pets: tuple[str, ...] = ()

    @property
    def first(self) -> PreparedMedium:
        return self.media[0]

    @property
    def is_carousel(self) -> bool:
        return len(self.media) > 1

    @property
    def is_reel(self) -> bool:
        return len(self.media) == 1 and self.media[0].kind == "video"


def post_photos(post: PreparedPost) -> tuple[PreparedMedium, ...]:
    """The one shape check every publisher makes before sending anything: the media of a post in order, which are
    1 to MAX_CAROUSEL_ITEMS photos (one: a single photo; more: a carousel) or exactly one video (a Reel, with its
    cover). Anything else (a video beside photos, two videos, an unknown kind, no media, a video of no length)
    is refused as bad content: Instagram would never take it."""
    media = post.media
    if not 1 <= len(media) <= MAX_CAROUSEL_ITEMS:
        raise BadContent(f"a post holds 1 to {MAX_CAROUSEL_ITEMS} photos or one video, not {len(media)} media")
    unknown = sorted({m.kind for m in media} - {"photo", "video"})
    if unknown:
        raise BadContent(f"a post holds photos or one video, not {', '.join(map(repr, unknown))}")
    videos = sum(m.kind == "video" for m in media)
    if videos and len(media) > 1:
        raise BadContent(f"a video is posted alone as a Reel, not in a carousel ({len(media)} media, {videos} "
                         f"video{'s' if videos > 1 else ''})")
    if videos and media[0].duration <= 0:
        raise BadContent("the video has no length: it cannot be posted as a Reel")
    return media


@dataclass(frozen=True)
class PublishedMedia:
    """What Instagram (or the outbox) answered for one post."""

    media_id: str
    code: str
    url: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Handover:
    """The publisher did not post: it handed the post to the owner (the by-hand publisher), who posts it by hand and
    confirms with `pawpost drafts posted`. The draft stays `publishing`, unsettled and waiting for the owner."""

    reason: str


@dataclass(frozen=True)
class RecentMedia:
    """One of the account's recent posts, as reconciling needs it."""

    media_id: str
    code: str
    caption: str
    taken_at: datetime | None
    url: str
    kind: str = ""  # photo | carousel | video (a Reel); "" when the answer did not say


class OnContainer(Protocol):
    """Told each container's id as Instagram names it: a carousel child's with its position, else the published one."""

    def __call__(self, container_id: str, position: int | None = None) -> None: ...


class Publisher(Protocol):
    """Where posts go. Implementations never retry a request on their own: the poster owns exactly-once.

    The contract, for every implementation:
    - each request-making step fails with a `PublishError` from `errors.step_error(Step.X, evidence, exc)`: the one
      table (bot.publish.outcome) decides from `Evidence(sent, refusal)`, never from a status code alone;
    - `before_create()` is called right before the request that makes the post (configure, configure_sidecar,
      media_publish), and only then: the poster records that the post may exist from that moment (a crash after it
      is unsettled); every request before it (uploads, a carousel's child containers) is safe to redo;
    - `recent_media` raises rather than answer [] when the feed cannot be read: an empty answer is read as "the
      account has no such post yet", which is only ever a reason to look again, never to resend.
    """

    name: str
    posts_by_hand: bool  # the owner posts it (the caption is handed over whole: no hashtag comment)

    def publish(self, post: PreparedPost, *, before_create: Callable[[], None] | None = None,
                on_container: OnContainer | None = None) -> PublishedMedia | Handover:
        """Post `post` (its media already prepared, a carousel when it has several) or hand it to the owner
        (`Handover`); raise `PublishError` (decided per step) on failure. A publisher that makes containers before
        the post calls `on_container(id)` for the one it publishes and `on_container(id, position)` for a carousel's
        child, the moment Instagram names it: the poster records them in the attempt."""
        ...

    def recent_media(self, count: int = 20) -> list[RecentMedia]:
        """The account's latest `count` posts, newest first; raise `PublishError` when they cannot be read."""
        ...

    def comment(self, media_id: str, text: str) -> str:
        """Add a comment to a post (Step.COMMENT); returns the comment's id."""
        ...

    def find_comment(self, media_id: str, text: str) -> str | None:
        """The id of the account's own comment with `text` on the post, if it is there already."""
        ...

    def maintain(self, now: datetime) -> None:
        """Periodic upkeep at every poster tick (renewing a token); never raises."""
        ...

    def close(self) -> None:
        ...


def same_caption(a: str | None, b: str | None) -> bool:
    """Captions compared as Instagram keeps them: whitespace runs and line-end spaces do not count."""
    return _norm(a) == _norm(b)


def _norm(text: str | None) -> str:
    return " ".join((text or "").split())
