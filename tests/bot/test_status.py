"""`pawpost status`: the real next post time, the Instagram session, unsettled drafts, last error, zone labels."""

from __future__ import annotations

import json
from datetime import timedelta

from bot import timeutil
from bot.publish.slots import SlotBook
from bot.status import status
from tests.bot.publish.conftest import at, make_draft
from tests.conftest import run_cli, write_config

NOW = at("2026-11-20 08:00")


def test_next_slot_is_when_the_next_post_really_goes_out(config, store, monkeypatch):
    monkeypatch.setenv("PAWPOST_FAKE_NOW", NOW.isoformat())
    config.schedule.jitter_minutes = 10
    make_draft(store, "queued")

    jittered = status(store, config)["next_slot"]
    assert jittered == timeutil.iso(SlotBook(store, config).upcoming(NOW, 1)[0].slot.fire_at)
    assert at("2026-11-20 09:30") <= timeutil.parse(jittered) <= at("2026-11-20 09:40")

    make_draft(store, "timed", scheduled_for=at("2026-11-20 08:20"))  # approved --at 08:20
    assert status(store, config)["next_slot"] == "2026-11-20T08:20:00+00:00"


def test_next_slot_skips_a_day_whose_cap_is_reached(config, store, monkeypatch):
    monkeypatch.setenv("PAWPOST_FAKE_NOW", NOW.isoformat())
    config.schedule.jitter_minutes = 0
    for i in range(2):  # max_posts_per_day = 2, both posted today already
        d = make_draft(store, f"posted {i}", status="posted")
        store.update("drafts", d, posted_at=timeutil.iso(NOW - timedelta(hours=i + 1)))

    assert status(store, config)["next_slot"] == "2026-11-21T09:30:00+00:00"


def test_status_says_login_when_the_instagram_session_is_missing(tmp_path):
    cfg = write_config(tmp_path / "h", {"instagram": {"publisher": "instagrapi", "username": "lola"},
                                        "schedule": {"timezone": "Europe/Madrid"}})

    shown = run_cli("status", config=cfg)
    doc = run_cli("status", "--json", config=cfg)

    assert shown.returncode == 0, shown.stderr
    assert "posting cannot start: no Instagram session" in shown.stdout and "pawpost login" in shown.stdout
    assert "Europe/Madrid" in shown.stdout.split("next slot:")[1].splitlines()[0]  # times carry their zone
    assert "pawpost login" in json.loads(doc.stdout)["instagram_session"]
