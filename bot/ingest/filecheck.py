"""Photo bytes judged by content: format by magic bytes, one full decode within limits, EXIF facts, perceptual hash.

No database and no files here, so inbox ingest and history import judge images the same way.
"""

from __future__ import annotations

import io
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

from bot.ingest.livephoto import still_content_id

log = logging.getLogger(__name__)

# Our format name -> (Pillow format name, library file extension).
FORMATS = {"JPEG": ("JPEG", "jpg"), "PNG": ("PNG", "png"), "WEBP": ("WEBP", "webp"), "HEIF": ("HEIF", "heic")}
HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"}
HEIF_GENERIC_BRANDS = {b"mif1", b"msf1", b"mif2"}
AVIF_BRANDS = {b"avif", b"avis"}
SUPPORTED = "JPEG, PNG, WEBP or HEIC"

# EXIF tags (names as in the EXIF 2.32 standard).
ORIENTATION = 0x0112
DATETIME = 0x0132
EXIF_IFD = 0x8769
GPS_IFD = 0x8825
DATETIME_ORIGINAL = 0x9003
DATETIME_DIGITIZED = 0x9004
OFFSET_TIME = 0x9010
OFFSET_TIME_ORIGINAL = 0x9011
OFFSET_TIME_DIGITIZED = 0x9012
SUBSEC_TIME = 0x9290
SUBSEC_TIME_ORIGINAL = 0x9291
SUBSEC_TIME_DIGITIZED = 0x9292

# The perceptual hash needs only a thumbnail: hashing a 12 MP image directly costs more than decoding it.
PHASH_MIN_SIDE = 64

_heif_lock = threading.Lock()
_heif_registered = False


# ingest.max_megapixels' default: the one size policy for every image pawpost opens (ingest, pets add/identify/eval).
DEFAULT_MAX_MEGAPIXELS = 120.0
_BOMB_PIXELS = re.compile(r"Image size \((\d+) pixels\)")


class BadImage(Exception):
    """The bytes are not a photo pawpost can take; the message is the reason shown to the owner."""


@dataclass(frozen=True)
class ImageFacts:
    format: str          # JPEG, PNG, WEBP or HEIF
    width: int           # as displayed, EXIF orientation applied
    height: int
    taken_at: datetime | None
    has_gps: bool
    phash: str           # 64-bit perceptual hash, hex
    content_id: str | None = None  # Apple's Live Photo content identifier (bot.ingest.livephoto)

    @property
    def ext(self) -> str:
        return FORMATS[self.format][1]


def register_heif() -> None:
    """Teach Pillow to open HEIC/HEIF (iPhone photos); once per process, on first need."""
    global _heif_registered
    if _heif_registered:
        return
    with _heif_lock:
        if not _heif_registered:
            import pillow_heif

            pillow_heif.register_heif_opener()
            _heif_registered = True


def sniff(head: bytes) -> str | None:
    """The supported format these first bytes announce, or None. The file name is never trusted."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    brands = _ftyp_brands(head)
    if brands and (brands & HEIF_BRANDS or (brands & HEIF_GENERIC_BRANDS and not brands & AVIF_BRANDS)):
        return "HEIF"
    return None


def unsupported_reason(head: bytes) -> str:
    """Why bytes that `sniff` refused are not taken, in the owner's words."""
    known = [
        (b"GIF8", "a GIF"), (b"BM", "a BMP image"), (b"II*\x00", "a TIFF or camera RAW file"),
        (b"MM\x00*", "a TIFF or camera RAW file"), (b"%PDF", "a PDF document"), (b"PK\x03\x04", "a ZIP archive"),
        (b"\x00\x00\x01\x00", "an icon"), (b"8BPS", "a Photoshop document"),
    ]
    for magic, what in known:
        if head.startswith(magic):
            return f"it is {what}, not a photo pawpost can post (use {SUPPORTED})"
    brands = _ftyp_brands(head)
    if brands & AVIF_BRANDS:
        return f"it is an AVIF image, which pawpost cannot read (use {SUPPORTED})"
    if brands:
        return f"it is a video or another ISO media file, not a photo (use {SUPPORTED})"
    sample = head[:1024]
    if b"\x00" not in sample:
        try:
            sample.decode("utf-8")
            return f"it is a text file, not an image (whatever its name says; use {SUPPORTED})"
        except UnicodeDecodeError as exc:
            if exc.start >= len(sample) - 3:  # a multi-byte character cut by the sample's end
                return f"it is a text file, not an image (whatever its name says; use {SUPPORTED})"
    return f"it is not a {SUPPORTED} image (unrecognised content)"


