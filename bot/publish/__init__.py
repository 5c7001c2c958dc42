"""Publishing: the publisher seam (`base`; the publishers themselves are in `publishers/`, behind its registry),
photo preparation, the posting gate, and exactly-once posting.

Import what you need from here; a publisher's module (and its libraries) is imported only when it is used.
Modules inside this package import each other by their full names (`bot.publish.x`), never through this file.
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
