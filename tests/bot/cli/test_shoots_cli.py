"""Shoots end to end through `pawpost ingest`: three bursts dropped out of order and copied in slowly become three
drafts (three carousels with drafts.carousel = "auto"), each led by its sharpest frame, which `drafts show` explains."""

from __future__ import annotations

import io
import json
import os
import random
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageFilter

from tests.bot.conftest import FAST_CAPTIONS
from tests.bot.photofiles import exif_bytes
from tests.conftest import run_cli, write_config
from tests.tiny_vision import pet_photo

LOOKS = ("red", "blue", "green")
BLUR = (0.0, 1.5, 3.0)  # frame 0 of each shoot is the sharp one


def frame(shoot: int, n: int) -> bytes:
    """Frame n of shoot `shoot`: its own picture (far from the others' perceptual hashes, so never taken for a
    near-identical frame), blurred by BLUR[n], with the shoot's EXIF capture time plus n seconds (shoots an hour
    apart)."""
    image = pet_photo(LOOKS[(shoot + n) % 3], variant=7 * shoot + 3 * n, size=(192, 160))
    if BLUR[n]:
        image = image.filter(ImageFilter.GaussianBlur(BLUR[n]))
    exif = exif_bytes(taken=f"2026:05:02 {9 + shoot:02d}:00:{10 + n:02d}", offset="+00:00")
    data = io.BytesIO()
    image.save(data, "JPEG", quality=92, exif=exif)
    return data.getvalue()


def keep_writing(paths: list[Path], done: threading.Event) -> None:
    """A slow copy: the files keep changing (as a copy in progress does) until `done`."""
    while not done.wait(0.2):
        for path in paths:
            with open(path, "ab") as fh:
                fh.write(b"\0")


def home(root: Path, models: dict[str, str], carousel: str) -> Path:
    # No pets: which pet a tiny random model sees is chance; shoots here are told apart by their capture times.
    # The detector "none" judges each whole frame, so its sharpness alone decides the lead.
    sections: dict[str, dict[str, Any]] = {
        "models": {"device": "cpu", "batch_size": 4, **models, "detector": "none"},
        "captions": FAST_CAPTIONS,
        "ingest": {"stable_seconds": 1, "shoot_gap_seconds": 60, "shoot_settle_seconds": 3600},
        "drafts": {"carousel": carousel, "carousel_max": 6},
    }
    return write_config(root, sections, [])


@pytest.mark.parametrize("carousel", ["offer", "auto"])
def test_three_bursts_copied_in_slowly_become_three_drafts_led_by_the_sharpest(
        tmp_path: Path, pipeline_models: dict[str, str], carousel: str) -> None:
    config = home(tmp_path / "home", pipeline_models, carousel)
    inbox = tmp_path / "home" / "inbox"
    files = [(s, n) for s in range(3) for n in range(3)]
    random.Random(5).shuffle(files)  # arrival order is not capture order
    names = {(s, n): f"IMG_{i:04d}.jpg" for i, (s, n) in enumerate(files)}
    settled = time.time() - 120
    first_wave, second_wave = files[:5], files[5:]
    for key in first_wave:
        path = inbox / names[key]
        path.write_bytes(frame(*key))
        os.utime(path, (settled, settled))
    for key in second_wave:  # still being copied in: half written, and growing while the first ingest runs
        (inbox / names[key]).write_bytes(frame(*key)[:1000])
    copying = threading.Event()
    copier = threading.Thread(target=keep_writing, args=([inbox / names[k] for k in second_wave], copying))
    copier.start()
    try:
        first = run_cli("ingest", "--json", config=config)
    finally:
        copying.set()
        copier.join()
    assert first.returncode == 0, first.stderr
    doc = json.loads(first.stdout)
    assert doc["accepted"] == 5 and len(doc["waiting"]) == 4
    assert doc["processed"]["drafted"] == 0  # the bursts are not complete: no shoot is drafted yet

    for key in second_wave:  # the copy finishes
        (inbox / names[key]).write_bytes(frame(*key))
        os.utime(inbox / names[key], (settled, settled))
    second = run_cli("ingest", "--json", config=config)
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["accepted"] == 4

    drafts = json.loads(run_cli("drafts", "list", "--json", config=config).stdout)
    assert len(drafts) == 3
    for draft in drafts:
        media = [m["file_name"] for m in draft["media"]]
        shoot = next(s for (s, n), name in names.items() if name == media[0])
        assert media[0] == names[(shoot, 0)], "the sharp frame leads"
        if carousel == "auto":
            assert sorted(media) == sorted(names[(shoot, n)] for n in range(3))
        else:
            assert media == [names[(shoot, 0)]]
        shown = json.loads(run_cli("drafts", "show", str(draft["id"]), "--json", config=config).stdout)
        assert shown["lead_reason"].startswith("sharpest of 3")
        assert shown["taken_at_source"] == "exif"
        text = run_cli("drafts", "show", str(draft["id"]), config=config).stdout
        assert re.search(r"leads:\s+sharpest of 3", text)
    status = json.loads(run_cli("status", "--json", config=config).stdout)
    drafted = 9 if carousel == "auto" else 3
    assert status["photos"].get("drafted", 0) == drafted and status["photos"].get("analyzed", 0) == 9 - drafted


def test_a_blurred_or_dark_copy_never_leads_over_its_original() -> None:
    from bot.vision.shotscore import score

    original = pet_photo("red", 1, size=(192, 160))
    blurred = original.filter(ImageFilter.GaussianBlur(2))
    dark = Image.eval(original, lambda v: int(v * 0.35))
    totals = [score(image, [])["total"] for image in (original, blurred, dark)]
    assert totals[0] > totals[1] and totals[0] > totals[2]
