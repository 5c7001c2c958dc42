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


def test_the_daemons_status_line_is_made_from_status(config, store, monkeypatch):
    from bot.status import status_line
    from bot.store.keys import COOLDOWN_UNTIL, POSTING_STOPPED

    monkeypatch.setenv("PAWPOST_FAKE_NOW", NOW.isoformat())
    assert status_line(status(store, config)) == "photos waiting: none; drafts: none"

    make_draft(store, "queued")
    make_draft(store, "to review", status="pending")
    store.put(POSTING_STOPPED, "Instagram asks to confirm it is you: open the app, then run 'pawpost login'.")
    store.put(COOLDOWN_UNTIL, "2026-11-20T09:00:00+00:00")
    assert status_line(status(store, config)) == ("photos waiting: none; drafts: 1 pending, 1 approved; posting "
                                                  "stopped; cooldown until 2026-11-20T09:00:00+00:00")
    monkeypatch.setenv("PAWPOST_FAKE_NOW", at("2026-11-20 09:00").isoformat())  # the cooldown is over
    assert status_line(status(store, config)).endswith("; posting stopped")
