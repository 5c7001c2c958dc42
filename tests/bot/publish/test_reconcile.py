"""Exactly-once at its edges, through the real instagrapi client: unreadable answers, a lagging feed, clocks that
disagree, an edit racing the publish, a crash between post and record, `pawpost post` beside an unsettled draft.

Each test counts what Instagram holds: a second media with the same caption is a double post.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from bot.errors import PawpostError
from tests.bot.publish.conftest import at, make_draft
from tests.bot.publish.fake_instagram import Timeout, Unreadable
from tests.bot.publish.publishers.instagrapi.test_publisher import SLOT, draft_row, poster, tick

EVENING = at("2026-11-20 19:00")


def test_an_unreadable_answer_to_the_configure_is_checked_not_sent_again(ig_config, ig_store, fake, logged_in):
    draft_id = make_draft(ig_store, "Html answer #dog")
    fake.fail_next("configure", Unreadable(lands=True))
    p = poster(ig_config, ig_store)

    assert tick(p, fake, SLOT).status == "publishing"  # a 200 whose body is not JSON may be a post
    assert tick(p, fake, SLOT + timedelta(minutes=11)).status == "posted"
    assert tick(p, fake, EVENING) is None

    assert fake.count("configure") == 1 and len(fake.media) == 1
    assert draft_row(ig_store, draft_id)["media_code"] == fake.media[0]["code"]


def test_an_empty_feed_is_no_proof_that_nothing_was_posted(ig_config, ig_store, fake, logged_in):
    draft_id = make_draft(ig_store, "Lagging feed #dog")
    fake.fail_next("configure", Timeout(lands=True))
    p = poster(ig_config, ig_store)

    assert tick(p, fake, SLOT).status == "publishing"
    # The feed does not show the new post yet, and the account has nothing older to prove the answer complete.
    fake.fail_next("feed", (200, {"items": [], "num_results": 0, "more_available": False, "status": "ok"}))
    assert tick(p, fake, SLOT + timedelta(minutes=11)) is None
    assert draft_row(ig_store, draft_id)["status"] == "publishing"

    assert tick(p, fake, EVENING).status == "posted"  # the next look finds it
    assert fake.count("configure") == 1 and len(fake.media) == 1


def test_the_wait_before_looking_counts_from_the_error_not_the_start(ig_config, ig_store, fake, logged_in,
                                                                      monkeypatch):
    import time

    make_draft(ig_store, "Slow upload #dog")
    fake.now = (SLOT - timedelta(days=2)).timestamp()
    fake._configure({"caption": "An older post"})
    fake.fail_next("configure", Timeout(lands=True))
    # The upload and the lost configure take nine minutes.
    real, shift = time.monotonic, [0.0]
    monkeypatch.setattr(time, "monotonic", lambda: real() + shift[0])
    configure = fake._configure
    fake._configure = lambda data: (shift.__setitem__(0, 9 * 60.0), configure(data))[1]
    p = poster(ig_config, ig_store)

    assert tick(p, fake, SLOT).status == "publishing"
    assert tick(p, fake, SLOT + timedelta(minutes=10)) is None  # one minute after the error: too early
    assert fake.count("feed") == 0
    assert tick(p, fake, SLOT + timedelta(minutes=12)).status == "posted"
    assert fake.count("configure") == 1 and len(fake.media) == 2


def test_a_post_is_found_when_instagrams_clock_is_hours_off(ig_config, ig_store, fake, logged_in):
    fake.now = (SLOT - timedelta(days=1)).timestamp()
    fake._configure({"caption": "Yesterday's post"})
    draft_id = make_draft(ig_store, "Clock skew #dog")
    fake.fail_next("configure", Timeout(lands=True))
    p = poster(ig_config, ig_store)

    fake.now = (SLOT - timedelta(hours=3)).timestamp()  # Instagram's clock (or ours) three hours off
    assert p.tick(SLOT).status == "publishing"
    assert p.tick(SLOT + timedelta(minutes=11)).status == "posted"
    assert tick(p, fake, EVENING) is None

    assert fake.count("configure") == 1 and len(fake.media) == 2
    assert draft_row(ig_store, draft_id)["media_code"] == fake.media[0]["code"]


def test_a_post_of_another_draft_with_the_same_caption_is_not_taken_for_this_one(ig_config, ig_store, fake,
                                                                                  logged_in):
    fake.now = (SLOT - timedelta(hours=2)).timestamp()
    older = fake._configure({"caption": "Same again #dog"})
    first = make_draft(ig_store, "Same again #dog", status="posted")
    ig_store.update("drafts", first, media_id=older["id"], media_code=older["code"])
    second = make_draft(ig_store, "Same again #dog")
    fake.fail_next("configure", Timeout(lands=False))
    p = poster(ig_config, ig_store)

    assert tick(p, fake, SLOT).status == "publishing"
    # Only the other draft's post is there: not this one's, and no proof either way, so it stays unsettled.
    assert tick(p, fake, SLOT + timedelta(minutes=11)) is None
    row = draft_row(ig_store, second)
    assert row["media_id"] is None and row["status"] == "publishing"


def test_an_edit_during_the_publish_never_splits_what_was_sent_from_what_is_recorded(ig_config, ig_store, fake,
                                                                                      logged_in):
    from bot.drafts.actions import edit
    from bot.store.database import Store

    draft_id = make_draft(ig_store, "Caption A #dog")
    p = poster(ig_config, ig_store)
    read = p.store.draft
    owner: list[threading.Thread] = []

    def draft_then_owner_edits(draft_id_: int):
        row = read(draft_id_)
        if not owner:
            # `pawpost drafts edit` in another process, right after the poster read the draft.
            def run() -> None:
                other = Store.for_config(ig_config)
                try:
                    edit(other, ig_config, draft_id, "Caption B #dog")
                except PawpostError:
                    pass  # too late: the draft is publishing and can no longer be edited
                finally:
                    other.close()

            owner.append(threading.Thread(target=run))
            owner[0].start()
            owner[0].join(1.0)  # done at once, unless the poster's transaction holds the database
        return row

    p.store.draft = draft_then_owner_edits
    assert tick(p, fake, SLOT).status == "posted"
    owner[0].join(10)

    assert fake.media[0]["caption"]["text"] == draft_row(ig_store, draft_id)["caption"]


def test_a_crash_between_post_and_record_does_not_give_the_slot_a_second_post(ig_config, ig_store, fake, logged_in):
    first = make_draft(ig_store, "First of the day #dog")
    second = make_draft(ig_store, "Waiting its turn #dog")
    p = poster(ig_config, ig_store)

    class Killed(BaseException):
        pass

    def die(*args, **kwargs):
        raise Killed

    p._mark_posted = die  # SIGKILL right after Instagram answered
    with pytest.raises(Killed):
        tick(p, fake, SLOT)

    restarted = poster(ig_config, ig_store)
    settled = tick(restarted, fake, SLOT + timedelta(minutes=11))

    assert settled.draft_id == first and settled.status == "posted"
    assert fake.count("configure") == 1 and len(fake.media) == 1
    assert draft_row(ig_store, second)["status"] == "approved"
    assert tick(restarted, fake, EVENING).draft_id == second  # it goes at the next slot


def test_post_now_goes_ahead_beside_an_unsettled_draft_and_never_resends_it(ig_config, ig_store, fake, logged_in):
    unsettled = make_draft(ig_store, "Did it land? #dog")
    fake.fail_next("configure", Timeout(lands=False))
    p = poster(ig_config, ig_store)
    assert tick(p, fake, SLOT).status == "publishing"
    other = make_draft(ig_store, "Right now please #dog")

    with pytest.raises(PawpostError, match="unsettled"):
        p.post_now(unsettled, SLOT + timedelta(minutes=1))
    assert p.post_now(other, SLOT + timedelta(minutes=1)).status == "posted"

    assert fake.count("configure") == 2 and fake.posts_with("Did it land? #dog") == 0
    assert draft_row(ig_store, other)["status"] == "posted"
    assert draft_row(ig_store, unsettled)["status"] == "publishing"


def test_a_draft_left_publishing_by_an_earlier_version_is_unsettled_not_resent(ig_config, ig_store, fake, logged_in):
    """Before the attempt records existed, nothing said whether the configure had been sent: it may have been."""
    from bot.status import status

    draft_id = make_draft(ig_store, "From before the upgrade #dog", status="publishing")
    ig_store.insert("attempts", draft_id=draft_id, nonce="0" * 32, started_at="2026-11-20T09:30:00+00:00",
                    finished_at="2026-11-20T09:31:00+00:00", error_class="ReadTimeout", error="lost")
    p = poster(ig_config, ig_store)

    for minutes in (5, 20, 60):
        tick(p, fake, SLOT + timedelta(minutes=minutes))

    assert draft_row(ig_store, draft_id)["status"] == "publishing" and fake.count("configure") == 0
    assert fake.count("feed") >= 2
    [item] = status(ig_store, ig_config)["unsettled"]
    assert item["command"] == f"pawpost drafts resend {draft_id}" and "earlier pawpost" in item["reason"]
