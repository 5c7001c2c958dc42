"""The outcome table over carousels, step by step: instagrapi's photo uploads and its configure_sidecar, the official
API's child containers, their status checks, the CAROUSEL container and media_publish. Only the step that makes the
post (configure_sidecar, media_publish) can leave a draft unsettled; it is never sent again by itself, and reconcile
settles it when the carousel shows up. After every scenario no caption was posted twice (the fakes' own checks)."""

from __future__ import annotations

import signal
from datetime import timedelta
from typing import Any

import pytest

from bot.publish.unsettled import state
from bot.store.states import PublishState
from tests.bot.publish.conftest import at, make_carousel
from tests.bot.publish.fake_graph import (
    BAD_RATIO,
    EXPIRED_TOKEN,
    NOT_READY,
    RATE_LIMIT,
    SERVER_PAGE,
    UNKNOWN_ERROR,
    Refused,
)
from tests.bot.publish.fake_graph import Lost as GLost
from tests.bot.publish.fake_instagram import Lost
from tests.bot.publish.publishers.graph.test_publisher import SLOT as G_SLOT
from tests.bot.publish.publishers.graph.test_publisher import attempts
from tests.bot.publish.publishers.graph.test_publisher import poster as graph_poster
from tests.bot.publish.publishers.graph.test_publisher import tick as graph_tick
from tests.bot.publish.publishers.instagrapi.test_publisher import SLOT, draft_row, tick
from tests.bot.publish.test_faults import IDS, LATER, ROWS, _check_refusal_effects, make_poster
from tests.bot.publish.test_lag_and_crashes import _child, _reload


def check(store: Any, kind: str | None) -> None:
    failed = store.value("SELECT count(*) FROM drafts WHERE status = 'failed'")
    assert failed == (1 if kind == "bad_content" else 0)


# -- instagrapi: an upload per photo, one configure_sidecar -------------------------------------------------------

@pytest.mark.parametrize(("name", "answers", "outcome", "kind"), ROWS, ids=IDS)
def test_a_fault_on_the_second_photos_upload(ig_config, ig_store, fake, logged_in, name, answers, outcome, kind):
    caption = f"Album upload {name} #dog"
    draft_id = make_carousel(ig_store, caption)
    fake.fail_next("upload", None, *answers)  # the first photo goes up; the second meets the fault
    p = make_poster(ig_config, ig_store)

    result = tick(p, fake, SLOT)

    if name == "200-unreadable-made":
        # instagrapi reads only an upload answer's status: a 200 is an upload, and configure_sidecar decides.
        assert result.status == "posted" and fake.count("configure_sidecar") == 1
        return
    assert result.outcome == outcome
    assert fake.count("configure_sidecar") == 0 and not fake.media  # nothing is posted after a failed upload
    row = draft_row(ig_store, draft_id)
    assert row["status"] == ("failed" if kind == "bad_content" else "approved")
    if outcome in ("not_sent", "unknown"):
        # An upload cannot have posted anything: retried like "not sent", every photo uploaded again.
        assert row["retry_after"]
        assert tick(p, fake, SLOT + LATER[0]).status == "posted"
        assert fake.count("configure_sidecar") == 1 and fake.posts_with(caption) == 1
        assert len(fake.media[0]["carousel_media"]) == 3
    _check_refusal_effects(ig_store, kind)
    check(ig_store, kind)


@pytest.mark.parametrize(("name", "answers", "outcome", "kind"), ROWS, ids=IDS)
def test_a_fault_on_configure_sidecar(ig_config, ig_store, fake, logged_in, name, answers, outcome, kind):
    caption = f"Album configure {name} #dog"
    draft_id = make_carousel(ig_store, caption)
    fake.fail_next("configure_sidecar", *answers)
    p = make_poster(ig_config, ig_store)

    result = tick(p, fake, SLOT)

    assert result.outcome == outcome
    row = draft_row(ig_store, draft_id)
    if outcome == "unknown":
        made = fake.posts_with(caption) == 1
        assert row["status"] == "publishing"
        for delay in [*LATER, timedelta(days=1), timedelta(days=2)]:
            tick(p, fake, SLOT + delay)
        # Never sent again; settled only when the carousel is found.
        assert fake.count("configure_sidecar") == 1 and fake.count("upload") == 3
        assert draft_row(ig_store, draft_id)["status"] == ("posted" if made else "publishing")
    elif outcome == "not_sent":
        assert row["status"] == "approved" and row["retry_after"]
        assert tick(p, fake, SLOT + LATER[0]).status == "posted"
        assert fake.count("configure_sidecar") == 1 and fake.posts_with(caption) == 1
    elif kind == "bad_content":
        assert row["status"] == "failed"
    else:
        assert row["status"] == "approved" and fake.posts_with(caption) == 0
    _check_refusal_effects(ig_store, kind)
    check(ig_store, kind)


