"""The outcome table over a Reel, step by step, with the same fault rows as photos and carousels: instagrapi's
upload settings, video rupload (announcement and bytes), cover upload and configure_to_clips; the official API's REELS
container, its status check and media_publish. Only the step that makes the post (configure_to_clips,
media_publish) can leave a draft unsettled; it is never sent again by itself, and reconcile settles it when the
Reel shows up. After every scenario no caption was posted twice (the fakes' own checks).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.bot.publish.publishers.graph.test_publisher import SLOT as G_SLOT
from tests.bot.publish.publishers.graph.test_publisher import tick as graph_tick
from tests.bot.publish.publishers.graph.test_reels import reel_poster as graph_reel_poster
from tests.bot.publish.publishers.instagrapi.test_publisher import SLOT, draft_row, tick
from tests.bot.publish.publishers.instagrapi.test_reels import reel_poster
from tests.bot.publish.reels import make_reel
from tests.bot.publish.test_carousel_faults import GRAPH_ROWS, check, row_status
from tests.bot.publish.test_faults import IDS, LATER, ROWS, _check_refusal_effects

# instagrapi: every request of a Reel, in order; configure_clip makes the post.
IG_STEPS = ["upload_settings", "video_init", "upload_video", "upload", "configure_clip"]
# The official API: the REELS container, its first status check, media_publish (which makes the post).
GRAPH_STEPS = ["create_reel", "status", "media_publish"]
SETTLE = [*LATER, timedelta(days=1), timedelta(days=2)]


@pytest.mark.parametrize("step", IG_STEPS)
@pytest.mark.parametrize(("name", "answers", "outcome", "kind"), ROWS, ids=IDS)
def test_a_fault_at_each_instagrapi_reel_step(ig_config, ig_store, fake, logged_in, step, name, answers, outcome,
                                              kind):
    caption = f"Reel {step} {name} #dog"
    draft_id = make_reel(ig_store, caption)
    fake.fail_next(step, *answers)
    p = reel_poster(ig_config, ig_store)

    result = tick(p, fake, SLOT)

    creates = step == "configure_clip"
    if name == "200-unreadable-made" and not creates:
        # An upload's answer is read by its status only: a 200 is an upload, and configure_to_clips decides.
        assert result.status == "posted" and fake.count("configure_clip") == 1
        return
    assert result.outcome == outcome
    _expect(creates, outcome, kind, row_of=lambda: draft_row(ig_store, draft_id)["status"],
            made=lambda: fake.posts_with(caption), creates_sent=lambda: fake.count("configure_clip"),
            later=lambda delay: tick(p, fake, SLOT + delay))
    _check_refusal_effects(ig_store, kind)
    check(ig_store, kind)


@pytest.mark.parametrize("step", GRAPH_STEPS)
@pytest.mark.parametrize(("name", "answer", "outcome", "kind"), GRAPH_ROWS, ids=[r[0] for r in GRAPH_ROWS])
def test_a_fault_at_each_official_api_reel_step(g_config, g_store, gfake, gtoken, step, name, answer, outcome, kind):
    caption = f"Official Reel {step} {name} #dog"
    draft_id = make_reel(g_store, caption)
    gfake.fail_next(step, answer)
    p = graph_reel_poster(g_config, g_store)

    result = graph_tick(p, gfake, G_SLOT)

    assert result.outcome == outcome
    _expect(step == "media_publish", outcome, kind, row_of=lambda: row_status(g_store, draft_id),
            made=lambda: gfake.posts_per_caption()[caption], creates_sent=lambda: gfake.count("media_publish"),
            later=lambda delay: graph_tick(p, gfake, G_SLOT + delay))
    _check_refusal_effects(g_store, kind)
    check(g_store, kind)


def _expect(creates: bool, outcome: str, kind: str | None, *, row_of: Any, made: Any, creates_sent: Any,
            later: Any) -> None:
    """What the table promises after the first tick's fault, and over the ticks that follow."""
    if creates and outcome == "unknown":
        # The post may exist: unsettled, never sent again by itself, posted only once the Reel is found.
        was_made = made() == 1
        assert row_of() == "publishing"
        for delay in SETTLE:
            later(delay)
        assert creates_sent() == 1
        assert row_of() == ("posted" if was_made else "publishing")
        return
    if not creates:
        assert creates_sent() == 0 and made() == 0  # nothing is posted after a failed upload or container
    if kind == "bad_content":
        assert row_of() == "failed"
        return
    assert row_of() == "approved"
    if outcome in ("not_sent", "unknown") or kind == "transient":
        # Nothing was posted: after the backoff every upload (or container) is made again, and the Reel posted once.
        assert later(LATER[0]).status == "posted"
        assert made() == 1 and (creates or creates_sent() == 1)
