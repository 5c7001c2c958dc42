"""Publishing: the publisher seam (dry-run outbox, notify, the official API or instagrapi), photo preparation, the
posting gate, and exactly-once posting.

Import what you need from here; instagrapi is only imported when the instagrapi publisher is used. Modules inside
this package import each other by their full names (`bot.publish.x`), never through this file.
"""

from __future__ import annotations

from bot.publish.base import PublishedMedia, Publisher, RecentMedia
from bot.publish.errors import ErrorKind, PublishError, classify, step_error
from bot.publish.factory import make_poster, make_publisher
from bot.publish.gate import posting_blocked
from bot.publish.outcome import Evidence, Move, Outcome, Refusal, Step, decide
from bot.publish.poster import Poster
from bot.publish.result import PostResult

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
    "make_poster",
    "make_publisher",
    "posting_blocked",
    "step_error",
]
