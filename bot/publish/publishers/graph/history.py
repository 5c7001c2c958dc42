"""The account's past posts through the official API, for `pawpost history import`: GET /{ig-user-id}/media with
captions, times, links and each album's children, page by page (the `after` cursor), each post as a `PastPost`.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.errors import PawpostError
from bot.publish.errors import ErrorKind, PublishError
from bot.publish.history import Listing, PastPost, Progress
from bot.publish.publishers.graph.answers import read_media
from bot.publish.publishers.graph.api import GraphClient, Request

log = logging.getLogger(__name__)

PAGE_SIZE = 50
MAX_PAGES = 1000  # a safety stop against an API that keeps answering the same cursor
FIELDS = ("id,caption,timestamp,media_type,permalink,shortcode,media_url,thumbnail_url,"
          "children{id,media_type,media_url,thumbnail_url}")


class GraphHistory:
    """The account's media list, read with a client that holds the saved token."""

    def __init__(self, client: GraphClient, user_id: str) -> None:
        self.client = client
        self.user_id = user_id

    def list_posts(self, limit: int | None = None, progress: Progress | None = None) -> Listing:
        """Every post, newest first (as the API lists them). A rate limit after the first page ends the listing
        with what was read (`cut` says so); before it, and any other failure, is a PawpostError."""
        listing = Listing()
        after: str | None = None
        for _page in range(MAX_PAGES):
            size = PAGE_SIZE if not limit else min(PAGE_SIZE, limit - len(listing.posts))
            try:
                answer = self.client.get(f"{self.user_id}/media", Request.READ, fields=FIELDS, limit=size,
                                         after=after)
            except PublishError as err:
                if err.kind == ErrorKind.COOLDOWN and listing.posts:
                    log.info("listing the account's posts: %s", err.label)
                    listing.cut = (f"Instagram's rate limit ended the listing after {len(listing.posts)} post(s) "
                                   f"({err.message}); run the import again in an hour for the older ones")
                    return listing
                raise PawpostError(listing_failed(err)) from None
            items = answer.get("data")
            if not isinstance(items, list):
                raise PawpostError("Instagram's answer to the media list had no data; nothing was lost, run the "
                                   "import again later")
            listing.posts += [past_post(item) for item in items if isinstance(item, dict) and item.get("id")]
            if progress:
                progress("list", len(listing.posts), len(listing.posts), None)
            if limit and len(listing.posts) >= limit:
                listing.posts = listing.posts[:limit]
                return listing
            paging = answer.get("paging") if isinstance(answer.get("paging"), dict) else {}
            cursors = paging.get("cursors") if isinstance(paging.get("cursors"), dict) else {}
            after = cursors.get("after")
            # The API names a next page only when there is one; the cursor alone is also given on the last page.
            if not paging.get("next") or not isinstance(after, str) or not after or not items:
                break
        return listing


def listing_failed(err: PublishError) -> str:
    """One line for a media list that could not be read at all."""
    if err.kind == ErrorKind.COOLDOWN:
        return (f"Instagram asked to slow down before listing the account's posts ({err.message}); nothing was "
                "lost, run the import again in an hour")
    if err.kind == ErrorKind.FATAL:
        return f"Instagram did not list the account's posts ({err.message}); {err.advice}"
    return (f"Instagram did not list the account's posts ({err.message}); nothing was lost, run the import again "
            "later")


def past_post(item: dict[str, Any]) -> PastPost:
    """A media object of the list as a PastPost; a post without a time is placed at the epoch's start, never
    dropped (its caption still teaches the voice)."""
    from datetime import UTC, datetime

    published, caption, taken = read_media(item)
    return PastPost(media_id=published.media_id, code=published.code or published.media_id,
                    taken_at=taken or datetime.fromtimestamp(0, UTC), caption=caption, image_url=image_url(item))


def image_url(item: dict[str, Any]) -> str | None:
    """The photo to import: an album's first photo (else its first child's cover), a video's cover, a photo itself.
    None when the API gives no URL (Instagram leaves media_url out of posts with copyrighted music, for one)."""
    kind = item.get("media_type")
    if kind == "CAROUSEL_ALBUM":
        children = item.get("children", {}).get("data") if isinstance(item.get("children"), dict) else None
        children = [c for c in children or [] if isinstance(c, dict)]
        first = next((c for c in children if c.get("media_type") == "IMAGE"), children[0] if children else None)
        return image_url(first) if first is not None and first.get("media_type") != "CAROUSEL_ALBUM" else None
    if kind == "VIDEO":
        return _url(item.get("thumbnail_url"))
    return _url(item.get("media_url"))


def _url(value: Any) -> str | None:
    return value if isinstance(value, str) and value.startswith(("https://", "http://")) else None
