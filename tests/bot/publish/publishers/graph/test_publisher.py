"""Posting through the official API (publisher = "graph") against a fake graph.instagram.com (`responses`).

Each test ends with the fake's exactly-once check: no caption published twice, no container published twice.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest

from bot.drafts.media import update_medium
from bot.publish.gate import posting_blocked
from bot.publish.poster import Poster
from bot.publish.publishers.graph.publisher import GraphPublisher
from bot.publish.publishers.graph.token import TokenRecord, save_token
from bot.publish.staging import MOUNT, resolve, staging_dir
from bot.store.keys import COOLDOWN_UNTIL, POSTING_STOPPED
from tests.bot.publish.conftest import at, make_draft
from tests.bot.publish.fake_graph import (
    BAD_RATIO,
    EXPIRED_TOKEN,
    NOT_READY,
    PUBLIC,
    QUOTA_SPENT,
    RATE_LIMIT,
    SERVER_PAGE,
    UNKNOWN_ERROR,
    FakeGraph,
    Lost,
    Refused,
    graph_home,
    serve_staged,
)

SLOT = at("2026-11-20 09:30")
EVENING = at("2026-11-20 19:00")


def _iso(moment: datetime) -> str:
    from bot import timeutil

    return timeutil.iso(moment)  # type: ignore[return-value]


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def poster(config: Any, store: Any, sleeps: Sleeps | None = None) -> Poster:
    return Poster(store, config, GraphPublisher(config, store, sleep=sleeps if sleeps is not None else Sleeps()))


def tick(p: Poster, gfake: FakeGraph, when: datetime) -> Any:
    gfake.now = when.timestamp()
    return p.tick(when)


def row(store: Any, draft_id: int) -> Any:
    return store.one("SELECT * FROM drafts WHERE id = ?", (draft_id,))


def attempts(store: Any, draft_id: int) -> list[Any]:
    return store.all("SELECT * FROM attempts WHERE draft_id = ? ORDER BY id", (draft_id,))


# -- the clean path ------------------------------------------------------------------------------------------

def test_clean_publish_stages_the_photo_records_the_container_and_publishes_once(g_config, g_store, gfake, gtoken):
    draft_id = make_draft(g_store, "Blanket burrito season 🌯🐶 #chihuahua")
    update_medium(g_store, draft_id, description="a small dog wrapped in a red blanket")

    result = tick(poster(g_config, g_store), gfake, SLOT + timedelta(seconds=20))

    assert result.status == "posted"
    (container_id, container), = gfake.containers.items()
    assert container["image_url"].startswith(PUBLIC + "/") and container["image"][:2] == b"\xff\xd8"
    assert container["caption"] == "Blanket burrito season 🌯🐶 #chihuahua"
    assert container["alt_text"] == "A small dog wrapped in a red blanket."
    d = row(g_store, draft_id)
    media = gfake.media[0]
    assert (d["status"], d["media_id"], d["media_code"], d["media_url"]) == (
        "posted", media["id"], media["shortcode"], media["permalink"])
    (attempt,) = attempts(g_store, draft_id)
    assert attempt["container_id"] == container_id and attempt["outcome"] == "posted"
    assert gfake.count("media_publish") == 1
    # The one-time URL is gone once the post is made: nothing is left to fetch.
    assert resolve(g_config, urlsplit(container["image_url"]).path.removeprefix(MOUNT)) is None
    assert not any(staging_dir(g_config).iterdir())
    # The same slot never posts twice.
    make_draft(g_store, "Second one")
    assert tick(poster(g_config, g_store), gfake, SLOT + timedelta(minutes=2)) is None
    assert gfake.count("media_publish") == 1


def test_the_user_id_is_learned_from_the_token(g_config, g_store, gfake):
    save_token(g_config.graph_token_file, TokenRecord("IGlong-token-000"))
    make_draft(g_store, "Who am I #dog")

    assert tick(poster(g_config, g_store), gfake, SLOT).status == "posted"

    saved = json.loads(g_config.graph_token_file.read_text())
    assert saved["user_id"] == gfake.user_id and saved["username"] == gfake.username
    assert gfake.count("me") == 1


def test_hashtags_go_in_the_first_comment(tmp_path, gfake, gtoken):
    from bot.config import load_config
    from bot.store.database import Store

    config = load_config(graph_home(tmp_path, hashtags_in_first_comment=True) / "pawpost.toml")
    save_token(config.graph_token_file, gtoken)
    gfake.fetch = serve_staged(config)
    with Store.for_config(config) as store:
        draft_id = make_draft(store, "Sunday blanket day 🐶 #chihuahua #rescuedog")
        assert tick(poster(config, store), gfake, SLOT).status == "posted"
        media = gfake.media[0]
        assert media["caption"] == "Sunday blanket day 🐶"
        assert [c["text"] for c in gfake.comments[media["id"]]] == ["#chihuahua #rescuedog"]
        assert row(store, draft_id)["comment_id"] == gfake.comments[media["id"]][0]["id"]


def test_the_container_is_polled_until_finished(g_config, g_store, gfake, gtoken):
    make_draft(g_store, "Patience #dog")
    gfake.in_progress_polls = 3
    sleeps = Sleeps()

    assert tick(poster(g_config, g_store, sleeps), gfake, SLOT).status == "posted"

    assert gfake.count("status") == 4 and sleeps == [2, 3, 5]
    assert gfake.count("media_publish") == 1


def test_a_container_that_never_finishes_is_not_published(g_config, g_store, gfake, gtoken):
    draft_id = make_draft(g_store, "Forever processing #dog")
    gfake.in_progress_polls = 10_000
    sleeps = Sleeps()

    result = tick(poster(g_config, g_store, sleeps), gfake, SLOT)

    assert result.status == "approved" and result.kind == "transient"
    assert sum(sleeps) >= g_config.graph.container_wait_seconds
    assert gfake.count("media_publish") == 0 and "still processing" in row(g_store, draft_id)["error"]


def test_a_container_error_with_a_content_subcode_fails_the_draft_with_the_reason(g_config, g_store, gfake, gtoken):
    draft_id = make_draft(g_store, "Too wide #dog")
    gfake.container_outcome = ("ERROR", "Error: 2207009 The submitted image with aspect ratio cannot be published")

    result = tick(poster(g_config, g_store), gfake, SLOT)

    assert result.status == "failed"
    assert "2207009" in row(g_store, draft_id)["error"] and "aspect ratio" in row(g_store, draft_id)["error"]
    assert gfake.count("media_publish") == 0


def test_an_expired_container_is_retried_with_a_new_one(g_config, g_store, gfake, gtoken):
    make_draft(g_store, "Expired #dog")
    gfake.container_outcome = ("EXPIRED", "Expired")
    p = poster(g_config, g_store)

    assert tick(p, gfake, SLOT).status == "approved"
    gfake.container_outcome = None
    assert tick(p, gfake, SLOT + timedelta(minutes=3)).status == "posted"
    assert len(gfake.containers) == 2 and gfake.count("media_publish") == 1


def test_a_photo_instagram_cannot_fetch_is_retried_and_says_what_to_check(g_config, g_store, gfake, gtoken):
    draft_id = make_draft(g_store, "Unreachable #dog")
    gfake.fetch = lambda _url: None  # the proxy is down

    result = tick(poster(g_config, g_store), gfake, SLOT)

    assert result.status == "approved" and result.kind == "transient"
    assert "2207052" in row(g_store, draft_id)["error"] and "doctor" in result.message
    assert not any(staging_dir(g_config).iterdir())


# -- refusals by code and subcode ------------------------------------------------------------------------------

def test_an_expired_token_stops_posting_and_tells_the_owner(g_config, g_store, gfake, gtoken):
    from bot.status import status

    draft_id = make_draft(g_store, "Token gone #dog")
    gfake.fail_next("create", EXPIRED_TOKEN)

    result = tick(poster(g_config, g_store), gfake, SLOT)

    assert result.status == "approved" and result.kind == "fatal"
    assert "pawpost login" in g_store.get(POSTING_STOPPED)
    assert row(g_store, draft_id)["status"] == "approved"  # an account-level error never fails a draft
    assert status(g_store, g_config)["posting_stopped"] == g_store.get(POSTING_STOPPED)
    assert tick(poster(g_config, g_store), gfake, EVENING) is None  # stopped until the owner acts
    assert gfake.count("create") == 1 and gfake.count("media_publish") == 0


@pytest.mark.parametrize("step", ["create", "media_publish"])
@pytest.mark.parametrize("code", [4, 17, 32, 613])
def test_rate_limits_cool_down_and_post_nothing(g_config, g_store, gfake, gtoken, step, code):
    draft_id = make_draft(g_store, f"Slow down {code} #dog")
    gfake.fail_next(step, RATE_LIMIT[code])

    result = tick(poster(g_config, g_store), gfake, SLOT)

    assert result.status == "approved" and result.kind == "cooldown"
    assert g_store.get(COOLDOWN_UNTIL) == _iso(SLOT + timedelta(hours=6))
    assert row(g_store, draft_id)["status"] == "approved" and not gfake.media
    assert "slow down" in posting_blocked(g_store, SLOT + timedelta(hours=5))
    assert tick(poster(g_config, g_store), gfake, EVENING).status == "posted"  # the cooldown is over


def test_the_spent_publishing_quota_cools_down(g_config, g_store, gfake, gtoken):
    make_draft(g_store, "Quota #dog")
    gfake.fail_next("media_publish", QUOTA_SPENT)

    result = tick(poster(g_config, g_store), gfake, SLOT)

    assert result.kind == "cooldown" and g_store.get(COOLDOWN_UNTIL)
    assert "maximum number of posts" in result.error


def test_the_spent_quota_pauses_until_it_frees_a_place_not_a_fixed_time(g_config, g_store, gfake, gtoken):
    # Posted yesterday evening at 19:00: the rolling 24-hour quota frees a place at 19:00 today, not 12 h after
    # the refusal (cooldown_hours), which would lose the evening slot.
    first = make_draft(g_store, "Yesterday #dog")
    assert tick(poster(g_config, g_store), gfake, EVENING - timedelta(days=1)).status == "posted"
    second = make_draft(g_store, "Today #dog")
    gfake.fail_next("media_publish", QUOTA_SPENT)

    result = tick(poster(g_config, g_store), gfake, SLOT)

    assert result.kind == "cooldown" and row(g_store, second)["status"] == "approved"
    posted_at = datetime.fromisoformat(row(g_store, first)["posted_at"])
    assert g_store.get(COOLDOWN_UNTIL) == _iso(posted_at + timedelta(hours=24, minutes=1))
    assert tick(poster(g_config, g_store), gfake, EVENING + timedelta(minutes=30)).status == "posted"


def test_media_not_ready_at_publish_is_retried_not_failed(g_config, g_store, gfake, gtoken):
    draft_id = make_draft(g_store, "Not ready #dog")
    gfake.fail_next("media_publish", NOT_READY)
    p = poster(g_config, g_store)

    result = tick(p, gfake, SLOT)

    assert result.status == "approved" and result.kind == "transient" and "9007" in result.error
    assert tick(p, gfake, SLOT + timedelta(minutes=3)).status == "posted"
    assert gfake.count("media_publish") == 2 and len(gfake.media) == 1
    assert [a["outcome"] for a in attempts(g_store, draft_id)] == ["retry", "posted"]


def test_rejected_media_fails_the_draft_with_the_apis_message(g_config, g_store, gfake, gtoken):
    draft_id = make_draft(g_store, "Wide one #dog")
    gfake.fail_next("create", BAD_RATIO)

    result = tick(poster(g_config, g_store), gfake, SLOT)

    assert result.status == "failed" and result.kind == "bad_content"
    assert "aspect ratio ('3:1',) cannot be published" in row(g_store, draft_id)["error"]
    assert gfake.count("media_publish") == 0


def test_a_server_error_before_publish_is_retried(g_config, g_store, gfake, gtoken):
    make_draft(g_store, "Gateway #dog")
    gfake.fail_next("create", SERVER_PAGE)

    result = tick(poster(g_config, g_store), gfake, SLOT)

    assert result.status == "approved" and result.kind == "transient"
    assert gfake.count("media_publish") == 0


# -- unknown outcomes: only media_publish ----------------------------------------------------------------------

def look(p: Poster, gfake: FakeGraph, when: datetime) -> list[Any]:
    gfake.now = when.timestamp()
    return [(lk.draft_id, lk.decision) for lk in p.reconcile(when)]


def test_a_lost_publish_answer_with_the_post_present_is_reconciled_not_resent(g_config, g_store, gfake, gtoken):
    draft_id = make_draft(g_store, "Lost answer, landed #dog")
    gfake.post_older("An older post", (SLOT - timedelta(days=3)).timestamp())
    gfake.fail_next("media_publish", Lost(lands=True))
    p = poster(g_config, g_store)

    assert tick(p, gfake, SLOT).status == "publishing"
    assert row(g_store, draft_id)["status"] == "publishing"
    assert attempts(g_store, draft_id)[0]["container_id"] in gfake.containers
    assert look(p, gfake, SLOT + timedelta(minutes=1)) == []  # too early to look
    result = tick(p, gfake, SLOT + timedelta(minutes=3))

    assert result.status == "posted"
    assert row(g_store, draft_id)["media_id"] == gfake.media[0]["id"]
    assert gfake.count("media_publish") == 1 and len(gfake.media) == 2
    assert tick(p, gfake, EVENING) is None


def test_a_lost_publish_answer_with_the_post_absent_stays_unsettled_until_the_owner_resends(g_config, g_store, gfake,
                                                                                          gtoken):
    draft_id = make_draft(g_store, "Lost answer, not landed #dog")
    gfake.post_older("An older post", (SLOT - timedelta(days=3)).timestamp())
    gfake.fail_next("media_publish", Lost(lands=False))
    p = poster(g_config, g_store)

    assert tick(p, gfake, SLOT).status == "publishing"
    # A feed without the post proves nothing (it may lag): still unsettled, never sent again by pawpost.
    assert look(p, gfake, SLOT + timedelta(minutes=11)) == [(draft_id, "unsettled")]
    assert tick(p, gfake, EVENING) is None and row(g_store, draft_id)["status"] == "publishing"
    assert gfake.count("media_publish") == 1
    # The owner checked: `drafts resend` looks once more, then sends it again.
    gfake.now = (EVENING + timedelta(minutes=1)).timestamp()
    checked, result = p.resend(draft_id, EVENING + timedelta(minutes=1), send_now=True)
    assert checked.decision == "approved" and result.status == "posted"

    assert gfake.count("media_publish") == 2
    assert gfake.posts_per_caption()["Lost answer, not landed #dog"] == 1


@pytest.mark.parametrize("answer", [UNKNOWN_ERROR, SERVER_PAGE, (200, "<html>ok</html>"), (200, {"ok": True})],
                         ids=["code-1", "502-page", "unreadable-200", "200-without-id"])
def test_ambiguous_publish_answers_are_unknown(g_config, g_store, gfake, gtoken, answer):
    draft_id = make_draft(g_store, "Ambiguous #dog")
    gfake.post_older("An older post", (SLOT - timedelta(days=3)).timestamp())
    gfake.fail_next("media_publish", answer)
    p = poster(g_config, g_store)

    result = tick(p, gfake, SLOT)

    assert result.status == "publishing" and result.outcome == "unknown"
    assert row(g_store, draft_id)["status"] == "publishing"
    # The account's media list is read; it shows no such post, and nothing is sent again.
    assert look(p, gfake, SLOT + timedelta(minutes=11)) == [(draft_id, "unsettled")]
    assert gfake.count("media_publish") == 1


def test_a_container_published_before_our_publish_is_unsettled_not_resent(g_config, g_store, gfake, gtoken):
    draft_id = make_draft(g_store, "Published by someone #dog")
    gfake.container_outcome = ("PUBLISHED", "Published")
    p = poster(g_config, g_store)

    result = tick(p, gfake, SLOT)

    assert result.status == "publishing" and result.outcome == "unknown"
    # The post may exist: the look keeps it unsettled (it is not "never sent", so never approved again by itself).
    assert look(p, gfake, SLOT + timedelta(minutes=3)) == [(draft_id, "unsettled")]
    assert gfake.count("media_publish") == 0


def test_a_refused_connection_at_publish_was_not_sent(g_config, g_store, gfake, gtoken):
    draft_id = make_draft(g_store, "Refused #dog")
    gfake.fail_next("media_publish", Refused())

    result = tick(poster(g_config, g_store), gfake, SLOT)

    assert result.status == "approved" and result.kind == "transient"
    assert "did not reach Instagram" in row(g_store, draft_id)["error"]


def test_a_lost_answer_before_publish_is_never_unknown(g_config, g_store, gfake, gtoken):
    make_draft(g_store, "Lost create #dog")
    gfake.fail_next("create", Lost(lands=True))

    result = tick(poster(g_config, g_store), gfake, SLOT)

    assert result.status == "approved"  # a container alone is no post; it expires by itself
    assert gfake.count("media_publish") == 0


def test_a_post_another_draft_owns_is_never_taken(g_config, g_store, gfake, gtoken):
    first = make_draft(g_store, "Same words #dog")
    assert tick(poster(g_config, g_store), gfake, SLOT).status == "posted"
    second = make_draft(g_store, "Same words #dog ")
    g_store.update("drafts", second, caption="Same words #dog")
    gfake.fail_next("media_publish", Lost(lands=False))
    p = poster(g_config, g_store)

    assert tick(p, gfake, EVENING).status == "publishing"
    assert look(p, gfake, EVENING + timedelta(minutes=11)) == [(second, "unsettled")]
    assert row(g_store, first)["media_id"] == gfake.media[0]["id"]
    assert row(g_store, second)["media_id"] is None


def test_an_unreadable_media_list_settles_nothing(g_config, g_store, gfake, gtoken):
    draft_id = make_draft(g_store, "Unreadable list #dog")
    gfake.fail_next("media_publish", Lost(lands=True))
    p = poster(g_config, g_store)
    assert tick(p, gfake, SLOT).status == "publishing"
    gfake.fail_next("media_list", (200, {"paging": {}}))

    assert look(p, gfake, SLOT + timedelta(minutes=3)) == [(draft_id, "error")]

    assert row(g_store, draft_id)["status"] == "publishing"
    assert tick(p, gfake, SLOT + timedelta(minutes=14)).status == "posted"
    assert gfake.count("media_publish") == 1


def test_the_token_never_appears_in_stored_errors(g_config, g_store, gfake, gtoken):
    draft_id = make_draft(g_store, "Secret #dog")
    gfake.fail_next("media_publish", Refused())

    tick(poster(g_config, g_store), gfake, SLOT)

    stored = " ".join(str(v) for v in dict(row(g_store, draft_id)).values())
    stored += " ".join(str(v) for a in attempts(g_store, draft_id) for v in dict(a).values())
    assert gtoken.access_token not in stored


def test_draft_without_a_token_stops_with_the_login_command(g_config, g_store, gfake):
    make_draft(g_store, "No token #dog")

    result = tick(poster(g_config, g_store), gfake, SLOT)

    assert result.kind == "fatal" and "pawpost login" in g_store.get(POSTING_STOPPED)
    assert gfake.count("create") == 0


def test_refusal_codes_are_classified_by_code_and_subcode():
    from bot.publish.errors import ErrorKind
    from bot.publish.outcome import Move, Outcome, decide
    from bot.publish.publishers.graph.answers import GraphError, refusal_kind
    from bot.publish.publishers.graph.api import Request

    assert refusal_kind(190, 463)[0] == ErrorKind.FATAL
    assert refusal_kind(10, None)[0] == ErrorKind.FATAL
    assert refusal_kind(25, 2207050)[0] == ErrorKind.FATAL
    assert {refusal_kind(c, None)[0] for c in (4, 17, 32, 613)} == {ErrorKind.COOLDOWN}
    assert refusal_kind(9, 2207042)[0] == ErrorKind.COOLDOWN
    assert refusal_kind(9007, 2207027)[0] == ErrorKind.TRANSIENT
    assert refusal_kind(36003, 2207009)[0] == ErrorKind.BAD_CONTENT
    assert refusal_kind(36004, 2207010)[0] == ErrorKind.BAD_CONTENT
    assert refusal_kind(-2, 2207003)[0] == ErrorKind.TRANSIENT
    assert refusal_kind(9004, 2207052)[0] == ErrorKind.TRANSIENT

    def move(err: GraphError, request: Request) -> tuple[Outcome, Move]:
        from bot.publish.publishers.graph.answers import evidence

        decision = decide(request.step, evidence(err=err))
        return decision.outcome, decision.move

    # A body that only says Instagram failed proves nothing: unknown, and only media_publish is left unsettled.
    for server in (GraphError(500, 1, None, "An unknown error occurred"), GraphError(500, 2, 2207001, "error")):
        assert move(server, Request.PUBLISH) == (Outcome.UNKNOWN, Move.UNSETTLED)
        assert move(server, Request.CONTAINER) == (Outcome.UNKNOWN, Move.RETRY)
        assert move(server, Request.STATUS) == (Outcome.UNKNOWN, Move.RETRY)
        assert move(server, Request.COMMENT) == (Outcome.UNKNOWN, Move.LOOK_FIRST)
    # A readable refusal says the post was not made, whatever the status code.
    assert move(GraphError(500, 4, None, "limit"), Request.PUBLISH) == (Outcome.REFUSED, Move.REFUSED)
    assert move(GraphError(400, 9007, 2207027, "not ready"), Request.PUBLISH) == (Outcome.REFUSED, Move.RETRY)


def test_the_config_needs_an_https_public_url_for_graph(tmp_path):
    from bot.errors import ConfigError
    from bot.publish.publishers.registry import load_checked_config
    from tests.conftest import write_config

    root = write_config(tmp_path / "a", {"instagram": {"publisher": "graph"}})
    with pytest.raises(ConfigError, match=r"graph\.public_base_url is required when instagram\.publisher = 'graph'"):
        load_checked_config(root)
    root = write_config(tmp_path / "b", {"instagram": {"publisher": "graph"},
                                         "graph": {"public_base_url": "http://pets.example.com/staged"}})
    with pytest.raises(ConfigError, match=r"graph\.public_base_url: must be an https:// URL"):
        load_checked_config(root)
    root = write_config(tmp_path / "c", {"instagram": {"publisher": "graph"},
                                         "graph": {"public_base_url": "https://pets.example.com/staged/"}})
    assert load_checked_config(root).graph.public_base_url == "https://pets.example.com/staged"
