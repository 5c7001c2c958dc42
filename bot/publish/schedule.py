"""Posting slots: when posts go out, in the configured IANA time zone, and the daemon's posting scheduler.

Pure functions (`slot_times`, `plan`, `decide`, `upcoming`) answer "what is due now" from the database's facts
and an injected time; `PostingScheduler` (APScheduler, in-memory jobs) only wakes the poster up to ask.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot import timeutil
from bot.config import ScheduleConfig

log = logging.getLogger(__name__)

# A slot that fires this late is still on time (a slow tick), not a missed one.
ON_TIME = timedelta(minutes=5)
# Missed slots older than this are not even looked at: at most one is caught up anyway.
LOOKBACK = timedelta(days=2)
# How long `stop(wait=False)` waits for a running tick (a publish in flight) before leaving the close to it.
STOP_GRACE = 5.0


@dataclass(frozen=True)
class Slot:
    """A posting time. `at`: the nominal time (local zone); `fire_at`: with jitter; `draft_id`: an --at draft's."""

    at: datetime
    fire_at: datetime
    draft_id: int | None = None

    @property
    def local_day(self) -> date:
        return self.at.date()

    def to_json(self) -> dict[str, Any]:
        return {"at": timeutil.iso(self.at), "fire_at": timeutil.iso(self.fire_at), "draft_id": self.draft_id}


@dataclass
class Decision:
    """What a tick should do: post for `slot` (None: nothing due); `passed`: older slots skipped over."""

    slot: Slot | None
    passed: list[Slot] = field(default_factory=list)
    reason: str = ""


def local_slot(day: date, hhmm: str, zone: ZoneInfo) -> datetime:
    """The real instant of wall time `hhmm` on `day`: a time skipped by spring-forward moves forward by the gap
    (02:30 -> 03:30); a time repeated by fall-back is its first occurrence, so each slot happens once a day."""
    hour, minute = map(int, hhmm.split(":"))
    wall = datetime.combine(day, time(hour, minute), tzinfo=zone)  # fold=0: the earlier offset
    return wall.astimezone(UTC).astimezone(zone)


def slot_times(schedule: ScheduleConfig, start: datetime, end: datetime) -> list[datetime]:
    """Nominal slot instants in (start, end], oldest first, each once, in the schedule's zone."""
    zone = schedule.zone
    day = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date() + timedelta(days=1)
    seen: set[datetime] = set()
    out: list[datetime] = []
    while day <= last:
        for hhmm in schedule.slots:
            moment = local_slot(day, hhmm, zone)
            if start < moment <= end and moment not in seen:
                seen.add(moment)
                out.append(moment)
        day += timedelta(days=1)
    return sorted(out)


def upcoming_slots(schedule: ScheduleConfig, after: datetime, count: int = 1) -> list[datetime]:
    """The next `count` nominal slot times strictly after `after`, as aware datetimes in the schedule's zone."""
    if not schedule.slots or count <= 0:
        return []
    days = count // max(1, len(schedule.slots)) + 2
    return slot_times(schedule, after, after + timedelta(days=days))[:count]


def jitter(at: datetime, minutes: int, salt: str) -> timedelta:
    """A random-looking delay in [0, minutes] for the slot at `at`: fixed per slot and install (the salt), so
    restarts, repeated ticks and `pawpost schedule` agree on when a slot goes out."""
    if minutes <= 0:
        return timedelta(0)
    digest = hashlib.sha256(f"{salt}|{timeutil.iso(at)}".encode()).digest()
    return timedelta(seconds=int.from_bytes(digest[:8], "big") % (minutes * 60 + 1))


def plan(schedule: ScheduleConfig, after: datetime, until: datetime, *, salt: str = "",
         at_drafts: Sequence[tuple[int, datetime]] = ()) -> list[Slot]:
    """Every slot firing in (after, until], oldest first: the regular slots with jitter, and drafts approved
    with --at at their exact time (replacing a regular slot at that same time, never adding a second post)."""
    zone = schedule.zone
    extra = {when.astimezone(UTC): draft_id for draft_id, when in at_drafts}
    slots: list[Slot] = []
    # Jitter delays a slot by up to jitter_minutes, so slots a little before `after` may still fire after it.
    for at in slot_times(schedule, after - timedelta(minutes=schedule.jitter_minutes), until):
        if at.astimezone(UTC) in extra:
            continue
        slot = Slot(at, (at + jitter(at, schedule.jitter_minutes, salt)).astimezone(UTC))
        if after < slot.fire_at <= until:
            slots.append(slot)
    for when, draft_id in extra.items():
        if after < when <= until:
            slots.append(Slot(when.astimezone(zone), when, draft_id))
    return sorted(slots, key=lambda s: (s.fire_at, s.draft_id is None))


