"""Posting slots with an injected clock: time zones, daylight-saving days, jitter, the daily cap, catch-up."""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config import ScheduleConfig
from bot.publish.schedule import PostingScheduler, decide, jitter, next_fire, plan, upcoming, upcoming_slots

MADRID = ZoneInfo("Europe/Madrid")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def simulate(schedule: ScheduleConfig, start: datetime, end: datetime, *, step: timedelta = timedelta(minutes=1),
             salt: str = "s", at_drafts=(), down: tuple[datetime, datetime] | None = None) -> list:
    """Tick every `step` like the poster does (each fired slot becomes one post); returns the slots posted."""
    posted: list = []
    last = start
    now = start
    while now <= end:
        if down is None or not down[0] <= now < down[1]:
            counts = Counter(s.local_day for s in posted)
            d = decide(schedule, now, last_fired=last, salt=salt, at_drafts=at_drafts,
                       posts_on_day=lambda day, c=counts: c[day])
            if d.slot is not None:
                posted.append(d.slot)
                last = d.slot.fire_at
            elif d.passed:
                last = d.passed[-1].fire_at
        now += step
    return posted


def test_slots_are_local_times_in_a_non_utc_zone():
    schedule = ScheduleConfig(timezone="Europe/Madrid", slots=["09:30", "19:00"])

    winter = upcoming_slots(schedule, utc("2026-01-15 00:00"), 3)
    summer = upcoming_slots(schedule, utc("2026-07-15 00:00"), 2)

    assert [s.astimezone(UTC) for s in winter] == [utc("2026-01-15 08:30"), utc("2026-01-15 18:00"),
                                                   utc("2026-01-16 08:30")]
    assert [s.astimezone(UTC) for s in summer] == [utc("2026-07-15 07:30"), utc("2026-07-15 17:00")]
    assert all(s.tzinfo == MADRID and s.strftime("%H:%M") in ("09:30", "19:00") for s in winter + summer)


def test_spring_forward_day_posts_each_slot_once():
    # 2026-03-29 in Madrid: 02:00 CET jumps to 03:00 CEST, so 02:30 does not exist that day.
    schedule = ScheduleConfig(timezone="Europe/Madrid", slots=["02:30", "09:30", "19:00"], jitter_minutes=0,
                              max_posts_per_day=5)

    posted = simulate(schedule, utc("2026-03-28 22:00"), utc("2026-03-29 22:30"))

    assert [s.fire_at for s in posted] == [
        utc("2026-03-29 01:30"),  # 02:30 CET that never was = 03:30 CEST: moved forward by the gap
        utc("2026-03-29 07:30"),  # 09:30 CEST
        utc("2026-03-29 17:00"),  # 19:00 CEST
    ]
    assert [s.at.strftime("%H:%M %Z") for s in posted] == ["03:30 CEST", "09:30 CEST", "19:00 CEST"]


def test_fall_back_day_posts_the_repeated_hour_once():
    # 2026-10-25 in Madrid: 03:00 CEST falls back to 02:00 CET, so 02:30 happens twice.
    schedule = ScheduleConfig(timezone="Europe/Madrid", slots=["02:30", "19:00"], jitter_minutes=10,
                              max_posts_per_day=5)

    posted = simulate(schedule, utc("2026-10-24 21:00"), utc("2026-10-25 19:00"))

    assert len(posted) == 2
    first = posted[0]
    assert first.at == datetime(2026, 10, 25, 2, 30, tzinfo=MADRID)  # the first 02:30 (CEST)
    assert first.at.astimezone(UTC) == utc("2026-10-25 00:30")
    assert posted[1].at.astimezone(UTC) == utc("2026-10-25 18:00")  # 19:00 CET


