"""The account's past posts as a publisher lists them for `pawpost history import`: `PastPost` and the reader
protocol each publisher that can read the account implements (instagrapi's feed, the official API's media list).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

# (phase, done, total, loss) as the CLI's progress bar takes it; listing reports ("list", n, n, None).
Progress = Callable[[str, int, int, float | None], None]


@dataclass(frozen=True)
class PastPost:
    """One post of the account: its id and short code, when it was made (aware), its caption, and the URL of the
    photo to import (an album's first photo, a video's cover; None when it has none)."""

    media_id: str
    code: str
    taken_at: datetime
    caption: str
    image_url: str | None


@dataclass
class Listing:
    """The posts listed, newest first; `cut` says why the listing ended before the account's oldest post (a rate
    limit), None when it is whole (or reached the limit asked for)."""

    posts: list[PastPost] = field(default_factory=list)
    cut: str | None = None


class HistoryReader(Protocol):
    """Lists the account's posts, newest first, page by page; PawpostError when nothing could be listed."""

    def list_posts(self, limit: int | None = None, progress: Progress | None = None) -> Listing: ...