def decide(schedule: ScheduleConfig, now: datetime, *, last_fired: datetime | None, salt: str = "",
           at_drafts: Sequence[tuple[int, datetime]] = (),
           posts_on_day: Callable[[date], int] = lambda day: 0) -> Decision:
    """The slot to post for at `now`, if any. Slots fired since `last_fired` are candidates; only the latest
    one can be posted, and only while it is at most catch_up_minutes old (missed ones are passed over: never a
    burst). A slot on a local day that already has max_posts_per_day posts is passed over too."""
    window = max(timedelta(minutes=schedule.catch_up_minutes), ON_TIME)
    # A fresh install (no slot fired yet) has missed nothing: only a slot still within the catch-up window counts.
    start = max(last_fired, now - LOOKBACK) if last_fired else now - window
    candidates = plan(schedule, start, now, salt=salt, at_drafts=at_drafts)
    if not candidates:
        return Decision(None)
    latest, older = candidates[-1], candidates[:-1]
    if now - latest.fire_at > window:
        return Decision(None, candidates, f"missed: the last slot was more than {schedule.catch_up_minutes} "
                                          "minutes ago")
    if posts_on_day(latest.local_day) >= schedule.max_posts_per_day:
        return Decision(None, candidates, f"daily cap: {schedule.max_posts_per_day} post(s) on "
                                          f"{latest.local_day.isoformat()} already")
    return Decision(latest, older)


def next_fire(schedule: ScheduleConfig, after: datetime, *, salt: str = "",
              at_drafts: Sequence[tuple[int, datetime]] = ()) -> Slot | None:
    """The first slot firing strictly after `after` (None when there are no slots at all)."""
    horizon = after + timedelta(days=2)
    found = plan(schedule, after, horizon, salt=salt, at_drafts=at_drafts)
    if not found and at_drafts:
        latest = max(when for _, when in at_drafts)
        found = plan(schedule, after, max(horizon, latest), salt=salt, at_drafts=at_drafts)
    return found[0] if found else None


@dataclass
class Upcoming:
    """One future slot and the draft that will fill it (None: nothing approved for it yet)."""

    slot: Slot
    draft_id: int | None
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {**self.slot.to_json(), "draft_id": self.draft_id, "note": self.note or None}


