"""A Reel through the official API (fake graph.instagram.com): a REELS container from the staged video and cover,
polled while Instagram processes the video, then one media_publish. A container that never finishes, or ends in
ERROR, posts nothing; a later attempt makes a new one and never publishes the old one.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.publish.poster import Poster
from bot.publish.publishers.graph.publisher import GraphPublisher
from bot.publish.staging import staging_dir
from bot.video.reelcheck import reel_problems
from tests.bot.publish.fake_graph import Lost
from tests.bot.publish.publishers.graph.test_publisher import SLOT, Sleeps, attempts, row, tick
from tests.bot.publish.reels import make_reel, reel_ready


def reel_poster(config: Any, store: Any, sleeps: Sleeps | None = None) -> Poster:
    sleep = sleeps if sleeps is not None else Sleeps()
    return Poster(store, reel_ready(config), GraphPublisher(config, store, sleep=sleep))


def kept_reel(config: Any, store: Any, draft_id: int) -> Any:
    """The Reel the real prepare made of the draft's clip (and keeps)."""
    from bot.drafts.media import first_photo
    from bot.video.reelfile import cached_reel

    return cached_reel(store.data_dir, store.photo(first_photo(store, draft_id)), config.reels)


def test_a_reel_container_from_the_staged_video_and_cover_published_once(g_config, g_store, gfake, gtoken):
    draft_id = make_reel(g_store, "Zoomies 🐶 #chihuahua")
    gfake.in_progress_polls = 3  # a video takes a while
    sleeps = Sleeps()

    result = tick(reel_poster(g_config, g_store, sleeps), gfake, SLOT)

    assert result.status == "posted"
    (container_id, container), = gfake.containers.items()
    reel = kept_reel(g_config, g_store, draft_id)
    assert container["video"] == reel.read_bytes() and reel_problems(reel) == []
    assert container["cover"][:2] == b"\xff\xd8"
    assert container["video_url"].endswith(".mp4") and container["share_to_feed"] == "true"
    assert container["caption"] == "Zoomies 🐶 #chihuahua"
    assert gfake.count("status") == 4 and sleeps == [2, 3, 5]
    assert gfake.count("media_publish") == 1
    (media,) = gfake.media
    assert (media["media_type"], media["media_product_type"]) == ("VIDEO", "REELS")
    d = row(g_store, draft_id)
    assert d["media_id"] == media["id"] and d["media_url"] == f"https://www.instagram.com/reel/{media['shortcode']}/"
    assert attempts(g_store, draft_id)[0]["container_id"] == container_id
    assert not any(staging_dir(g_config).iterdir())  # the video and the cover were unstaged


def test_a_container_stuck_in_progress_fails_cleanly_and_is_never_published_later(g_config, g_store, gfake, gtoken):
    g_config.graph.reel_wait_seconds = 60
    draft_id = make_reel(g_store, "Stuck #dog")
    gfake.in_progress_polls = 10_000
    sleeps = Sleeps()
    p = reel_poster(g_config, g_store, sleeps)

    result = tick(p, gfake, SLOT)

    assert result.outcome == "refused" and result.status == "approved" and sum(sleeps) >= 60
    d = row(g_store, draft_id)
    assert "still processing the video after 60 s" in d["error"] and d["retry_after"]
    assert gfake.count("media_publish") == 0 and not gfake.media
    (stuck,) = gfake.containers
    # The stuck container finishes later; the next attempt makes its own and publishes that one only.
    gfake.in_progress_polls = 0
    gfake.containers[stuck].update(status_code="FINISHED")
    assert tick(p, gfake, SLOT + timedelta(minutes=3)).status == "posted"
    assert gfake.count("media_publish") == 1 and gfake.posts_per_caption()["Stuck #dog"] == 1
    assert gfake.containers[stuck]["status_code"] == "FINISHED"  # never published
    first, second = attempts(g_store, draft_id)
    assert first["container_id"] == stuck and second["container_id"] != stuck


def test_a_container_ending_in_error_posts_nothing(g_config, g_store, gfake, gtoken):
    draft_id = make_reel(g_store, "Broken video #dog")
    gfake.in_progress_polls = 1
    gfake.container_outcome = ("ERROR", "Error: 2207026 The video format is not supported")

    result = tick(reel_poster(g_config, g_store), gfake, SLOT)

    assert result.outcome == "refused" and result.status == "failed"
    d = row(g_store, draft_id)
    assert "could not process the video" in d["error"] and "2207026" in d["error"]
    assert gfake.count("media_publish") == 0 and not gfake.media


def test_a_lost_publish_answer_is_settled_by_finding_the_reel(g_config, g_store, gfake, gtoken):
    draft_id = make_reel(g_store, "Published, answer lost #dog")
    gfake.fail_next("media_publish", Lost(lands=True))
    p = reel_poster(g_config, g_store)

    assert tick(p, gfake, SLOT).status == "publishing"
    looks = p.reconcile(SLOT + timedelta(minutes=5), force=True)

    assert [(lk.draft_id, lk.decision) for lk in looks] == [(draft_id, "posted")]
    assert row(g_store, draft_id)["media_id"] == gfake.media[0]["id"] and gfake.count("media_publish") == 1
