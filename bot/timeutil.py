"""Time in one place: store UTC as ISO 8601 with offset, show local, and a clock tests can set.

`PAWPOST_FAKE_NOW` (ISO 8601) pins the clock for end-to-end tests of the daemon in a subprocess.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from zoneinfo import ZoneInfo


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    fake = os.environ.get("PAWPOST_FAKE_NOW")
    if fake:
        return parse(fake)
    return datetime.now(UTC)


def iso(moment: datetime | None) -> str | None:
    """UTC ISO 8601 with offset, to the second, for storage and JSON."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError("naive datetime; pawpost only stores aware times")
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def iso_precise(moment: datetime | None) -> str | None:
    """Like `iso`, keeping milliseconds when there are any (capture times: the order of a burst's frames)."""
    if moment is None or moment.microsecond < 1000:
        return iso(moment)
    if moment.tzinfo is None:
        raise ValueError("naive datetime; pawpost only stores aware times")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def parse(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def local(moment: datetime | str | None, zone: ZoneInfo | str) -> str:
    """A short local time for tables: '2026-11-22 19:04'."""
    if isinstance(moment, str):
        moment = parse(moment)
    if moment is None:
        return "-"
    tz = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")
