"""A Reel on the publishers that need no Instagram: the one shape check every publisher makes, the dry-run outbox
(the MP4 and its cover, read back as a video), and the notify hand-over (the video attached, or a link when too big).
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path

import pytest

from bot.config import load_config
from bot.links import draft_link
from bot.publish.base import PreparedMedium, PreparedPost, post_photos
from bot.publish.errors import BadContent
from bot.publish.publishers import by_hand
from bot.publish.publishers.by_hand import ByHandPublisher, handover_message
from bot.publish.publishers.dryrun import DryRunPublisher, tidy_outbox
from tests.bot.publish.conftest import jpeg
from tests.bot.publish.publishers.test_by_hand import PUBLIC, notify_home
from tests.bot.publish.reels import reel_medium, reel_post


def photo(tmp_path: Path, n: int = 0) -> PreparedMedium:
    path = tmp_path / f"p{n}.jpg"
    path.write_bytes(jpeg())
    return PreparedMedium(path, width=400, height=500)


def post(*media: PreparedMedium) -> PreparedPost:
    return PreparedPost(draft_id=3, media=media, caption="c", nonce="n" * 32)


# -- the one shape check ------------------------------------------------------------------------------------------

SHAPES = [
    ("one-photo", ["photo"], None),
    ("ten-photos", ["photo"] * 10, None),
    ("one-video", ["video"], None),
    ("no-media", [], "1 to 10 photos or one video, not 0"),
    ("eleven-photos", ["photo"] * 11, "not 11 media"),
    ("video-in-a-carousel", ["photo", "video", "photo"], "posted alone as a Reel"),
    ("two-videos", ["video", "video"], "posted alone as a Reel"),
    ("unknown-kind", ["photo", "gif"], "'gif'"),
    ("video-of-no-length", ["empty-video"], "no length"),
]


@pytest.mark.parametrize(("name", "kinds", "refusal"), SHAPES, ids=[s[0] for s in SHAPES])
def test_the_one_shape_check(tmp_path, name, kinds, refusal):
    video = reel_medium(tmp_path)
    media = []
    for n, kind in enumerate(kinds):
        if kind == "photo":
            media.append(photo(tmp_path, n))
        elif kind == "video":
            media.append(video)
        elif kind == "empty-video":
            media.append(replace(video, duration=0.0))
        else:
            media.append(replace(photo(tmp_path, n), kind=kind))
    if refusal is None:
        assert post_photos(post(*media)) == tuple(media)
        assert post(*media).is_reel == (kinds == ["video"])
        return
    with pytest.raises(BadContent, match=refusal):
        post_photos(post(*media))


def test_every_publisher_refuses_a_video_in_a_carousel_before_sending_anything(tmp_path, receiver):
    mixed = post(photo(tmp_path), reel_medium(tmp_path))
    outbox = tmp_path / "outbox"
    config = load_config(notify_home(tmp_path, receiver.url))

    for publisher in (DryRunPublisher(outbox), ByHandPublisher(config)):
        with pytest.raises(BadContent, match="posted alone as a Reel"):
            publisher.publish(mixed)
    assert not outbox.exists() and receiver.hits == 0


# -- dry-run --------------------------------------------------------------------------------------------------------

def test_dry_run_writes_the_reel_and_its_cover_and_reads_it_back_as_a_video(tmp_path):
    reel = reel_post(tmp_path, "Zoomies 🐶 #dog", draft_id=7)
    outbox = tmp_path / "outbox"
    pub = DryRunPublisher(outbox)
    sent: list[str] = []

    media = pub.publish(reel, before_create=lambda: sent.append("create"))

    (record_path,) = outbox.glob("*-7.json")
    record = json.loads(record_path.read_text())
    stem = record_path.stem
    video = outbox / f"{stem}.mp4"
    cover = outbox / f"{stem}.cover.jpg"
    assert video.read_bytes() == reel.first.path.read_bytes()
    assert cover.read_bytes() == reel.first.cover.read_bytes()
    assert record["video"] == video.name and record["image"] == cover.name
    assert record["media"] == [{"file": video.name, "alt_text": reel.first.alt_text, "kind": "video",
                                "cover": cover.name, "duration": 1.0, "width": 180, "height": 320}]
    assert sent == ["create"] and media.url == video.resolve().as_uri()
    (recent,) = pub.recent_media(5)
    assert (recent.kind, recent.media_id, recent.url) == ("video", media.media_id, media.url)
    # A Reel killed before its record: its video and cover are left-overs of a post that was not made.
    record_path.unlink()
    assert sorted(tidy_outbox(outbox)) == sorted([video.name, cover.name])


def test_dry_run_posts_a_reel_without_a_cover(tmp_path):
    pub = DryRunPublisher(tmp_path / "outbox")

    pub.publish(reel_post(tmp_path, cover=False))

    (record_path,) = (tmp_path / "outbox").glob("*.json")
    record = json.loads(record_path.read_text())
    assert record["image"] == record["video"] and record["media"][0]["cover"] is None


# -- notify ---------------------------------------------------------------------------------------------------------

def test_notify_sends_the_video_its_cover_and_the_caption(tmp_path, receiver):
    config = load_config(notify_home(tmp_path, receiver.url))
    reel = reel_post(tmp_path, "Zoomies 🐶 #dog", draft_id=9)

    handed = ByHandPublisher(config).publish(reel)

    assert "post by hand" in handed.reason
    (sent,) = receiver.bodies
    assert "Zoomies 🐶 #dog" in sent["message"] and "as a Reel" in sent["message"]
    assert reel.first.alt_text in sent["message"] and f"{PUBLIC}/drafts/9" in sent["message"]
    video, cover = sent["attachments"]
    assert base64.b64decode(video["base64"]) == reel.first.path.read_bytes()
    assert video["mimetype"] == "video/mp4" and cover["mimetype"] == "image/jpeg"


def test_notify_links_to_a_video_too_big_to_attach(tmp_path, monkeypatch):
    config = load_config(notify_home(tmp_path, "json://127.0.0.1:9/"))
    reel = reel_post(tmp_path, draft_id=9)
    monkeypatch.setattr(by_hand, "ATTACH_MAX_BYTES", reel.first.path.stat().st_size - 1)

    message = handover_message(config, 9, reel.caption, reel.media)

    assert message.attach == (str(reel.first.cover),)  # the cover only
    assert f"too big to attach here (0 MB): save it from {PUBLIC}/drafts/9" in message.body
    # Without a public address: the review site where pawpost listens.
    config.web.public_url = ""
    assert f"save it from {draft_link(config, 9)}" in handover_message(config, 9, reel.caption, reel.media).body
