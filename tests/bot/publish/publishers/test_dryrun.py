"""The dry-run publisher: the outbox is the account, readable back for reconciling and comments."""

from __future__ import annotations

import json

from bot.publish.base import PreparedMedium, PreparedPost, same_caption
from bot.publish.publishers.dryrun import DryRunPublisher
from tests.bot.publish.conftest import jpeg


def post_of(photo, caption, nonce, draft_id, pets=()):
    return PreparedPost(draft_id=draft_id, media=(PreparedMedium(photo),), caption=caption, nonce=nonce,
                        pets=tuple(pets))


def test_outbox_posts_read_back_as_recent_media(tmp_path):
    photo = tmp_path / "p.jpg"
    photo.write_bytes(jpeg())
    pub = DryRunPublisher(tmp_path / "outbox")

    first = pub.publish(post_of(photo, "first", "n1", 1, ["Lola"]))
    second = pub.publish(post_of(photo, "second", "n2", 2))

    recent = pub.recent_media(10)
    assert [m.caption for m in recent] == ["second", "first"] or [m.caption for m in recent] == ["first", "second"]
    assert {m.media_id for m in recent} == {first.media_id, second.media_id}
    assert pub.recent_media(1)[0].media_id in (first.media_id, second.media_id)
    assert len(first.code) == 11 and first.url.startswith("file://")
    record = json.loads(next((tmp_path / "outbox").glob("*-1.json")).read_text())
    assert record == {**record, "draft_id": 1, "caption": "first", "pets": ["Lola"], "media_code": first.code}


def test_comments_are_kept_with_the_post(tmp_path):
    photo = tmp_path / "p.jpg"
    photo.write_bytes(jpeg())
    pub = DryRunPublisher(tmp_path / "outbox")
    media = pub.publish(post_of(photo, "caption", "n1", 7))

    assert pub.find_comment(media.media_id, "#dog #cat") is None
    comment_id = pub.comment(media.media_id, "#dog #cat")

    assert pub.find_comment(media.media_id, "#dog  #cat") == comment_id


def test_captions_compare_as_instagram_keeps_them():
    assert same_caption("a  b\n", "a b") and not same_caption("a", "b")
