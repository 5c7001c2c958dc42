"""`pawpost run` with [web] enabled and a notifier that hangs: the page is served, the post goes out anyway,
and the daemon still stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from bot import timeutil
from tests.bot.conftest import Receiver
from tests.bot.daemon.test_supervisor import Bot, wait_for
from tests.bot.publish.conftest import make_draft
from tests.bot.web.conftest import free_port
from tests.conftest import write_config

NOW = "2026-06-01T12:01:00+00:00"  # the 12:00 slot fired a minute ago: a post is due at start


def test_the_daemon_serves_the_page_and_posts_while_a_notifier_hangs(tmp_path: Path) -> None:
    from bot.config import load_config
    from bot.store.database import Store

    hanging = Receiver("hang")
    port = free_port()
    config_path = write_config(tmp_path / "home", {
        "schedule": {"timezone": "UTC", "slots": ["12:00"], "jitter_minutes": 0, "max_posts_per_day": 1,
                     "catch_up_minutes": 60},
        "web": {"enabled": True, "listen": f"127.0.0.1:{port}"},
        "notify": {"urls": [hanging.url], "timeout_seconds": 120, "review_every_hours": 1},
    })
    with Store.for_config(load_config(config_path)) as store:
        approved = make_draft(store, "Due now #chihuahua", status="approved",
                              approved_at=timeutil.parse("2026-06-01T08:00:00+00:00"))
        pending = make_draft(store, "Waiting for you", status="pending")
    bot = Bot(config_path, tmp_path / "daemon.log", {"PAWPOST_FAKE_NOW": NOW})
    try:
        wait_for("the notifier to call the receiver", lambda: hanging.hits >= 1, bot, timeout=60)
        outbox = tmp_path / "home" / "data" / "outbox"
        wait_for("the due post", lambda: any(outbox.glob(f"*-{approved}.json")), bot, timeout=60)
        record = json.loads(next(outbox.glob(f"*-{approved}.json")).read_text())
        assert record["caption"] == "Due now #chihuahua"

        def page() -> str:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    return response.read().decode()
            except OSError:  # not listening yet
                return ""

        wait_for("the review page", lambda: f"Draft {pending}" in page(), bot, timeout=30)
        assert not hanging.release.is_set()  # the notifier is hanging all along
        assert bot.stop(timeout=20) == 0
    finally:
        if bot.alive:
            bot.kill()
        hanging.close()
    log = (tmp_path / "daemon.log").read_text()
    assert "Traceback" not in log, log
