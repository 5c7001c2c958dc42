"""The schedule's facts in the database: the last slot fired, posts per local day, which draft fills a slot.

`SlotBook` feeds bot.publish.schedule's pure functions from SQLite; the poster asks it what is due and records
what fired.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta

from bot import timeutil
from bot.config import Config
from bot.publish import schedule
from bot.publish.schedule import Decision, Slot, Upcoming
from bot.store import keys
from bot.store.database import Store


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
        queue = [r[0] for r in self.store.all(self._QUEUE_SQL, {"now": timeutil.iso(now)})]
        return schedule.upcoming(self.config.schedule, now, count, salt=self.salt(),
                                 at_drafts=self.at_drafts(now), queue=queue, posts_on_day=self.posts_on_day)

    _QUEUE_SQL = """
        SELECT id FROM drafts WHERE status = 'approved'
          AND (scheduled_for IS NULL OR scheduled_for <= :now)
        ORDER BY scheduled_for IS NULL, scheduled_for, approved_at, id
    """

    def decide(self, now: datetime) -> Decision:
        """What to do at `now` (bot.publish.schedule.decide over the last fired slot and the --at drafts)."""
        return schedule.decide(self.config.schedule, now,
                               last_fired=timeutil.parse(self.store.get(keys.SCHEDULE_LAST_FIRED)), salt=self.salt(),
                               at_drafts=self.at_drafts(now - timedelta(days=3)), posts_on_day=self.posts_on_day)

    def at_drafts(self, since: datetime) -> list[tuple[int, datetime]]:
        rows = self.store.all("SELECT id, scheduled_for FROM drafts WHERE status = 'approved' "
                              "AND scheduled_for IS NOT NULL AND scheduled_for > ?", (timeutil.iso(since),))
        return [(r[0], timeutil.parse(r[1])) for r in rows]

    def pick(self, slot: Slot, now: datetime) -> int | None:
        params = {"now": timeutil.iso(now)}
        if slot.draft_id is not None:
            row = self.store.one("SELECT id FROM drafts WHERE id = :id AND status = 'approved' "
                                 "AND (retry_after IS NULL OR retry_after <= :now)", {**params, "id": slot.draft_id})
            if row:
                return row[0]
        row = self.store.one(
            "SELECT id FROM drafts WHERE status = 'approved' AND (scheduled_for IS NULL OR scheduled_for <= :now) "
            "AND (retry_after IS NULL OR retry_after <= :now) "
            "ORDER BY scheduled_for IS NULL, scheduled_for, approved_at, id LIMIT 1", params)
        return row[0] if row else None

    def posts_on_day(self, day: date) -> int:
        """Posts (and posts in flight) on a local day of the schedule's zone."""
        zone = self.config.schedule.zone
        since = timeutil.iso(datetime.combine(day - timedelta(days=1), datetime.min.time(), tzinfo=UTC))
        moments = [r[0] for r in self.store.all(
            "SELECT posted_at FROM drafts WHERE status = 'posted' AND posted_at >= ?", (since,))]
        moments += [r[0] for r in self.store.all(
            "SELECT a.started_at FROM attempts a JOIN drafts d ON d.id = a.draft_id "
            "WHERE d.status = 'publishing' AND a.outcome = 'pending'")]
        return sum(1 for m in moments if m and timeutil.parse(m).astimezone(zone).date() == day)

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
