"""The account's past posts through instagrapi, for `pawpost history import`: the user feed, page by page, each
post as a `PastPost` (its photo: an album's first photo, a video's cover).
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from bot.config import Config
from bot.errors import PawpostError
from bot.publish.history import Listing, PastPost, Progress

PAGE_SIZE = 33  # what the Instagram app asks for per feed page
MAX_PAGES = 1000  # a safety stop against a feed that keeps answering the same cursor


class InstagrapiHistory:
    """A logged-in instagrapi Client's view of the account's feed."""

    def __init__(self, client: Any, config: Config) -> None:
        self.client = client
        self.config = config

    def list_posts(self, limit: int | None = None, progress: Progress | None = None) -> Listing:
        """The account's posts, newest first, read from its feed page by page.

        The feed endpoint directly, not `user_medias`: instagrapi's v1 helper logs and swallows errors, which would
        make a failed listing look like an account with no posts.
        """
        from instagrapi.extractors import extract_media_v1

        client = self.client
        user_id = client.user_id or client.user_id_from_username(self.config.instagram.username)
        posts: list[PastPost] = []
        cursor = ""
        for _page in range(MAX_PAGES):
            params = {"count": PAGE_SIZE, "rank_token": client.rank_token, "ranked_content": "true"}
            if cursor:
                params["max_id"] = cursor
            try:
                answer = client.private_request(f"feed/user/{user_id}/", params=params)
            except Exception as exc:
                raise PawpostError(f"Instagram did not list the account's posts ({type(exc).__name__}: "
                                   f"{str(exc)[:120]}); nothing was lost, run the import again later") from None
            items = answer.get("items") if isinstance(answer, dict) else None
            if not isinstance(items, list):
                raise PawpostError("Instagram's answer to the feed request had no posts list; run the import again "
                                   "later")
            posts += [past_post(extract_media_v1(item)) for item in items if isinstance(item, dict)]
            if progress:
                progress("list", len(posts), len(posts), None)
            if limit and len(posts) >= limit:
                return Listing(posts[:limit])
            cursor = answer.get("next_max_id") or ""
            if not answer.get("more_available") or not cursor:
                break
        return Listing(posts)


def past_post(media: Any) -> PastPost:
    """An instagrapi Media as a PastPost."""
    taken = media.taken_at
    return PastPost(media_id=str(media.pk), code=media.code, taken_at=taken if taken.tzinfo else
                    taken.replace(tzinfo=UTC), caption=media.caption_text or "", image_url=image_url(media))


def image_url(media: Any) -> str | None:
    """The post's photo (an album's first photo; a video's cover)."""
    if media.media_type == 8 and media.resources:
        first = next((r for r in media.resources if r.media_type == 1), media.resources[0])
        return str(first.thumbnail_url) if first.thumbnail_url else None
    return str(media.thumbnail_url) if media.thumbnail_url else None


def history_reader(config: Config, store: Any) -> InstagrapiHistory:
    """The reader `history import` uses: the saved session's client (logging in with the password if needed)."""
    from bot.publish.publishers.instagrapi.session import make_client

    return InstagrapiHistory(make_client(config, store), config)
