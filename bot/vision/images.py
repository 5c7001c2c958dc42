"""Opening photos for the models: any format ingest accepts, upright as the owner sees them, bounded in size.

Boxes are reported in the ORIGINAL (upright) image's pixels; models see a copy no larger than WORK_SIDE.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from bot.errors import PawpostError
from bot.ingest.filecheck import DEFAULT_MAX_MEGAPIXELS, BadImage, open_within, register_heif

WORK_SIDE = 1280  # detectors work at <= 1008 px, embedders at ~224: more pixels only cost time and memory


class PhotoUnreadable(PawpostError):
    """A photo file cannot be opened: missing, unreadable, not an image, or over the size policy."""


def open_image(path: Path, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS, *, max_side: int | None = None) -> Any:
    """The photo as an RGB PIL image, EXIF-rotated upright; PhotoUnreadable when it cannot be read.

    The size policy is ingest's (`ingest.max_megapixels`): a photo pawpost would not ingest is not decoded here either.
    `max_side` scales the upright image down to fit (the captioner's copy); None keeps the original pixels, in which
    vision reports its boxes.
    """
    from PIL import ImageOps, UnidentifiedImageError

    register_heif()  # the library keeps iPhone photos as HEIC
    try:
        with open_within(path, max_megapixels=max_megapixels) as raw:
            image = ImageOps.exif_transpose(raw).convert("RGB")
    except BadImage as exc:
        raise PhotoUnreadable(f"{path}: {exc}") from None
    except MemoryError:
        raise PhotoUnreadable(f"{path}: the image is too large to decode in memory") from None
    except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        raise PhotoUnreadable(f"cannot read {path}: {exc.strerror or exc}") from None
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise PhotoUnreadable(f"{path} is not an image pawpost can read ({type(exc).__name__}); "
                              "use a JPEG, PNG, WEBP or HEIC photo") from None
    if max_side is not None:
        image.thumbnail((max_side, max_side))
    return image


def working_copy(image: Any) -> tuple[Any, float]:
    """A copy no larger than WORK_SIDE and the factor that maps its pixels back to the original's."""
    side = max(image.width, image.height)
    if side <= WORK_SIDE:
        return image, 1.0
    scale = side / WORK_SIDE
    size = (max(1, round(image.width / scale)), max(1, round(image.height / scale)))
    return image.resize(size, reducing_gap=3.0), scale


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
