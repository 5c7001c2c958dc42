"""The grid preview's order and the move by place (bot/publish/grid.py): queued posts in the slot book's order
(the last to go out top-left) above the latest posted and imported ones, and a move that swaps two queued posts'
times in one transaction, checked against the schedule's own plan."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot import timeutil
from bot.errors import ChangedMeanwhile, GridChanged, NotInGrid
from bot.publish.grid import grid, move, queued_tiles
from bot.publish.slots import SlotBook
from tests.bot.publish.conftest import at, make_carousel, make_draft, make_photo

NOW = "2026-11-20T08:00:00+00:00"


@pytest.fixture
def home_sections() -> dict[str, dict[str, Any]]:
    return {"schedule": {"timezone": "UTC", "slots": ["09:30", "19:00"], "jitter_minutes": 0,
                         "max_posts_per_day": 2}}


@pytest.fixture(autouse=True)
def fixed_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAWPOST_FAKE_NOW", NOW)


def queue_of(store: Any, n: int) -> list[int]:
    """`n` approved drafts, approved one after the other (the queue's order)."""
    return [make_draft(store, f"queued {i}", approved_at=at("2026-11-19 00:00") + timedelta(minutes=i))
            for i in range(n)]


def posted(store: Any, caption: str, when: str) -> int:
    draft_id = make_draft(store, caption, status="posted")
    store.update("drafts", draft_id, posted_at=timeutil.iso(at(when)), media_code=f"C{draft_id}")
    return draft_id


def imported(store: Any, when: str) -> int:
    photo_id = make_photo(store, f"imported {when}")
    store.insert("imported_posts", media_id=f"m-{photo_id}", media_code=f"I{photo_id}", caption="from before",
                 taken_at=timeutil.iso(at(when)), photo_id=photo_id, imported_at=NOW)
    return photo_id


def test_queued_posts_come_newest_first_above_the_posted_and_imported_ones(config, store) -> None:
    first, second = queue_of(store, 2)
    carousel = make_carousel(store)
    store.update("drafts", carousel, approved_at="2026-11-19T01:00:00+00:00")
    make_draft(store, "still pending", status="pending")
    old = posted(store, "posted first", "2026-11-10 09:30")
    new = posted(store, "posted last", "2026-11-18 19:00")
    before = imported(store, "2026-11-15 12:00")

    shown = grid(store, config)

    # Instagram's order: the post that goes out last is top-left; then the newest posted, down to the oldest.
    assert [t.draft_id for t in shown.queued] == [carousel, second, first]
    assert [t.at for t in shown.queued] == [at("2026-11-21 09:30"), at("2026-11-20 19:00"), at("2026-11-20 09:30")]
    assert [(t.draft_id, t.photo_id if t.draft_id is None else None) for t in shown.posted] == [
        (new, None), (None, before), (old, None)]
    assert [t.items for t in shown.queued] == [3, 1, 1] and shown.queued[0].carousel
    assert all(t.queued for t in shown.queued) and not any(t.queued for t in shown.posted)
    assert all(t.photo_id for t in shown.tiles) and {t.kind for t in shown.tiles} == {"photo"}


def test_a_reel_is_a_tile_of_its_own_kind(config, store) -> None:
    (draft_id,) = queue_of(store, 1)
    store.db.execute("UPDATE photos SET kind = 'video', duration_s = 4.0, cover_at = 1.5 WHERE id = "
                     "(SELECT photo_id FROM draft_media WHERE draft_id = ?)", (draft_id,))

    [tile] = grid(store, config).queued

    assert tile.reel and not tile.carousel


def test_the_grid_shows_at_most_twelve_queued_posts_in_the_slot_books_order(config, store) -> None:
    drafts = queue_of(store, 14)

    shown = grid(store, config)

    assert [t.draft_id for t in shown.queued] == list(reversed(drafts[:12]))
    planned = [u.draft_id for u in SlotBook(store, config).upcoming(timeutil.now(), 14) if u.draft_id]
    assert planned[:12] == drafts[:12]


def test_a_move_swaps_the_two_posts_times_and_the_others_keep_theirs(config, store) -> None:
    a, b, c = queue_of(store, 3)
    before = {t.draft_id: t.slot_at for t in queued_tiles(store, config)}

    done = move(store, config, a, c, shown_at=timeutil.iso(before[c]))

    after = {t.draft_id: t.slot_at for t in queued_tiles(store, config)}
    assert (done.draft_id, done.at, done.other, done.other_at) == (a, before[c], c, before[a])
    assert after == {a: before[c], b: before[b], c: before[a]}
    assert [t.draft_id for t in grid(store, config).queued] == [a, b, c]
    assert store.draft(a)["scheduled_for"] == timeutil.iso(before[c])
    assert store.draft(b)["scheduled_for"] is None  # untouched: still the next free slot
    events = [r[0] for r in store.all("SELECT draft_id FROM events WHERE kind = 'draft.rescheduled' ORDER BY id")]
    assert events == [a, c]


def test_a_moved_post_loses_the_jitter_and_the_rest_keep_their_planned_times(config, store) -> None:
    config.schedule.jitter_minutes = 20
    a, b, c, d = queue_of(store, 4)
    before = {t.draft_id: (t.at, t.slot_at) for t in queued_tiles(store, config)}

    move(store, config, d, a)

    after = {t.draft_id: (t.at, t.slot_at) for t in queued_tiles(store, config)}
    assert after[b] == before[b] and after[c] == before[c]
    assert after[d] == (before[a][1], before[a][1]) and after[a] == (before[d][1], before[d][1])


def test_a_move_respects_the_daily_cap(config, store) -> None:
    config.schedule.max_posts_per_day = 1
    a, b, c = queue_of(store, 3)  # one a day: 20th, 21st, 22nd

    move(store, config, c, a)

    days = {t.draft_id: t.at.date() for t in queued_tiles(store, config)}
    assert sorted(days.values()) == [at("2026-11-20 00:00").date() + timedelta(days=i) for i in range(3)]
    assert days[c] < days[b] < days[a]


def test_a_grid_that_changed_since_it_was_shown_moves_nothing(config, store) -> None:
    a, b = queue_of(store, 2)
    shown = {t.draft_id: t for t in queued_tiles(store, config)}
    earlier = make_draft(store, "approved meanwhile", approved_at=at("2026-11-18 00:00"))  # takes the first slot

    with pytest.raises(GridChanged):
        move(store, config, b, a, shown_at=timeutil.iso(shown[a].slot_at))
    with pytest.raises(ChangedMeanwhile):
        store.update("drafts", a, caption="changed meanwhile", updated_at=timeutil.iso(timeutil.now()))
        move(store, config, b, a, versions={a: shown[a].version})

    assert [store.draft(i)["scheduled_for"] for i in (a, b, earlier)] == [None, None, None]


def test_only_queued_posts_can_be_moved(config, store) -> None:
    (a,) = queue_of(store, 1)
    pending = make_draft(store, "not approved", status="pending")
    gone = posted(store, "out already", "2026-11-18 19:00")

    for other in (pending, gone):
        with pytest.raises(NotInGrid):
            move(store, config, other, a)
        with pytest.raises(NotInGrid):
            move(store, config, a, other)
    assert move(store, config, a, a).other is None and store.draft(a)["scheduled_for"] is None
