"""The schedule's facts in the database: the last slot fired, posts per local day, which draft fills a slot.

`SlotBook` feeds bot.publish.schedule's pure functions from SQLite; the poster asks it what is due and records
what fired; `planned` says when one approved draft goes out.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot import timeutil
from bot.config import Config
from bot.drafts import timing
from bot.publish import schedule
from bot.publish.schedule import Decision, Slot, Upcoming
from bot.store import keys
from bot.store.database import Store
from bot.store.states import DraftStatus


class SlotBook:
    """Which slot is due and which draft fills it (oldest approved first, --at drafts at their time)."""

    def __init__(self, store: Store, config: Config) -> None:
        self.store = store
        self.config = config

    def next_fire_time(self, now: datetime) -> datetime | None:
        slot = schedule.next_fire(self.config.schedule, now, salt=self.salt(), at_drafts=self.at_drafts(now))
        return slot.fire_at if slot else None

    def upcoming(self, now: datetime, count: int = 5) -> list[Upcoming]:
        """The next slots and the drafts that will fill them (for `pawpost schedule`)."""
        queue = self._queue(now)
        return schedule.upcoming(self.config.schedule, now, count, salt=self.salt(),
                                 at_drafts=self.at_drafts(now), queue=queue, posts_on_day=self.posts_on_day)

    _QUEUE_SQL = """
        SELECT id, scheduled_for FROM drafts WHERE status = :state
          AND (scheduled_for IS NULL OR scheduled_for <= :now) {retry}
        ORDER BY scheduled_for IS NULL, scheduled_for, approved_at, id
    """

    def _queue(self, now: datetime, *, retry_due: bool = False) -> list[int]:
        """The approved drafts waiting for a regular slot, in order: no time of their own, or one now passed. A
        draft whose stored time cannot be read waits (as `planned` says) rather than going out at some slot."""
        sql = self._QUEUE_SQL.format(retry="AND (retry_after IS NULL OR retry_after <= :now)" if retry_due else "")
        rows = self.store.all(sql, {"now": timeutil.iso(now), "state": DraftStatus.APPROVED})
        return [r[0] for r in rows if r[1] is None or timeutil.stored(r[1]) is not None]

    def decide(self, now: datetime) -> Decision:
        """What to do at `now` (bot.publish.schedule.decide over the last fired slot and the --at drafts)."""
        return schedule.decide(self.config.schedule, now,
                               last_fired=timeutil.parse(self.store.get(keys.SCHEDULE_LAST_FIRED)), salt=self.salt(),
                               at_drafts=self.at_drafts(now - timedelta(days=3)), posts_on_day=self.posts_on_day)

    def at_drafts(self, since: datetime) -> list[tuple[int, datetime]]:
        rows = self.store.all("SELECT id, scheduled_for FROM drafts WHERE status = ? "
                              "AND scheduled_for IS NOT NULL AND scheduled_for > ?",
                              (DraftStatus.APPROVED, timeutil.iso(since)))
        # A time that cannot be read (written by hand, or beyond the horizon) is no slot: the draft waits, and
        # `planned` says why.
        return [(r[0], when) for r in rows if (when := timeutil.stored(r[1])) is not None]

    def pick(self, slot: Slot, now: datetime) -> int | None:
        params = {"now": timeutil.iso(now), "state": DraftStatus.APPROVED}
        if slot.draft_id is not None:
            row = self.store.one("SELECT id FROM drafts WHERE id = :id AND status = :state "
                                 "AND (retry_after IS NULL OR retry_after <= :now)", {**params, "id": slot.draft_id})
            if row:
                return row[0]
        queue = self._queue(now, retry_due=True)
        return queue[0] if queue else None

    def posts_on_day(self, day: date) -> int:
        """Posts (and posts in flight) on a local day of the schedule's zone."""
        return timing.posts_on_day(self.store, self.config.schedule.zone, day)

    def salt(self) -> str:
        salt = self.store.get(keys.SCHEDULE_SALT)
        if not salt:
            salt = secrets.token_hex(8)
            # A read-only database (a read-only mount, a full disk) still answers `status` and `schedule`: the salt
            # is kept by the first command that can write, and until then the jitter shown is only indicative.
            if not self.store.read_only:
                self.store.put(keys.SCHEDULE_SALT, salt)
        return salt

    def last_fired(self) -> str | None:
        """The latest slot fired (ISO), as stored: what `restore_fired` puts back."""
        return self.store.get(keys.SCHEDULE_LAST_FIRED)

    def restore_fired(self, last_fired: str | None) -> None:
        """Nothing went out for a slot after all: it is free again (`last_fired` as it was before)."""
        self.store.put(keys.SCHEDULE_LAST_FIRED, last_fired)

    def fired(self, slot: Slot) -> None:
        last = timeutil.parse(self.store.get(keys.SCHEDULE_LAST_FIRED))
        if last is None or slot.fire_at > last:
            self.store.put(keys.SCHEDULE_LAST_FIRED, timeutil.iso(slot.fire_at))

    def pass_over(self, slots: list[Slot], reason: str) -> None:
        zone = self.config.schedule.zone
        for slot in slots:
            what = f"draft {slot.draft_id}'s time" if slot.draft_id else "slot"
            self.store.event("schedule.skipped", f"{what} {timeutil.local(slot.at, zone)} skipped: {reason}",
                             level="warning" if "missed" in reason else "info", draft_id=slot.draft_id)
        self.fired(slots[-1])


