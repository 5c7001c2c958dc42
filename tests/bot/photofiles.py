"""Small real image files for the ingest and watcher tests: distinct photos, re-saves, HEIC, EXIF, bombs."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bot.config import Config, load_config
from tests.conftest import write_config


def picture(seed: int, size: tuple[int, int] = (96, 72)) -> Image.Image:
    """A smooth random picture: distinct seeds give perceptual hashes far apart (like different photos)."""
    rng = np.random.default_rng(seed)
    blocks = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8))
    return blocks.resize(size, Image.Resampling.BICUBIC)


def encode(image: Image.Image, fmt: str = "JPEG", **params: Any) -> bytes:
    if fmt == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
    buf = io.BytesIO()
    image.save(buf, fmt, **params)
    return buf.getvalue()


def photo(seed: int, fmt: str = "JPEG", size: tuple[int, int] = (96, 72), **params: Any) -> bytes:
    if fmt == "JPEG":
        params.setdefault("quality", 92)
    return encode(picture(seed, size), fmt, **params)


def resaved(data: bytes, quality: int = 60) -> bytes:
    """The same picture saved again (different bytes, same picture to the eye): a near-duplicate."""
    with Image.open(io.BytesIO(data)) as im:
        return encode(im.convert("RGB"), "JPEG", quality=quality)


def exif_bytes(*, orientation: int | None = None, taken: str | None = None, offset: str | None = None,
               gps: bool = False, subsec: str | None = None) -> bytes:
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    sub = exif.get_ifd(0x8769)
    if taken:
        sub[0x9003] = taken
    if offset:
        sub[0x9011] = offset
    if subsec:
        sub[0x9291] = subsec
    if gps:
        exif.get_ifd(0x8825).update({1: "N", 2: (40.0, 25.0, 1.5), 3: "W", 4: (3.0, 42.0, 7.0)})
    return exif.tobytes()


def png_bomb(side: int = 12_000) -> bytes:
    """A valid 1-bit PNG of side×side pixels (144 MP at 12000) that compresses to a few kilobytes."""
    row = b"\x00" + b"\x00" * ((side + 7) // 8)
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def noise_png(side: int, seed: int = 0) -> bytes:
    """An incompressible PNG of about 3*side*side bytes."""
    rng = np.random.default_rng(seed)
    return encode(Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)), "PNG")


def make_config(root: Path, **ingest: Any) -> Config:
    """A pawpost home under `root` with these [ingest] settings (stable_seconds small, for fast tests)."""
    ingest.setdefault("stable_seconds", 0.3)
    path = write_config(root, {"ingest": ingest})
    config = load_config(path)
    config.paths.data.mkdir(parents=True, exist_ok=True)
    return config
