"""Hashtags in the first comment (`instagram.hashtags_in_first_comment`): the caption's trailing hashtag block is
split off before the post is made and added as the post's first comment right after it, or, after a crash between
the two, by `finish_comments` (which looks for the comment on the post before it adds it again).

`FirstComments` is a mixin of `Poster`: it shares the poster's store, publisher, pacing and error handling.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot import timeutil
from bot.publish.errors import ErrorKind, classify
from bot.publish.gate import after_error, remember_error

if TYPE_CHECKING:
    from bot.config import Config
    from bot.publish.base import Publisher
    from bot.store.database import Store

log = logging.getLogger(__name__)

# Pacing of repeated questions to Instagram about one draft's comment.
ASK_AGAIN_AFTER = timedelta(minutes=2)

_TRAILING_TAGS = re.compile(r"(?:\s*(?<![\w#])#\w+)+\s*$")


def split_hashtags(caption: str) -> tuple[str, str | None]:
    """The caption without its trailing hashtag block, and that block (None when there is none to move)."""
    match = _TRAILING_TAGS.search(caption)
    if not match or not caption[: match.start()].strip():
        return caption, None
    return caption[: match.start()].rstrip(), " ".join(match.group(0).split())


def first_comment(config: Config, publisher: Publisher, caption: str) -> tuple[str, str | None]:
    """What is posted as the caption and what as the first comment (None: no comment). The owner who posts by hand
    gets the whole caption."""
    if config.instagram.hashtags_in_first_comment and not publisher.posts_by_hand:
        return split_hashtags(caption)
    return caption, None


class FirstComments:
    """`finish_comments` and `_comment`, for `Poster` (which provides `_blocked` and the `_asked` pacing record)."""

    store: Store
    config: Config
    publisher: Publisher
    _blocked: Any
    _asked: dict[tuple[str, int], datetime]

    def finish_comments(self, now: datetime | None = None) -> int:
        """Add the hashtag comment to posted drafts that lack it (a crash between post and comment)."""
        now = now or timeutil.now()
        done = 0
        rows = self.store.all("SELECT id, media_id, first_comment FROM drafts WHERE status = 'posted' "
                              "AND first_comment IS NOT NULL AND comment_id IS NULL AND media_id IS NOT NULL")
        for row in rows:
            if not self._may_ask("comment", row[0], now):
                continue
            if self._blocked(now) or not self._comment(row[0], row[1], row[2], now, recovering=True):
                break
            done += 1
        return done

    def _comment(self, draft_id: int, media_id: str, text: str, now: datetime, *, recovering: bool) -> bool:
        try:
            # After a crash the comment may be there already: look before adding it.
            comment_id = self.publisher.find_comment(media_id, text) if recovering else None
            comment_id = comment_id or self.publisher.comment(media_id, text)
        except Exception as exc:
            err = classify(exc)
            after_error(self.store, self.config, err, now)
            if err.kind == ErrorKind.BAD_CONTENT:
                # '' marks "given up": Instagram refused this comment, asking again would not change that.
                self.store.update("drafts", draft_id, comment_id="", error=f"hashtag comment refused: {err.label}")
                self.store.event("post.comment_failed", f"draft {draft_id}: hashtag comment refused: {err.label}",
                                 level="error", draft_id=draft_id)
            else:  # not sent or unknown: looked for before it is added again (finish_comments)
                log.warning("hashtag comment for draft %s not added yet: %s", draft_id, err.label)
            remember_error(self.store, err, now, draft_id)
            return False
        self.store.update("drafts", draft_id, comment_id=comment_id)
        return True

    def _may_ask(self, what: str, draft_id: int, now: datetime) -> bool:
        last = self._asked.get((what, draft_id))
        if last is not None and timedelta(0) <= now - last < ASK_AGAIN_AFTER:
            return False
        self._asked[(what, draft_id)] = now
        return True
