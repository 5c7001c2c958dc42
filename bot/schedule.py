"""Posting slots: when the next posts go out, in the configured IANA time zone.

(First cut for `status`; the publishing issue grows this into the scheduler.)
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from bot.config import ScheduleConfig


def upcoming_slots(schedule: ScheduleConfig, after: datetime, count: int = 1) -> list[datetime]:
    """The next `count` slot times strictly after `after`, as aware datetimes in the schedule's zone."""
    zone = schedule.zone
    day = after.astimezone(zone).date()
    found: list[datetime] = []
    while len(found) < count and schedule.slots:
        for slot in schedule.slots:
            hour, minute = map(int, slot.split(":"))
            moment = datetime.combine(day, time(hour, minute), tzinfo=zone)
            if moment > after:
                found.append(moment)
                if len(found) == count:
                    break
        day += timedelta(days=1)
    return found
