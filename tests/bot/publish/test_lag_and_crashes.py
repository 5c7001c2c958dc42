"""The unknown outcome over time and across processes, through the real instagrapi client:

- the post shows in the feed 1 min, 30 min, 6 h after it was made, or never: settled only by finding it, meanwhile
  the queue moves on and the unsettled draft counts for the daily cap;
- a SIGKILL between the configure request and its answer, then a restart;
- a second daemon started while the first is mid-publish.

Everywhere: configure requests that made a post <= 1 per draft.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import timeutil
from bot.publish.unsettled import record, state
from bot.store.states import PublishState
from tests.bot.publish.conftest import at, make_draft
from tests.bot.publish.fake_instagram import FakeInstagram, Timeout
from tests.bot.publish.publishers.instagrapi.test_publisher import SLOT, draft_row, poster, tick

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("lag", [timedelta(minutes=1), timedelta(minutes=30), timedelta(hours=6), None],
                         ids=["1min", "30min", "6h", "never"])
def test_a_lagging_feed_settles_only_by_finding_the_post(ig_config, ig_store, fake, logged_in, lag, monkeypatch):
    from bot.status import status

    fake.now = (SLOT - timedelta(days=5)).timestamp()
    fake._configure({"caption": "Last week's post"})
    caption = "Where did it go #dog"
    unsure = make_draft(ig_store, caption, approved_at=at("2026-11-10 10:00"))
    others = [make_draft(ig_store, f"Next in line {i} #dog", approved_at=at(f"2026-11-1{i + 1} 10:00"))
              for i in range(3)]
    fake.lag = lag.total_seconds() if lag is not None else float("inf")
    fake.fail_next("configure", Timeout(lands=True))
    p = poster(ig_config, ig_store)

    assert tick(p, fake, SLOT).status == "publishing"
    settled_at = None
    when = SLOT
    while when < SLOT + timedelta(hours=60):
        when += timedelta(minutes=10)
        tick(p, fake, when)
        if settled_at is None and draft_row(ig_store, unsure)["status"] == "posted":
            settled_at = when

    assert fake.count("configure") == 4 and max(fake.created().values()) == 1  # 1 unsure + 3 others, each once
    assert fake.posts_with(caption) == 1
    if lag is not None:
        assert settled_at is not None and lag <= settled_at - SLOT <= lag * 2 + timedelta(minutes=12)
        assert draft_row(ig_store, unsure)["media_id"] == next(m["id"] for m in fake.media
                                                               if m["caption"]["text"] == caption)
    else:
        assert draft_row(ig_store, unsure)["status"] == "publishing"
        rec = record(ig_store, unsure)
        last = timeutil.parse(rec["last_look"]["at"])
        assert rec["looks"] >= 10 and last - SLOT >= timedelta(hours=24)  # still looking after a day and more
        monkeypatch.setenv("PAWPOST_FAKE_NOW", when.isoformat())
        [item] = status(ig_store, ig_config)["unsettled"]
        assert item["draft_id"] == unsure and item["command"] == f"pawpost drafts resend {unsure}"
        assert timeutil.parse(item["next_look"]) > when and item["attempted_at"] == timeutil.iso(SLOT)
    # The queue moved on: the unsettled draft took 09:30's place in the daily cap; the others went at 19:00 and
    # the next day's slots.
    posted = [draft_row(ig_store, d)["posted_at"] for d in others]
    assert posted == ["2026-11-20T19:00:00+00:00", "2026-11-21T09:30:00+00:00", "2026-11-21T19:00:00+00:00"]


def _child(config: Path, state: Path, when: datetime, script: dict[str, Any] | None = None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAWPOST_")}
    argv = [sys.executable, "-m", "tests.bot.publish.child_poster", str(config), str(state), when.isoformat()]
    return subprocess.Popen([*argv, json.dumps(script or {})], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _reload(fake: FakeInstagram) -> FakeInstagram:
    fake.load()
    return fake


@pytest.mark.parametrize("lands", [True, False], ids=["post-made", "post-not-made"])
def test_sigkill_between_the_configure_and_its_answer_then_a_restart(ig_home, ig_config, ig_store, shared_account,
                                                                     lands):
    fake = shared_account
    caption = "Killed mid-flight #dog"
    draft_id = make_draft(ig_store, caption)

    child = _child(ig_home / "pawpost.toml", fake.state, SLOT, {"configure": {"kill": True, "lands": lands}})
    _, err = child.communicate(timeout=120)

    assert child.returncode == -signal.SIGKILL, err
    _reload(fake)
    assert fake.count("configure") == 1 and fake.posts_with(caption) == (1 if lands else 0)
    assert draft_row(ig_store, draft_id)["status"] == "publishing"
    assert state(ig_store, draft_id) == PublishState.SENT  # committed before the configure left
    assert record(ig_store, draft_id)["sent_at"]

    restarted = poster(ig_config, ig_store)  # the restart: same database, same account
    for minutes in (1, 3, 8, 20, 45, 120):
        tick(restarted, fake, SLOT + timedelta(minutes=minutes))

    assert fake.count("configure") == 1
    assert draft_row(ig_store, draft_id)["status"] == ("posted" if lands else "publishing")
    if not lands:  # only the owner's word sends it again, once
        look, _ = restarted.resend(draft_id, SLOT + timedelta(hours=3))
        assert look.decision == "approved"
        tick(restarted, fake, at("2026-11-20 19:00"))
        assert fake.count("configure") == 2 and fake.posts_with(caption) == 1


def test_sigkill_during_the_upload_is_approved_again_without_a_look(ig_home, ig_config, ig_store,
                                                                               shared_account):
    fake = shared_account
    draft_id = make_draft(ig_store, "Killed while uploading #dog")

    child = _child(ig_home / "pawpost.toml", fake.state, SLOT, {"upload": {"kill": True}})
    child.communicate(timeout=120)

    assert child.returncode == -signal.SIGKILL
    assert draft_row(ig_store, draft_id)["status"] == "publishing"
    assert state(ig_store, draft_id) == PublishState.STARTED  # the configure was never sent
    restarted = poster(ig_config, ig_store)
    settled = tick(restarted, _reload(fake), SLOT + timedelta(minutes=2))
    assert settled.status == "approved" and fake.count("feed") == 0  # no need to look: nothing can be there

    assert tick(restarted, fake, at("2026-11-20 19:00")).status == "posted"  # at the next slot
    assert fake.count("configure") == 1 and fake.count("upload") == 2


def test_a_second_daemon_started_mid_publish_sends_nothing(ig_home, ig_store, shared_account, tmp_path):
    fake = shared_account
    caption = "Only once please #dog"
    draft_id = make_draft(ig_store, caption)
    make_draft(ig_store, "The next one waits #dog")
    release, started = tmp_path / "release", tmp_path / "started"

    first = _child(ig_home / "pawpost.toml", fake.state, SLOT, {"configure": {"hang": str(release),
                                                                               "started": str(started)}})
    deadline = time.monotonic() + 60
    while not started.exists():
        assert first.poll() is None and time.monotonic() < deadline, first.stderr.read() if first.stderr else ""
        time.sleep(0.05)
    # The first daemon's configure is in flight (the post is made, the answer not yet back).
    second = _child(ig_home / "pawpost.toml", fake.state, SLOT + timedelta(seconds=30))
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert json.loads(out) is None  # the posting lock was held: the second daemon did nothing
    _reload(fake)
    assert fake.count("configure") == 1 and fake.count("upload") == 1

    release.write_text("go")
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert json.loads(out)["status"] == "posted"
    _reload(fake)
    assert fake.count("configure") == 1 and fake.posts_with(caption) == 1
    assert draft_row(ig_store, draft_id)["status"] == "posted"