def upcoming(schedule: ScheduleConfig, now: datetime, count: int, *, salt: str = "",
             at_drafts: Sequence[tuple[int, datetime]] = (), queue: Sequence[int] = (),
             posts_on_day: Callable[[date], int] = lambda day: 0) -> list[Upcoming]:
    """The next `count` slots and which drafts will fill them: --at drafts their own time, the others in
    `queue` order (oldest approved first); slots over the daily cap are shown as skipped."""
    if count <= 0:
        return []
    horizon = now + timedelta(days=count // max(1, len(schedule.slots) or 1) + 2)
    if at_drafts:
        horizon = max(horizon, max(when for _, when in at_drafts))
    waiting = list(queue)
    planned: dict[date, int] = {}
    out: list[Upcoming] = []
    slots = plan(schedule, now, horizon, salt=salt, at_drafts=at_drafts)
    # An --at draft that does not get its time (another draft has that very time) or whose time is skipped by the
    # daily cap is not lost: from then on it waits in the queue, ahead of the drafts approved without a time.
    own = {s.draft_id for s in slots if s.draft_id is not None}
    displaced = sorted((when, draft_id) for draft_id, when in at_drafts if draft_id not in own and when > now)
    ahead = 0  # drafts put at the front of the queue so far, in the order of their times
    for slot in slots:
        while displaced and displaced[0][0] <= slot.fire_at:
            waiting.insert(ahead, displaced.pop(0)[1])
            ahead += 1
        day = slot.local_day
        if posts_on_day(day) + planned.get(day, 0) >= schedule.max_posts_per_day:
            out.append(Upcoming(slot, None, "skipped: daily cap"))
            if slot.draft_id is not None:
                waiting.insert(ahead, slot.draft_id)
                ahead += 1
        elif slot.draft_id is not None:
            planned[day] = planned.get(day, 0) + 1
            out.append(Upcoming(slot, slot.draft_id, "approved for this time"))
        elif waiting:
            planned[day] = planned.get(day, 0) + 1
            out.append(Upcoming(slot, waiting.pop(0)))
            ahead = max(0, ahead - 1)
        else:
            out.append(Upcoming(slot, None, "nothing approved yet"))
        if len(out) >= count:
            break
    return out


class PostingScheduler:
    """Wakes the poster at each slot's fire time and every `interval` seconds (retries, looks for unsettled drafts,
    the end of a cooldown, drafts approved by another process).

    APScheduler runs the timers: a date job at the next fire time, re-planned after every tick, and an interval job;
    one worker thread (ticks never overlap, and the poster's SQLite connection stays in its thread), coalescing (a
    backlog of missed wake-ups is one tick) and no misfire limit (a late wake-up still asks). Its job store is in
    memory: nothing is kept there that the database does not already know, so a restart loses nothing. WHAT is due
    is never APScheduler's call; the functions above decide from the database (`schedule_last_fired`), because
    what it offers for that disagrees with the schedule's contract:
    - its cron triggers fire a slot in the repeated hour twice on the fall-back day (2026-10-25 02:30 Europe/Madrid
      at +02:00 and again at +01:00, APScheduler 3.11); `slot_times` gives each slot once a day;
    - its jitter is drawn at random whenever it plans the next run, so `pawpost schedule`, `status` and the review
      site could not show when a post really goes out; `jitter` is fixed per slot and install and known in advance;
    - its misfire grace and coalescing per slot live in its job store, lost at a restart (the one time catch-up
      matters) or, persisted, a second record of what fired; `decide` catches up one missed slot within
      catch_up_minutes and never bursts.

    `make_poster` is called in the worker thread; the poster needs `tick(now)` and `next_fire_time(now)`.
    """

    def __init__(self, config: Any, make_poster: Callable[[], Any], *, clock: Callable[[], datetime] = timeutil.now,
                 interval: float = 30.0) -> None:
        self.config = config
        self.make_poster = make_poster
        self.clock = clock
        self.interval = interval
        self._poster: Any = None
        self._scheduler: Any = None
        self._lock = threading.Lock()
        self._stopping = False
        self.last_result: Any = None

    def start(self) -> None:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.jobstores.memory import MemoryJobStore
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.interval import IntervalTrigger

        self._stopping = False
        self._scheduler = BackgroundScheduler(
            jobstores={"default": MemoryJobStore()},
            # One worker thread: ticks never overlap, and the poster's SQLite connection stays in its thread.
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=self.config.schedule.zone,
        )
        self._scheduler.add_job(self.run_once, IntervalTrigger(seconds=self.interval), id="posting-tick",
                                next_run_time=datetime.now(UTC))
        self._scheduler.start()

    def stop(self, wait: bool = True) -> None:
        self._stopping = True
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=wait)
            self._scheduler = None
        # The worker thread may be inside a publish: closing its HTTP sessions under it would break the request
        # halfway. If its tick does not end within STOP_GRACE, the worker closes the poster when it does.
        if self._lock.acquire(timeout=-1 if wait else STOP_GRACE):
            try:
                self._close_poster()
            finally:
                self._lock.release()

    def _close_poster(self) -> None:
        if self._poster is not None and hasattr(self._poster, "close"):
            self._poster.close()
        self._poster = None

    def run_once(self) -> Any:
        """One tick now (what the jobs call); plans the next slot's wake-up."""
        with self._lock:
            if not self._stopping:
                try:
                    if self._poster is None:
                        self._poster = self.make_poster()
                    self.last_result = self._poster.tick(self.clock())
                except Exception:  # a bug must not kill the scheduler: log it, try again next tick
                    log.exception("posting tick failed")
                try:
                    self._plan_next()
                except Exception:
                    log.exception("planning the next posting slot failed")
            if self._stopping:
                self._close_poster()  # stop() did not wait for this tick: the poster is closed after it
            return self.last_result

    def _plan_next(self) -> None:
        if self._scheduler is None or self._poster is None:
            return
        from apscheduler.triggers.date import DateTrigger

        now = self.clock()
        when = self._poster.next_fire_time(now)
        if when is None:
            return
        # The injected clock may differ from the wall clock (tests, PAWPOST_FAKE_NOW): wake after the same delay.
        run_at = datetime.now(UTC) + max(timedelta(0), when - now)
        self._scheduler.add_job(self.run_once, DateTrigger(run_date=run_at), id="posting-slot",
                                replace_existing=True)

