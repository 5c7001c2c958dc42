"""Time in one place: store UTC as ISO 8601 with offset, show local, and a clock tests can set.

`PAWPOST_FAKE_NOW` (ISO 8601) pins the clock for end-to-end tests of the daemon in a subprocess.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

# How far ahead the owner may ask for a post (`drafts approve --at`, the review page's time field). A stored time
# more than twice this far ahead cannot have been written by pawpost: readers treat it as unreadable.
HORIZON = timedelta(days=365)
# Earlier than any photo's capture time: a stored time before it was written by hand (or by a broken clock).
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)


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


def stored(text: str | None) -> datetime | None:
    """A time read back from the database, or None when there is none or it is unreadable: not ISO 8601, before
    EARLIEST, or more than twice the HORIZON ahead (no zone conversion or slot plan can overflow on what passes)."""
    if not text:
        return None
    try:
        moment = parse(text)
        if moment is None or not EARLIEST <= moment <= now() + 2 * HORIZON:
            return None
        return moment
    except (ValueError, OverflowError, TypeError):
        return None


def unreadable(text: object) -> str:
    """How a stored time that cannot be read is shown: never the raw value's control characters, at most 40 long."""
    shown = repr(str(text))
    return f"unreadable ({shown[:40] + '…' if len(shown) > 40 else shown})"


def local(moment: datetime | str | None, zone: ZoneInfo | str) -> str:
    """A short local time for tables: '2026-11-22 19:04'; a stored time that cannot be read says so."""
    if moment is None or moment == "":
        return "-"
    raw = moment
    if isinstance(moment, str):
        moment = stored(moment)
    if moment is None:
        return unreadable(raw)
    tz = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
    try:
        return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    except (ValueError, OverflowError):
        return unreadable(raw)
