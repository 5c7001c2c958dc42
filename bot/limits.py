"""Instagram's limits (caption length, hashtags, @mentions, carousel size, a photo's ratio, width and bytes, a Reel's
container, codecs, frame rate, size, bitrates and length, each with its source), the one caption check, and the one
hashtag rule every caption follows.

The rule: `captions.max_hashtags` caps the hashtags of every caption, generated or the owner's (at most
MAX_HASHTAGS, Instagram's own limit); the pets' and `[captions] hashtags` are added to each caption with room.
Low level on purpose: drafts, review, posting and the caption rules import it; it imports nothing of theirs.
"""

from __future__ import annotations

import re

# Instagram's limits: one table, each figure with the page it comes from. Everything that checks a caption or
# prepares a photo reads it here; nothing else writes these numbers.
GRAPH_MEDIA = ("Instagram Platform reference, IG User Media "
               "(https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media)")
CONTENT_PUBLISHING = ("Instagram Platform, Content Publishing "
                      "(https://developers.facebook.com/docs/instagram-platform/content-publishing/)")
HASHTAG_ANNOUNCEMENT = ("Instagram Help Centre, \"Use hashtags on Instagram\" (help.instagram.com), and Instagram's "
                        "announcement to creators: \"Instagram will gradually update the number of hashtags that you "
                        "can include in a caption for a reel or post to 5\" (reported e.g. at "
                        "https://routenote.com/blog/Instagram-hashtags)")

# A caption: characters and @mentions as the IG User Media reference states them (2,200 characters, 20 @ tags).
# The 30 hashtags it also states are the older figure: since the announcement, Instagram allows 5.
MAX_CAPTION_CHARS = 2200  # GRAPH_MEDIA
MAX_MENTIONS = 20  # GRAPH_MEDIA
MAX_HASHTAGS = 5  # HASHTAG_ANNOUNCEMENT; the ceiling of captions.max_hashtags, and what the poster checks

# A post: a single photo, or a carousel of at most this many photos and videos.
MAX_CAROUSEL_ITEMS = 10  # CONTENT_PUBLISHING (carousels: up to 10 images, videos, or a mix)

# A photo (JPEG): its aspect ratio between 4:5 (tallest) and 1.91:1 (widest), at most 1440 px wide (Instagram scales
# wider ones down, so pawpost sends no more), at most 8 MB.
MIN_RATIO = 4 / 5  # GRAPH_MEDIA, image specifications
MAX_RATIO = 1.91  # GRAPH_MEDIA, image specifications
MAX_WIDTH = 1440  # GRAPH_MEDIA, image specifications
MAX_BYTES = 8 * 1024 * 1024  # GRAPH_MEDIA, image specifications (8 MB at most)

# A Reel (one video): the "Reel specifications" of the IG User Media reference (GRAPH_MEDIA, Reels): MOV or MP4
# (MPEG-4 Part 14), no edit lists, the moov atom at the front of the file; HEVC or H.264, progressive scan, closed GOP,
# 4:2:0 chroma subsampling; AAC at 48 kHz at most, mono or stereo. instagrapi's clip upload (`clip_upload`) sends the
# same file through the app's private API, which takes what the official one does.
REELS_CONTAINERS = ("mp4", "mov")  # GRAPH_MEDIA, Reels: container
REELS_VIDEO_CODECS = ("h264", "hevc")  # GRAPH_MEDIA, Reels: video codec
REELS_PIX_FMTS = ("yuv420p", "yuvj420p")  # GRAPH_MEDIA, Reels: 4:2:0 chroma subsampling
REELS_AUDIO_CODECS = ("aac",)  # GRAPH_MEDIA, Reels: audio codec
REELS_MAX_AUDIO_RATE = 48_000  # GRAPH_MEDIA, Reels: 48 kHz sample rate at most
REELS_MAX_AUDIO_CHANNELS = 2  # GRAPH_MEDIA, Reels: 1 or 2 channels
REELS_AUDIO_BITRATE = 128_000  # GRAPH_MEDIA, Reels: audio bitrate 128 kbps
REELS_MIN_FPS = 23  # GRAPH_MEDIA, Reels: frame rate 23-60 FPS
REELS_MAX_FPS = 60  # GRAPH_MEDIA, Reels: frame rate 23-60 FPS
REELS_MAX_WIDTH = 1920  # GRAPH_MEDIA, Reels: 1920 columns (horizontal pixels) at most
REELS_RATIO = 9 / 16  # GRAPH_MEDIA, Reels: 9:16 recommended (0.01:1 to 10:1 accepted); pawpost makes 9:16
REELS_WIDTH = 1080  # GRAPH_MEDIA, Reels: 1080 x 1920 the recommended size
REELS_MAX_VIDEO_BITRATE = 25_000_000  # GRAPH_MEDIA, Reels: VBR, 25 Mbps at most
REELS_MIN_SECONDS = 3.0  # GRAPH_MEDIA, Reels: 3 seconds at least
REELS_MAX_SECONDS = 15 * 60.0  # GRAPH_MEDIA, Reels: 15 minutes at most
REELS_MAX_BYTES = 300 * 1024 * 1024  # GRAPH_MEDIA, Reels: 300 MB at most

# The profile grid: three columns, newest top-left, each post shown as a 3:4 tile (width:height) cropped from its
# centre, since Instagram left square tiles in January 2025.
GRID_PREVIEW = ("Instagram's profile grid change to 3:4 tiles, January 2025 (e.g. "
                "https://pictuary.com/glossary/profile-grid and "
                "https://inssist.com/knowledge-base/instagram-image-size-cheat-sheet: \"Grid Preview: All formats "
                "display as 1012 x 1350 pixels (3:4 crop)\")")
GRID_COLUMNS = 3  # GRID_PREVIEW
GRID_TILE_RATIO = 3 / 4  # GRID_PREVIEW; the review site's grid preview (bot/web/static/app.css) crops to it

HASHTAG_RE = re.compile(r"(?<![\w#])#\w+")
MENTION_RE = re.compile(r"(?<![\w@])@[\w.]+")

# Control characters (C0 but the line break, DEL, C1) and the replacement character left by half-decoded bytes:
# invisible in a review, and Instagram shows them as boxes or drops the caption.
CONTROL_RE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\ufffd]")


def hashtags(text: str) -> list[str]:
    return HASHTAG_RE.findall(text)


def mentions(text: str) -> list[str]:
    return MENTION_RE.findall(text)


def normalise(text: str) -> str:
    """The owner's text as it is stored: Windows and old Mac line breaks as \\n, outer whitespace trimmed."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def caption_problem(text: str, max_hashtags: int | None = None) -> str | None:
    """Why `text` cannot be posted as a caption, in one sentence; None when it is fine. The one caption check of the
    CLI, the review site, the caption rules and the poster: empty, control characters, Instagram's length and
    @mentions, and more hashtags than `max_hashtags` (captions.max_hashtags; None: Instagram's own MAX_HASHTAGS)."""
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
    if max_hashtags is None and len(tags) > MAX_HASHTAGS:
        return f"the caption has {len(tags)} hashtags; Instagram allows at most {MAX_HASHTAGS}"
    if max_hashtags is not None and len(tags) > max_hashtags:
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
