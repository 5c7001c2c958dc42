"""bot/vision/images.py: the one way pawpost opens a photo for a model (vision, captions, training alike)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.captions.context import MAX_SIDE, caption_image
from bot.vision.images import PhotoUnreadable, open_image
from tests.bot.photofiles import exif_bytes, photo, png_bomb


def _write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def test_a_photo_opens_upright_and_rgb_at_its_own_size(tmp_path: Path) -> None:
    # Stored 60x40 with "rotate 90°" in EXIF: the owner sees it 40x60, and so do the models.
    rotated = _write(tmp_path, "rotated.jpg", photo(1, size=(60, 40), exif=exif_bytes(orientation=6)))
    image = open_image(rotated)
    assert (image.size, image.mode) == ((40, 60), "RGB")
    grey = _write(tmp_path, "grey.png", photo(2, "PNG"))
    from PIL import Image

    Image.open(grey).convert("LA").save(grey)
    assert open_image(grey).mode == "RGB"


def test_max_side_scales_the_upright_photo_down_and_never_up(tmp_path: Path) -> None:
    big = _write(tmp_path, "big.jpg", photo(3, size=(300, 200), exif=exif_bytes(orientation=6)))
    assert open_image(big, max_side=150).size == (100, 150)
    assert open_image(big, max_side=1000).size == (200, 300)


def test_the_captioners_copy_is_scaled_to_max_side(tmp_path: Path) -> None:
    wide = _write(tmp_path, "wide.png", photo(4, "PNG", size=(MAX_SIDE * 2, 100)))
    assert caption_image(wide).size == (MAX_SIDE, 50)


@pytest.mark.parametrize("opener", [open_image, caption_image])
def test_a_photo_over_the_megapixel_limit_is_refused_before_decoding(tmp_path: Path, opener) -> None:
    # 144 MP in a few kilobytes: the captioner used to decode it (only Pillow's own guard stood in the way).
    bomb = _write(tmp_path, "bomb.png", png_bomb(12_000))
    with pytest.raises(PhotoUnreadable, match=r"over ingest\.max_megapixels = 120"):
        opener(bomb)
    with pytest.raises(PhotoUnreadable, match=r"over ingest\.max_megapixels = 100"):
        opener(bomb, 100)


def test_unreadable_files_say_why_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(PhotoUnreadable, match=r"^cannot read .*gone\.jpg: No such file or directory$"):
        open_image(tmp_path / "gone.jpg")
    text = _write(tmp_path, "notes.jpg", b"not an image at all")
    with pytest.raises(PhotoUnreadable, match=r"notes\.jpg is not an image pawpost can read \(Unidentified"):
        caption_image(text)
    truncated = _write(tmp_path, "half.jpg", photo(5)[:300])
    with pytest.raises(PhotoUnreadable, match=r"half\.jpg is not an image pawpost can read"):
        open_image(truncated)
