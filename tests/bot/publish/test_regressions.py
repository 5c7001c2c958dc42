"""The three ways a hostile Instagram broke exactly-once, replayed through the real instagrapi client.

1. configure answered 408 after Instagram made the post: the draft was re-sent (a restart, `pawpost post`).
2. challenge_required / feedback_required on the photo upload: the draft was failed, and the next one, and so on.
3. a feed that lags longer than one look: the account's older posts were taken as proof of "not posted".
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.errors import PawpostError
from bot.status import status
from tests.bot.publish.conftest import at, make_draft
from tests.bot.publish.fake_instagram import CHALLENGE, FEEDBACK_REQUIRED, Answer, Timeout
from tests.bot.publish.publishers.instagrapi.test_publisher import SLOT, draft_row, poster, tick

EVENING = at("2026-11-20 19:00")


def test_a_408_after_the_post_was_made_is_never_sent_again(ig_config, ig_store, fake, logged_in):
    caption = "Four-oh-eight #chihuahua"
    draft_id = make_draft(ig_store, caption)
    fake.fail_next("configure", Answer(408, "", lands=True))

    first = tick(poster(ig_config, ig_store), fake, SLOT)

    assert first.status == "publishing" and first.outcome == "unknown"
    # The daemon restarted three minutes later, before any look at the feed...
    restarted = poster(ig_config, ig_store)
    fake.fail_next("feed", Answer(500, {"message": "Oops, an error occurred.", "status": "fail"}))
    tick(restarted, fake, SLOT + timedelta(minutes=3))
    # ...and the owner ran `pawpost post` a minute after that.
    with pytest.raises(PawpostError, match="unsettled"):
        restarted.post_now(draft_id, SLOT + timedelta(minutes=4))

    assert fake.count("configure") == 1 and fake.posts_with(caption) == 1
    assert draft_row(ig_store, draft_id)["status"] == "publishing"
    assert tick(restarted, fake, SLOT + timedelta(minutes=5)).status == "posted"  # the next look finds it
    assert fake.count("configure") == 1


@pytest.mark.parametrize(("answer", "blocked"), [(CHALLENGE, "posting_stopped"), (FEEDBACK_REQUIRED, "cooldown_until")],
                         ids=["challenge_required", "feedback_required"])
def test_an_account_block_on_the_upload_burns_no_draft(ig_config, ig_store, fake, logged_in, answer, blocked,
                                                       monkeypatch):
    drafts = [make_draft(ig_store, f"Draft {i} #dog", approved_at=at(f"2026-11-1{i} 10:00")) for i in range(3)]
    fake.fail_next("upload", answer)
    p = poster(ig_config, ig_store)

    result = tick(p, fake, SLOT)

    assert result.status == "approved" and result.outcome == "refused"
    assert [draft_row(ig_store, d)["status"] for d in drafts] == ["approved"] * 3
    monkeypatch.setenv("PAWPOST_FAKE_NOW", (SLOT + timedelta(minutes=1)).isoformat())
    info = status(ig_store, ig_config)
    assert info[blocked]
    if blocked == "posting_stopped":
        assert "pawpost login" in info["posting_stopped"]
    assert info["last_error"]["kind"] in ("fatal", "cooldown") and info["last_error"]["error_class"]
    # The following slots send nothing while posting is stopped or paused: no draft is burnt.
    before = len(fake.received)
    for when in (SLOT + timedelta(minutes=10), SLOT + timedelta(hours=5)):  # within the 6 h cooldown too
        assert tick(p, fake, when) is None
    assert len(fake.received) == before
    assert [draft_row(ig_store, d)["status"] for d in drafts] == ["approved"] * 3


def test_a_feed_lagging_past_the_first_looks_never_causes_a_second_post(ig_config, ig_store, fake, logged_in):
    fake.now = (SLOT - timedelta(days=3)).timestamp()
    fake._configure({"caption": "An older post"})  # the account has history: the feed "reaches back"
    caption = "Slow feed #dog"
    draft_id = make_draft(ig_store, caption)
    fake.lag = 45 * 60  # the new post shows in the feed 45 minutes after it was made
    fake.fail_next("configure", Timeout(lands=True))
    p = poster(ig_config, ig_store)

    assert tick(p, fake, SLOT).status == "publishing"
    for minutes in (3, 6, 11, 31):  # the looks before the post shows
        tick(p, fake, SLOT + timedelta(minutes=minutes))
        assert draft_row(ig_store, draft_id)["status"] == "publishing"
    assert fake.count("feed") >= 3
    assert tick(p, fake, SLOT + timedelta(minutes=61)).status == "posted"
    tick(p, fake, EVENING)

    assert fake.count("configure") == 1 and fake.posts_with(caption) == 1