def is_video(head: bytes) -> bool:
    """Whether these first bytes start an MP4 or QuickTime movie: an ISO media file that is no HEIF or AVIF
    image, or a QuickTime file that opens with its movie, data or padding atom instead of a file type."""
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return True
    brands = _ftyp_brands(head)
    return bool(brands) and sniff(head) is None and not brands & AVIF_BRANDS


def _ftyp_brands(head: bytes) -> set[bytes]:
    """The major and compatible brands of an ISO base media file (HEIF, AVIF, MP4, MOV), or an empty set."""
    if len(head) < 16 or head[4:8] != b"ftyp":
        return set()
    size = min(int.from_bytes(head[:4], "big"), len(head))
    brands = {head[8:12]}
    brands.update(head[i:i + 4] for i in range(16, size - 3, 4))
    return brands


def inspect(data: bytes, *, max_megapixels: float, zone: tzinfo = UTC) -> ImageFacts:
    """Decode the whole image once and return its facts; raise BadImage with the owner-facing reason.

    `zone` is where a camera clock without an offset is taken to be (the owner's schedule time zone).
    """
    if not data:
        raise BadImage("the file is empty (0 bytes)")
    fmt = sniff(data[:64])
    if fmt is None:
        raise BadImage(unsupported_reason(data[:1024]))
    if fmt == "HEIF":
        register_heif()

    try:
        with open_within(io.BytesIO(data), max_megapixels=max_megapixels, formats=[FORMATS[fmt][0]]) as im:
            width, height = im.size
            im.load()  # the full decode: a truncated or corrupt file fails here, not later in a model
            exif = im.getexif()
            orientation = _int(exif.get(ORIENTATION)) or 1
            small = _thumbnail(im)
    except BadImage:
        raise
    except MemoryError:
        raise BadImage("the image is too large to decode in memory") from None
    except Exception as exc:  # any decoder error is the file's fault, never a reason to stop ingesting
        log.debug("decode failed", exc_info=True)
        detail = str(exc).strip() or type(exc).__name__
        raise BadImage(f"the {fmt} image is damaged or incomplete ({detail})") from None
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    small = _orient(small, orientation)
    return ImageFacts(
        format=fmt, width=width, height=height, taken_at=capture_time(exif, zone), has_gps=has_gps(exif),
        phash=perceptual_hash(small), content_id=still_content_id(exif),
    )


@contextmanager
def open_within(source: Any, *, max_megapixels: float, formats: list[str] | None = None) -> Iterator[Any]:
    """`Image.open` under pawpost's one size policy: over `max_megapixels` is refused (BadImage) before decoding.

    Pillow's own decompression-bomb guard stays as a backstop above the configured limit, never below it.
    """
    import warnings

    from PIL import Image

    limit = int(max_megapixels * 1_000_000)
    if Image.MAX_IMAGE_PIXELS is not None and limit > Image.MAX_IMAGE_PIXELS:
        Image.MAX_IMAGE_PIXELS = limit  # the owner raised the limit on purpose
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(source, formats=formats)
    except Image.DecompressionBombError as exc:
        match = _BOMB_PIXELS.search(str(exc))
        size = _declared_size(source, formats)
        pixels = size[0] * size[1] if size else int(match[1]) if match else None
        raise BadImage(_too_many_pixels(pixels, size, max_megapixels)) from None
    with im:
        width, height = im.size
        if width * height > limit:
            raise BadImage(_too_many_pixels(width * height, (width, height), max_megapixels))
        yield im


_GUARD_LOCK = threading.Lock()