@pytest.mark.parametrize("zone", ["Europe/Madrid", "America/New_York", "Australia/Sydney", "UTC"])
def test_every_local_day_of_a_year_gets_each_slot_exactly_once(zone):
    schedule = ScheduleConfig(timezone=zone, slots=["01:30", "02:30", "09:30"], jitter_minutes=0)
    start, end = utc("2026-01-01 00:00"), utc("2027-01-01 00:00")

    slots = plan(schedule, start, end, salt="x")

    days = Counter(s.at.date() for s in slots)
    assert len(set(s.fire_at for s in slots)) == len(slots)  # never two posts at one instant
    assert all(n == 3 for d, n in days.items() if start.astimezone(ZoneInfo(zone)).date() < d
               < end.astimezone(ZoneInfo(zone)).date())


def test_jitter_stays_within_bounds_and_varies():
    schedule = ScheduleConfig(timezone="Europe/Madrid", slots=["09:30", "19:00"], jitter_minutes=10)

    slots = plan(schedule, utc("2026-01-01 00:00"), utc("2026-04-01 00:00"), salt="install-1")

    delays = [s.fire_at - s.at for s in slots]
    assert len(slots) == 180
    assert all(timedelta(0) <= d <= timedelta(minutes=10) for d in delays)
    assert len(set(delays)) > 100  # random-looking, not a constant offset
    assert min(delays) < timedelta(minutes=2) and max(delays) > timedelta(minutes=8)
    # Fixed per slot and install: a restart or a second tick agrees on when a slot goes out.
    again = plan(schedule, utc("2026-01-01 00:00"), utc("2026-04-01 00:00"), salt="install-1")
    assert [s.fire_at for s in again] == [s.fire_at for s in slots]
    other = plan(schedule, utc("2026-01-01 00:00"), utc("2026-04-01 00:00"), salt="install-2")
    assert [s.fire_at for s in other] != [s.fire_at for s in slots]
    assert jitter(slots[0].at, 0, "x") == timedelta(0)


def test_a_slot_fires_only_after_its_jitter():
    schedule = ScheduleConfig(timezone="UTC", slots=["09:30"], jitter_minutes=10)
    slot = plan(schedule, utc("2026-05-01 00:00"), utc("2026-05-02 00:00"), salt="k")[0]

    before = decide(schedule, slot.fire_at - timedelta(seconds=1), last_fired=utc("2026-05-01 00:00"), salt="k")
    on_time = decide(schedule, slot.fire_at, last_fired=utc("2026-05-01 00:00"), salt="k")

    assert before.slot is None and on_time.slot == slot
    assert next_fire(schedule, utc("2026-05-01 00:00"), salt="k") == slot


def test_daily_cap_holds_per_local_day():
    schedule = ScheduleConfig(timezone="America/New_York", slots=["08:00", "12:00", "16:00", "20:00"],
                              jitter_minutes=5, max_posts_per_day=2)

    posted = simulate(schedule, utc("2026-06-01 00:00"), utc("2026-06-05 00:00"), step=timedelta(minutes=2))

    per_day = Counter(s.local_day for s in posted)
    assert max(per_day.values()) == 2
    assert [per_day[date(2026, 6, d)] for d in (1, 2, 3, 4)] == [2, 2, 2, 2]
    assert all(s.at.strftime("%H:%M") in ("08:00", "12:00") for s in posted if s.local_day.day != 31)


def test_daily_cap_counts_posts_already_made_that_day():
    schedule = ScheduleConfig(timezone="UTC", slots=["09:30", "19:00"], jitter_minutes=0, max_posts_per_day=2)

    decision = decide(schedule, utc("2026-06-01 19:00"), last_fired=utc("2026-06-01 09:30"),
                      posts_on_day=lambda day: 2 if day == date(2026, 6, 1) else 0)

    assert decision.slot is None and "daily cap" in decision.reason
    assert [s.at for s in decision.passed] == [utc("2026-06-01 19:00")]


