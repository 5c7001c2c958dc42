"""Publishing: the publisher seam (dry-run outbox or instagrapi), photo preparation, and exactly-once posting.

Import what you need from here; instagrapi is only imported when the instagrapi publisher is used.
"""

from __future__ import annotations

from bot.publish.base import PublishedMedia, Publisher, RecentMedia, make_publisher
from bot.publish.errors import ErrorKind, PublishError, classify, step_error
from bot.publish.outcome import Evidence, Move, Outcome, Refusal, Step, decide
from bot.publish.poster import Poster, PostResult, posting_blocked

__all__ = [
    "ErrorKind",
    "Evidence",
    "Move",
    "Outcome",
    "PostResult",
    "Poster",
    "PublishError",
    "PublishedMedia",
    "Publisher",
    "RecentMedia",
    "Refusal",
    "Step",
    "classify",
    "decide",
    "make_publisher",
    "posting_blocked",
    "step_error",
]
