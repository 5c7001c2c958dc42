"""A Reel draft on the review site: its card plays the Reel (made when first asked for, sent in ranges) with the
cover as the poster, and its cover picker changes cover_at through bot.drafts.cover; in Chromium the player says it
can play the file, knows its length and seeks, and picking a cover changes it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from bot.drafts.media import first_photo
from tests.bot.publish.video_drafts import make_reel_draft
from tests.bot.web.conftest import LOCAL, PETS, csrf_of, free_port
from tests.conftest import write_config

REELS = {"width": 360, "preset": "superfast"}
# What the made Reel is: H.264 High and AAC-LC in MP4, as the player is asked about it.
MIME = 'video/mp4; codecs="avc1.640028, mp4a.40.2"'


@pytest.fixture
def reel_home(tmp_path: Path) -> Any:
    """A home with one pending Reel draft (a 3.5 s clip, cover at 1 s); yields (config path, config, draft id)."""
    from bot.config import load_config
    from bot.store.database import Store

    path = write_config(tmp_path / "site", {"reels": REELS, "schedule": {"timezone": "UTC"},
                                            "web": {"listen": f"127.0.0.1:{free_port()}"}}, pets=PETS)
    config = load_config(path)
    with Store.for_config(config) as store:
        draft_id = make_reel_draft(store, status="pending", seconds=3.5, size=(320, 240), cover_at=1.0)
    return path, config, draft_id


def test_the_card_plays_the_reel_and_serves_it_in_ranges(reel_home: Any) -> None:
    from starlette.testclient import TestClient

    from bot.store.database import Store
    from bot.video.reelcheck import reel_problems
    from bot.web.routes import create_app

    _, config, draft_id = reel_home
    with TestClient(create_app(config), base_url=LOCAL) as client:
        page = client.get(f"/drafts/{draft_id}")
        assert page.status_code == 200
        assert f'<video class="photo reel" id="reel-{draft_id}"' in page.text
        assert f'src="/drafts/{draft_id}/video?v=' in page.text
        assert 'name="seconds"' in page.text and 'value="1.0"' in page.text  # the picker, at the cover

        whole = client.get(f"/drafts/{draft_id}/video")
        assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
        assert whole.headers["accept-ranges"] == "bytes"
        part = client.get(f"/drafts/{draft_id}/video", headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == whole.content[100:200]
        assert part.headers["content-range"] == f"bytes 100-199/{len(whole.content)}"

        with Store.for_config(config) as store:
            from bot.video.reelfile import cached_reel

            photo = store.photo(first_photo(store, draft_id))
            kept = cached_reel(store.data_dir, photo, config.reels)
        assert kept is not None and kept.read_bytes() == whole.content and reel_problems(kept) == []
        poster = client.get(f"/drafts/{draft_id}/photos/{photo['id']}/image")
        assert poster.status_code == 200 and poster.headers["content-type"] == "image/jpeg"


def test_a_photo_draft_has_no_video(reel_home: Any) -> None:
    from starlette.testclient import TestClient

    from bot.store.database import Store
    from bot.web.routes import create_app
    from tests.bot.publish.conftest import make_draft

    _, config, _ = reel_home
    with Store.for_config(config) as store:
        photo_draft = make_draft(store, "A nap", status="pending")
    with TestClient(create_app(config), base_url=LOCAL) as client:
        assert "<video" not in client.get(f"/drafts/{photo_draft}").text
        assert client.get(f"/drafts/{photo_draft}/video").status_code == 404



def test_picking_a_cover_changes_it(reel_home: Any) -> None:
    from starlette.testclient import TestClient

    from bot.store.database import Store
    from bot.web.routes import create_app

    _, config, draft_id = reel_home
    with TestClient(create_app(config), base_url=LOCAL) as client:
        token = csrf_of(client.get(f"/drafts/{draft_id}").text)
        answer = client.post(f"/drafts/{draft_id}/cover", data={"csrf": token, "seconds": "2.5",
                                                                 "next": f"/drafts/{draft_id}"},
                             follow_redirects=False)
        assert answer.status_code == 303, answer.text
        for seconds in ("nan", "soon", "99"):
            refused = client.post(f"/drafts/{draft_id}/cover", data={"csrf": token, "seconds": seconds})
            assert refused.status_code == 409, seconds
        stale = client.post(f"/drafts/{draft_id}/cover", data={"csrf": token, "seconds": "0.5", "version": "0"})
        assert stale.status_code == 409  # the page showed the draft before a change: nothing is saved
    with Store.for_config(config) as store:
        assert store.photo(first_photo(store, draft_id))["cover_at"] == pytest.approx(2.5)


def test_the_reel_plays_in_chromium_and_the_cover_is_picked(reel_home: Any) -> None:
    from playwright.sync_api import sync_playwright

    from bot.web.server import WebThread
    from tests.bot.web.test_browser import PHONE, _browser_or_skip, _no_horizontal_overflow

    executable = _browser_or_skip()
    _, config, draft_id = reel_home
    port = int(config.web.listen.rsplit(":", 1)[1])
    server = WebThread(config).start()
    deadline = time.monotonic() + 20
    while not server.server.started:
        assert time.monotonic() < deadline, "the review site did not start"
        time.sleep(0.05)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-gpu"])
            try:
                page = browser.new_page(viewport=PHONE, device_scale_factor=1)
                page.goto(f"http://127.0.0.1:{port}/drafts/{draft_id}")
                video = page.locator(f"#reel-{draft_id}")
                assert video.evaluate("(v, mime) => v.canPlayType(mime)", MIME) == "probably"
                page.wait_for_function("v => v.readyState >= 1 && isFinite(v.duration)", arg=video.element_handle(),
                                       timeout=60_000)
                assert video.evaluate("v => v.duration") == pytest.approx(3.5, abs=0.1)
                assert video.evaluate("v => v.error") is None
                _no_horizontal_overflow(page)
                # The slider moves the player to its picture (seeking needs ranges); "use the picture shown" takes the
                # player's time; setting it saves it.
                page.locator(f"#cover-{draft_id}").fill("2")
                page.wait_for_function("v => Math.abs(v.currentTime - 2) < 0.05", arg=video.element_handle())
                video.evaluate("v => { v.currentTime = 2.75; }")
                page.wait_for_function("v => Math.abs(v.currentTime - 2.75) < 0.05 && !v.seeking && v.readyState >= 2",
                                       arg=video.element_handle())
                page.get_by_role("button", name="Use the picture shown").click()
                assert float(page.locator(f"#cover-{draft_id}").input_value()) == pytest.approx(2.75, abs=0.06)
                with page.expect_navigation():
                    page.get_by_role("button", name="Set cover").click()
                assert "the cover of draft" in page.locator(".flash").inner_text()
            finally:
                browser.close()
    finally:
        server.stop()
    from bot.store.database import Store

    with Store.for_config(config) as store:
        assert store.photo(first_photo(store, draft_id))["cover_at"] == pytest.approx(2.75, abs=0.06)