def test_a_lost_sidecar_answer_is_settled_by_reconcile_when_the_carousel_shows_up(ig_config, ig_store, fake,
                                                                                    logged_in):
    caption = "Album, answer lost #dog"
    draft_id = make_carousel(ig_store, caption)
    fake.fail_next("configure_sidecar", Lost("timeout", lands=True))
    fake.lag = 20 * 60  # the feed shows a new post 20 minutes late
    p = make_poster(ig_config, ig_store)

    assert tick(p, fake, SLOT).status == "publishing"
    fake.now = (SLOT + timedelta(minutes=5)).timestamp()
    looks = p.reconcile(SLOT + timedelta(minutes=5), force=True)
    assert [(lk.draft_id, lk.decision) for lk in looks] == [(draft_id, "unsettled")]  # a lagging feed proves nothing
    fake.now = (SLOT + timedelta(minutes=30)).timestamp()
    looks = p.reconcile(SLOT + timedelta(minutes=30), force=True)

    assert [(lk.draft_id, lk.decision) for lk in looks] == [(draft_id, "posted")]
    row = draft_row(ig_store, draft_id)
    assert row["status"] == "posted" and row["media_code"] == fake.media[0]["code"]
    assert fake.media[0]["media_type"] == 8 and fake.count("configure_sidecar") == 1


# -- the official API: child containers, their status, the CAROUSEL container, media_publish -------------------------

GRAPH_ROWS: list[tuple[str, Any, str, str | None]] = [
    ("refused-connection", Refused(), "not_sent", None),
    ("lost-landed", GLost(lands=True), "unknown", None),
    ("lost-not-landed", GLost(lands=False), "unknown", None),
    ("code-1-500", UNKNOWN_ERROR, "unknown", None),
    ("502-page", SERVER_PAGE, "unknown", None),
    ("unreadable-200", (200, "<html>ok</html>"), "unknown", None),
    ("not-ready", NOT_READY, "refused", "transient"),
    ("rate-limit", RATE_LIMIT[4], "refused", "cooldown"),
    ("expired-token", EXPIRED_TOKEN, "refused", "fatal"),
    ("bad-ratio", BAD_RATIO, "refused", "bad_content"),
]
# Each step of a three-photo carousel, as (endpoint, which request to it): the second child, the second child's
# status check, the carousel container, the carousel's status check (after the three children's).
STEPS = [("create_child", 2), ("status", 2), ("create_carousel", 1), ("status", 4)]


@pytest.mark.parametrize(("endpoint", "nth"), STEPS, ids=[f"{e}-{n}" for e, n in STEPS])
@pytest.mark.parametrize(("name", "answer", "outcome", "kind"), GRAPH_ROWS, ids=[r[0] for r in GRAPH_ROWS])
def test_a_fault_before_media_publish_posts_nothing(g_config, g_store, gfake, gtoken, endpoint, nth, name, answer,
                                                    outcome, kind):
    caption = f"Official {endpoint} {nth} {name} #dog"
    draft_id = make_carousel(g_store, caption)
    gfake.fail_nth(endpoint, nth, answer)
    p = graph_poster(g_config, g_store)

    result = graph_tick(p, gfake, G_SLOT)

    assert result.outcome == outcome
    assert gfake.count("media_publish") == 0 and not gfake.media
    assert row_status(g_store, draft_id) == ("failed" if kind == "bad_content" else "approved")
    if kind in (None, "transient"):
        # Containers post nothing: the next try makes new ones, and the carousel is posted once.
        assert tick_later(p, gfake).status == "posted"
        assert gfake.count("media_publish") == 1 and gfake.posts_per_caption()[caption] == 1
        first, second = attempts(g_store, draft_id)
        assert children_of(g_store, second["id"]) == gfake.containers[second["container_id"]]["children"]
        assert not set(children_of(g_store, first["id"])) & set(children_of(g_store, second["id"]))
    _check_refusal_effects(g_store, kind)
    check(g_store, kind)


