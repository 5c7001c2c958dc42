"""The review site in a real browser (Chromium driven by Playwright, against the real server on a free port):
log in by the one-time link, see the photo rendered, pick a candidate, edit, approve, find it on the schedule,
and the CLI agrees; on a phone-sized screen nothing is wider than the screen.

Chromium comes from the system (Debian: apt-get install chromium; .ci/run installs it). In CI a missing
browser fails the test; elsewhere it is skipped with the reason.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from bot.drafts.media import first_photo
from tests.bot.web.conftest import PETS, add_draft, free_port, set_pet
from tests.conftest import REPO, run_cli, write_config

CHROMIUM = os.environ.get("PAWPOST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
PHONE = {"width": 390, "height": 844}
CANDIDATES = ["Blanket burrito mode: on 🐶 #chihuahua",
              "Rain outside, zero walks taken, no regrets #rescuedog",
              "I supervised the laundry. It went well."]


def _browser_or_skip() -> str:
    if Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    message = f"no Chromium at {CHROMIUM}: apt-get install chromium (or set PAWPOST_CHROMIUM)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _photo() -> bytes:
    """A tall photo with a 'dog' near the bottom, so the 4:5 crop visibly keeps it in frame."""
    from PIL import Image, ImageDraw

    im = Image.linear_gradient("L").resize((900, 1600)).convert("RGB")
    im = Image.merge("RGB", (im.getchannel(0), im.getchannel(0).point(lambda v: 120 + v // 3),
                             im.getchannel(0).point(lambda v: 200 - v // 4)))
    draw = ImageDraw.Draw(im)
    draw.ellipse((300, 1230, 620, 1530), fill=(196, 150, 96))
    draw.ellipse((340, 1150, 480, 1290), fill=(196, 150, 96))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=88)
    return buf.getvalue()


@pytest.fixture
def live_site(tmp_path: Path) -> Any:
    """The real server (uvicorn on a thread, login required) with one pending draft; yields (url, config, id)."""
    from bot.config import load_config
    from bot.store.database import Store
    from bot.vision.pets import ensure_pets
    from bot.web.server import WebThread
    from tests.bot.publish.conftest import make_draft

    port = free_port()
    config_path = write_config(tmp_path / "site", {
        "web": {"listen": f"127.0.0.1:{port}", "require_login": True},
        "schedule": {"timezone": "UTC", "slots": ["09:30", "19:00"], "jitter_minutes": 0, "max_posts_per_day": 2},
    }, pets=PETS)
    config = load_config(config_path)
    store = Store.for_config(config)
    ensure_pets(store, config)
    draft_id = add_draft(store, CANDIDATES, source_name="IMG_2231.HEIC", boxes=[[300, 1150, 620, 1530]])
    # its photo: replace the flat test JPEG with one that shows what the crop keeps
    path = store.abspath(store.photo(first_photo(store, draft_id))["path"])
    path.write_bytes(_photo())
    set_pet(store, draft_id, "Lola", 0.91)
    other = make_draft(store, "Sunday sun, Sunday nap ☀️", status="approved")
    store.close()
    server = WebThread(config).start()
    deadline = time.monotonic() + 20
    while not server.server.started:
        assert time.monotonic() < deadline, "the review site did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", config_path, draft_id, other
    server.stop()


def _no_horizontal_overflow(page: Any) -> None:
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{page.url} is {width[0]}px wide on a {width[1]}px screen"


def test_review_approve_and_schedule_in_a_real_browser(live_site: Any, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    executable = _browser_or_skip()
    base, config_path, draft_id, other = live_site
    link = run_cli("web", "--url", config=config_path)
    assert link.returncode == 0, link.stderr
    url = link.stdout.strip()
    assert url.startswith(f"{base}/login?token=")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport=PHONE, device_scale_factor=1)
            page.goto(base + "/")
            assert "Please log in" in page.content()  # no session yet

            page.goto(url)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(base + "/")
            card = page.locator(f"#draft-{draft_id}")
            assert "IMG_2231.HEIC" in card.inner_text()

            image = card.locator("img.photo")
            image.scroll_into_view_if_needed()
            page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
            natural = image.evaluate("img => [img.naturalWidth, img.naturalHeight]")
            assert natural == [900, 1125]  # the 4:5 posted copy, not the 9:16 original
            _no_horizontal_overflow(page)
            page.screenshot(path=str(tmp_path / "review.png"), full_page=True)
            if os.environ.get("README_SCREENSHOT"):  # the README's picture: README_SCREENSHOT=docs/review-page.png
                shutil.copy(tmp_path / "review.png", REPO / os.environ["README_SCREENSHOT"])

            card.locator("label.candidate").nth(1).click()
            box = card.locator("textarea[name=caption]")
            assert box.input_value() == CANDIDATES[1]
            edited = CANDIDATES[1] + " @lola_the_dog"
            box.fill(edited)
            assert card.locator('[data-count="chars"]').inner_text() == str(len(edited))
            assert card.locator('[data-count="mentions"]').inner_text() == "1"
            card.get_by_role("button", name="Approve").click()
            page.wait_for_url(base + "/")
            assert f"Draft {draft_id} approved for the next free slot" in page.locator(".flash").inner_text()
            assert page.locator(f"#draft-{draft_id}").count() == 0

            page.goto(base + "/schedule")
            slots = page.locator("ol.slots").inner_text()
            assert f"Draft {draft_id}" in slots and f"Draft {other}" in slots
            for path in ("/schedule", "/posted", "/status", f"/drafts/{draft_id}"):
                page.goto(base + path)
                _no_horizontal_overflow(page)
        finally:
            browser.close()

    shown = run_cli("drafts", "show", str(draft_id), "--json", config=config_path)
    assert shown.returncode == 0, shown.stderr
    d = json.loads(shown.stdout)
    assert (d["status"], d["caption"], d["edited"]) == ("approved", edited, True)
    schedule = json.loads(run_cli("schedule", "--json", config=config_path).stdout)
    assert draft_id in [s["draft_id"] for s in schedule["slots"]]


def test_reorder_a_carousel_and_approve_it_on_a_phone(live_site: Any) -> None:
    """The strip of a post of three photos: swiped inside the card (never the page), a photo moved earlier by the
    keyboard and another by a tap, then approved; the CLI sees the new order."""
    from playwright.sync_api import sync_playwright

    from bot.config import load_config
    from bot.drafts.editing import add_photo
    from bot.store.database import Store
    from tests.bot.drafts.test_media import photo

    executable = _browser_or_skip()
    base, config_path, draft_id, _ = live_site
    with Store.for_config(load_config(config_path)) as store:
        first = first_photo(store, draft_id)
        second, third = photo(store, "sofa", "Lola"), photo(store, "park", "Bruno")
        for photo_id in (second, third):
            add_photo(store, draft_id, photo_id)
    url = run_cli("web", "--url", config=config_path).stdout.strip()

    def order(card: Any) -> list[int]:
        return [int(i.rsplit("-", 1)[1]) for i in card.locator("li.medium").evaluate_all("els => els.map(e => e.id)")]

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport=PHONE, device_scale_factor=1)
            page.goto(url)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(base + "/")
            card = page.locator(f"#draft-{draft_id}")
            assert order(card) == [first, second, third]
            strip = card.locator("ol.strip")
            assert strip.evaluate("el => el.scrollWidth > el.clientWidth")  # the strip swipes, inside the card
            _no_horizontal_overflow(page)

            card.get_by_role("button", name="move photo 3 earlier").focus()  # the keyboard: focus, then Enter
            page.keyboard.press("Enter")
            page.wait_for_url(f"{base}/#photo-{draft_id}-{third}")
            card = page.locator(f"#draft-{draft_id}")
            assert order(card) == [first, third, second]
            assert f"photo {third} moved to place 2" in page.locator(".flash").inner_text()
            _no_horizontal_overflow(page)

            with page.expect_navigation():
                card.get_by_role("button", name="move photo 2 earlier").click()
            if os.environ.get("CAROUSEL_SCREENSHOT"):
                page.screenshot(path=os.environ["CAROUSEL_SCREENSHOT"], full_page=True)
            card = page.locator(f"#draft-{draft_id}")
            assert order(card) == [third, first, second]
            card.get_by_role("button", name="Approve").click()
            page.wait_for_url(base + "/")
            assert f"Draft {draft_id} approved" in page.locator(".flash").inner_text()
            for path in ("/schedule", "/posted", f"/drafts/{draft_id}"):
                page.goto(base + path)
                _no_horizontal_overflow(page)
            page.goto(base + "/schedule")
            assert page.locator(f'.cover:has(img[src="/drafts/{draft_id}/image"]) .count-badge').inner_text() == "3"
        finally:
            browser.close()

    shown = json.loads(run_cli("drafts", "show", str(draft_id), "--json", config=config_path).stdout)
    assert shown["status"] == "approved"
    assert [m["photo_id"] for m in shown["media"]] == [third, first, second]