# How many upcoming slots are looked at to find when an approved draft goes out.
PLAN_SLOTS = 50


@dataclass
class Planned:
    """When the schedule will post a draft: `at` (None: not within the next PLAN_SLOTS slots) and, for a draft
    approved for a time it will not get, `moved` says why."""

    at: datetime | None
    asked: datetime | None = None
    moved: str = ""


def planned(store: Store, config: Config, draft_id: int, now: datetime | None = None) -> Planned | None:
    """When the approved draft `draft_id` is expected to go out, as `pawpost schedule` plans it (jitter, asked
    times, the daily cap and the drafts ahead of it included); None when the draft is not approved."""
    row = store.draft(draft_id)
    if row["status"] != DraftStatus.APPROVED:
        return None
    now = now or timeutil.now()
    asked = timeutil.stored(row["scheduled_for"])
    if asked is None and row["scheduled_for"]:
        return Planned(None, None, f"its time is {timeutil.unreadable(row['scheduled_for'])}, so it waits; "
                                   "approve it again with a time, or without one for the next free slot")
    if asked is not None and asked <= now:
        asked = None  # its time has passed: it waits in the queue like any other
    book = SlotBook(store, config)
    count = PLAN_SLOTS
    if asked is not None:
        # An asked time past the usual look-ahead: plan every slot up to it, so the draft is seen at its own time
        # (or moved for the true reason) rather than lost beyond the window.
        count = max(count, len(schedule.slot_times(config.schedule, now, asked)) + len(book.at_drafts(now)) + 1)
    found = next((u for u in book.upcoming(now, count) if u.draft_id == draft_id), None)
    at = found.slot.fire_at if found else None
    moved = ""
    if asked is not None and at != asked:
        zone = config.schedule.zone
        # Not another draft's time, nor a day full already: the posts planned before it fill the day.
        moved = timing.time_conflict(store, config, draft_id, asked) or (
            f"{asked.astimezone(zone).date().isoformat()} reaches schedule.max_posts_per_day "
            f"({config.schedule.max_posts_per_day}) with the posts planned before {asked.astimezone(zone):%H:%M}")
    return Planned(at, asked, moved)


def goes_out(plan: Planned, config: Config) -> str:
    """When an approved draft goes out, as every approval says it: 'at 2026-11-27 19:04 (Europe/Madrid)' (local
    time, 24-hour, and the zone), with why it is not the time asked for, if it is not."""
    zone = config.schedule.zone
    if plan.at is None and plan.asked is None and plan.moved:
        return f"never as it is: {plan.moved}"
    if plan.at is None:
        where = (f"after the next {PLAN_SLOTS} slots; see 'pawpost schedule'" if config.schedule.slots else
                 "only with 'pawpost post ID' (schedule.slots is empty)")
    else:
        where = f"at {timeutil.local(plan.at, zone)} ({config.schedule.timezone})"
    if plan.moved:
        where += f", not at the time asked for: {plan.moved}"
    return where