def test_catch_up_posts_one_missed_slot_and_skips_older_ones():
    schedule = ScheduleConfig(timezone="Europe/Madrid", slots=["07:00", "09:30", "12:00"], jitter_minutes=0,
                              catch_up_minutes=60, max_posts_per_day=3)
    last = datetime(2026, 2, 9, 12, 0, tzinfo=MADRID)  # the last slot handled before the machine went off

    back = decide(schedule, datetime(2026, 2, 10, 10, 0, tzinfo=MADRID), last_fired=last)

    assert back.slot is not None and back.slot.at == datetime(2026, 2, 10, 9, 30, tzinfo=MADRID)
    assert [s.at.strftime("%H:%M") for s in back.passed] == ["07:00"]  # older missed slot: skipped
    # Too late for the 09:30 one as well: nothing is posted until the next slot.
    late = decide(schedule, datetime(2026, 2, 10, 10, 31, tzinfo=MADRID), last_fired=last)
    assert late.slot is None and [s.at.strftime("%H:%M") for s in late.passed] == ["07:00", "09:30"]


def test_downtime_never_causes_a_burst():
    schedule = ScheduleConfig(timezone="UTC", slots=["06:00", "09:30", "13:00", "19:00"], jitter_minutes=7,
                              catch_up_minutes=60, max_posts_per_day=4)

    # Down from the 8th 05:00 to the 10th 09:50: nine slots go by unseen.
    posted = simulate(schedule, utc("2026-04-08 00:00"), utc("2026-04-10 20:00"),
                      down=(utc("2026-04-08 05:00"), utc("2026-04-10 09:50")))

    days = [s.at.strftime("%d %H:%M") for s in posted]
    assert days == ["10 09:30", "10 13:00", "10 19:00"]  # one catch-up (09:30, 20 min late), then on schedule
    gaps = [b.fire_at - a.fire_at for a, b in itertools.pairwise(posted)]
    assert min(gaps) > timedelta(hours=3)


def test_at_drafts_post_at_their_own_time_and_replace_a_slot_at_that_time():
    schedule = ScheduleConfig(timezone="UTC", slots=["09:30", "19:00"], jitter_minutes=10, max_posts_per_day=3)
    at_drafts = [(7, utc("2026-03-03 14:15")), (8, utc("2026-03-03 19:00"))]

    slots = plan(schedule, utc("2026-03-03 00:00"), utc("2026-03-04 00:00"), salt="z", at_drafts=at_drafts)

    assert [(s.fire_at.strftime("%H:%M"), s.draft_id) for s in slots][1:] == [("14:15", 7), ("19:00", 8)]
    assert slots[0].draft_id is None and slots[0].at == utc("2026-03-03 09:30")
    listed = upcoming(schedule, utc("2026-03-03 00:00"), 4, salt="z", at_drafts=at_drafts, queue=[3, 4])
    assert [(u.draft_id, u.note) for u in listed] == [(3, ""), (7, "approved for this time"),
                                                      (8, "approved for this time"), (4, "")]


def test_upcoming_shows_skipped_slots_over_the_cap():
    schedule = ScheduleConfig(timezone="UTC", slots=["09:30", "19:00"], jitter_minutes=0, max_posts_per_day=1)

    listed = upcoming(schedule, utc("2026-03-03 00:00"), 4, queue=[1, 2, 3])

    assert [(u.draft_id, u.note) for u in listed] == [(1, ""), (None, "skipped: daily cap"), (2, ""),
                                                      (None, "skipped: daily cap")]


def test_posting_scheduler_starts_ticks_with_the_injected_clock_and_stops():
    fixed = utc("2026-05-05 09:30")
    ticked: list[datetime] = []
    done = threading.Event()
    threads: set[str] = set()

    class Poster:
        def tick(self, now):
            ticked.append(now)
            threads.add(threading.current_thread().name)
            if len(ticked) >= 2:
                done.set()

        def next_fire_time(self, now):
            return now + timedelta(seconds=0.05)

    scheduler = PostingScheduler(type("C", (), {"schedule": ScheduleConfig(timezone="Europe/Madrid")})(),
                                 Poster, clock=lambda: fixed, interval=3600)
    scheduler.start()
    try:
        assert done.wait(10)
    finally:
        scheduler.stop()
    assert ticked[:2] == [fixed, fixed]
    assert len(threads) == 1 and threading.current_thread().name not in threads


