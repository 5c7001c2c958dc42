"""The grid preview and the page's regenerate in a real browser on a phone-sized screen (Chromium driven by
Playwright, against the real server with real tiny caption models): the grid fits the screen in three columns of
3:4 tiles, a post is moved by two taps, and a regenerate shows its progress without holding up the page."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from bot import limits
from tests.bot.web.conftest import free_port
from tests.bot.web.test_browser import PHONE, _browser_or_skip, _no_horizontal_overflow
from tests.conftest import run_cli
from tests.tiny_captions import scripted_writer, tiny_blip  # noqa: F401


@pytest.fixture
def grid_site(tmp_path: Path, tiny_blip, scripted_writer) -> Any:  # noqa: F811
    """The real server on loopback with a pending draft (captions by the tiny models), five queued posts (one a
    carousel) and one posted; yields (url, config, pending draft, queued drafts in the order they go out)."""
    from bot.captions.stage import Captioner, draft_analyzed
    from bot.drafts.media import draft_of_photo
    from bot.runtime.ml import Runtime
    from bot.store.database import Store
    from bot.web.server import WebThread
    from tests.bot.captions.conftest import add_analyzed_photo, caption_config, two_stage_models
    from tests.bot.publish.conftest import at, make_carousel, make_draft

    config = caption_config(tmp_path / "site", two_stage_models(tiny_blip, scripted_writer))
    config.web.listen = f"127.0.0.1:{free_port()}"
    with Store.for_config(config) as store:
        photo = add_analyzed_photo(store, config, {"Lola": 0.9})
        draft_analyzed(store, config, Captioner(config, Runtime("cpu")))
        pending = draft_of_photo(store, photo)
        queued = [make_draft(store, f"queued {i}", approved_at=at("2026-01-01 00:00").replace(minute=i))
                  for i in range(4)]
        carousel = make_carousel(store, "the carousel")
        store.update("drafts", carousel, approved_at="2026-01-01T00:30:00+00:00")
        gone = make_draft(store, "posted already", status="posted")
        store.update("drafts", gone, posted_at="2026-01-01T09:30:00+00:00")
    server = WebThread(config).start()
    deadline = time.monotonic() + 20
    while not server.server.started:
        assert time.monotonic() < deadline, "the review site did not start"
        time.sleep(0.05)
    yield f"http://{config.web.listen}", config, pending, [*queued, carousel]
    server.stop()


def _tiles(page: Any) -> list[str]:
    return page.locator("ol.grid li.tile").evaluate_all("els => els.map(e => e.id)")


def test_the_grid_fits_a_phone_and_a_post_moves_by_two_taps(grid_site: Any, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    executable = _browser_or_skip()
    base, config, _, queued = grid_site
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport=PHONE, device_scale_factor=1)
            page.goto(base + "/")
            page.get_by_role("link", name="Grid").click()
            page.wait_for_url(base + "/grid")
            assert _tiles(page)[:5] == [f"grid-draft-{i}" for i in reversed(queued)]
            _no_horizontal_overflow(page)
            boxes = page.locator("ol.grid li.tile").evaluate_all(
                "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; })")
            assert len(boxes) == 6
            row = boxes[:3]
            assert len({round(b[1]) for b in row}) == 1 and row[0][0] < row[1][0] < row[2][0]  # three columns
            assert boxes[3][1] > row[0][1]
            for x, _, width, height in boxes:
                assert abs(width / height - limits.GRID_TILE_RATIO) < 0.02 and x + width <= PHONE["width"]
            first = page.locator("ol.grid li.tile img").first
            page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=first.element_handle())
            assert page.locator("ol.grid .mark.stack").count() == 1
            page.screenshot(path=str(tmp_path / "grid.png"), full_page=True)

            soonest, latest = queued[0], queued[-1]
            page.locator(f"#grid-draft-{soonest} a.pick").click()  # tap 1: pick the post that goes out first
            page.wait_for_url(f"{base}/grid?pick={soonest}#picking")
            assert f"Moving draft {soonest}" in page.locator("#picking").inner_text()
            assert page.locator(f"#grid-draft-{soonest}").get_attribute("class").endswith("picked")
            _no_horizontal_overflow(page)
            page.screenshot(path=str(tmp_path / "picking.png"), full_page=True)
            with page.expect_navigation():
                page.locator(f"#grid-draft-{latest} button.place").click()  # tap 2: the top-left place
            assert f"Draft {soonest} now goes out at" in page.locator(".flash").inner_text()
            order = [int(t.rsplit("-", 1)[1]) for t in _tiles(page)[:5]]
            assert order == [soonest, *reversed(queued[1:-1]), latest]
            _no_horizontal_overflow(page)
        finally:
            browser.close()

    schedule = json.loads(run_cli("schedule", "--json", config=config.source).stdout)
    planned = [s["draft_id"] for s in schedule["slots"] if s["draft_id"]]
    assert planned[0] == latest and planned[len(queued) - 1] == soonest


def test_regenerate_shows_its_progress_and_the_page_stays_usable(grid_site: Any) -> None:
    from playwright.sync_api import sync_playwright

    from bot.store.database import Store
    from tests.bot.conftest import OtherProcessHoldsGpuLock

    executable = _browser_or_skip()
    base, config, pending, _ = grid_site
    with Store.for_config(config) as store:
        seed = store.draft(pending)["seed"]
    holder = OtherProcessHoldsGpuLock(config.paths.gpu_lock)  # the models are busy: the regenerate has to wait
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-gpu"])
            try:
                page = browser.new_page(viewport=PHONE, device_scale_factor=1)
                page.goto(f"{base}/drafts/{pending}")
                card = page.locator(f"#draft-{pending}")
                card.locator("summary", has_text="Regenerate or reject").click()
                with page.expect_navigation():
                    card.locator('details form[action$="/regenerate"] button').click()
                job = page.locator(f"#draft-{pending} .job")
                assert "writing new captions" in page.locator(".flash").inner_text()
                assert job.locator(".step").inner_text() == "waiting for the models"
                assert job.locator("progress").is_visible()
                assert card.locator('details form[action$="/regenerate"] button').is_disabled()  # one at a time
                _no_horizontal_overflow(page)
                other = browser.new_page(viewport=PHONE, device_scale_factor=1)  # the site answers meanwhile
                other.goto(base + "/grid")
                assert other.locator("ol.grid li.tile").count() == 6
                other.close()
                holder.release()  # the models come free: the page's poll sees it finish and shows the result
                page.locator(f"#draft-{pending} .job .flash").wait_for(timeout=120_000)
                assert "New captions written: " in page.locator(f"#draft-{pending} .job").inner_text()
                _no_horizontal_overflow(page)
            finally:
                browser.close()
    finally:
        holder.release()
    with Store.for_config(config) as store:
        assert store.draft(pending)["seed"] != seed
