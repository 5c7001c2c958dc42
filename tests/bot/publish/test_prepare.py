"""The posted copy of a photo: ratio limits with the pet kept in frame, no GPS, size limits, orientation."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from bot.drafts.media import first_photo
from bot.publish.prepare import MAX_BYTES, MAX_RATIO, MAX_WIDTH, MIN_RATIO, pet_boxes, plan_frame, prepare_photo
from tests.bot.publish.conftest import make_draft

RED = (220, 20, 20)


def photo_with_pet(path: Path, size: tuple[int, int], box: tuple[int, int, int, int], **save) -> Path:
    """A grey photo with the 'pet' as a red block at `box`."""
    im = Image.new("RGB", size, (128, 128, 128))
    ImageDraw.Draw(im).rectangle(box, fill=RED)
    im.save(path, "JPEG", quality=92, **save)
    return path


def red_pixels(path: Path) -> int:
    with Image.open(path) as im:
        rgb = im.convert("RGB")
        small = rgb.resize((rgb.width // 4, rgb.height // 4), Image.Resampling.NEAREST)
        return sum(1 for r, g, b in small.getdata() if r > 180 and g < 80 and b < 80)


def inside(box, crop) -> bool:
    return crop[0] <= box[0] and crop[1] <= box[1] and box[2] <= crop[2] and box[3] <= crop[3]


def test_a_9_16_portrait_is_cropped_to_4_5_around_the_pet(tmp_path):
    box = (300, 1250, 600, 1550)  # the pet sits near the bottom: a centre crop would cut it off
    src = photo_with_pet(tmp_path / "tall.jpg", (900, 1600), box)
    assert not inside(box, plan_frame(900, 1600).crop)

    out = prepare_photo(src, tmp_path / "out.jpg", [box])

    assert MIN_RATIO <= out.width / out.height <= MAX_RATIO
    assert (out.width, out.height) == (900, 1125)
    assert inside(box, out.frame.crop)
    whole = red_pixels(src)
    assert red_pixels(out.path) == pytest.approx(whole, rel=0.05)  # all of the pet made it into the frame


def test_a_3_1_panorama_is_cropped_to_1_91_around_the_pet(tmp_path):
    box = (40, 120, 260, 420)
    src = photo_with_pet(tmp_path / "pano.jpg", (1500, 500), box)

    out = prepare_photo(src, tmp_path / "out.jpg", [box])

    assert MIN_RATIO <= out.width / out.height <= MAX_RATIO
    assert out.height == 500 and out.width == 955
    assert inside(box, out.frame.crop) and out.frame.crop[0] == 0
    assert red_pixels(out.path) == pytest.approx(red_pixels(src), rel=0.05)


def test_two_pets_far_apart_are_both_kept_by_padding_instead_of_cutting(tmp_path):
    left, right = (20, 100, 220, 400), (1280, 100, 1480, 400)
    im = Image.new("RGB", (1500, 500), (128, 128, 128))
    ImageDraw.Draw(im).rectangle(left, fill=RED)
    ImageDraw.Draw(im).rectangle(right, fill=RED)
    im.save(tmp_path / "two.jpg", quality=92)

    out = prepare_photo(tmp_path / "two.jpg", tmp_path / "out.jpg", [left, right])

    assert out.frame.padded
    assert MIN_RATIO <= out.width / out.height <= MAX_RATIO
    assert inside(left, out.frame.crop) and inside(right, out.frame.crop)
    assert red_pixels(out.path) == pytest.approx(red_pixels(tmp_path / "two.jpg") * (out.width / 1500) ** 2,
                                                 rel=0.1)


def test_without_boxes_the_crop_is_centred(tmp_path):
    frame = plan_frame(900, 1600)
    assert frame.crop == (0, 237, 900, 1362)
    assert plan_frame(1500, 500).crop == (272, 0, 1227, 500)
    assert plan_frame(1000, 1000).crop == (0, 0, 1000, 1000)


def test_gps_and_other_exif_are_gone_from_the_posted_copy(tmp_path):
    exif = Image.Exif()
    exif[0x010F] = "PetCam"  # Make
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (40.0, 25.0, 1.0), 3: "W", 4: (3.0, 42.0, 2.0)})
    src = photo_with_pet(tmp_path / "gps.jpg", (800, 1000), (100, 100, 300, 300), exif=exif)
    with Image.open(src) as im:
        assert im.getexif().get_ifd(0x8825)  # the source really has a location

    out = prepare_photo(src, tmp_path / "out.jpg")

    with Image.open(out.path) as im:
        assert not im.getexif().get_ifd(0x8825)
        assert 0x8825 not in im.getexif() and 0x010F not in im.getexif()
        assert "exif" not in im.info and im.format == "JPEG"
    raw = out.path.read_bytes()
    assert b"PetCam" not in raw and b"Exif\x00\x00" not in raw


def test_a_50_megapixel_photo_comes_out_at_most_1440_wide_and_under_8_mb(tmp_path):
    width, height = 8660, 5774  # 50.0 megapixels, 3:2
    im = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    ImageDraw.Draw(im).rectangle((4000, 2000, 5200, 3600), fill=RED)
    im.save(tmp_path / "big.jpg", quality=95)
    del im

    out = prepare_photo(tmp_path / "big.jpg", tmp_path / "out.jpg", [(4000, 2000, 5200, 3600)])

    assert out.width <= MAX_WIDTH and out.width == 1440
    assert out.size_bytes < MAX_BYTES and out.path.stat().st_size == out.size_bytes
    assert MIN_RATIO <= out.width / out.height <= MAX_RATIO
    assert red_pixels(out.path) > 0


def test_exif_orientation_is_applied_before_framing(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: rotate 90 degrees clockwise to view
    im = Image.new("RGB", (1600, 900), (128, 128, 128))
    im.save(tmp_path / "sideways.jpg", exif=exif)

    out = prepare_photo(tmp_path / "sideways.jpg", tmp_path / "out.jpg")

    assert (out.width, out.height) == (900, 1125)  # upright 900x1600, cropped to 4:5


def test_transparency_and_cmyk_become_plain_srgb_jpeg(tmp_path):
    Image.new("RGBA", (500, 500), (10, 200, 10, 0)).save(tmp_path / "clear.png")
    Image.new("CMYK", (500, 500), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg")

    clear = prepare_photo(tmp_path / "clear.png", tmp_path / "a.jpg")
    cmyk = prepare_photo(tmp_path / "cmyk.jpg", tmp_path / "b.jpg")

    for out in (clear, cmyk):
        with Image.open(out.path) as im:
            assert im.format == "JPEG" and im.mode == "RGB" and "icc_profile" not in im.info
    with Image.open(clear.path) as im:
        assert im.getpixel((250, 250)) > (240, 240, 240)  # transparent -> white, not black


def test_an_unreadable_photo_is_bad_content(tmp_path):
    from bot.publish.errors import BadContent

    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(BadContent, match="cannot be read"):
        prepare_photo(tmp_path / "broken.jpg", tmp_path / "out.jpg")


def test_a_library_read_error_is_retried_later_not_a_bad_photo(tmp_path, monkeypatch):
    import errno

    from bot.publish.errors import ErrorKind, PublishError

    source = tmp_path / "ok.jpg"
    Image.new("RGB", (400, 500)).save(source)

    def disk_error(*args, **kwargs):
        raise OSError(errno.EIO, "Input/output error")  # a failing disk or a network share gone away

    monkeypatch.setattr(Image, "open", disk_error)
    with pytest.raises(PublishError) as caught:
        prepare_photo(source, tmp_path / "out.jpg")
    assert caught.value.kind == ErrorKind.TRANSIENT


def test_pet_boxes_come_from_recognition(store):
    draft_id = make_draft(store, boxes=[[10, 20, 110, 220], [300, 40, 380, 200]])
    photo_id = first_photo(store, draft_id)

    assert pet_boxes(store, photo_id) == [(10.0, 20.0, 110.0, 220.0), (300.0, 40.0, 380.0, 200.0)]

    pet = store.insert("pets", name="Lola", species="dog", created_at="2026-01-01T00:00:00+00:00")
    store.insert("photo_pets", photo_id=photo_id, pet_id=pet, confidence=0.9, box="[12, 22, 100, 200]",
                 source="model")
    assert pet_boxes(store, photo_id) == [(12.0, 22.0, 100.0, 200.0)]


def test_the_posted_copy_is_written_atomically(tmp_path):
    src = photo_with_pet(tmp_path / "p.jpg", (600, 600), (0, 0, 10, 10))
    dest = tmp_path / "sub" / "out.jpg"

    prepare_photo(src, dest)

    assert sorted(p.name for p in dest.parent.iterdir()) == ["out.jpg"]
    assert Image.open(io.BytesIO(dest.read_bytes())).size == (600, 600)
