"""`pawpost run` killed in the middle of a burst: after the restart the burst is still one shoot and one draft, led
by its sharpest frame (the shoot's state is in the database, not in the daemon's memory)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import ImageFilter

from tests.bot.conftest import FAST_CAPTIONS
from tests.bot.daemon.test_supervisor import Bot, Home, wait_for
from tests.bot.photofiles import exif_bytes
from tests.conftest import write_config
from tests.tiny_vision import pet_photo

SETTLE = 45  # well above the time a tiny model takes to load on a busy machine


def frame(n: int, blur: float) -> bytes:
    image = pet_photo("red", variant=n, size=(192, 160))
    if blur:
        image = image.filter(ImageFilter.GaussianBlur(blur))
    data = io.BytesIO()
    image.save(data, "JPEG", quality=92, exif=exif_bytes(taken=f"2026:05:02 09:00:{10 + n:02d}", offset="+00:00"))
    return data.getvalue()


@pytest.mark.slow
def test_a_daemon_killed_mid_burst_neither_splits_nor_doubles_the_shoot(tmp_path: Path,
                                                                        pipeline_models: dict[str, str]) -> None:
    home = Home(tmp_path / "pawpost", pipeline_models)
    # No pets (a tiny random model's guess would decide which frames show "the same pets"), the whole frame judged,
    # and the real clock, so the shoot settles SETTLE seconds after its last frame arrived.
    write_config(home.root, {"models": {"device": "cpu", "batch_size": 2, **pipeline_models, "detector": "none"},
                             "captions": FAST_CAPTIONS, "instagram": {"publisher": "dry-run"},
                             "ingest": {"stable_seconds": 0.2, "shoot_gap_seconds": 60,
                                        "shoot_settle_seconds": SETTLE}}, [])
    try:
        bot = Bot(home.config, home.log, {})
        home.bots.append(bot)
        for n in range(3):
            home.drop(f"IMG_{n}.jpg", frame(n, blur=2.0))
        wait_for("the first frames analysed into an open shoot",
                 lambda: home.value("SELECT count(*) FROM photos WHERE shoot_id IS NOT NULL") >= 2
                 and home.value("SELECT state FROM shoots") == "open", bot)
        bot.kill()  # SIGKILL: nothing is cleaned up
        assert home.value("SELECT count(*) FROM drafts") == 0
        for n in range(3, 6):  # the rest of the burst, the sharp frame among it, copied in while it is down
            home.drop(f"IMG_{n}.jpg", frame(n, blur=0.0 if n == 4 else 2.0))

        bot = Bot(home.config, home.log, {})
        home.bots.append(bot)
        wait_for("the burst drafted", lambda: home.value("SELECT count(*) FROM drafts") >= 1
                 and home.photos()["new"] == 0, bot)
        sharp = home.value("SELECT id FROM photos WHERE source_name = 'IMG_4.jpg'")
        assert home.value("SELECT count(*) FROM shoots") == 1
        assert home.query("SELECT DISTINCT shoot_id FROM photos") == [(1,)]
        assert home.value("SELECT count(*) FROM drafts") == 1
        assert home.query("SELECT photo_id FROM draft_media") == [(sharp,)]
        assert home.photos() == {"drafted": 1, "analyzed": 5}
        assert bot.stop() == 0
    finally:
        home.cleanup()
