"""Hashtags in the first comment (bot/publish/comments.py): split off the caption, added right after the post, and
after a crash between the two added once (looked for first). With instagrapi: test_instagram.py.
"""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from bot.publish.comments import first_comment, split_hashtags
from tests.bot.publish.conftest import at, make_draft, outbox_records

SLOT = at("2026-11-20 09:30")


def test_hashtags_split_from_the_caption():
    assert split_hashtags("Cosy day 🐶\n\n#chihuahua #rescuedog") == ("Cosy day 🐶", "#chihuahua #rescuedog")
    assert split_hashtags("Love my #blanket so much") == ("Love my #blanket so much", None)
    assert split_hashtags("#only #tags") == ("#only #tags", None)
    assert split_hashtags("Mid #tag and end #one #two") == ("Mid #tag and end", "#one #two")


def test_the_hashtags_move_only_when_asked_and_never_for_a_hand_post(config):
    caption = "Cosy day 🐶\n\n#chihuahua #rescuedog"
    by_api = SimpleNamespace(posts_by_hand=False)
    by_hand = SimpleNamespace(posts_by_hand=True)

    assert first_comment(config, by_api, caption) == (caption, None)  # hashtags_in_first_comment is off
    config.instagram.hashtags_in_first_comment = True
    assert first_comment(config, by_api, caption) == ("Cosy day 🐶", "#chihuahua #rescuedog")
    assert first_comment(config, by_hand, caption) == (caption, None)  # the owner pastes the caption whole


def test_the_comment_follows_the_post_and_a_crash_between_adds_it_once(config, store, poster):
    config.instagram.hashtags_in_first_comment = True
    draft_id = make_draft(store, "Blanket fort 🐶 #chihuahua #rescuedog")

    assert poster.tick(SLOT).status == "posted"
    [record] = outbox_records(config)
    assert record["caption"] == "Blanket fort 🐶"
    assert [c["text"] for c in record["comments"]] == ["#chihuahua #rescuedog"]

    # A crash after the comment was added but before its id was stored: it is found, not added a second time.
    store.update("drafts", draft_id, comment_id=None)
    assert poster.finish_comments(SLOT + timedelta(minutes=5)) == 1
    [record] = outbox_records(config)
    assert len(record["comments"]) == 1
    assert store.value("SELECT comment_id FROM drafts WHERE id = ?", (draft_id,)) == record["comments"][0]["id"]
    assert poster.finish_comments(SLOT + timedelta(minutes=10)) == 0  # nothing left to add
