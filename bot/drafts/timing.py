"""When a draft may go out at a time the owner asks for: the time read from text, in the future, free of another
draft and within the day's cap. The slot book (bot.publish.slots) plans the rest of the schedule on these facts.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from bot import timeutil
from bot.config import Config
from bot.errors import BadTime, TimeHasPassed, TimeTaken, TimeTooFar
from bot.store.database import Store
from bot.store.states import DraftStatus

# The one way the owner writes a time, everywhere (--at, the review loop, the page): ISO 8601 date and 24-hour
# time, local to the schedule's zone, with a space or ISO's "T" between them.
AT_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M")


def parse_at(text: str, config: Config) -> datetime:
    """'YYYY-MM-DD HH:MM' (or ISO's 'YYYY-MM-DDTHH:MM'), 24-hour, in the schedule's time zone, as an aware
    datetime; anything else (12-hour times, other date orders) is BadTime."""
    naive = None
    for pattern in AT_FORMATS:
        try:
            naive = datetime.strptime(text.strip(), pattern)
            break
        except ValueError:
            continue
    if naive is None:
        raise BadTime(text)
    zone = config.schedule.zone
    moment = naive.replace(tzinfo=zone)
    try:
        back = moment.astimezone(UTC).astimezone(zone)
    except OverflowError:  # the last hours of year 9999 have no UTC time
        raise too_far(naive.strftime("%Y-%m-%d %H:%M"), config) from None
    # A wall time skipped by a daylight-saving change does not survive the round trip through UTC.
    if back.replace(tzinfo=None) != naive:
        raise BadTime(text, config.schedule.timezone)
    return moment


def too_far(shown: str, config: Config) -> TimeTooFar:
    latest = timeutil.now() + timeutil.HORIZON
    return TimeTooFar(shown, timeutil.local(latest, config.schedule.zone), timeutil.HORIZON.days)


def posts_on_day(store: Store, zone: Any, day: date) -> int:
    """Posts (and posts in flight) on a local day of `zone`."""
    since = timeutil.iso(datetime.combine(day - timedelta(days=1), datetime.min.time(), tzinfo=UTC))
    moments = [r[0] for r in store.all("SELECT posted_at FROM drafts WHERE status = ? AND posted_at >= ?",
                                       (DraftStatus.POSTED, since))]
    moments += [r[0] for r in store.all(
        "SELECT a.started_at FROM attempts a JOIN drafts d ON d.id = a.draft_id "
        "WHERE d.status = 'publishing' AND a.outcome = 'pending'")]
    return sum(1 for m in moments if (when := timeutil.stored(m)) is not None and when.astimezone(zone).date() == day)


def time_conflict(store: Store, config: Config, draft_id: int, at: datetime) -> str | None:
    """Why draft `draft_id` cannot go out at `at` as asked (another draft has that time, or the day is already
    at the daily cap), or None."""
    zone = config.schedule.zone
    shown = f"{timeutil.local(at, zone)} ({config.schedule.timezone})"
    other = store.value("SELECT id FROM drafts WHERE id != ? AND status IN ('approved', 'publishing') "
                        "AND scheduled_for = ? ORDER BY id LIMIT 1", (draft_id, timeutil.iso(at)))
    if other is not None:
        return f"draft {other} is already approved for {shown}, and one time posts one draft"
    cap = config.schedule.max_posts_per_day
    day = at.astimezone(zone).date()
    if posts_on_day(store, zone, day) >= cap:
        return f"{day.isoformat()} already has {cap} post(s) (schedule.max_posts_per_day), so {shown} is skipped"
    return None


def check_time(store: Store, config: Config, draft_id: int, at: datetime, *, free: bool = True) -> None:
    """TimeHasPassed unless `at` is still to come, TimeTooFar beyond timeutil.HORIZON; with `free`, TimeTaken when
    another draft or the daily cap has it (refused rather than accepted: the draft would silently go out at some
    later slot instead)."""
    if at <= timeutil.now():
        raise TimeHasPassed(at, timeutil.local(at, config.schedule.zone))
    if at > timeutil.now() + timeutil.HORIZON:
        raise too_far(timeutil.local(at, config.schedule.zone), config)
    conflict = time_conflict(store, config, draft_id, at) if free else None
    if conflict:
        raise TimeTaken(draft_id, at, conflict)
