"""Times the owner types are ISO 8601 dates with 24-hour times everywhere, and are shown the same way: `--at`, the
review loop and the page's time fields (plain text fields, not the browser's locale-dependent picker)."""

from __future__ import annotations

import re
from datetime import timedelta

from bot import timeutil
from tests.bot.web.conftest import add_draft, form_token
from tests.conftest import run_cli


def test_at_takes_iso_24_hour_times_only(client, web_store, web_home):
    first = add_draft(web_store, ["one"])
    second = add_draft(web_store, ["two"])
    day = (timeutil.now() + timedelta(days=3)).strftime("%Y-%m-%d")
    cfg = web_home / "pawpost.toml"

    twelve = run_cli("drafts", "approve", str(first), "--at", f"{day} 7:45 PM", config=cfg)
    iso_t = run_cli("drafts", "approve", str(first), "--at", f"{day}T19:45", config=cfg)
    shown = run_cli("drafts", "show", str(first), config=cfg)

    assert twelve.returncode == 1 and "YYYY-MM-DD HH:MM, local, 24-hour" in twelve.stderr
    assert iso_t.returncode == 0, iso_t.stderr
    assert f"it goes out at {day} 19:45 (UTC)" in iso_t.stdout
    assert f"at:      {day} 19:45" in shown.stdout

    page = client.get(f"/drafts/{first}").text
    field = re.search(r'<input type="text"[^>]*name="at" value="([^"]*)"', page)
    assert field and field.group(1) == f"{day} 19:45"
    assert 'type="datetime-local"' not in page and 'type="datetime-local"' not in client.get("/schedule").text

    done = client.post(f"/drafts/{second}/approve", data={"csrf": form_token(client), "when": "at",
                                                          "at": f"{day} 09:05", "caption": "two"},
                       follow_redirects=True)
    assert done.status_code == 200
    assert f"Draft {second} approved for {day} 09:05; it goes out at {day} 09:05 (UTC)" in done.text