def test_stop_without_waiting_never_closes_the_poster_under_a_running_publish(monkeypatch):
    import bot.publish.schedule

    monkeypatch.setattr(bot.publish.schedule, "STOP_GRACE", 0.1)
    publishing, release = threading.Event(), threading.Event()
    events: list[str] = []

    class Poster:
        def tick(self, now):
            publishing.set()
            release.wait(10)  # a slow upload
            events.append("publish done")

        def next_fire_time(self, now):
            return None

        def close(self):
            events.append("closed")

    scheduler = PostingScheduler(type("C", (), {"schedule": ScheduleConfig(timezone="UTC")})(), Poster,
                                 interval=3600)
    worker = threading.Thread(target=scheduler.run_once)
    worker.start()
    assert publishing.wait(10)

    scheduler.stop(wait=False)  # the daemon's second Ctrl-C: it does not wait for the publish
    release.set()
    worker.join(10)

    assert events == ["publish done", "closed"]  # closed once, after the publish, by the worker


def test_a_fresh_install_reports_no_missed_slots() -> None:
    from datetime import UTC, datetime

    from bot.config import ScheduleConfig
    from bot.publish.schedule import decide

    schedule = ScheduleConfig(timezone="Europe/Madrid", slots=["09:30", "19:00"], jitter_minutes=0)
    now = datetime(2026, 11, 22, 3, 4, tzinfo=UTC)  # long after yesterday's slots, nothing ever fired
    decision = decide(schedule, now, last_fired=None)
    assert decision.slot is None and not decision.passed
    # Within the catch-up window, the slot still counts on a fresh install.
    just_after = datetime(2026, 11, 22, 8, 40, tzinfo=UTC)  # 09:40 in Madrid
    assert decide(schedule, just_after, last_fired=None).slot is not None


def test_a_failing_tick_never_ends_the_posting_thread_and_stop_closes_the_poster(caplog):
    ticks: list[int] = []
    closed = threading.Event()
    again = threading.Event()

    class Poster:
        def tick(self, now):
            ticks.append(len(ticks))
            if len(ticks) == 1:
                raise RuntimeError("a bug in one tick")
            again.set()

        def next_fire_time(self, now):
            return None

        def close(self):
            closed.set()

    scheduler = PostingScheduler(type("C", (), {"schedule": ScheduleConfig(timezone="UTC")})(), Poster,
                                 interval=0.05)
    scheduler.start()
    try:
        assert again.wait(10)  # the tick after the failing one ran, in the same thread
    finally:
        scheduler.stop()
    assert closed.is_set() and "posting tick failed" in caplog.text
    count = len(ticks)
    time.sleep(0.2)
    assert len(ticks) == count  # stopped: no tick after stop()


def test_the_thread_sleeps_until_the_next_slot_when_it_comes_before_the_interval():
    now = utc("2026-05-05 09:29")
    woke = threading.Event()
    starts: list[float] = []

    class Poster:
        def tick(self, _now):
            starts.append(time.monotonic())
            if len(starts) == 2:
                woke.set()

        def next_fire_time(self, _now):
            return now + timedelta(seconds=0.3)  # the next slot, well before the hour-long interval

    scheduler = PostingScheduler(type("C", (), {"schedule": ScheduleConfig(timezone="UTC")})(), Poster,
                                 clock=lambda: now, interval=3600)
    scheduler.start()
    try:
        assert woke.wait(10)
    finally:
        scheduler.stop()
    assert starts[1] - starts[0] >= 0.3
