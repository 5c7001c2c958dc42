"""Instagram's limits on a caption (length, hashtags, @mentions, and how they are counted), and the one hashtag
rule every caption follows.

The rule: `captions.max_hashtags` caps the hashtags of every caption, generated or the owner's (Instagram itself
now allows 5); the pets' and `[captions] hashtags` are added to each caption that still has room for them.
Low level on purpose: drafts, review, posting and the caption rules import it; it imports nothing of theirs.
"""

from __future__ import annotations

import re

MAX_CAPTION_CHARS = 2200
MAX_MENTIONS = 20

HASHTAG_RE = re.compile(r"(?<![\w#])#\w+")
MENTION_RE = re.compile(r"(?<![\w@])@[\w.]+")

# Control characters (C0 but the line break, DEL, C1) and the replacement character left by half-decoded bytes:
# invisible in a review, and Instagram shows them as boxes or drops the caption.
CONTROL_RE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\ufffd]")


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


def normalise(text: str) -> str:
    """The owner's text as it is stored: Windows and old Mac line breaks as \\n, outer whitespace trimmed."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def caption_problem(text: str, max_hashtags: int) -> str | None:
    """Why `text` cannot be posted as a caption (Instagram's limits, control characters, more hashtags than
    `max_hashtags`), in one sentence; None when it is fine."""
    if not text.strip():
        return "the caption is empty"
    bad = CONTROL_RE.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        return (f"the caption contains a control character (U+{ord(bad.group()):04X}, line {line}); "
                "remove it (Instagram cannot show it)")
    if len(text) > MAX_CAPTION_CHARS:
        return f"the caption has {len(text)} characters; Instagram allows at most {MAX_CAPTION_CHARS}"
    tags = hashtags(text)
    if len(tags) > max_hashtags:
        return (f"the caption has {len(tags)} hashtags; at most {max_hashtags} are allowed (captions.max_hashtags, "
                "which applies to your own captions too)")
    found = mentions(text)
    if len(found) > MAX_MENTIONS:
        return f"the caption has {len(found)} @mentions; Instagram allows at most {MAX_MENTIONS}"
    return None


def add_hashtags(text: str, wanted: list[str], max_hashtags: int) -> str:
    """`text` with the `wanted` hashtags it lacks appended (in order) on a closing line, while it has fewer than
    `max_hashtags` and stays within Instagram's length. The owner's own hashtags are never removed or moved."""
    present = {t.lower() for t in hashtags(text)}
    count = len(present)
    added: list[str] = []
    for tag in wanted:
        if count >= max_hashtags:
            break
        if tag.lower() in present:
            continue
        candidate = _joined(text, [*added, tag])
        if len(candidate) > MAX_CAPTION_CHARS:
            break
        added.append(tag)
        present.add(tag.lower())
        count += 1
    return _joined(text, added) if added else text


def _joined(text: str, tags: list[str]) -> str:
    if not tags:
        return text
    last = text.rstrip().rsplit("\n", 1)[-1]
    # A caption that already ends in a line of hashtags gets the new ones on that line.
    if last.split() and all(hashtags(word) == [word] for word in last.split()):
        return f"{text.rstrip()} {' '.join(tags)}"
    return f"{text.rstrip()}\n\n{' '.join(tags)}"
