"""The CLI's words for the services' typed errors: the same facts the review page words, said with the flags the
owner typed (`--at`, `--candidate`, `--caption`) and the commands that help.
"""

from __future__ import annotations

from bot.errors import (
    BadTime,
    EmptyStart,
    NoCaption,
    NoSuchCandidate,
    PawpostError,
    TimeHasPassed,
    TimeTaken,
    TimeTooFar,
)


def said(exc: PawpostError) -> str:
    """One line for the terminal; an error with nothing CLI-specific to say keeps its own sentence."""
    if isinstance(exc, TimeHasPassed):
        return f"--at {exc.shown} is in the past"
    if isinstance(exc, TimeTooFar):
        return f"--at {exc.shown} is more than {exc.days} days ahead; pick a time until {exc.latest}"
    if isinstance(exc, TimeTaken):
        return f"{exc.reason}; pick another --at time, or leave --at out for the next free slot"
    if isinstance(exc, BadTime):
        if exc.zone:
            return f"--at {exc.text!r} does not exist in {exc.zone}: the clocks change that night; pick another time"
        return f"--at {exc.text!r} must look like '2026-12-24 19:00' (YYYY-MM-DD HH:MM, local, 24-hour)"
    if isinstance(exc, NoCaption):
        return (f"draft {exc.draft_id} has no caption yet: pass --caption TEXT, or run 'pawpost drafts regenerate "
                f"{exc.draft_id}'")
    if isinstance(exc, NoSuchCandidate):
        if not exc.count:
            return (f"draft {exc.draft_id} has no candidates: pass --caption TEXT, or run 'pawpost drafts regenerate "
                    f"{exc.draft_id}'")
        return f"draft {exc.draft_id} has {exc.count} candidates; --candidate must be 1 to {exc.count}"
    if isinstance(exc, EmptyStart):
        return "--start is empty; give the first words the caption should begin with"
    return str(exc)
