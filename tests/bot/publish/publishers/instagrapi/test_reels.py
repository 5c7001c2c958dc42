"""A Reel through the real instagrapi client over HTTP (the fake Instagram answers): the upload settings, the video's
rupload, the cover's, then configure_to_clips once, sent again only while Instagram is still transcoding."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from bot.publish.poster import Poster
from bot.publish.publishers.instagrapi.publisher import InstagramPublisher
from tests.bot.publish.conftest import CLIENT, make_draft
from tests.bot.publish.fake_instagram import Lost
from tests.bot.publish.publishers.graph.test_publisher import Sleeps
from tests.bot.publish.publishers.instagrapi.test_publisher import SLOT, draft_row, tick
from tests.bot.publish.reels import make_reel, reel_post, reel_ready

UPLOADS = ["upload_settings", "video_init", "upload_video", "upload"]


def publisher(config: Any, store: Any, sleeps: Sleeps | None = None) -> InstagramPublisher:
    return InstagramPublisher(config, store, sleep=sleeps, **CLIENT)


def reel_poster(config: Any, store: Any, sleeps: Sleeps | None = None) -> Poster:
    return Poster(store, reel_ready(config), publisher(config, store, sleeps))


def test_a_reel_is_uploaded_with_its_cover_then_configured_once(ig_config, ig_store, fake, logged_in, tmp_path):
    reel = reel_post(tmp_path, "Zoomies on the lawn 🐶 #chihuahua")
    seen: list[list[str]] = []

    media = publisher(ig_config, ig_store).publish(
        reel, before_create=lambda: seen.append([k for _, k in fake.received]))

    # Every upload went before the post-making request was recorded as sent; configure_to_clips came after.
    assert seen == [[k for _, k in fake.received][:-1]] and fake.received[-1][1] == "configure_clip"
    assert [fake.count(k) for k in [*UPLOADS, "configure_clip"]] == [1, 1, 1, 1, 1]
    (posted,) = fake.media
    assert posted["media_type"] == 2 and posted["product_type"] == "clips"
    assert posted["caption"]["text"] == reel.caption and posted["clips_share_preview_to_feed"] == "1"
    assert posted["video_sha256"] == hashlib.sha256(reel.first.path.read_bytes()).hexdigest()
    assert posted["video_duration"] == 1.0 and posted["accessibility_caption"] == reel.first.alt_text
    assert media.code == posted["code"] and media.url == f"https://www.instagram.com/reel/{posted['code']}/"
    (recent,) = publisher(ig_config, ig_store).recent_media(5)
    assert (recent.kind, recent.code, recent.caption) == ("video", posted["code"], reel.caption)


def test_a_reel_without_a_cover_gets_its_first_frame(ig_config, ig_store, fake, logged_in, tmp_path):
    publisher(ig_config, ig_store).publish(reel_post(tmp_path, cover=False))

    assert fake.count("upload") == 1 and fake.media[0]["media_type"] == 2


def test_configure_waits_for_the_transcode_then_posts_once(ig_config, ig_store, fake, logged_in):
    draft_id = make_reel(ig_store, "Transcoding #dog")
    fake.transcoding = 3
    sleeps = Sleeps()

    result = tick(reel_poster(ig_config, ig_store, sleeps), fake, SLOT)

    assert result.status == "posted"
    assert fake.count("configure_clip") == 4 and fake.posts_with("Transcoding #dog") == 1
    assert sleeps == [5, 10, 15]  # Instagram said "not yet" three times: nothing was posted by those
    assert draft_row(ig_store, draft_id)["media_code"] == fake.media[0]["code"]


def test_a_transcode_that_never_finishes_is_tried_again_later_never_twice(ig_config, ig_store, fake, logged_in):
    config, store = ig_config, ig_store
    config.instagram.reel_wait_seconds = 40
    draft_id = make_reel(store, "Slow transcode #dog")
    fake.transcoding = 100
    sleeps = Sleeps()
    p = reel_poster(config, store, sleeps)

    result = tick(p, fake, SLOT)

    assert result.outcome == "refused" and result.status == "approved"
    assert sum(sleeps) == 40 and fake.count("configure_clip") == len(sleeps) + 1 and not fake.media
    row = draft_row(store, draft_id)
    assert "Transcode not finished yet" in row["error"] and row["retry_after"]
    fake.transcoding = 0
    assert tick(p, fake, SLOT + timedelta(minutes=3)).status == "posted"
    assert fake.posts_with("Slow transcode #dog") == 1 and fake.count("upload_video") == 2


def test_a_photo_with_the_same_caption_does_not_settle_a_reel(ig_config, ig_store, fake, logged_in):
    caption = "Same words #dog"
    draft_id = make_reel(ig_store, caption)
    fake.fail_next("configure_clip", Lost("timeout", lands=False))
    p = reel_poster(ig_config, ig_store)
    assert tick(p, fake, SLOT).status == "publishing"

    # A photo with the same caption appears (posted by hand): it is not the Reel.
    photo_draft = make_draft(ig_store, caption, status="pending")
    fake._configure({"caption": caption})
    looks = p.reconcile(SLOT + timedelta(minutes=10), force=True)
    assert [(lk.draft_id, lk.decision) for lk in looks] == [(draft_id, "unsettled")]
    assert draft_row(ig_store, photo_draft)["status"] == "pending"
    assert fake.count("configure_clip") == 1  # never sent again by itself
