"""The account's grid as it will look: the next queued posts (in the order the slot book plans them) above the
latest posted ones, and moving a queued post to another place of it.

A move swaps two queued posts' times: the picked post takes the slot time of the place it is put on, and the post
that held that place takes the picked one's. Both then keep those times as their own (as `--at` would), so the
other queued posts keep their places; a swapped post goes out at its slot's time without the jitter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot import timeutil
from bot.config import Config
from bot.drafts.actions import check_version
from bot.drafts.lifecycle import Action, require
from bot.drafts.timing import check_time, time_conflict
from bot.errors import GridChanged, NotInGrid, TimeTaken
from bot.publish.slots import PLAN_SLOTS, SlotBook
from bot.store.database import Store
from bot.store.states import DraftStatus

# How many queued and posted posts the preview shows: four rows of Instagram's three columns each.
QUEUED_TILES = 12
POSTED_TILES = 12


@dataclass
class Tile:
    """One post in the grid: a draft (queued or posted) or a post imported from the account's history.

    `photo_id`: the photo the tile shows (a carousel's first, a Reel's video for its cover); `items`: the post's
    media count (above 1: a carousel); `at`: when it goes out (queued: the slot's time with jitter) or went out;
    `slot_at`: a queued post's slot time without jitter, the time a post moved to this place takes."""

    draft_id: int | None
    photo_id: int | None
    kind: str
    items: int
    queued: bool
    at: datetime | None
    slot_at: datetime | None = None
    caption: str = ""
    version: str = ""
    media_code: str | None = None

    @property
    def carousel(self) -> bool:
        return self.items > 1

    @property
    def reel(self) -> bool:
        return self.kind == "video"

    def to_json(self) -> dict[str, Any]:
        return {"draft_id": self.draft_id, "photo_id": self.photo_id, "kind": self.kind, "items": self.items,
                "queued": self.queued, "at": timeutil.iso(self.at) if self.at else None,
                "slot_at": timeutil.iso(self.slot_at) if self.slot_at else None, "caption": self.caption,
                "media_code": self.media_code}


@dataclass
class Grid:
    """The preview in Instagram's reading order (newest top-left): `queued` with the last to go out first, then
    `posted`, newest first."""

    queued: list[Tile]
    posted: list[Tile]

    @property
    def tiles(self) -> list[Tile]:
        return [*self.queued, *self.posted]


def _first_media(store: Store, draft_ids: list[int]) -> dict[int, tuple[int, str, int]]:
    """Each draft's first photo, its kind and its media count, by draft id."""
    if not draft_ids:
        return {}
    marks = ",".join("?" * len(draft_ids))
    rows = store.all(
        "SELECT m.draft_id, m.photo_id, p.kind, (SELECT count(*) FROM draft_media n WHERE n.draft_id = m.draft_id) "
        "FROM draft_media m JOIN photos p ON p.id = m.photo_id "
        f"WHERE m.draft_id IN ({marks}) AND m.position = (SELECT min(position) FROM draft_media f "
        "WHERE f.draft_id = m.draft_id)", draft_ids)
    return {r[0]: (r[1], r[2] or "photo", r[3]) for r in rows}


def queued_tiles(store: Store, config: Config, now: datetime | None = None, limit: int = QUEUED_TILES) -> list[Tile]:
    """The next `limit` approved posts in the order they go out (the slot book's plan), the first to go first."""
    from bot.drafts.actions import get_draft

    now = now or timeutil.now()
    plan = [u for u in SlotBook(store, config).upcoming(now, PLAN_SLOTS) if u.draft_id is not None][:limit]
    media = _first_media(store, [u.draft_id for u in plan if u.draft_id is not None])
    tiles = []
    for u in plan:
        assert u.draft_id is not None
        view = get_draft(store, u.draft_id)
        photo_id, kind, items = media.get(u.draft_id, (None, "photo", 1))
        tiles.append(Tile(u.draft_id, photo_id, kind, items, True, u.slot.fire_at, u.slot.at,
                          caption=view.caption or "", version=view.version))
    return tiles


def posted_tiles(store: Store, limit: int = POSTED_TILES) -> list[Tile]:
    """The latest posts on the account that pawpost has a photo of, newest first: its own posted drafts and the
    posts imported from the account's history."""
    drafts = store.all("SELECT id, posted_at, caption, media_code FROM drafts WHERE status = ? "
                       "AND posted_at IS NOT NULL ORDER BY posted_at DESC, id DESC LIMIT ?",
                       (DraftStatus.POSTED, limit))
    media = _first_media(store, [r[0] for r in drafts])
    tiles = [Tile(r[0], *media.get(r[0], (None, "photo", 1)), False, timeutil.stored(r[1]), caption=r[2] or "",
                  media_code=r[3]) for r in drafts]
    imported = store.all("SELECT i.photo_id, i.taken_at, i.caption, i.media_code, p.kind FROM imported_posts i "
                         "JOIN photos p ON p.id = i.photo_id WHERE i.taken_at IS NOT NULL "
                         "ORDER BY i.taken_at DESC LIMIT ?", (limit,))
    tiles += [Tile(None, r[0], r[4] or "photo", 1, False, timeutil.stored(r[1]), caption=r[2] or "",
                   media_code=r[3]) for r in imported]
    # Times that cannot be read sort last: they are the least likely to be the newest.
    tiles.sort(key=lambda t: t.at.timestamp() if t.at else float("-inf"), reverse=True)
    return tiles[:limit]


def grid(store: Store, config: Config, now: datetime | None = None) -> Grid:
    return Grid(list(reversed(queued_tiles(store, config, now))), posted_tiles(store))


def grid_photo(store: Store, photo_id: int) -> bool:
    """Whether the grid may show photo `photo_id`: a draft's first medium, or an imported post's photo."""
    return bool(store.value(
        "SELECT 1 FROM imported_posts WHERE photo_id = ? UNION ALL SELECT 1 FROM draft_media m WHERE m.photo_id = ? "
        "AND m.position = (SELECT min(position) FROM draft_media f WHERE f.draft_id = m.draft_id) LIMIT 1",
        (photo_id, photo_id)))


@dataclass
class Moved:
    """A move in the grid: `draft_id` now goes out at `at`; `other` (None: it was already there) at `other_at`."""

    draft_id: int
    at: datetime
    other: int | None = None
    other_at: datetime | None = None


def move(store: Store, config: Config, draft_id: int, to_draft_id: int, *, shown_at: str | None = None,
         versions: dict[int, str] | None = None, now: datetime | None = None) -> Moved:
    """Put queued post `draft_id` on the place of queued post `to_draft_id`, swapping their times, in one
    transaction. `shown_at`: the target place's slot time the owner saw (GridChanged when it holds another time
    now); `versions`: the drafts' versions as shown (ChangedMeanwhile when one changed). The plan is read again
    after the swap: unless both posts go out at their new places, nothing is kept (TimeTaken)."""
    with store.tx():
        for other_id, version in (versions or {}).items():
            require(Action.RESCHEDULE, check_version(store, other_id, version))
        places = {t.draft_id: t for t in queued_tiles(store, config, now)}
        picked, target = places.get(draft_id), places.get(to_draft_id)
        if picked is None:
            raise NotInGrid(draft_id)
        if target is None:
            raise NotInGrid(to_draft_id)
        assert picked.slot_at is not None and target.slot_at is not None
        if shown_at is not None and timeutil.stored(shown_at) != target.slot_at:
            raise GridChanged(to_draft_id)
        if draft_id == to_draft_id:
            return Moved(draft_id, target.slot_at)
        check_time(store, config, draft_id, target.slot_at, free=False)
        check_time(store, config, to_draft_id, picked.slot_at, free=False)
        zone = config.schedule.zone
        for moved, at, other in ((draft_id, target.slot_at, to_draft_id), (to_draft_id, picked.slot_at, draft_id)):
            store.set_draft_status(moved, DraftStatus.APPROVED, expect=DraftStatus.APPROVED,
                                   scheduled_for=timeutil.iso(at))
            store.event("draft.rescheduled", f"draft {moved} rescheduled for {timeutil.local(at, zone)} "
                        f"(swapped with draft {other} in the grid)", draft_id=moved)
        after = {t.draft_id: t.slot_at for t in queued_tiles(store, config, now, limit=PLAN_SLOTS)}
        for moved, at in ((draft_id, target.slot_at), (to_draft_id, picked.slot_at)):
            if after.get(moved) != at:
                raise TimeTaken(moved, at, time_conflict(store, config, moved, at) or
                                f"the schedule would not post draft {moved} at {timeutil.local(at, zone)}")
    return Moved(draft_id, target.slot_at, to_draft_id, picked.slot_at)