@pytest.mark.parametrize(("name", "answer", "outcome", "kind"), GRAPH_ROWS, ids=[r[0] for r in GRAPH_ROWS])
def test_a_fault_on_media_publish(g_config, g_store, gfake, gtoken, name, answer, outcome, kind):
    caption = f"Official publish {name} #dog"
    draft_id = make_carousel(g_store, caption)
    gfake.fail_next("media_publish", answer)
    p = graph_poster(g_config, g_store)

    result = graph_tick(p, gfake, G_SLOT)

    assert result.outcome == outcome
    if outcome == "unknown":
        made = gfake.posts_per_caption()[caption] == 1
        assert row_status(g_store, draft_id) == "publishing"
        for delay in [*LATER, timedelta(days=1), timedelta(days=2)]:
            graph_tick(p, gfake, G_SLOT + delay)
        assert gfake.count("media_publish") == 1  # never sent again by itself
        assert row_status(g_store, draft_id) == ("posted" if made else "publishing")
    elif outcome == "not_sent" or kind == "transient":
        assert row_status(g_store, draft_id) == "approved"
        assert tick_later(p, gfake).status == "posted"
        assert gfake.posts_per_caption()[caption] == 1
    else:
        assert row_status(g_store, draft_id) == ("failed" if kind == "bad_content" else "approved")
        assert not gfake.media
    _check_refusal_effects(g_store, kind)
    check(g_store, kind)


def row_status(store: Any, draft_id: int) -> str:
    return store.value("SELECT status FROM drafts WHERE id = ?", (draft_id,))


def tick_later(p: Any, gfake: Any) -> Any:
    return graph_tick(p, gfake, G_SLOT + LATER[0])


def children_of(store: Any, attempt_id: int) -> list[str]:
    return [r[0] for r in store.all("SELECT container_id FROM attempt_media WHERE attempt_id = ? ORDER BY position",
                                    (attempt_id,))]


# -- a SIGKILL mid-carousel, then a restart (instagrapi, the fake's account shared through a file) -----------------

@pytest.mark.parametrize("lands", [True, False], ids=["post-made", "post-not-made"])
def test_sigkill_between_configure_sidecar_and_its_answer(ig_home, ig_config, ig_store, shared_account, lands):
    fake = shared_account
    caption = f"Album killed mid-flight {lands} #dog"
    draft_id = make_carousel(ig_store, caption)

    child = _child(ig_home / "pawpost.toml", fake.state, SLOT, {"configure_sidecar": {"kill": True, "lands": lands}})
    _, err = child.communicate(timeout=120)

    assert child.returncode == -signal.SIGKILL, err
    _reload(fake)
    assert fake.count("upload") == 3 and fake.posts_with(caption) == (1 if lands else 0)
    assert state(ig_store, draft_id) == PublishState.SENT  # committed before configure_sidecar left
    restarted = make_poster(ig_config, ig_store)
    for minutes in (1, 3, 8, 20, 45, 120):
        tick(restarted, fake, SLOT + timedelta(minutes=minutes))
    assert fake.count("configure_sidecar") == 1  # never sent again by itself
    assert draft_row(ig_store, draft_id)["status"] == ("posted" if lands else "publishing")


def test_sigkill_during_the_photo_uploads_is_approved_again_and_uploads_again(ig_home, ig_config, ig_store,
                                                                             shared_account):
    fake = shared_account
    draft_id = make_carousel(ig_store, "Album killed while uploading #dog")

    child = _child(ig_home / "pawpost.toml", fake.state, SLOT, {"upload": {"kill": True}})
    child.communicate(timeout=120)

    assert child.returncode == -signal.SIGKILL
    assert state(ig_store, draft_id) == PublishState.STARTED  # configure_sidecar was never sent
    restarted = make_poster(ig_config, ig_store)
    assert tick(restarted, _reload(fake), SLOT + timedelta(minutes=2)).status == "approved"
    assert fake.count("feed") == 0  # nothing to look for: nothing can be there
    assert tick(restarted, fake, at("2026-11-20 19:00")).status == "posted"
    assert fake.count("configure_sidecar") == 1 and fake.count("upload") == 1 + 3
