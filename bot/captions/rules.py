"""Rules every caption must pass before it can be chosen or posted.

`instagram_limits` holds Instagram's hard limits; the owner's own text is checked by it too.
"""

from __future__ import annotations

import re

MAX_CAPTION_CHARS = 2200
MAX_MENTIONS = 20

HASHTAG_RE = re.compile(r"(?<![\w#])#\w+")
MENTION_RE = re.compile(r"(?<![\w@])@[\w.]+")


def hashtags(text: str) -> list[str]:
    return HASHTAG_RE.findall(text)


def mentions(text: str) -> list[str]:
    return MENTION_RE.findall(text)


def instagram_limits(text: str, max_hashtags: int) -> str | None:
    """Why `text` breaks Instagram's limits, or None when it is within them."""
    if not text.strip():
        return "the caption is empty"
    if len(text) > MAX_CAPTION_CHARS:
        return f"the caption has {len(text)} characters; Instagram allows at most {MAX_CAPTION_CHARS}"
    tags = hashtags(text)
    if len(tags) > max_hashtags:
        return f"the caption has {len(tags)} hashtags; at most {max_hashtags} are allowed (captions.max_hashtags)"
    if len(mentions(text)) > MAX_MENTIONS:
        return f"the caption has {len(mentions(text))} @mentions; Instagram allows at most {MAX_MENTIONS}"
    return None