def _declared_size(source: Any, formats: list[str] | None) -> tuple[int, int] | None:
    """The width and height an image's header declares, read past Pillow's own bomb guard (nothing is decoded:
    `Image.open` reads the header only), so a refusal can name them; None when the header cannot be read again."""
    from PIL import Image

    with _GUARD_LOCK:
        saved = Image.MAX_IMAGE_PIXELS
        try:
            if hasattr(source, "seek"):
                source.seek(0)
            Image.MAX_IMAGE_PIXELS = None
            with Image.open(source, formats=formats) as im:
                return im.size
        except Exception:  # any reason the header is unreadable now: the refusal stands without the dimensions
            return None
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _too_many_pixels(pixels: int | None, size: tuple[int, int] | None, max_megapixels: float) -> str:
    dims = f"{size[0]}×{size[1]} " if size else ""
    amount = f"{dims}({pixels / 1e6:.0f} megapixels)" if pixels else "larger than that"
    return (f"the image is {amount}, over ingest.max_megapixels = {max_megapixels:g}: a decompression bomb? "
            "(raise the limit in the config if this really is a photo)")


def _thumbnail(im: Any) -> Any:
    """A small greyscale copy of a decoded image, made with a cheap box reduce (for the perceptual hash)."""
    import numpy as np
    from PIL import Image

    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # Pillow's 'L' conversion clips 16-bit values; scale them instead so the hash still sees the picture.
        arr = np.asarray(im, dtype=np.float32)
        top = float(arr.max()) or 1.0
        im = Image.fromarray((arr * (255.0 / top)).astype(np.uint8), "L")
    elif im.mode not in ("L", "LA", "RGB", "RGBA", "RGBX"):
        im = im.convert("RGB")
    factor = max(1, min(im.size) // PHASH_MIN_SIDE)
    small = im.reduce(factor) if factor > 1 else im.copy()
    return small.convert("L")


_TRANSPOSE = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE", 6: "ROTATE_270",
              7: "TRANSVERSE", 8: "ROTATE_90"}


def _orient(im: Any, orientation: int) -> Any:
    from PIL import Image

    method = _TRANSPOSE.get(orientation)
    return im.transpose(getattr(Image.Transpose, method)) if method else im


def perceptual_hash(im: Any) -> str:
    import imagehash

    return str(imagehash.phash(im))


def hash_distance(a: str, b: str) -> int:
    """Bits that differ between two perceptual hashes (0 = the same picture to the eye)."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def has_gps(exif: Any) -> bool:
    """True when EXIF carries any GPS data (the publisher posts a re-encoded copy without it)."""
    try:
        gps = exif.get_ifd(GPS_IFD)
    except Exception:
        return GPS_IFD in exif
    return bool(set(gps) - {0})  # tag 0 is only the GPS version


def capture_time(exif: Any, zone: tzinfo = UTC) -> datetime | None:
    """When the photo was taken, from EXIF, as UTC; None when absent or unreadable."""
    try:
        sub = exif.get_ifd(EXIF_IFD)
    except Exception:
        sub = {}
    for tag, offset_tag, subsec_tag, ifd in (
        (DATETIME_ORIGINAL, OFFSET_TIME_ORIGINAL, SUBSEC_TIME_ORIGINAL, sub),
        (DATETIME_DIGITIZED, OFFSET_TIME_DIGITIZED, SUBSEC_TIME_DIGITIZED, sub),
        (DATETIME, OFFSET_TIME, SUBSEC_TIME, exif),
    ):
        moment = _exif_time(ifd.get(tag), sub.get(offset_tag), sub.get(subsec_tag), zone)
        if moment is not None:
            return moment
    return None


def _exif_time(value: Any, offset: Any, subsec: Any, zone: tzinfo) -> datetime | None:
    text = _text(value)
    if not text:
        return None
    try:
        moment = datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    if moment.year < 1970:
        return None
    # SubSecTime is the digits after the second's decimal point ("07" = 70 ms): a burst's frame order.
    digits = "".join(c for c in (_text(subsec) or "") if c.isdigit())[:6]
    if digits:
        moment = moment.replace(microsecond=int(digits.ljust(6, "0")))
    tz = _offset(_text(offset)) or zone
    return moment.replace(tzinfo=tz).astimezone(UTC)


def _offset(text: str | None) -> tzinfo | None:
    # EXIF OffsetTime is "+HH:MM" or "-HH:MM".
    if not text or len(text) < 6 or text[0] not in "+-" or text[3] != ":":
        return None
    try:
        minutes = int(text[1:3]) * 60 + int(text[4:6])
    except ValueError:
        return None
    return timezone(timedelta(minutes=minutes if text[0] == "+" else -minutes))


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="ignore")
    if not isinstance(value, str):
        return None
    return value.strip("\x00 ").strip() or None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
