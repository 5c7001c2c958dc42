"""The owner's undo and corrections on the review page in a real browser (Chromium, as tests/bot/web/test_browser):
approve (the message says the exact time), Unapprove, Reject then Restore, and a pet correction that fixes the
caption; the CLI agrees after each."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.bot.web.test_browser import PHONE, _browser_or_skip, _no_horizontal_overflow, live_site  # noqa: F401
from tests.conftest import run_cli


def _show(config_path: Any, draft_id: int) -> dict:
    return json.loads(run_cli("drafts", "show", str(draft_id), "--json", config=config_path).stdout)


def test_unapprove_restore_and_the_pets_fix_on_a_phone(live_site: Any) -> None:  # noqa: F811
    from playwright.sync_api import sync_playwright

    from bot.config import load_config
    from bot.store.database import Store

    executable = _browser_or_skip()
    base, config_path, draft_id, _ = live_site
    url = run_cli("web", "--url", config=config_path).stdout.strip()
    with Store.for_config(load_config(config_path)) as store:
        caption = "Lola guards the blanket fort #chihuahua"
        store.update("drafts", draft_id, caption=caption)
        store.db.execute("UPDATE candidates SET text = ? WHERE draft_id = ? AND position = 0", (caption, draft_id))

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport=PHONE, device_scale_factor=1)
            page.goto(url)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(base + "/")
            card = page.locator(f"#draft-{draft_id}")
            assert "91%" in card.locator("form.pets").inner_text()

            # Lola was wrong: Bruno (a cat) it is. Her name becomes his; dog words may not fit a cat, so the
            # card offers a regenerate beside the fixed caption.
            card.locator("label.chip", has_text="Lola").click()
            card.locator("label.chip", has_text="Bruno").click()
            card.get_by_role("button", name="Save pets", exact=True).click()
            page.wait_for_url(re.compile(re.escape(base) + "/"))
            flash = page.locator(".flash").inner_text()
            assert f"Draft {draft_id}: pets set to Bruno" in flash and "pet names and hashtags are fixed" in flash
            shown = _show(config_path, draft_id)
            assert shown["pets"] == ["Bruno"] and shown["caption"] == "Bruno guards the blanket fort #chihuahua"
            card = page.locator(f"#draft-{draft_id}")
            assert card.locator("textarea[name=caption]").input_value() == shown["caption"]
            assert "Lola was a dog and Bruno is a cat" in card.locator(".note").inner_text()
            assert card.locator(".note").get_by_role("button", name="Regenerate").count() == 1

            card = page.locator(f"#draft-{draft_id}")
            card.get_by_role("button", name="Approve").click()
            page.wait_for_url(base + "/")
            flash = page.locator(".flash").inner_text()
            assert re.search(rf"Draft {draft_id} approved for the next free slot; it goes out at "
                             r"\d{4}-\d\d-\d\d \d\d:\d\d \(UTC\)", flash), flash
            assert _show(config_path, draft_id)["status"] == "approved"

            page.goto(f"{base}/drafts/{draft_id}")
            page.get_by_role("button", name="Unapprove").click()
            page.wait_for_url(f"{base}/drafts/{draft_id}")
            assert f"Draft {draft_id} is pending again" in page.locator(".flash").inner_text()
            _no_horizontal_overflow(page)
            assert _show(config_path, draft_id)["status"] == "pending"

            page.locator("summary", has_text="Regenerate or reject").click()
            page.get_by_role("button", name="Reject").click()
            page.wait_for_url(f"{base}/drafts/{draft_id}")
            assert _show(config_path, draft_id)["status"] == "rejected"
            # The review page lists the latest rejected drafts, each with its Restore button.
            page.goto(base + "/")
            rejected = page.locator("section.rejected form", has_text=f"Draft {draft_id}")
            rejected.get_by_role("button", name="Restore").click()
            page.wait_for_url(base + "/")
            assert "restored from rejected" in page.locator(".flash").inner_text()
            assert page.locator("section.rejected").count() == 0
            assert page.locator(f"#draft-{draft_id}").get_by_role("button", name="Approve").count() == 1
            _no_horizontal_overflow(page)
        finally:
            browser.close()

    assert _show(config_path, draft_id)["status"] == "pending"
